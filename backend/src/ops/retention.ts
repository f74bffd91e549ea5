import { dayOf } from "../domain/day.js";
import type { Store } from "../store/store.port.js";

const DAY_MS = 86_400_000;

/**
 * Meta redelivers a webhook for up to 7 days, so dedupe keys older than `keepDays` (default 8) can
 * never match again. Dropped a day at a time, looking back `lookBackDays` so a server that was off
 * for a while still catches up. Idempotency keys of the branch API live in the same collection and
 * expire the same way.
 */
export async function dropOldSeenKeys(store: Store, now: number, keepDays = 8, lookBackDays = 60): Promise<number> {
  let dropped = 0;
  for (let d = keepDays + 1; d <= keepDays + lookBackDays; d++) {
    const day = dayOf(now - d * DAY_MS);
    dropped += await store.transact(async (tx) => {
      const old = await tx.byIndex("seenKeys", "day", day, { limit: 5000 });
      for (const k of old) await tx.delete("seenKeys", k.id);
      return old.length;
    });
  }
  return dropped;
}
