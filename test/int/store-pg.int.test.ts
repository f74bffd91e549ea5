import { createServer } from "node:net";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import type { Customer, Job, MessageRecord, SettingRecord } from "../../backend/src/domain/types.js";
import { AppError } from "../../backend/src/errors.js";
import { MIGRATIONS } from "../../backend/src/store/pg/migrations.js";
import { PgStore } from "../../backend/src/store/pg/pg.store.js";
import { INDEXES } from "../../backend/src/store/store.port.js";
import { findPostgres, pgStoresPerTest, type PostgresServer, type TestDatabase } from "../builders/postgres.js";
import { describeStoreContract } from "./store.contract.js";

const found = await findPostgres();

if (!found.available) {
  console.warn(`PostgreSQL not available: ${found.reason} — the PostgreSQL store tests are SKIPPED`);
  describe("PgStore", () => {
    it.skip(`PostgreSQL not available: ${found.reason}`, () => undefined);
  });
} else {
  const server = found.server;
  afterAll(() => server.stop());

  describeStoreContract("postgres", async () => {
    const db = await server.createDatabase();
    let store = await PgStore.open({ url: db.url, poolSize: 5 });
    return {
      store,
      reopen: async () => {
        await store.close();
        store = await PgStore.open({ url: db.url, poolSize: 5 });
        return store;
      },
      cleanup: async () => {
        await store.close();
        await db.drop();
      },
    };
  });

  describePgSpecifics(server);
}

// ─────────────────────────────────────── PostgreSQL specifics ───────────────────────────────────────

const T0 = Date.UTC(2026, 0, 15, 9, 0, 0);
const setting = (id: string, value: unknown): SettingRecord => ({ id, value });
const job = (id: string, over: Partial<Omit<Job, "seq">> = {}): Omit<Job, "seq"> => ({
  id,
  queue: "send",
  payload: { n: id },
  state: "pending",
  attempts: 0,
  runAt: T0,
  createdAt: T0,
  updatedAt: T0,
  ...over,
});
const message = (id: string, over: Partial<MessageRecord> = {}): MessageRecord => ({
  id,
  direction: "in",
  customerId: "cu-1",
  kind: "text",
  text: `text of ${id}`,
  status: "received",
  sentAt: T0,
  createdAt: T0,
  updatedAt: T0,
  ...over,
});
const ids = (rows: Array<{ id: string }>) => rows.map((r) => r.id);

