import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LowdbStore } from "../../backend/src/store/lowdb/lowdb.store.js";
import { TransactBatcher } from "../../backend/src/store/transact-batcher.js";
import type { Store } from "../../backend/src/store/store.port.js";
import { tempDir } from "../builders/harness.js";

let dir: { dir: string; remove(): Promise<void> };
let store: LowdbStore;
/** The real store, counting the transactions it is asked for. */
let counted: Store & { transactions: number };

beforeEach(async () => {
  dir = await tempDir("branchline-batcher-");
  store = await LowdbStore.open({ dir: dir.dir });
  counted = Object.assign(Object.create(store) as LowdbStore, {
    transactions: 0,
    transact(this: { transactions: number }, fn: Parameters<Store["transact"]>[0]) {
      this.transactions++;
      return store.transact(fn);
    },
  });
});

afterEach(async () => {
  await store.close();
  await dir.remove();
});

const setting = (id: string, value: unknown) => ({ id, value });

describe("TransactBatcher", () => {
  it("commits the transactions started in one tick as one, each caller getting its own result", async () => {
    const batcher = new TransactBatcher(counted);
    const results = await Promise.all(
      ["a", "b", "c"].map((id, i) =>
        batcher.run(async (tx) => {
          await tx.put("settings", setting(id, i));
          return `${id}:${i}`;
        }),
      ),
    );
    expect(results).toEqual(["a:0", "b:1", "c:2"]);
    expect(counted.transactions).toBe(1);
    const stored = await store.read((tx) => tx.list("settings"));
    expect(stored).toEqual([setting("a", 0), setting("b", 1), setting("c", 2)]);
  });

  it("lets a later item of a batch read what an earlier one wrote", async () => {
    const batcher = new TransactBatcher(counted);
    const [, seen] = await Promise.all([batcher.run((tx) => tx.put("settings", setting("x", 1))), batcher.run((tx) => tx.get("settings", "x"))]);
    expect(seen).toEqual(setting("x", 1));
  });

  it("fails only the caller whose function threw; the others are still committed", async () => {
    const batcher = new TransactBatcher(counted);
    const outcomes = await Promise.allSettled([
      batcher.run((tx) => tx.put("settings", setting("ok1", 1))),
      batcher.run(async (tx) => {
        await tx.put("settings", setting("bad", 1));
        throw new Error("refused");
      }),
      batcher.run((tx) => tx.put("settings", setting("ok2", 2))),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect((outcomes[1] as PromiseRejectedResult).reason).toMatchObject({ message: "refused" });
    const ids = (await store.read((tx) => tx.list("settings"))).map((s) => s.id);
    expect(ids.sort()).toEqual(["ok1", "ok2"]);
  });

  it("splits a large burst into batches of at most maxBatch", async () => {
    const batcher = new TransactBatcher(counted, 4);
    await Promise.all(Array.from({ length: 10 }, (_, i) => batcher.run((tx) => tx.put("settings", setting(`s${i}`, i)))));
    expect(counted.transactions).toBe(3);
    expect((await store.read((tx) => tx.list("settings"))).length).toBe(10);
  });
});
