import { securityHeaders } from './security-headers';

describe('securityHeaders', () => {
  const { plain, overTls } = securityHeaders();

  it('sends HSTS and upgrade-insecure-requests over TLS only', () => {
    expect(overTls['strict-transport-security']).toMatch(/max-age=/);
    expect(overTls['content-security-policy']).toContain(
      'upgrade-insecure-requests',
    );
    expect(plain).not.toHaveProperty('strict-transport-security');
    expect(plain['content-security-policy']).not.toContain(
      'upgrade-insecure-requests',
    );
  });

  it('keeps the rest of the policy the same over both', () => {
    const directives = (csp: string) =>
      csp
        .split(';')
        .filter((d) => d !== 'upgrade-insecure-requests')
        .sort();
    expect(directives(plain['content-security-policy'])).toEqual(
      directives(overTls['content-security-policy']),
    );
    expect(plain['x-content-type-options']).toBe('nosniff');
  });
});
