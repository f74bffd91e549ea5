import { npsGroup } from "../domain/analytics.js";
import { dayOf } from "../domain/day.js";
import type { Tx } from "../store/store.port.js";

/**
 * Adds to a branch's counters for the day of `at` (inbound, outbound, per pricing category…).
 * A commutative bump, not a read-modify-write: every routed message, status and send of a branch
 * touches this one row, and concurrent transactions must not conflict over it.
 */
export async function bumpDailyStats(tx: Tx, branchId: string, at: number, add: Record<string, number>): Promise<void> {
  const day = dayOf(at);
  await tx.bump("dailyStats", { id: `${branchId}|${day}`, branchId, day }, add);
}

export async function dailyCount(tx: Tx, branchId: string, at: number, key: string): Promise<number> {
  return (await tx.get("dailyStats", `${branchId}|${dayOf(at)}`))?.counts[key] ?? 0;
}

/** Counts one NPS answer (0–10) for the branch's day, as the analytics export reads it (`nps:<group>`). */
export async function recordNpsAnswer(tx: Tx, branchId: string, at: number, score: number): Promise<void> {
  const group = npsGroup(score);
  if (group) await bumpDailyStats(tx, branchId, at, { [`nps:${group}`]: 1 });
}
