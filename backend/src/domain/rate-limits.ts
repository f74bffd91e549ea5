/**
 * Rate limits of the shared number, as pure state machines with `now` passed in.
 * @see https://developers.facebook.com/documentation/business-messaging/whatsapp/throughput
 */

/**
 * At most `limit` events in any window of `windowMs` (exact, not a token bucket: a bucket lets
 * up to twice the limit through in one sliding second). A ring buffer of the last `limit` times.
 */
export class SlidingWindow {
  private readonly times: number[];
  private next = 0;

  constructor(
    readonly limit: number,
    readonly windowMs = 1000,
  ) {
    this.times = new Array<number>(limit).fill(Number.NEGATIVE_INFINITY);
  }

  /** When the next event may happen (≤ now means at once). */
  freeAt(): number {
    return this.times[this.next]! + this.windowMs;
  }

  tryTake(now: number): boolean {
    if (this.freeAt() > now) return false;
    this.times[this.next] = now;
    this.next = (this.next + 1) % this.limit;
    return true;
  }
}

/**
 * Meta's pair rate: about one message every 6 s to the same user, with bursts up to 45 that are
 * "borrowed" and paid back — a token bucket of `burst` tokens refilled one per `intervalMs`.
 * After a 131056 refusal the recipient waits 4^X seconds on top.
 */
export interface PairState {
  tokens: number;
  updatedAt: number;
  /** 131056 refusals in a row, and when the recipient may be tried again. */
  refusals: number;
  blockedUntil: number;
}

export interface PairRule {
  intervalMs: number;
  burst: number;
}

export const META_PAIR_RULE: PairRule = { intervalMs: 6000, burst: 45 };

export function newPairState(rule: PairRule, now: number): PairState {
  return { tokens: rule.burst, updatedAt: now, refusals: 0, blockedUntil: 0 };
}

function refill(s: PairState, rule: PairRule, now: number): void {
  if (now <= s.updatedAt) return;
  s.tokens = Math.min(rule.burst, s.tokens + (now - s.updatedAt) / rule.intervalMs);
  s.updatedAt = now;
}

/** When a message to this recipient may go (≤ now means at once). */
export function pairFreeAt(s: PairState, rule: PairRule, now: number): number {
  refill(s, rule, now);
  const tokenAt = s.tokens >= 1 ? now : now + (1 - s.tokens) * rule.intervalMs;
  return Math.max(tokenAt, s.blockedUntil);
}

export function takePair(s: PairState, rule: PairRule, now: number): boolean {
  if (pairFreeAt(s, rule, now) > now) return false;
  s.tokens -= 1;
  return true;
}

/** Meta refused with 131056: wait 4^X seconds (X = 0, 1, 2 … per refusal in a row), capped. */
export function pairRefused(s: PairState, now: number, capMs = 15 * 60_000): number {
  const wait = Math.min(capMs, 1000 * 4 ** s.refusals);
  s.refusals += 1;
  s.tokens = 0;
  s.updatedAt = now;
  s.blockedUntil = now + wait;
  return wait;
}

export function pairAccepted(s: PairState): void {
  s.refusals = 0;
}

/** True when the state carries no information any more (full bucket, no penalty) and can be dropped. */
export function pairIdle(s: PairState, rule: PairRule, now: number): boolean {
  refill(s, rule, now);
  return s.tokens >= rule.burst && s.blockedUntil <= now && s.refusals === 0;
}

/**
 * Paces events evenly at `ratePerSec` with a small burst allowance, so the receiver sees a steady
 * stream: a one-second window measured at the far end cannot catch two bursts at once.
 */
export class Pacer {
  private tokens: number;
  private updatedAt: number;

  constructor(
    private readonly ratePerSec: number,
    private readonly burst: number,
    now: number,
  ) {
    this.tokens = burst;
    this.updatedAt = now;
  }

  private refill(now: number): void {
    if (now <= this.updatedAt) return;
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.updatedAt) * this.ratePerSec) / 1000);
    this.updatedAt = now;
  }

  freeAt(now: number): number {
    this.refill(now);
    return this.tokens >= 1 ? now : now + ((1 - this.tokens) * 1000) / this.ratePerSec;
  }

  tryTake(now: number): boolean {
    if (this.freeAt(now) > now) return false;
    this.tokens -= 1;
    return true;
  }
}
