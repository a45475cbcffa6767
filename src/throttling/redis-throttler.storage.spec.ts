import { RedisThrottlerStorage } from './redis-throttler.storage';

describe('RedisThrottlerStorage', () => {
  /** A Redis whose script replies the test releases by hand. */
  function heldRedis() {
    const calls: {
      resolve: (reply: unknown) => void;
      reject: (error: Error) => void;
    }[] = [];
    return {
      calls,
      redis: {
        sendCommand: () => Promise.resolve('OK'),
        runScript: () =>
          new Promise<unknown>((resolve, reject) =>
            calls.push({ resolve, reject }),
          ),
      },
    };
  }
  let storage: RedisThrottlerStorage;
  afterEach(() => storage.stop());

  it('still counts hits whose sync is on its way to Redis', async () => {
    const { redis, calls } = heldRedis();
    storage = new RedisThrottlerStorage(redis, { syncMs: 60_000 });
    for (let i = 0; i < 3; i++) await storage.increment('user', 60_000, 3);
    const syncing = storage.sync(); // the 3 hits are in flight, Redis has not answered
    expect((await storage.increment('user', 60_000, 3)).isBlocked).toBe(true);
    calls[0].reject(new Error('OOM command not allowed'));
    await syncing;
    expect((await storage.increment('user', 60_000, 3)).totalHits).toBe(5);
  });

  it('takes the shared count from Redis once it answers', async () => {
    const { redis, calls } = heldRedis();
    storage = new RedisThrottlerStorage(redis, { syncMs: 60_000 });
    await storage.increment('user', 60_000, 10);
    const syncing = storage.sync();
    calls[0].resolve([7, 50_000]); // six more from other instances
    await syncing;
    expect((await storage.increment('user', 60_000, 10)).totalHits).toBe(8);
  });

  it("waits in sync() for a send already under way (the timer's), not only its own", async () => {
    const { redis, calls } = heldRedis();
    storage = new RedisThrottlerStorage(redis, { syncMs: 60_000 });
    await storage.increment('user', 60_000, 10);
    const timers = storage.sync(); // the timer's sync: its send is in flight
    let settled = false;
    const mine = storage.sync().then(() => (settled = true)); // nothing pending of its own
    await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toBe(false);
    calls[0].resolve([4, 50_000]);
    await Promise.all([timers, mine]);
    expect((await storage.increment('user', 60_000, 10)).totalHits).toBe(5);
  });
});
