/**
 * Signs a payment event like a Standard Webhooks provider and sends it to the running app, printing
 * the answer (a provider's "trigger" command, for trying the receiver by hand):
 *
 *   npm run webhook -- payment.succeeded <orderId> [amountCents]
 *   npm run webhook -- payment.failed <orderId>
 *
 * Reads PAYMENT_WEBHOOK_SECRETS (the first secret signs), PORT and DATABASE_URL from the environment
 * or .env. Without amountCents, it pays the order's own total, read from the database.
 */
import pg from 'pg';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { Webhook } from 'standardwebhooks';

if (existsSync('.env')) process.loadEnvFile('.env');
const [type, orderId, amount] = process.argv.slice(2);
if (!type || !orderId) {
  console.error(
    'usage: npm run webhook -- <payment.succeeded|payment.failed|other.type> <orderId> [amountCents]',
  );
  process.exit(2);
}
const secret = (process.env.PAYMENT_WEBHOOK_SECRETS ?? '')
  .split(',')[0]
  ?.trim();
if (!secret) {
  console.error('PAYMENT_WEBHOOK_SECRETS is not set (environment or .env)');
  process.exit(2);
}
const base = `http://127.0.0.1:${process.env.PORT ?? 3000}`;

/** The order's total and currency, so that a plain `payment.succeeded <id>` pays it in full. */
async function orderTotal(): Promise<{
  amountCents: number;
  currency: string;
}> {
  const db = new pg.Client({ connectionString: process.env.DATABASE_URL });
  await db.connect();
  try {
    const { rows } = await db.query<{ total_cents: string; currency: string }>(
      'SELECT total_cents, currency FROM orders WHERE id = $1',
      [orderId],
    );
    if (!rows[0]) return { amountCents: 0, currency: 'USD' };
    return {
      amountCents: Number(rows[0].total_cents),
      currency: rows[0].currency,
    };
  } finally {
    await db.end();
  }
}

async function main(): Promise<void> {
  const money =
    amount === undefined
      ? await orderTotal()
      : { amountCents: Number(amount), currency: 'USD' };
  const body = JSON.stringify({
    type,
    timestamp: new Date().toISOString(),
    data: { paymentId: `pay_${randomUUID()}`, orderId, ...money },
  });
  const id = `msg_${randomUUID()}`;
  const now = new Date();
  const response = await fetch(`${base}/webhooks/payments`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
      'webhook-signature': new Webhook(secret).sign(id, now, body),
    },
    body,
  });
  console.log(`${response.status} ${await response.text()}`);
  console.log(
    `(webhook-id ${id}: send it again with the same id and you get duplicate: true)`,
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
