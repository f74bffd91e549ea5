import { afterAll, describe, expect, it } from "vitest";
import type { SettingRecord } from "../../backend/src/domain/types.js";
import { bumpDailyStats, dailyCount } from "../../backend/src/stats/daily-stats.js";
import { findPostgres, pgStoresPerTest, type TestDatabase } from "../builders/postgres.js";

/**
 * What concurrency costs on PostgreSQL: transactions that write the same rows in different orders
 * must not deadlock (each deadlock stalls both for `deadlock_timeout`), and the per-branch daily
 * counters every routed message bumps must not make concurrent transactions conflict.
 */
const found = await findPostgres();

if (!found.available) {
  console.warn(`PostgreSQL not available: ${found.reason} — the PostgreSQL concurrency tests are SKIPPED`);
  describe("PgStore concurrency", () => {
    it.skip(`PostgreSQL not available: ${found.reason}`, () => undefined);
  });
} else {
  const server = found.server;
  afterAll(() => server.stop());

  describe("PgStore concurrency", () => {
    const { freshDb, open, closeStores } = pgStoresPerTest(server, 8);
    const tick = () => new Promise<void>((resolve) => setTimeout(resolve, 1));
    const T = Date.UTC(2026, 10, 26, 12, 0, 0);

    it("bumps of one branch's daily counters from two instances at once never conflict: every transaction commits at its first attempt", async () => {
      const db = await freshDb();
      // maxAttempts 1: a serialization failure would reject the transaction with store_conflict
      const [a, b] = await Promise.all([open(db.url, { maxAttempts: 1 }), open(db.url, { maxAttempts: 1 })]);
      await a.transact((tx) => bumpDailyStats(tx, "br-1", T, { inbound: 0 }));
      const results = await Promise.allSettled(
        Array.from({ length: 48 }, (_, i) =>
          (i % 2 ? a : b).transact(async (tx) => {
            // what a routed message does besides: its own dedupe key, then the branch's counters
            await tx.insertIfAbsent("seenKeys", { id: `key-${i}`, at: T });
            await tick();
            await bumpDailyStats(tx, "br-1", T, { inbound: 1 });
            await tick();
            await bumpDailyStats(tx, "br-1", T, i % 3 ? { marketing: 1 } : { utility: 1, inbound: 1 });
          }),
        ),
      );
      expect(results.filter((r) => r.status === "rejected")).toEqual([]);
      await a.read(async (tx) => {
        expect(await dailyCount(tx, "br-1", T, "inbound")).toBe(48 + 16);
        expect(await dailyCount(tx, "br-1", T, "marketing")).toBe(32);
        expect(await dailyCount(tx, "br-1", T, "utility")).toBe(16);
        expect((await tx.byIndex("dailyStats", "branchId", "br-1")).map((r) => r.counts)).toEqual([{ inbound: 64, marketing: 32, utility: 16 }]);
      });
    });

    it("transactions writing the same rows and creating the same counters in opposite orders, from two instances, all commit without a single deadlock", async () => {
      const db = await freshDb();
      const [a, b] = await Promise.all([open(db.url), open(db.url)]);
      const rowIds = ["r1", "r2", "r3", "r4", "r5", "r6"];
      await a.transact(async (tx) => {
        for (const id of rowIds) await tx.put("settings", { id, value: 0 });
      });
      const writers = Array.from({ length: 16 }, (_, i) =>
        (i % 2 ? a : b).transact(async (tx) => {
          for (const id of i % 4 < 2 ? rowIds : [...rowIds].reverse()) {
            const row = (await tx.get("settings", id)) as SettingRecord;
            await tx.put("settings", { id, value: (row.value as number) + 1 });
            await tick();
            // a counter row of that day that does not exist yet: the first bumps create it
            await bumpDailyStats(tx, `br-${id}`, T, { inbound: 1 });
          }
        }),
      );
      await Promise.all(writers);
      const rows = await a.read((tx) => tx.list("settings"));
      expect(rows).toEqual(rowIds.map((id) => ({ id, value: 16 })));
      expect(await a.read(async (tx) => Promise.all(rowIds.map((id) => dailyCount(tx, `br-${id}`, T, "inbound"))))).toEqual(rowIds.map(() => 16));
      // The server counts deadlocks per database; backends report them when they end.
      await closeStores();
      expect(await deadlocksIn(db)).toBe(0);
    });
  });

  async function deadlocksIn(db: TestDatabase): Promise<number> {
    for (let i = 0; i < 100; i++) {
      const [active] = await server.admin<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1", [db.name]);
      if (active!.n === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const [row] = await server.admin<{ deadlocks: string }>("SELECT deadlocks::text FROM pg_stat_database WHERE datname = $1", [db.name]);
    return Number(row!.deadlocks);
  }
}
