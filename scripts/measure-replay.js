#!/usr/bin/env node
// Server-side time of a create versus a replay of POST /orders, read from the Server-Timing header
// (median and p90 of many sequential requests, one run). Needs a running app: npm run start:prod.
//   node scripts/measure-replay.js [baseUrl] [requests]
const jwt = require('jsonwebtoken');
const { randomUUID } = require('node:crypto');

const base = process.argv[2] ?? 'http://127.0.0.1:3000';
const count = Number(process.argv[3] ?? 2000);
const secret = process.env.JWT_SECRET;
if (!secret) {
  console.error("JWT_SECRET must be set to the running app's secret");
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

async function post(key) {
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
        'THROTTLE_LIMIT=1000000 (or pass a smaller count: node scripts/measure-replay.js <url> 200)',
    );
    process.exit(2);
  }
  if (response.status !== 201) throw new Error(`unexpected ${response.status}`);
  return Number(/dur=([\d.]+)/.exec(response.headers.get('server-timing'))[1]);
}

const percentile = (values, p) =>
  [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) * p)];

(async () => {
  const creates = [];
  const replays = [];
  const replayKey = randomUUID();
  await post(replayKey);
  for (let i = 0; i < 200; i++) await post(replayKey); // warm-up
  for (let i = 0; i < count; i++) {
    creates.push(await post(randomUUID()));
    replays.push(await post(replayKey));
  }
  const row = (name, values) =>
    `${name.padEnd(8)} median ${percentile(values, 0.5).toFixed(3)} ms   p90 ${percentile(values, 0.9).toFixed(3)} ms`;
  console.log(
    `${count} requests each, server-side (Server-Timing), sequential:`,
  );
  console.log(row('create', creates));
  console.log(row('replay', replays));
  console.log(
    `replay/create median ratio: ${(percentile(replays, 0.5) / percentile(creates, 0.5)).toFixed(3)}`,
  );
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
