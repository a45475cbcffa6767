import type { BearerTokenVerifier } from '../auth/bearer-token.verifier';
import { trackerOf } from './user-throttler.guard';

describe('trackerOf (whose budget a request spends)', () => {
  const anonymous = {
    subjectOf: () => undefined,
  } as unknown as BearerTokenVerifier;
  const key = (ip: string) => trackerOf({ headers: {}, ip }, anonymous);

  it('keys a user by the token subject, whatever the address', () => {
    const alice = {
      subjectOf: () => 'alice',
    } as unknown as BearerTokenVerifier;
    expect(trackerOf({ headers: {}, ip: '203.0.113.7' }, alice)).toBe(
      'user:alice',
    );
  });

  it('keeps an IPv4 address, and reads an IPv4-mapped IPv6 address as IPv4', () => {
    expect(key('203.0.113.7')).toBe('ip:203.0.113.7');
    expect(key('::ffff:203.0.113.7')).toBe('ip:203.0.113.7');
  });

  it('gives an IPv6 host its /64, however the address is written', () => {
    for (const address of [
      '2001:db8:1:2::1',
      '2001:0db8:0001:0002:ffff:ffff:ffff:ffff',
      '2001:DB8:1:2:0:0:0:9',
    ])
      expect(key(address)).toBe('ip:2001:db8:1:2::/64');
    expect(key('2001:db8:1:3::1')).not.toBe('ip:2001:db8:1:2::/64');
  });
});
