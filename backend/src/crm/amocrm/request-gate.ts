interface KeyState {
  /** Start times inside the current window, oldest first. */
  starts: number[];
  /** Requests of this key start strictly one after another (FIFO). */
  tail: Promise<void>;
  pausedUntil: number;
  pending: number;
}

export interface RequestGateOptions {
  /** amoCRM: 7 per account (amocrm.md §3.1). */
  perSecond: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /**
   * Added to the 1-second window. amoCRM counts arrival times, we count start times; latency jitter
   * between two requests would otherwise let 8 arrive within one second. Default 100 ms.
   */
  marginMs?: number;
}

const realSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** At most N requests per second per key (amoCRM: 7 per account), and a pause after 429. */
export class RequestGate {
  private readonly perSecond: number;
  private readonly windowMs: number;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly keys = new Map<string, KeyState>();

  constructor(opts: RequestGateOptions) {
    if (!(opts.perSecond >= 1)) throw new RangeError("perSecond must be at least 1");
    this.perSecond = Math.floor(opts.perSecond);
    this.windowMs = 1000 + Math.max(0, opts.marginMs ?? 100);
    this.now = opts.now ?? Date.now;
    this.sleep = opts.sleep ?? realSleep;
  }

  private state(key: string): KeyState {
    let s = this.keys.get(key);
    if (!s) {
      if (this.keys.size >= 10_000) this.sweep();
      s = { starts: [], tail: Promise.resolve(), pausedUntil: 0, pending: 0 };
      this.keys.set(key, s);
    }
    return s;
  }

  /** Drops keys with nothing pending, no pause and no start inside the window (keeps the map bounded). */
  private sweep(): void {
    const t = this.now();
    for (const [key, s] of this.keys) {
      const last = s.starts[s.starts.length - 1];
      if (s.pending === 0 && s.pausedUntil <= t && (last === undefined || last <= t - this.windowMs)) this.keys.delete(key);
    }
  }

  /** Resolves when a request for `key` may start (sliding 1-second window, FIFO per key). */
  take(key: string): Promise<void> {
    const s = this.state(key);
    s.pending++;
    const turn = s.tail.then(() => this.waitForSlot(s));
    // The chain must survive a failing sleep; the caller still sees the failure.
    s.tail = turn.catch(() => undefined);
    return turn.finally(() => {
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
      while (s.starts.length > 0 && s.starts[0]! <= t - this.windowMs) s.starts.shift();
      let wait = s.pausedUntil - t;
      if (s.starts.length >= this.perSecond) wait = Math.max(wait, s.starts[0]! + this.windowMs - t);
      if (wait <= 0) {
        s.starts.push(t);
        return;
      }
      await this.sleep(wait);
    }
  }
}
