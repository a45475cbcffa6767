/**
 * Holds the next call that passes through it until the test lets it go: how a test keeps one request
 * in flight on purpose (no sleeps, no races).
 *
 * @example
 * const gate = new Gate();
 * class Held extends OrdersService { override async create(...a) { await gate.pass(); return super.create(...a); } }
 * const release = await gate.holdNext(); // resolves once the next call is inside
 */
export class Gate {
  private held?: { entered: () => void; release: Promise<void> };

  /** Resolves once the next call is held; call the returned function to let it go on. */
  holdNext(): Promise<() => void> {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    return new Promise((resolve) => {
      this.held = { entered: () => resolve(release), release: released };
    });
  }

  /** Called by the seam: waits here if the test asked to hold this call. */
  async pass(): Promise<void> {
    const held = this.held;
    if (!held) return;
    this.held = undefined;
    held.entered();
    await held.release;
  }
}
