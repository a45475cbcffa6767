import { sentinelOptions } from './redis-connection';

describe('sentinelOptions', () => {
  it('keeps the user, password and TLS of the sentinel URLs, for the sentinels and the nodes', () => {
    const options = sentinelOptions({
      urls: [
        'rediss://app:s%40cret@sentinel-1:26380',
        'rediss://app:s%40cret@sentinel-2',
      ],
      sentinelMaster: 'orders',
    });
    expect(options.name).toBe('orders');
    expect(options.sentinelRootNodes).toEqual([
      { host: 'sentinel-1', port: 26380 },
      { host: 'sentinel-2', port: 26379 },
    ]);
    for (const client of [
      options.nodeClientOptions,
      options.sentinelClientOptions,
    ]) {
      expect(client).toMatchObject({ username: 'app', password: 's@cret' });
      expect(client.socket).toMatchObject({ tls: true });
    }
  });

  it('adds no credentials and no TLS to plain redis:// URLs', () => {
    const options = sentinelOptions({
      urls: ['redis://sentinel-1:26379'],
      sentinelMaster: 'mymaster',
    });
    expect(options.nodeClientOptions).not.toHaveProperty('password');
    expect(options.sentinelClientOptions).not.toHaveProperty('username');
    expect(options.nodeClientOptions.socket).not.toHaveProperty('tls');
  });

  it("turns off node-redis's own timeout per command for the sentinel client and its nodes (the breaker bounds each call)", () => {
    const options = sentinelOptions({
      urls: ['redis://sentinel-1:26379'],
      sentinelMaster: 'mymaster',
    });
    expect(options.commandOptions).toEqual({ timeout: 0 });
    expect(options.nodeClientOptions.commandOptions).toEqual({ timeout: 0 });
  });
});
