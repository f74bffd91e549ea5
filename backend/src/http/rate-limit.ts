import type { RequestHandler } from "express";
import { AppError } from "../errors.js";

/** A token bucket: `capacity` tokens, refilled continuously at `perMs` tokens per millisecond. */
export class TokenBucket {
  private tokens: number;
  private at: number;

  constructor(
    readonly capacity: number,
    private readonly perMs: number,
    now: number,
  ) {
    this.tokens = capacity;
    this.at = now;
  }

  private refill(now: number): void {
    if (now > this.at) this.tokens = Math.min(this.capacity, this.tokens + (now - this.at) * this.perMs);
    this.at = Math.max(this.at, now);
  }

  /** Takes one token if there is one. */
  take(now: number): boolean {
    this.refill(now);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Takes one token even if none is left (a penalty), never below zero. */
  drain(now: number): void {
    this.refill(now);
    this.tokens = Math.max(0, this.tokens - 1);
  }

  /** True when at least one token is there (checked without taking it). */
  has(now: number): boolean {
    this.refill(now);
    return this.tokens >= 1;
  }

  /** Milliseconds until one token is there. */
  waitMs(now: number): number {
    this.refill(now);
    return this.tokens >= 1 ? 0 : Math.ceil((1 - this.tokens) / this.perMs);
  }

  full(now: number): boolean {
    this.refill(now);
    return this.tokens >= this.capacity;
  }
}

export interface AdminRateLimitOptions {
  /** ADMIN_RATE_LIMIT: admin requests per minute per client IP (also the burst). */
  perMinute: number;
  now?: () => number;
  /** Clients remembered at most (memory bound); idle ones are forgotten first. */
  maxClients?: number;
}

const MINUTE_MS = 60_000;
const ADMIN_PREFIX = "/admin/api";

/** Failed admin logins allowed per minute per IP: a sixtieth of the request limit, at least 5. */
export const failureLimit = (perMinute: number) => Math.max(5, Math.ceil(perMinute / 60));

/**
 * Rate limit of the admin API (`/admin/api/*`) per client IP (`req.ip`, so behind a proxy it
 * follows express's `trust proxy`). Two buckets: every request takes one token of `perMinute`;
 * every answer `401` to a request that carried a token (a wrong admin token) takes one of the much smaller failure bucket, and while
 * that one is empty every admin request from the IP is refused, so guessing the token is slow and
 * a correct guess cannot be told from a wrong one. Refusals are `429 rate_limited` with `Retry-After`.
 */
export function adminRateLimit(opts: AdminRateLimitOptions): RequestHandler {
  const now = opts.now ?? Date.now;
  const maxClients = opts.maxClients ?? 10_000;
  const failures = failureLimit(opts.perMinute);
  const clients = new Map<string, { requests: TokenBucket; failures: TokenBucket }>();

  const clientOf = (ip: string, t: number) => {
    let c = clients.get(ip);
    if (!c) {
      if (clients.size >= maxClients) forgetIdle(t);
      c = { requests: new TokenBucket(opts.perMinute, opts.perMinute / MINUTE_MS, t), failures: new TokenBucket(failures, failures / MINUTE_MS, t) };
      clients.set(ip, c);
    }
    return c;
  };
  const forgetIdle = (t: number) => {
    for (const [ip, c] of clients) if (c.requests.full(t) && c.failures.full(t)) clients.delete(ip);
    // Still full of busy clients: drop the oldest (insertion order) rather than grow.
    while (clients.size >= maxClients) clients.delete(clients.keys().next().value!);
  };

  return (req, res, next) => {
    if (req.path !== ADMIN_PREFIX && !req.path.startsWith(`${ADMIN_PREFIX}/`)) return next();
    const t = now();
    const client = clientOf(req.ip ?? req.socket.remoteAddress ?? "unknown", t);
    const blockedBy = !client.failures.has(t) ? client.failures : !client.requests.take(t) ? client.requests : undefined;
    if (blockedBy) {
      res.set("retry-after", String(Math.max(1, Math.ceil(blockedBy.waitMs(t) / 1000))));
      const why = blockedBy === client.failures ? "too many failed admin logins from this address" : "too many admin requests from this address";
      return next(new AppError({ code: "rate_limited", message: `${why}; retry later`, httpStatus: 429, retryable: true }));
    }
    // Only a presented token that is wrong counts: a request without one guesses nothing.
    if (req.headers.authorization !== undefined) {
      res.on("finish", () => {
        if (res.statusCode === 401) client.failures.drain(now());
      });
    }
    next();
  };
}
