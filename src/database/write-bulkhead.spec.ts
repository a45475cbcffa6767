import { WriteBulkhead, writeSlotsFor } from './write-bulkhead';

describe('WriteBulkhead', () => {
  afterEach(() => jest.useRealTimers());

  const held = () => {
    let finish!: () => void;
    const done = new Promise<void>((resolve) => (finish = resolve));
    return { done, finish };
  };

  it('runs at most `slots` writes at once; the next starts when one ends', async () => {
    const bulkhead = new WriteBulkhead(2, 10_000, 10);
    const writes = [held(), held(), held()];
    const started: number[] = [];
    const runs = writes.map((write, i) =>
      bulkhead.run(async () => {
        started.push(i);
        await write.done;
      }),
    );
    await Promise.resolve();
    expect(started).toEqual([0, 1]);
    writes[0].finish();
    await runs[0];
    await Promise.resolve();
    expect(started).toEqual([0, 1, 2]);
    writes[1].finish();
    writes[2].finish();
    await Promise.all(runs);
  });

  it('fails a write that waited too long with 503, and frees its place in the queue', async () => {
    jest.useFakeTimers();
    const bulkhead = new WriteBulkhead(1, 1000, 10);
    const blocker = held();
    const first = bulkhead.run(() => blocker.done);
    const second = bulkhead.run(() => Promise.resolve('ran'));
    jest.advanceTimersByTime(1000);
    await expect(second).rejects.toMatchObject({ status: 503 });
    blocker.finish();
    await first;
    await expect(bulkhead.run(() => Promise.resolve('ok'))).resolves.toBe('ok');
  });

  it('bounds its queue: past maxWaiting a write fails at once', async () => {
    const bulkhead = new WriteBulkhead(1, 10_000, 2);
    const blocker = held();
    const running = bulkhead.run(() => blocker.done);
    const queued = [
      bulkhead.run(() => Promise.resolve()),
      bulkhead.run(() => Promise.resolve()),
    ];
    await expect(bulkhead.run(() => Promise.resolve())).rejects.toMatchObject({
      status: 503,
    });
    blocker.finish();
    await Promise.all([running, ...queued]);
  });

  it('keeps a quarter of the pool for reads', () => {
    expect([1, 2, 5, 20, 100].map(writeSlotsFor)).toEqual([1, 1, 3, 15, 75]);
  });
});
