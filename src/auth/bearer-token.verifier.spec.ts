import { JwtService } from '@nestjs/jwt';
import { sign } from 'jsonwebtoken';
import { createHmac, createSecretKey } from 'node:crypto';
import { BearerTokenVerifier } from './bearer-token.verifier';

const SECRET = 'unit-secret-unit-secret';

const base64url = (value: object) =>
  Buffer.from(JSON.stringify(value)).toString('base64url');

/** A token built by hand: headers and claims jsonwebtoken would refuse to sign. */
function handMade(header: object, payload: object): string {
  const unsigned = `${base64url(header)}.${base64url(payload)}`;
  return `${unsigned}.${createHmac('sha256', SECRET).update(unsigned).digest('base64url')}`;
}

describe('BearerTokenVerifier', () => {
  const verifier = () =>
    new BearerTokenVerifier(
      new JwtService({ secret: createSecretKey(Buffer.from(SECRET)) }),
    );
  const request = (token: string) => ({
    headers: { authorization: `Bearer ${token}` },
  });
  afterEach(() => jest.useRealTimers());

  it('keeps honouring exp (with the 30 s clock tolerance) for a token it has already verified', () => {
    jest.useFakeTimers({ now: new Date('2026-11-29T12:00:00Z') });
    const tokens = verifier();
    const token = sign({ sub: 'alice' }, SECRET, { expiresIn: 60 });
    expect(tokens.subjectOf(request(token))).toBe('alice');
    jest.setSystemTime(new Date('2026-11-29T12:01:29Z'));
    expect(tokens.subjectOf(request(token))).toBe('alice'); // from the cache
    jest.setSystemTime(new Date('2026-11-29T12:01:30Z'));
    expect(tokens.verdictOf(request(token))).toEqual({
      refusal: 'expired',
      tokenSent: true,
    });
  });

  it('accepts a token expired within the tolerance, and refuses one expired beyond it', () => {
    jest.useFakeTimers({ now: new Date('2026-11-29T12:00:00Z') });
    const now = Date.now() / 1000;
    const at = (exp: number) =>
      verifier().verdictOf(request(sign({ sub: 'al', exp }, SECRET)));
    expect(at(now - 29)).toEqual({ subject: 'al' });
    expect(at(now - 31)).toEqual({ refusal: 'expired', tokenSent: true });
  });

  it('keeps honouring nbf (with the tolerance) for a remembered token', () => {
    jest.useFakeTimers({ now: new Date('2026-11-29T12:00:00Z') });
    const tokens = verifier();
    const token = sign({ sub: 'bob' }, SECRET, {
      notBefore: 0,
      expiresIn: 600,
    });
    expect(tokens.subjectOf(request(token))).toBe('bob');
    const future = sign({ sub: 'bob' }, SECRET, {
      notBefore: 60,
      expiresIn: 600,
    });
    expect(tokens.verdictOf(request(future))).toEqual({
      refusal: 'not_yet_valid',
      tokenSent: true,
    });
    jest.setSystemTime(new Date('2026-11-29T12:00:31Z'));
    expect(tokens.subjectOf(request(future))).toBe('bob');
  });

  it('refuses a lifetime over the maximum (exp - iat, or exp - now without iat)', () => {
    jest.useFakeTimers({ now: new Date('2026-11-29T12:00:00Z') });
    const now = Date.now() / 1000;
    const verdict = (claims: object) =>
      verifier().verdictOf(
        request(handMade({ alg: 'HS256' }, { sub: 'lee', ...claims })),
      );
    expect(verdict({ iat: now, exp: now + 86_400 })).toEqual({
      subject: 'lee',
    });
    expect(verdict({ iat: now, exp: now + 86_401 })).toEqual({
      refusal: 'lifetime_too_long',
      tokenSent: true,
    });
    // Issued long ago with a long life, still inside it: its lifetime is what counts.
    expect(verdict({ iat: now - 86_400, exp: now + 60 })).toEqual({
      refusal: 'lifetime_too_long',
      tokenSent: true,
    });
    expect(verdict({ exp: now + 86_400 })).toEqual({ subject: 'lee' });
    expect(verdict({ exp: now + 86_401 })).toEqual({
      refusal: 'lifetime_too_long',
      tokenSent: true,
    });
    const longer = new BearerTokenVerifier(
      new JwtService({ secret: createSecretKey(Buffer.from(SECRET)) }),
      { maxLifetimeSeconds: 7 * 86_400 },
    );
    expect(
      longer.subjectOf(
        request(sign({ sub: 'lee', exp: now + 86_401 }, SECRET)),
      ),
    ).toBe('lee');
  });

  it('refuses an iat in the future beyond the tolerance, or not a number', () => {
    jest.useFakeTimers({ now: new Date('2026-11-29T12:00:00Z') });
    const now = Date.now() / 1000;
    const verdict = (iat: unknown) =>
      verifier().verdictOf(
        request(handMade({ alg: 'HS256' }, { sub: 'mo', iat, exp: now + 600 })),
      );
    expect(verdict(now + 29)).toEqual({ subject: 'mo' });
    expect(verdict(now + 31)).toEqual({
      refusal: 'issued_in_future',
      tokenSent: true,
    });
    for (const iat of ['1764400000', null, { n: 1 }])
      expect(verdict(iat)).toEqual({ refusal: 'bad_claims', tokenSent: true });
  });

  it('refuses a crit header (an extension it does not understand, RFC 7515)', () => {
    const exp = Math.floor(Date.now() / 1000) + 600;
    const token = handMade(
      { alg: 'HS256', typ: 'JWT', crit: ['b64'], b64: false },
      { sub: 'ann', exp },
    );
    expect(verifier().verdictOf(request(token))).toEqual({
      refusal: 'crit_header',
      tokenSent: true,
    });
  });

  it('tells the log why (a missing header is not a token sent)', () => {
    const tokens = verifier();
    expect(tokens.verdictOf({ headers: {} })).toEqual({
      refusal: 'missing',
      tokenSent: false,
    });
    expect(
      tokens.verdictOf({ headers: { authorization: 'Basic YTpi' } }),
    ).toEqual({ refusal: 'malformed', tokenSent: false });
    expect(tokens.verdictOf(request('a.b.c'))).toEqual({
      refusal: 'malformed',
      tokenSent: true,
    });
    const forged = sign(
      { sub: 'eve', exp: Date.now() / 1000 + 60 },
      'another-secret-of-some-length',
    );
    expect(tokens.verdictOf(request(forged))).toEqual({
      refusal: 'bad_signature',
      tokenSent: true,
    });
  });

  it('never remembers a token that failed: a forged one stays refused', () => {
    const tokens = verifier();
    const forged = sign({ sub: 'eve' }, 'another-secret-of-some-length');
    expect(tokens.subjectOf(request(forged))).toBeUndefined();
    expect(tokens.subjectOf(request(forged))).toBeUndefined();
    expect(tokens.subjectOf({ headers: {} })).toBeUndefined();
  });

  it.each([
    ['a lone high surrogate', '\ud800'],
    ['a lone low surrogate', 'a\udfff'],
    ['NUL', 'alice\u0000'],
    ['a newline', 'alice\nbob'],
    ['a C1 control', 'alice\u0085'],
    ['an empty string', ''],
    ['129 characters', 'x'.repeat(129)],
  ])('refuses a sub with %s', (_, sub) => {
    const token = sign({ sub }, SECRET, { expiresIn: 60 });
    expect(verifier().subjectOf(request(token))).toBeUndefined();
  });

  it('accepts any well-formed Unicode sub', () => {
    const token = sign({ sub: 'Zoë 😀 山田' }, SECRET, { expiresIn: 60 });
    expect(verifier().subjectOf(request(token))).toBe('Zoë 😀 山田');
  });

  it('refuses a token without exp unless told otherwise', () => {
    const forever = sign({ sub: 'carol' }, SECRET);
    expect(verifier().subjectOf(request(forever))).toBeUndefined();
    const lenient = new BearerTokenVerifier(
      new JwtService({ secret: createSecretKey(Buffer.from(SECRET)) }),
      { requireExp: false },
    );
    expect(lenient.subjectOf(request(forever))).toBe('carol');
  });

  it('checks iss and aud when they are configured', () => {
    const strict = new BearerTokenVerifier(
      new JwtService({
        secret: createSecretKey(Buffer.from(SECRET)),
        verifyOptions: { issuer: 'auth.example', audience: 'orders' },
      }),
    );
    const signed = (claims: object) =>
      request(sign({ sub: 'dan', ...claims }, SECRET, { expiresIn: 60 }));
    expect(
      strict.subjectOf(signed({ iss: 'auth.example', aud: 'orders' })),
    ).toBe('dan');
    expect(
      strict.subjectOf(signed({ iss: 'evil', aud: 'orders' })),
    ).toBeUndefined();
    expect(
      strict.subjectOf(signed({ iss: 'auth.example', aud: 'other' })),
    ).toBeUndefined();
    expect(strict.subjectOf(signed({}))).toBeUndefined();
  });
});
