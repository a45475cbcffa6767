/**
 * Server-side time of a create versus a replay of POST /orders, read from the Server-Timing header
 * (median and p90 of many sequential requests, one run). Needs a running app (npm run start:prod):
 *
 *   npm run measure:replay -- [baseUrl] [requests]
 */
import jwt from 'jsonwebtoken';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';

// The running app's secret, from the environment or .env (as npm run token reads it).
if (existsSync('.env')) process.loadEnvFile('.env');

const base = process.argv[2] ?? 'http://127.0.0.1:3000';
const count = Number(process.argv[3] ?? 2000);
const secret = process.env.JWT_SECRET;
if (!secret) {
  console.error(
    "JWT_SECRET must be set to the running app's secret (environment or .env)",
  );
  process.exit(2);
}
const token = jwt.sign({ sub: `measure-${randomUUID()}` }, secret, {
  algorithm: 'HS256',
  expiresIn: 3600,
});
const body = JSON.stringify({
  currency: 'USD',
  items: [{ sku: 'ABC-1', quantity: 2, unitPriceCents: 1999 }],
});

/** Sends one create (or replay) and returns the app's own time for it, in ms. */
async function post(key: string): Promise<number> {
  const response = await fetch(`${base}/orders`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'idempotency-key': key,
      'content-type': 'application/json',
    },
    body,
  });
  await response.arrayBuffer();
  if (response.status === 429) {
    console.error(
      'rate-limited (429): this script sends thousands of requests as one user; start the app with ' +
        'THROTTLE_LIMIT=1000000 (or pass a count under a third of THROTTLE_LIMIT: npm run measure:replay -- <url> 90)',
    );
    process.exit(2);
  }
  if (response.status !== 201) throw new Error(`unexpected ${response.status}`);
  const timing = /dur=([\d.]+)/.exec(
    response.headers.get('server-timing') ?? '',
  );
  if (!timing) throw new Error('no Server-Timing header');
  return Number(timing[1]);
}

const percentile = (values: number[], p: number) =>
  [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) * p)];

async function main(): Promise<void> {
  const creates: number[] = [];
  const replays: number[] = [];
  const replayKey = randomUUID();
  await post(replayKey);
  for (let i = 0; i < Math.min(200, count); i++) await post(replayKey); // warm-up
  for (let i = 0; i < count; i++) {
    creates.push(await post(randomUUID()));
    replays.push(await post(replayKey));
  }
  const row = (name: string, values: number[]) =>
    `${name.padEnd(8)} median ${percentile(values, 0.5).toFixed(3)} ms   p90 ${percentile(values, 0.9).toFixed(3)} ms`;
  console.log(
    `${count} requests each, server-side (Server-Timing), sequential:`,
  );
  console.log(row('create', creates));
  console.log(row('replay', replays));
  const ratio = percentile(replays, 0.5) / percentile(creates, 0.5);
  console.log(`replay/create median ratio: ${ratio.toFixed(3)}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
