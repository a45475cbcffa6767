import { Slots } from './slots.js';

describe('Slots', () => {
  it('lets `size` holders in, queues the next, and reports idle once all are released', async () => {
    const slots = new Slots(2);
    await slots.acquire();
    await slots.acquire();
    let third = false;
    const waiting = slots.acquire().then(() => (third = true));
    await Promise.resolve();
    expect(third).toBe(false);
    let idle = false;
    const idled = slots.idle().then(() => (idle = true));
    slots.release();
    await waiting;
    expect(third).toBe(true);
    slots.release();
    slots.release();
    await idled;
    expect(idle).toBe(true);
  });
});
