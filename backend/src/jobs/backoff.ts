/**
 * Next retry delay: exponential from `baseMs`, capped, with ±20 % jitter so a CRM that comes back
 * is not hit by every queued job in the same millisecond. `random` is injected for tests.
 */
export function backoffDelay(attempt: number, baseMs: number, capMs = 5 * 60_000, random: () => number = Math.random): number {
  const exp = Math.min(capMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exp * (0.8 + 0.4 * random()));
}
