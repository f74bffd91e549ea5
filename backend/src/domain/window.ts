/** The 24-hour customer service window: it belongs to the customer and the number, not to a branch. */
export const WINDOW_MS = 24 * 60 * 60 * 1000;

export function windowState(lastInboundAt: number | undefined, now: number): { open: boolean; closesAt?: number } {
  if (lastInboundAt === undefined) return { open: false };
  const closesAt = lastInboundAt + WINDOW_MS;
  return { open: now < closesAt, closesAt };
}
