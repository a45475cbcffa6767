#!/usr/bin/env node
// Prints a dev bearer token: npm run token -- <userId> [ttlSeconds]. Reads JWT_SECRET from the env or .env.
// Plain JavaScript on purpose: the runtime image ships it (docker compose exec app node scripts/token.js),
// where it runs on bare node with only the production dependencies.
const { readFileSync, existsSync } = require('node:fs');
const jwt = require('jsonwebtoken');

const [userId, ttl = '3600'] = process.argv.slice(2);
if (!userId) {
  console.error('usage: npm run token -- <userId> [ttlSeconds]');
  process.exit(2);
}
let secret = process.env.JWT_SECRET;
if (!secret && existsSync('.env')) {
  const line = readFileSync('.env', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('JWT_SECRET='));
  secret = line?.slice('JWT_SECRET='.length).trim();
}
if (!secret) {
  console.error('JWT_SECRET is not set (environment or .env)');
  process.exit(2);
}
console.log(
  jwt.sign({ sub: userId }, secret, {
    algorithm: 'HS256',
    expiresIn: Number(ttl),
  }),
);