function describePgSpecifics(server: PostgresServer): void {
  describe("PgStore (PostgreSQL specifics)", () => {
    const { freshDb, open } = pgStoresPerTest(server, 5);

    it("two instances starting at once on an empty database migrate it once, and both work on it", async () => {
      const db = await freshDb();
      const [a, b] = await Promise.all([open(db.url), open(db.url)]);
      const applied = await queryDb(db, "SELECT version FROM store_migrations ORDER BY version");
      expect(applied.map((r) => r.version)).toEqual(MIGRATIONS.map((m) => m.version));
      await a.transact((tx) => tx.put("settings", setting("from-a", 1)));
      expect(await b.read((tx) => tx.get("settings", "from-a"))).toEqual(setting("from-a", 1));
      // a third start finds nothing to do and changes nothing
      const c = await open(db.url);
      expect((await queryDb(db, "SELECT version FROM store_migrations")).length).toBe(MIGRATIONS.length);
      expect(await c.read((tx) => tx.list("settings"))).toEqual([setting("from-a", 1)]);
    });

    it("an index declared after rows were stored is built from them on start; one no longer declared is dropped", async () => {
      const db = await freshDb();
      const withoutWamid = { ...INDEXES, messages: { dialogId: INDEXES.messages.dialogId } };
      const before = await open(db.url, { indexes: withoutWamid });
      await before.transact(async (tx) => {
        for (const id of ["m1", "m2", "m3"]) await tx.put("messages", message(id, { dialogId: "d1", wamid: id === "m2" ? "wamid.other" : "wamid.same" }));
      });
      expect(await before.read((tx) => tx.byIndex("messages", "wamid", "wamid.same"))).toEqual([]);
      await before.close();

      const after = await open(db.url);
      await after.read(async (tx) => {
        expect(ids(await tx.byIndex("messages", "wamid", "wamid.same"))).toEqual(["m1", "m3"]);
        expect(ids(await tx.byIndex("messages", "wamid", "wamid.same", { newestFirst: true }))).toEqual(["m3", "m1"]);
        expect(await tx.countByIndex("messages", "wamid", "wamid.other")).toBe(1);
        expect(ids(await tx.byIndex("messages", "customerId", "cu-1"))).toEqual(["m1", "m2", "m3"]);
        expect(ids(await tx.byIndex("messages", "dialogId", "d1"))).toEqual(["m1", "m2", "m3"]);
      });
      await after.close();

      const narrowed = await open(db.url, { indexes: withoutWamid });
      expect(await queryDb(db, "SELECT id FROM store_index WHERE collection = 'messages' AND idx = 'wamid'")).toEqual([]);
      expect(await narrowed.read((tx) => tx.countByIndex("messages", "dialogId", "d1"))).toBe(3);
    });

    it("two instances claiming one queue at once hand out every job once and keep each orderKey in order", async () => {
      const db = await freshDb();
      const [a, b] = await Promise.all([open(db.url), open(db.url)]);
      const keys = ["k1", "k2", "k3", "k4", "k5"];
      const jobs = [...keys.flatMap((k) => Array.from({ length: 6 }, (_, i) => job(`${k}-${i}`, { orderKey: k }))), ...Array.from({ length: 15 }, (_, i) => job(`free-${i}`))];
      // interleave keys so every claim batch sees several of them
      jobs.sort((x, y) => Number(x.id.split("-")[1]) - Number(y.id.split("-")[1]));
      await a.transact(async (tx) => {
        for (const j of jobs) await tx.enqueue(j);
      });

      const claimedBy = new Map<string, string>();
      const order = new Map<string, string[]>();
      const inFlight = new Set<string>();
      const violations: string[] = [];
      const worker = async (store: PgStore, owner: string) => {
        for (let round = 0; round < 500 && claimedBy.size < jobs.length; round++) {
          const batch = await store.transact((tx) => tx.claimJobs({ queues: ["send"], now: T0, limit: 4, leaseMs: 600_000, owner }));
          for (const j of batch) {
            if (claimedBy.has(j.id)) violations.push(`${j.id} claimed by ${claimedBy.get(j.id)} and ${owner}`);
            claimedBy.set(j.id, owner);
            if (j.orderKey) {
              if (inFlight.has(j.orderKey)) violations.push(`${j.id} claimed while its key ${j.orderKey} was running`);
              inFlight.add(j.orderKey);
              order.set(j.orderKey, [...(order.get(j.orderKey) ?? []), j.id]);
            }
          }
          await Promise.all(
            batch.map((j) =>
              store.transact(async (tx) => {
                await tx.delete("jobs", j.id);
                // the key is free from the commit on: release it just before
                if (j.orderKey) inFlight.delete(j.orderKey);
              }),
            ),
          );
          if (batch.length === 0) await new Promise((r) => setTimeout(r, 2));
        }
      };
      await Promise.all([worker(a, "A"), worker(b, "B")]);
      expect(violations).toEqual([]);
      expect(new Set(claimedBy.keys())).toEqual(new Set(jobs.map((j) => j.id)));
      for (const k of keys) expect(order.get(k)).toEqual(Array.from({ length: 6 }, (_, i) => `${k}-${i}`));
      expect(new Set(claimedBy.values())).toEqual(new Set(["A", "B"]));
      expect(await a.read((tx) => tx.list("jobs"))).toEqual([]);
    });

    it("a transaction that starts with claimJobs (READ COMMITTED) may only claim: a write after the claim is refused and the claim undone", async () => {
      const db = await freshDb();
      const store = await open(db.url);
      await store.transact((tx) => tx.enqueue(job("j1")));
      const err = await store
        .transact(async (tx) => {
          expect(ids(await tx.claimJobs({ queues: ["send"], now: T0, limit: 5, leaseMs: 1_000, owner: "A" }))).toEqual(["j1"]);
          await tx.put("settings", setting("after-claim", 1));
        })
        .catch((e: unknown) => e);
      expect(err).toMatchObject({ code: "store_claim_only" });
      expect((await store.read((tx) => tx.get("jobs", "j1")))!.state).toBe("pending");
      expect(await store.read((tx) => tx.get("settings", "after-claim"))).toBeUndefined();
      const put = await store
        .transact(async (tx) => {
          const [claimed] = await tx.claimJobs({ queues: ["send"], now: T0, limit: 5, leaseMs: 1_000, owner: "A" });
          await tx.put("jobs", { ...claimed!, attempts: 7 });
        })
        .catch((e: unknown) => e);
      expect(put).toMatchObject({ code: "store_claim_only" });
      expect(await store.read((tx) => tx.get("jobs", "j1"))).toMatchObject({ state: "pending", attempts: 0 });
      // claims from several queues in one transaction are fine, and so is a claim after other work
      await store.transact(async (tx) => {
        await tx.claimJobs({ queues: ["other"], now: T0, limit: 5, leaseMs: 1_000, owner: "A" });
        expect(ids(await tx.claimJobs({ queues: ["send"], now: T0, limit: 5, leaseMs: 1_000, owner: "A" }))).toEqual(["j1"]);
      });
      await store.transact(async (tx) => {
        await tx.put("settings", setting("first", 1));
        expect(ids(await tx.claimJobs({ queues: ["send"], now: T0 + 5_000, limit: 5, leaseMs: 1_000, owner: "B" }))).toEqual(["j1"]);
      });
      expect(await store.read((tx) => tx.get("jobs", "j1"))).toMatchObject({ leaseOwner: "B", state: "running" });
    });

    it("read-increment-write from two instances at once counts exactly", async () => {
      const db = await freshDb();
      const [a, b] = await Promise.all([open(db.url), open(db.url)]);
      await a.transact((tx) => tx.put("settings", setting("counter", 0)));
      const increment = (s: PgStore) =>
        s.transact(async (tx) => {
          const row = await tx.get("settings", "counter");
          await new Promise((r) => setTimeout(r, 1));
          await tx.put("settings", setting("counter", (row!.value as number) + 1));
        });
      await Promise.all(Array.from({ length: 30 }, (_, i) => increment(i % 2 ? a : b)));
      expect(await b.read((tx) => tx.get("settings", "counter"))).toEqual(setting("counter", 30));
    });

    it("check-then-insert of a missing row from two instances at once creates it once", async () => {
      const db = await freshDb();
      const [a, b] = await Promise.all([open(db.url), open(db.url)]);
      let bothLooked!: () => void;
      const looked = new Promise<void>((resolve) => (bothLooked = resolve));
      let lookers = 0;
      const create = (s: PgStore, name: string) =>
        s.transact(async (tx) => {
          const existing = await tx.get("customers", "wa:79001");
          if (++lookers === 2) bothLooked();
          await Promise.race([looked, new Promise((r) => setTimeout(r, 200))]);
          if (existing) return false;
          const row: Customer = { id: "wa:79001", waId: "79001", name, aliases: [], createdAt: T0, updatedAt: T0 };
          await tx.put("customers", row);
          return true;
        });
      const created = await Promise.all([create(a, "from A"), create(b, "from B")]);
      expect(created.filter(Boolean)).toHaveLength(1);
      const winner = created[0] ? "from A" : "from B";
      expect((await a.read((tx) => tx.get("customers", "wa:79001")))!.name).toBe(winner);
    });

    it("a transaction that keeps conflicting gives up with a retryable store_conflict after maxAttempts", async () => {
      const db = await freshDb();
      const store = await open(db.url, { maxAttempts: 1 });
      await store.transact((tx) => tx.put("settings", setting("counter", 0)));
      let bothRead!: () => void;
      const read = new Promise<void>((resolve) => (bothRead = resolve));
      let readers = 0;
      const results = await Promise.allSettled(
        [1, 2].map(() =>
          store.transact(async (tx) => {
            const row = await tx.get("settings", "counter");
            if (++readers === 2) bothRead();
            await read;
            await tx.put("settings", setting("counter", (row!.value as number) + 1));
          }),
        ),
      );
      const rejected = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
      expect(rejected).toHaveLength(1);
      expect(rejected[0]!.reason).toBeInstanceOf(AppError);
      expect(rejected[0]!.reason).toMatchObject({ code: "store_conflict", retryable: true, httpStatus: 503 });
      expect(await store.read((tx) => tx.get("settings", "counter"))).toEqual(setting("counter", 1));
      expect(store.healthy()).toBe(true);
    });

    it("a connection killed mid-transaction fails it with store_unavailable; unhealthy until a write commits again", async () => {
      const db = await freshDb();
      const store = await open(db.url);
      await store.transact((tx) => tx.put("settings", setting("before", 1)));
      const failure = await store
        .transact(async (tx) => {
          await tx.put("settings", setting("lost", 1));
          const killed = await server.admin<{ killed: boolean }>(
            "SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity WHERE datname = $1 AND state LIKE 'idle in transaction%'",
            [db.name],
          );
          expect(killed).toEqual([{ killed: true }]);
          await tx.get("settings", "before");
        })
        .catch((e: unknown) => e);
      expect(failure).toBeInstanceOf(AppError);
      expect(failure).toMatchObject({ code: "store_unavailable", retryable: true, httpStatus: 503 });
      expect(store.healthy()).toBe(false);
      // reads work again on a new connection, but only a committed write proves the store writable
      expect(await store.read((tx) => tx.get("settings", "lost"))).toBeUndefined();
      expect(store.healthy()).toBe(false);
      await store.transact((tx) => tx.put("settings", setting("after", 1)));
      expect(store.healthy()).toBe(true);
      expect(ids(await store.read((tx) => tx.list("settings")))).toEqual(["before", "after"]);
    });

    it("a server that is not there: open fails with store_unavailable, and the password is not in the message", async () => {
      const port = await closedPort();
      const err = await PgStore.open({ url: `postgres://branchline:sup3r-s3cret@127.0.0.1:${port}/nowhere` }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AppError);
      expect(err).toMatchObject({ code: "store_unavailable", retryable: true });
      expect((err as Error).message).not.toContain("sup3r-s3cret");
      expect((err as Error).message).toContain("could not open the PostgreSQL store");
    });

    it("a body that swallows a database error does not commit anything of the transaction", async () => {
      const db = await freshDb();
      const store = await open(db.url);
      const err = await store
        .transact(async (tx) => {
          await tx.put("settings", setting("half", 1));
          // PostgreSQL text cannot hold U+0000: the row is refused and the transaction is void
          await tx.put("settings", setting("bad\u0000id", 1)).catch(() => undefined);
          return "looks fine";
        })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AppError);
      expect((err as AppError).code).toBe("store_error");
      expect(await store.read((tx) => tx.get("settings", "half"))).toBeUndefined();
      expect(store.healthy()).toBe(true);
    });

    it("rows are plain JSON: U+0000 and lone surrogates in values survive, undefined fields are dropped, numbers are exact", async () => {
      const db = await freshDb();
      const store = await open(db.url);
      const odd = { id: "odd", value: { text: "nul \u0000 and lone \ud800 here", gone: undefined, nested: { x: undefined, y: 1.5, big: 2 ** 53 - 1, neg: -0.001 }, list: [1, "two", { three: 3 }] } };
      await store.transact((tx) => tx.put("settings", odd));
      const back = await store.read((tx) => tx.get("settings", "odd"));
      expect(back).toEqual({ id: "odd", value: { text: "nul \u0000 and lone \ud800 here", nested: { y: 1.5, big: 2 ** 53 - 1, neg: -0.001 }, list: [1, "two", { three: 3 }] } });
      expect(Object.keys((back!.value as Record<string, unknown>))).not.toContain("gone");
      const [queued] = await store.transact(async (tx) => [await tx.enqueue({ ...job("j"), lastError: undefined, payload: { t: "\u0000" } })]);
      expect(await store.read((tx) => tx.get("jobs", "j"))).toEqual(queued);
      expect("lastError" in queued!).toBe(false);
    });
  });
}

async function queryDb(db: TestDatabase, sql: string): Promise<Array<Record<string, unknown>>> {
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
}

/** A local port with nothing listening on it. */
async function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}
