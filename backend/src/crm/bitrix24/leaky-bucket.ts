export interface LeakyBucketOptions {
  /** Drain rate: Bitrix24 cloud 2/s (Enterprise 5/s). */
  ratePerSecond: number;
  /** Capacity: Bitrix24 cloud 50 (Enterprise 250); above it the portal answers 503 QUERY_LIMIT_EXCEEDED. */
  burst: number;
  /**
   * Latency budget. The portal counts arrival times, we count start times: a request that takes
   * longer to arrive (a new connection, a busy event loop) lets later ones catch up with it. The
   * bucket keeps `ratePerSecond × marginMs / 1000` slots free below `burst` for that. Default 500 ms
   * (one slot at 2/s).
   */
  marginMs?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

interface KeyState {
  level: number;
  at: number;
  pausedUntil: number;
  /** Requests of one key start strictly one after another (FIFO). */
  tail: Promise<void>;
  pending: number;
}

const realSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Bitrix24's own limit, mirrored on our side per portal (`member_id`): a counter that grows by one
 * per HTTP request (a batch is one), drains at `ratePerSecond`, and may not exceed `burst`
 * (bitrix24.md §6.3). Callers of one key wait their turn in order; keys never wait for each other.
 * One instance per process serves every portal, so all clients of a portal share its budget.
 */
export class LeakyBucket {
  private readonly rate: number;
  private readonly capacity: number;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly keys = new Map<string, KeyState>();

  constructor(opts: LeakyBucketOptions) {
    if (!(opts.ratePerSecond > 0)) throw new RangeError("ratePerSecond must be positive");
    const reserve = (opts.ratePerSecond * Math.max(0, opts.marginMs ?? 500)) / 1000;
    if (!(opts.burst - reserve >= 1)) throw new RangeError("burst must leave at least one slot above the latency margin");
    this.rate = opts.ratePerSecond;
    this.capacity = opts.burst - reserve;
    this.now = opts.now ?? Date.now;
    this.sleep = opts.sleep ?? realSleep;
  }

  /** Resolves when one more request to portal `key` fits in its bucket; counts that request. */
  take(key: string): Promise<void> {
    const s = this.state(key);
    s.pending++;
    const turn = s.tail.then(() => this.waitForRoom(s));
    // The chain must survive a failing sleep; the caller still sees the failure.
    s.tail = turn.catch(() => undefined);
    return turn.finally(() => {
      s.pending--;
    });
  }

  /**
   * The portal said it is full (503 QUERY_LIMIT_EXCEEDED): hold every request of `key` for `ms`,
   * and count the bucket as full from now, so requests after the pause leave at the drain rate.
   */
  pause(key: string, ms: number): void {
    const s = this.state(key);
    const t = this.now();
    s.pausedUntil = Math.max(s.pausedUntil, t + Math.max(0, ms));
    s.level = this.capacity;
    s.at = t;
  }

  private state(key: string): KeyState {
    let s = this.keys.get(key);
    if (!s) {
      if (this.keys.size >= 10_000) this.sweep();
      s = { level: 0, at: this.now(), pausedUntil: 0, tail: Promise.resolve(), pending: 0 };
      this.keys.set(key, s);
    }
    return s;
  }

  /** Forgets idle, drained keys (keeps the map bounded with many portals). */
  private sweep(): void {
    const t = this.now();
    for (const [key, s] of this.keys) {
      if (s.pending === 0 && s.pausedUntil <= t && this.drained(s, t) === 0) this.keys.delete(key);
    }
  }

  private drained(s: KeyState, t: number): number {
    return Math.max(0, s.level - ((t - s.at) * this.rate) / 1000);
  }

  private async waitForRoom(s: KeyState): Promise<void> {
    for (;;) {
      const t = this.now();
      if (s.pausedUntil > t) {
        await this.sleep(s.pausedUntil - t);
        continue;
      }
      s.level = this.drained(s, t);
      s.at = t;
      if (s.level + 1 <= this.capacity + 1e-9) {
        s.level += 1;
        return;
      }
      await this.sleep(Math.max(1, Math.ceil(((s.level + 1 - this.capacity) * 1000) / this.rate)));
    }
  }
}
