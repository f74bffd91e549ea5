import { afterEach, describe, expect, it } from "vitest";
import { dropOldSeenKeys } from "../../backend/src/ops/retention.js";
import { LowdbStore } from "../../backend/src/store/lowdb/lowdb.store.js";
import { tempDir } from "../builders/harness.js";

const DAY = 86_400_000;
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe("retention of dedupe keys", () => {
  it("drops keys Meta can no longer redeliver (older than 8 days) and keeps the rest", async () => {
    const { dir, remove } = await tempDir();
    const store = await LowdbStore.open({ dir });
    cleanups.push(remove, () => store.close());
    const now = Date.UTC(2026, 10, 25, 12);
    await store.transact(async (tx) => {
      for (const [id, age] of [["msg:fresh", 0], ["msg:week", 7], ["msg:eight", 8], ["msg:nine", 9], ["msg:month", 30], ["idem:old", 12]] as const) {
        await tx.put("seenKeys", { id, at: now - age * DAY });
      }
    });
    expect(await dropOldSeenKeys(store, now)).toBe(3);
    const left = (await store.read((tx) => tx.list("seenKeys"))).map((k) => k.id).sort();
    expect(left).toEqual(["msg:eight", "msg:fresh", "msg:week"]);
  });
});
