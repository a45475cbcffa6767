import { JwtService } from '@nestjs/jwt';
import { sign } from 'jsonwebtoken';
import { createSecretKey } from 'node:crypto';
import { BearerTokenVerifier } from './bearer-token.verifier';

const SECRET = 'unit-secret-unit-secret';

describe('BearerTokenVerifier', () => {
  const verifier = () =>
    new BearerTokenVerifier(
      new JwtService({ secret: createSecretKey(Buffer.from(SECRET)) }),
    );
  const request = (token: string) => ({
    headers: { authorization: `Bearer ${token}` },
  });
  afterEach(() => jest.useRealTimers());

  it('keeps honouring exp for a token it has already verified', () => {
    jest.useFakeTimers({ now: new Date('2026-11-29T12:00:00Z') });
    const tokens = verifier();
    const token = sign({ sub: 'alice' }, SECRET, { expiresIn: 60 });
    expect(tokens.subjectOf(request(token))).toBe('alice');
    jest.setSystemTime(new Date('2026-11-29T12:00:59Z'));
    expect(tokens.subjectOf(request(token))).toBe('alice'); // from the cache
    jest.setSystemTime(new Date('2026-11-29T12:01:00Z'));
    expect(tokens.subjectOf(request(token))).toBeUndefined();
  });

  it('keeps honouring nbf for a remembered token', () => {
    jest.useFakeTimers({ now: new Date('2026-11-29T12:00:00Z') });
    const tokens = verifier();
    const token = sign({ sub: 'bob' }, SECRET, {
      notBefore: 0,
      expiresIn: 600,
    });
    expect(tokens.subjectOf(request(token))).toBe('bob');
    const future = sign({ sub: 'bob' }, SECRET, {
      notBefore: 30,
      expiresIn: 600,
    });
    expect(tokens.subjectOf(request(future))).toBeUndefined();
    jest.setSystemTime(new Date('2026-11-29T12:00:31Z'));
    expect(tokens.subjectOf(request(future))).toBe('bob');
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
