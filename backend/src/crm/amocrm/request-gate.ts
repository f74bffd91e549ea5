interface KeyState {
  /** Requests started and not yet answered: each holds a slot. */
  inFlight: number;
  /** Answer times still inside the window, oldest first: each still holds a slot. */
  answered: number[];
  /** Requests of this key start strictly one after another (FIFO). */
  tail: Promise<void>;
  pausedUntil: number;
  pending: number;
  /** Wakes the waiter when every slot was in flight and one was answered. */
  wake?: () => void;
}

export interface RequestGateOptions {
  /** amoCRM: 7 per account (amocrm.md §3.1). */
  perSecond: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** Added to the 1-second window, for timer rounding. Default 20 ms. */
  marginMs?: number;
}

/** Call when the request was answered (or failed): its slot frees one window later. */
export type GateRelease = () => void;

const realSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * At most N requests per second per key (amoCRM: 7 per account), and a pause after 429.
 *
 * amoCRM counts requests as they arrive, and we never see the arrival, only that it lies between
 * our start and the answer. So a request holds its slot from its start until one window after its
 * answer: however a busy event loop or the network bunches requests on the way, no second at
 * amoCRM can hold more than N (counting starts, a loaded machine let 8 arrive in one second).
 */
export class RequestGate {
  private readonly perSecond: number;
  private readonly windowMs: number;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly keys = new Map<string, KeyState>();

  constructor(opts: RequestGateOptions) {
    if (!(opts.perSecond >= 1)) throw new RangeError("perSecond must be at least 1");
    this.perSecond = Math.floor(opts.perSecond);
    this.windowMs = 1000 + Math.max(0, opts.marginMs ?? 20);
    this.now = opts.now ?? Date.now;
    this.sleep = opts.sleep ?? realSleep;
  }

  private state(key: string): KeyState {
    let s = this.keys.get(key);
    if (!s) {
      if (this.keys.size >= 10_000) this.sweep();
      s = { inFlight: 0, answered: [], tail: Promise.resolve(), pausedUntil: 0, pending: 0 };
      this.keys.set(key, s);
    }
    return s;
  }

  /** Drops keys with nothing pending or in flight, no pause and no slot held (keeps the map bounded). */
  private sweep(): void {
    const t = this.now();
    for (const [key, s] of this.keys) {
      const last = s.answered[s.answered.length - 1];
      if (s.pending === 0 && s.inFlight === 0 && s.pausedUntil <= t && (last === undefined || last <= t - this.windowMs)) this.keys.delete(key);
    }
  }

  /**
   * Resolves when a request for `key` may start (FIFO per key), with the function to call once
   * it is answered or has failed.
   */
  take(key: string): Promise<GateRelease> {
    const s = this.state(key);
    s.pending++;
    const turn = s.tail.then(() => this.waitForSlot(s));
    // The chain must survive a failing sleep; the caller still sees the failure.
    s.tail = turn.catch(() => undefined);
    return turn
      .then((): GateRelease => {
        let released = false;
        return () => {
          if (released) return;
          released = true;
          s.inFlight--;
          s.answered.push(this.now());
          s.wake?.();
        };
      })
      .finally(() => {
        s.pending--;
      });
  }

  /** Holds every request of `key` until now + ms (after a 429). */
  pause(key: string, ms: number): void {
    const s = this.state(key);
    s.pausedUntil = Math.max(s.pausedUntil, this.now() + Math.max(0, ms));
  }

  private async waitForSlot(s: KeyState): Promise<void> {
    for (;;) {
      const t = this.now();
      while (s.answered.length > 0 && s.answered[0]! <= t - this.windowMs) s.answered.shift();
      let wait = s.pausedUntil - t;
      const held = s.inFlight + s.answered.length;
      if (held >= this.perSecond) {
        // The slot that frees first: an answered one, or (all in flight) the next answer.
        const freesAt = s.answered[held - this.perSecond];
        if (freesAt === undefined) {
          await new Promise<void>((resolve) => (s.wake = resolve));
          s.wake = undefined;
          continue;
        }
        wait = Math.max(wait, freesAt + this.windowMs - t);
      }
      if (wait <= 0) {
        s.inFlight++;
        return;
      }
      await this.sleep(wait);
    }
  }
}
