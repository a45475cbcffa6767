#!/usr/bin/env node
// Prints a dev bearer token: npm run token -- <userId> [ttlSeconds]. Reads JWT_SECRET from the environment or
// .env (parsed by Node's own .env reader, so quoted values read as the app reads them).
// Plain JavaScript on purpose: the runtime image ships it (docker compose exec app node scripts/token.js),
// where it runs on bare node with only the production dependencies.
const { existsSync } = require('node:fs');
const jwt = require('jsonwebtoken');

/** One line saying what is wrong, exit 2: a tool's answer, never a stack trace. */
function fail(message) {
  console.error(`token: ${message}`);
  process.exit(2);
}

try {
  if (existsSync('.env')) process.loadEnvFile('.env');
} catch (error) {
  fail(`.env could not be read: ${error.message}`);
}
const [userId, ttl = '3600', ...extra] = process.argv.slice(2);
if (!userId || extra.length > 0)
  fail('usage: npm run token -- <userId> [ttlSeconds]');
// The app refuses tokens that live longer than JWT_MAX_LIFETIME_SECONDS: do not print one it would refuse.
const maxLifetime = Number(process.env.JWT_MAX_LIFETIME_SECONDS || 86400);
if (!/^[1-9][0-9]*$/.test(ttl) || Number(ttl) > maxLifetime)
  fail(
    `ttlSeconds must be a whole number from 1 to ${maxLifetime} (JWT_MAX_LIFETIME_SECONDS), not "${ttl}"`,
  );
const secret = process.env.JWT_SECRET;
if (!secret) fail('JWT_SECRET is not set (environment or .env)');
console.log(
  jwt.sign({ sub: userId }, secret, {
    algorithm: 'HS256',
    expiresIn: Number(ttl),
  }),
);
