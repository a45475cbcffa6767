/**
 * Signs a payment event like a Standard Webhooks provider and sends it to the running app, printing
 * the answer (a provider's "trigger" command, for trying the receiver by hand):
 *
 *   npm run webhook -- payment.succeeded <orderId> [amountCents] [--id <webhook-id>]
 *   npm run webhook -- payment.failed <orderId> [--id <webhook-id>]
 *
 * Reads PAYMENT_WEBHOOK_SECRETS (the first secret signs), PORT and DATABASE_URL from the environment
 * or .env. Without amountCents, it pays the order's own total, read from the database. `--id` sends
 * the delivery again under a webhook-id already used, as a provider's redelivery does. Every problem
 * (bad arguments, the app or the database not answering) is one line and exit code 2.
 */
import pg from 'pg';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Webhook } from 'standardwebhooks';

const USAGE =
  'usage: npm run webhook -- <payment.succeeded|payment.failed|other.type> <orderId> [amountCents] [--id <webhook-id>]';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A problem the person running the script can fix: said in one line, exit 2. */
class ToolError extends Error {}

function readArguments() {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: { id: { type: 'string' } },
    });
  } catch (error) {
    throw new ToolError(`${(error as Error).message}\n${USAGE}`);
  }
  const [type, orderId, amount, ...extra] = parsed.positionals;
  if (!type || !orderId || extra.length > 0) throw new ToolError(USAGE);
  if (!UUID.test(orderId))
    throw new ToolError(`orderId must be an order's UUID, not "${orderId}"`);
  if (amount !== undefined && !/^(0|[1-9][0-9]{0,15})$/.test(amount))
    throw new ToolError(
      `amountCents must be a whole number of cents, not "${amount}"`,
    );
  const id = parsed.values.id ?? `msg_${randomUUID()}`;
  if (!/^[\x21-\x2d\x2f-\x7e]{1,255}$/.test(id))
    throw new ToolError(
      '--id must be 1-255 visible ASCII characters without "."',
    );
  return { type, orderId, amount, id };
}

/** The order's total and currency, so that a plain `payment.succeeded <id>` pays it in full. */
async function orderTotal(
  orderId: string,
): Promise<{ amountCents: number; currency: string }> {
  const db = new pg.Client({
    connectionString: process.env.DATABASE_URL,
    connectionTimeoutMillis: 3000,
  });
  try {
    await db.connect();
    const { rows } = await db.query<{ total_cents: string; currency: string }>(
      'SELECT total_cents, currency FROM orders WHERE id = $1',
      [orderId],
    );
    if (!rows[0]) return { amountCents: 0, currency: 'USD' };
    return {
      amountCents: Number(rows[0].total_cents),
      currency: rows[0].currency,
    };
  } catch (error) {
    throw new ToolError(
      `could not read the order's total from DATABASE_URL (${(error as Error).message}): give amountCents, or fix DATABASE_URL`,
    );
  } finally {
    await db.end().catch(() => undefined);
  }
}

async function main(): Promise<void> {
  if (existsSync('.env')) process.loadEnvFile('.env');
  const { type, orderId, amount, id } = readArguments();
  const secret = (process.env.PAYMENT_WEBHOOK_SECRETS ?? '')
    .split(',')[0]
    ?.trim();
  if (!secret)
    throw new ToolError(
      'PAYMENT_WEBHOOK_SECRETS is not set (environment or .env)',
    );
  const base = `http://127.0.0.1:${process.env.PORT ?? 3000}`;
  const money =
    amount === undefined
      ? await orderTotal(orderId)
      : { amountCents: Number(amount), currency: 'USD' };
  const body = JSON.stringify({
    type,
    timestamp: new Date().toISOString(),
    data: { paymentId: `pay_${randomUUID()}`, orderId, ...money },
  });
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
  }).catch((error: Error & { cause?: { code?: string } }) => {
    throw new ToolError(
      `no app answered at ${base} (${error.cause?.code ?? error.message}): start it (npm start) or set PORT`,
    );
  });
  console.log(`${response.status} ${await response.text()}`);
  console.log(
    `(send it again as a redelivery: npm run webhook -- ${type} ${orderId}${amount === undefined ? '' : ` ${amount}`} --id ${id})`,
  );
}

main().catch((error: unknown) => {
  if (!(error instanceof ToolError)) throw error;
  console.error(`webhook: ${error.message}`);
  process.exit(2);
});
