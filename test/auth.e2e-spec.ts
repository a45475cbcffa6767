import { createHmac } from 'node:crypto';
import { sign } from 'jsonwebtoken';
import { TEST_JWT_SECRET } from './support/test-env';
import {
  createTestApp,
  newUser,
  send,
  TestApp,
  tokenFor,
} from './support/test-app';

const base64url = (value: object) =>
  Buffer.from(JSON.stringify(value)).toString('base64url');

/** Builds a token by hand, so that headers jsonwebtoken would refuse to sign can be tested. */
function handMadeToken(
  header: object,
  payload: object,
  secret = TEST_JWT_SECRET,
): string {
  const unsigned = `${base64url(header)}.${base64url(payload)}`;
  return `${unsigned}.${createHmac('sha256', secret).update(unsigned).digest('base64url')}`;
}

describe('Bearer authentication', () => {
  let t: TestApp;
  beforeAll(async () => (t = await createTestApp()));
  afterAll(() => t.close());

  const now = () => Math.floor(Date.now() / 1000);
  const list = (authorization?: string) =>
    send(t.url, 'GET', '/orders', {
      headers: authorization ? { authorization } : {},
    });

  it('lets a valid HS256 token through', async () => {
    expect((await list(`Bearer ${tokenFor(newUser())}`)).status).toBe(200);
  });

  it.each([
    ['no header', undefined],
    ['a non-bearer scheme', `Basic ${Buffer.from('a:b').toString('base64')}`],
    ['a malformed token', 'Bearer not.a.jwt!'],
    [
      'a wrong signature',
      `Bearer ${tokenFor('u1', { secret: 'another-secret-another-secret' })}`,
    ],
    [
      'an expired token',
      `Bearer ${sign({ sub: 'u1', exp: now() - 60 }, TEST_JWT_SECRET)}`,
    ],
    [
      'a token valid only in the future (nbf)',
      `Bearer ${sign({ sub: 'u1', nbf: now() + 600 }, TEST_JWT_SECRET)}`,
    ],
    [
      'alg none',
      `Bearer ${base64url({ alg: 'none', typ: 'JWT' })}.${base64url({ sub: 'u1' })}.`,
    ],
    [
      'HS384',
      `Bearer ${sign({ sub: 'u1' }, TEST_JWT_SECRET, { algorithm: 'HS384' })}`,
    ],
    [
      'an RS256 header signed with the HMAC secret',
      `Bearer ${handMadeToken({ alg: 'RS256', typ: 'JWT' }, { sub: 'u1' })}`,
    ],
    ['no sub claim', `Bearer ${sign({ user: 'u1' }, TEST_JWT_SECRET)}`],
    [
      'an empty sub',
      `Bearer ${handMadeToken({ alg: 'HS256', typ: 'JWT' }, { sub: '' })}`,
    ],
    [
      'a numeric sub',
      `Bearer ${handMadeToken({ alg: 'HS256', typ: 'JWT' }, { sub: 42 })}`,
    ],
    ['a sub over 128 characters', `Bearer ${tokenFor('u'.repeat(129))}`],
    [
      'a lifetime over JWT_MAX_LIFETIME_SECONDS (2 days)',
      `Bearer ${sign({ sub: 'u1' }, TEST_JWT_SECRET, { expiresIn: 2 * 86400 })}`,
    ],
    [
      'an iat an hour in the future',
      `Bearer ${sign({ sub: 'u1', iat: now() + 3600 }, TEST_JWT_SECRET, { expiresIn: 600 })}`,
    ],
    [
      'an iat that is not a number',
      `Bearer ${handMadeToken({ alg: 'HS256', typ: 'JWT' }, { sub: 'u1', iat: 'now', exp: now() + 600 })}`,
    ],
    [
      'a crit header (an extension it does not understand)',
      `Bearer ${handMadeToken({ alg: 'HS256', typ: 'JWT', crit: ['exp'] }, { sub: 'u1', exp: now() + 600 })}`,
    ],
    [
      'an oversized token',
      `Bearer ${sign({ sub: 'u1', pad: 'x'.repeat(8000) }, TEST_JWT_SECRET)}`,
    ],
  ])(
    'refuses %s with one 401 UNAUTHORIZED, WWW-Authenticate: Bearer, no-store',
    async (_, authorization) => {
      const response = await list(authorization);
      expect(response.status).toBe(401);
      expect(response.body).toEqual({
        error: {
          code: 'UNAUTHORIZED',
          message: 'A valid bearer token is required',
        },
      });
      // RFC 6750: invalid_token when a bearer token was sent, the bare challenge otherwise.
      expect(response.headers.get('www-authenticate')).toBe(
        authorization?.startsWith('Bearer ')
          ? 'Bearer realm="orders", error="invalid_token"'
          : 'Bearer realm="orders"',
      );
      expect(response.headers.get('cache-control')).toBe('no-store');
    },
  );

  it('allows JWT_CLOCK_TOLERANCE_SECONDS (30) of clock difference on exp, nbf and iat', async () => {
    const within = [
      sign({ sub: newUser(), exp: now() - 20 }, TEST_JWT_SECRET),
      sign({ sub: newUser(), nbf: now() + 20 }, TEST_JWT_SECRET, {
        expiresIn: 600,
      }),
      sign({ sub: newUser(), iat: now() + 20 }, TEST_JWT_SECRET, {
        expiresIn: 600,
      }),
    ];
    for (const token of within)
      expect((await list(`Bearer ${token}`)).status).toBe(200);
  });

  it('checks the token before the idempotency key', async () => {
    const response = await send(t.url, 'POST', '/orders', { body: {} });
    expect(response.status).toBe(401);
  });
});
