import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type {
  Binding,
  Branch,
  CrmConnection,
  Customer,
  Dialog,
  InboundPayload,
  Job,
  ManagementEventRecord,
  MessageRecord,
  SeenKey,
  SettingRecord,
  TemplateRecord,
  DailyStatsRecord,
  FlowRun, // flows (issue 6)
  Handover,
  CallCooldown,
  Campaign,
  CampaignRecipient,
} from "../../backend/src/domain/types.js";
import { INDEXES, type ClaimOptions, type CollectionName, type Collections, type Store, type Tx } from "../../backend/src/store/store.port.js";

/**
 * The repository contract: what a user of the `Store` port relies on. Every implementation
 * (lowdb now, PostgreSQL later) runs this same suite; it talks to the port only.
 *
 * `open` gives a fresh, empty store; `reopen` closes the current store and opens a new one on the
 * same data (returning it); `cleanup` closes whatever is open and throws the data away.
 */
export interface StoreHarness {
  store: Store;
  reopen: () => Promise<Store>;
  cleanup: () => Promise<void>;
}

// ───────────────────────────────────────── builders ──────────────────────────────────────────

const T0 = Date.UTC(2026, 0, 15, 9, 0, 0);

function branch(id: string, over: Partial<Branch> = {}): Branch {
  return {
    id,
    name: `Branch ${id}`,
    code: id.toUpperCase(),
    crm: "inbox",
    enabled: true,
    isHq: false,
    keywords: [],
    adSourceIds: [],
    keyHash: `hash-${id}`,
    keyPrefix: id.slice(0, 4),
    createdAt: T0,
    updatedAt: T0,
    ...over,
  };
}

function customer(id: string, over: Partial<Customer> = {}): Customer {
  return { id, aliases: [], createdAt: T0, updatedAt: T0, ...over };
}

function dialog(id: string, over: Partial<Dialog> = {}): Dialog {
  return { id, branchId: "br-1", customerId: "cu-1", createdAt: T0, updatedAt: T0, unread: 0, ...over };
}

function message(id: string, over: Partial<MessageRecord> = {}): MessageRecord {
  return {
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
  };
}

function setting(id: string, value: unknown): SettingRecord {
  return { id, value };
}

function job(id: string, over: Partial<Omit<Job, "seq">> = {}): Omit<Job, "seq"> {
  return { id, queue: "send", payload: { n: id }, state: "pending", attempts: 0, runAt: T0, createdAt: T0, updatedAt: T0, ...over };
}

type Key = "a" | "b";
type AnyRow = { id: string };

/** One sample row per collection whose indexed fields are all derived from `key`. */
const SAMPLES: { [K in CollectionName]: (id: string, key: Key) => Collections[K] } = {
  branches: (id, key) => branch(id, { code: `Code-${key.toUpperCase()}`, keyHash: `hash-${key}` }),
  customers: (id, key) => customer(id, { waId: `7900${key}`, userId: `US.${key}` }),
  bindings: (id, key): Binding => ({
    id,
    current: { branchId: `br-${key}`, rule: "menu", reason: "picked", boundAt: T0, lastActivityAt: T0 },
    history: [],
  }),
  dialogs: (id, key) => dialog(id, { branchId: `br-${key}`, customerId: `cu-${key}` }),
  messages: (id, key) => message(id, { dialogId: `dlg-${key}`, wamid: `wamid.${key}`, customerId: `cu-${key}` }),
  jobs: (id, key): Job => ({ ...job(id, { queue: `q-${key}`, state: key === "a" ? "pending" : "dead" }) }),
  payloads: (id): InboundPayload => ({ id, source: "whatsapp", raw: `{"id":"${id}"}`, receivedAt: T0 }),
  managementEvents: (id, key): ManagementEventRecord => ({ id, field: `field_${key}`, receivedAt: T0, value: { key } }),
  seenKeys: (id, key): SeenKey => ({ id, at: key === "a" ? T0 : T0 + 86_400_000 }),
  settings: (id, key) => setting(id, { key }),
  templates: (id, key): TemplateRecord => ({ id, metaId: `meta-${key}`, name: `tpl_${key}`, language: "ru", status: "APPROVED", category: "UTILITY", parameterFormat: "POSITIONAL", components: [], syncedAt: T0, updatedAt: T0 }),
  dailyStats: (id, key): DailyStatsRecord => ({ id, branchId: `br-${key}`, day: "2026-11-25", counts: { inbound: 1 } }),
  crmConnections: (id, key): CrmConnection => ({ id, kind: "amocrm", account: `acc-${id}`, domain: "a.amocrm.ru", branchId: `br-${key}`, state: "connected", refs: { scopeId: `scope-${key}` }, createdAt: T0, updatedAt: T0 }),
  // flows and operator alerts (issue 6)
  flows: (id) => ({ id, definition: { name: `Flow ${id}`, start: "bye", steps: { bye: { type: "end" } } }, enabled: true, version: 1, createdAt: T0, updatedAt: T0 }),
  flowRuns: (id, key): FlowRun => ({
    id, flowId: `flow-${key}`, flowVersion: 1, definition: { name: "f", start: "bye", steps: { bye: { type: "end" } } }, customerId: `cu-${key}`, branchId: `br-${key}`, dialogId: `dlg-${key}`,
    status: "active", state: { stepId: "bye", status: "active", vars: { score: 9 }, seq: 1, trail: ["bye"] }, startedBy: "admin", messageIds: [], startedAt: T0, updatedAt: T0,
  }),
  operators: (id, key) => ({ id, branchId: `br-${key}`, name: `Operator ${key}`, phone: "+79160000001", notifyWhatsApp: true, createdAt: T0, updatedAt: T0 }),
  handovers: (id, key): Handover => ({
    id, branchId: `br-${key}`, dialogId: `dlg-${key}`, customerId: `cu-${key}`, reason: "NPS 3", source: "flow", at: T0, state: "waiting", stage: "notified",
    notifications: [{ operatorId: `op-${key}`, branchId: `br-${key}`, phone: "+79160000001", stage: "notified", at: T0, via: "text", messageId: `out-${key}` }], updatedAt: T0,
  }),
  callCooldowns: (id, key): CallCooldown => ({ id, customerId: `cu-${key}`, branchId: `br-${key}`, messageId: `out-${id}`, event: "missed", at: T0, until: T0 + 86_400_000 }),
  campaigns: (id, key): Campaign => ({
    id, name: `Campaign ${id}`, template: { name: "promo", language: "ru", category: "MARKETING" }, branchIds: [`br-${key}`],
    schedule: { startAt: T0, quietHours: { from: "21:00", to: "09:00", timezone: "Europe/Moscow" } }, state: key === "a" ? "running" : "paused",
    total: 2, recipients: 1, importSkipped: { duplicate: 1 }, importErrors: [{ line: 3, code: "duplicate", reason: "same phone as line 2" }], cursor: 0, batchStart: 0, createdAt: T0, updatedAt: T0,
  }),
  campaignRecipients: (id, key): CampaignRecipient => ({ id, campaignId: `cmp-${key}`, seq: 0, phone: "+79161234567", branchId: `br-${key}`, params: ["Анна"], line: 2, state: "pending" }),
};

/** Indexes whose rows look different from the collection's sample (held messages have no dialog). */
const INDEX_SAMPLES: Record<string, (id: string, key: Key) => AnyRow> = {
  "messages.heldFor": (id, key) => message(id, { direction: "in", dialogId: undefined, customerId: `cu-${key}` }),
  "messages.outTemplateDay": (id, key) => message(id, { direction: "out", kind: "template", status: "sent", createdAt: key === "a" ? T0 : T0 + 86_400_000 }),
};

/** Untyped view of a transaction for tests that loop over every collection and index. */
interface LooseTx {
  get(collection: string, id: string): Promise<AnyRow | undefined>;
  put(collection: string, row: AnyRow): Promise<void>;
  delete(collection: string, id: string): Promise<void>;
  byIndex(collection: string, index: string, value: string, opts?: { limit?: number; newestFirst?: boolean }): Promise<AnyRow[]>;
  countByIndex(collection: string, index: string, value: string): Promise<number>;
  list(collection: string, opts?: { limit?: number }): Promise<AnyRow[]>;
}
const loose = (tx: Tx) => tx as unknown as LooseTx;

const ids = (rows: Array<{ id: string }>) => rows.map((r) => r.id);
const tick = () => new Promise<void>((resolve) => setTimeout(resolve, 1));

const COLLECTIONS = Object.keys(INDEXES) as CollectionName[];
const INDEX_CASES: Array<[CollectionName, string]> = COLLECTIONS.flatMap((c) => Object.keys(INDEXES[c]).map((i): [CollectionName, string] => [c, i]));
const indexFn = (collection: CollectionName, index: string) =>
  (INDEXES[collection] as Record<string, (row: never) => string | undefined>)[index] as (row: AnyRow) => string | undefined;

// ───────────────────────────────────────── contract ──────────────────────────────────────────

export function describeStoreContract(name: string, open: () => Promise<StoreHarness>): void {
  describe(`Store contract: ${name}`, () => {
    let harness: StoreHarness;
    let store: Store;

    beforeEach(async () => {
      harness = await open();
      store = harness.store;
    });
    afterEach(async () => {
      await harness.cleanup();
    });

    const reopen = async () => {
      store = await harness.reopen();
      return store;
    };

    it("identifies itself and is healthy when opened", () => {
      expect(["lowdb", "postgres"]).toContain(store.kind);
      expect(store.healthy()).toBe(true);
    });

    describe("documents", () => {
      it("put/get round-trips a row in every collection; get of an unknown id is undefined", async () => {
        const rows = COLLECTIONS.map((c) => [c, SAMPLES[c](`${c}-1`, "a")] as const);
        await store.transact(async (tx) => {
          for (const [c, row] of rows) await loose(tx).put(c, row);
        });
        await store.read(async (tx) => {
          for (const [c, row] of rows) {
            expect(await loose(tx).get(c, row.id)).toEqual(row);
            expect(await loose(tx).get(c, "nope")).toBeUndefined();
          }
        });
      });

      it("prefetch (where offered) changes no answer: rows, absent ids, and this transaction's own writes", async () => {
        await store.transact(async (tx) => {
          await tx.put("settings", setting("p1", 1));
          await tx.put("settings", setting("p2", 2));
        });
        await store.transact(async (tx) => {
          await tx.put("settings", setting("p2", 22)); // written before the prefetch
          await tx.prefetch?.("settings", ["p1", "p2", "p3", "p1"]);
          await tx.delete("settings", "p1"); // and after it
          expect(await tx.get("settings", "p1")).toBeUndefined();
          expect(await tx.get("settings", "p2")).toEqual(setting("p2", 22));
          expect(await tx.get("settings", "p3")).toBeUndefined();
          await tx.put("settings", setting("p3", 3));
          expect(await tx.get("settings", "p3")).toEqual(setting("p3", 3));
        });
        await store.read(async (tx) => {
          await tx.prefetch?.("settings", ["p1", "p2", "p3"]);
          expect(await tx.get("settings", "p1")).toBeUndefined();
          expect(await tx.get("settings", "p2")).toEqual(setting("p2", 22));
          expect(await tx.get("settings", "p3")).toEqual(setting("p3", 3));
        });
      });

      it("keeps collections apart: the same id in two collections is two rows", async () => {
        await store.transact(async (tx) => {
          await tx.put("settings", setting("x", 1));
          await tx.put("seenKeys", { id: "x", at: 5 });
        });
        await store.read(async (tx) => {
          expect(await tx.get("settings", "x")).toEqual(setting("x", 1));
          expect(await tx.get("seenKeys", "x")).toEqual({ id: "x", at: 5 });
        });
      });

      it("put replaces a row with the same id", async () => {
        await store.transact((tx) => tx.put("settings", setting("s", { v: 1, extra: true })));
        await store.transact((tx) => tx.put("settings", setting("s", { v: 2 })));
        await store.read(async (tx) => {
          expect(await tx.get("settings", "s")).toEqual(setting("s", { v: 2 }));
          expect(await tx.list("settings")).toEqual([setting("s", { v: 2 })]);
        });
      });

      it("put then get inside one transaction sees the write", async () => {
        const seen = await store.transact(async (tx) => {
          await tx.put("settings", setting("s", 1));
          return tx.get("settings", "s");
        });
        expect(seen).toEqual(setting("s", 1));
      });

      it("delete removes a row; deleting an unknown id is a no-op", async () => {
        await store.transact(async (tx) => {
          await tx.put("settings", setting("keep", 1));
          await tx.put("settings", setting("gone", 2));
        });
        await store.transact(async (tx) => {
          await tx.delete("settings", "gone");
          await tx.delete("settings", "never-existed");
        });
        await store.read(async (tx) => {
          expect(await tx.get("settings", "gone")).toBeUndefined();
          expect(ids(await tx.list("settings"))).toEqual(["keep"]);
        });
      });

      it("returns copies: mutating a returned row without putting it changes nothing stored", async () => {
        await store.transact(async (tx) => {
          await tx.put("dialogs", dialog("d1", { crmRefs: { amo: "1" } }));
          await tx.put("messages", message("m1", { dialogId: "d1", media: { mediaId: "x" } }));
        });
        // mutate what get/list/byIndex return, inside transactions that commit
        await store.transact(async (tx) => {
          const d = (await tx.get("dialogs", "d1"))!;
          d.unread = 99;
          d.crmRefs!.amo = "mutated";
          const [m] = await tx.byIndex("messages", "dialogId", "d1");
          m!.text = "mutated";
          m!.media!.mediaId = "mutated";
          const [l] = await tx.list("dialogs");
          l!.branchId = "mutated";
        });
        const outside = await store.read((tx) => tx.get("dialogs", "d1"));
        outside!.unread = 42;
        await store.read(async (tx) => {
          expect(await tx.get("dialogs", "d1")).toEqual(dialog("d1", { crmRefs: { amo: "1" } }));
          expect(await tx.get("messages", "m1")).toEqual(message("m1", { dialogId: "d1", media: { mediaId: "x" } }));
          expect(await tx.countByIndex("dialogs", "branchId", "br-1")).toBe(1);
          expect(await tx.countByIndex("dialogs", "branchId", "mutated")).toBe(0);
        });
      });

      it("stores a copy of what it is given: mutating the object after put changes nothing stored", async () => {
        const row = message("m1", { dialogId: "d1", media: { mediaId: "x" } });
        await store.transact(async (tx) => {
          await tx.put("messages", row);
          row.text = "changed after put";
          row.dialogId = "d2";
          row.media!.mediaId = "changed";
          expect((await tx.get("messages", "m1"))!.text).toBe("text of m1");
        });
        await store.read(async (tx) => {
          expect(await tx.get("messages", "m1")).toEqual(message("m1", { dialogId: "d1", media: { mediaId: "x" } }));
          expect(ids(await tx.byIndex("messages", "dialogId", "d1"))).toEqual(["m1"]);
          expect(await tx.byIndex("messages", "dialogId", "d2")).toEqual([]);
        });
      });

      it("insertIfAbsent inserts once, then returns false and leaves the first row alone", async () => {
        const first = await store.transact((tx) => tx.insertIfAbsent("seenKeys", { id: "msg:1", at: 1 }));
        const second = await store.transact((tx) => tx.insertIfAbsent("seenKeys", { id: "msg:1", at: 2 }));
        const sameTx = await store.transact(async (tx) => [
          await tx.insertIfAbsent("seenKeys", { id: "msg:2", at: 3 }),
          await tx.insertIfAbsent("seenKeys", { id: "msg:2", at: 4 }),
        ]);
        expect(first).toBe(true);
        expect(second).toBe(false);
        expect(sameTx).toEqual([true, false]);
        await store.read(async (tx) => {
          expect(await tx.get("seenKeys", "msg:1")).toEqual({ id: "msg:1", at: 1 });
          expect(await tx.get("seenKeys", "msg:2")).toEqual({ id: "msg:2", at: 3 });
        });
      });

      it("insertIfAbsent inserts again after the row was deleted", async () => {
        await store.transact((tx) => tx.insertIfAbsent("seenKeys", { id: "k", at: 1 }));
        await store.transact((tx) => tx.delete("seenKeys", "k"));
        expect(await store.transact((tx) => tx.insertIfAbsent("seenKeys", { id: "k", at: 2 }))).toBe(true);
        expect(await store.read((tx) => tx.get("seenKeys", "k"))).toEqual({ id: "k", at: 2 });
      });

      it("list returns rows in insertion order; updates keep their place; limit cuts", async () => {
        await store.transact(async (tx) => {
          for (const id of ["c", "a", "d"]) await tx.put("settings", setting(id, 0));
        });
        await store.transact(async (tx) => {
          await tx.put("settings", setting("b", 0));
          await tx.put("settings", setting("a", "updated")); // an update is not an insertion
        });
        await store.read(async (tx) => {
          expect(ids(await tx.list("settings"))).toEqual(["c", "a", "d", "b"]);
          expect(ids(await tx.list("settings", { limit: 2 }))).toEqual(["c", "a"]);
          expect(ids(await tx.list("settings", { limit: 10 }))).toEqual(["c", "a", "d", "b"]);
          expect(await tx.list("payloads")).toEqual([]);
        });
        // a deleted and re-inserted row is a new insertion
        await store.transact(async (tx) => {
          await tx.delete("settings", "c");
          await tx.put("settings", setting("c", 1));
        });
        expect(ids(await store.read((tx) => tx.list("settings")))).toEqual(["a", "d", "b", "c"]);
      });
    });

    describe("secondary indexes", () => {
      it.each(INDEX_CASES)("%s.%s: lookup, order, newestFirst, limit, count, maintenance", async (collection, index) => {
        const make = (INDEX_SAMPLES[`${collection}.${index}`] ?? SAMPLES[collection]) as (id: string, key: Key) => AnyRow;
        const fn = indexFn(collection, index);
        const [r1, r2, r3, r4] = [make(`${collection}-1`, "a"), make(`${collection}-2`, "b"), make(`${collection}-3`, "a"), make(`${collection}-4`, "a")] as [AnyRow, AnyRow, AnyRow, AnyRow];
        const a = fn(r1)!;
        const b = fn(r2)!;
        expect(a, "sample row must set the indexed field").toBeDefined();
        expect(b, "sample row must set the indexed field").toBeDefined();
        expect(a).not.toBe(b);

        await store.transact(async (tx) => {
          await loose(tx).put(collection, r1);
          await loose(tx).put(collection, r2);
        });
        await store.transact(async (tx) => {
          await loose(tx).put(collection, r3);
          await loose(tx).put(collection, r4);
        });
        const byIdx = (value: string, opts?: { limit?: number; newestFirst?: boolean }) =>
          store.read(async (tx) => ids(await loose(tx).byIndex(collection, index, value, opts)));
        const count = (value: string) => store.read((tx) => loose(tx).countByIndex(collection, index, value));

        expect(await byIdx(a)).toEqual([r1.id, r3.id, r4.id]);
        expect(await byIdx(b)).toEqual([r2.id]);
        expect(await byIdx("no-such-value")).toEqual([]);
        expect(await byIdx(a, { newestFirst: true })).toEqual([r4.id, r3.id, r1.id]);
        expect(await byIdx(a, { limit: 2 })).toEqual([r1.id, r3.id]);
        expect(await byIdx(a, { limit: 2, newestFirst: true })).toEqual([r4.id, r3.id]);
        expect(await count(a)).toBe(3);
        expect(await count(b)).toBe(1);
        expect(await count("no-such-value")).toBe(0);
        const full = await store.read((tx) => loose(tx).byIndex(collection, index, a));
        expect(full).toEqual([r1, r3, r4]);

        // rewriting a row with the same index value keeps its place
        await store.transact((tx) => loose(tx).put(collection, { ...r1 }));
        expect(await byIdx(a)).toEqual([r1.id, r3.id, r4.id]);

        // changing the indexed value moves the row; in its new bucket it sits by insertion order
        await store.transact((tx) => loose(tx).put(collection, make(r1.id, "b")));
        expect(await byIdx(a)).toEqual([r3.id, r4.id]);
        expect(await byIdx(b)).toEqual([r1.id, r2.id]);
        expect(await count(a)).toBe(2);
        expect(await count(b)).toBe(2);

        // deleting a row drops it from the index
        await store.transact((tx) => loose(tx).delete(collection, r3.id));
        expect(await byIdx(a)).toEqual([r4.id]);
        expect(await count(a)).toBe(1);
        await store.transact((tx) => loose(tx).delete(collection, r4.id));
        expect(await byIdx(a)).toEqual([]);
        expect(await count(a)).toBe(0);
      });

      it("covers every collection's declared indexes (a new index needs a sample above)", () => {
        expect(INDEX_CASES.map(([c, i]) => `${c}.${i}`)).toEqual(
          expect.arrayContaining([
            "branches.code",
            "customers.waId",
            "customers.userId",
            "dialogs.branchId",
            "messages.dialogId",
            "messages.wamid",
            "jobs.state",
            "jobs.queue",
          ]),
        );
      });

      it("branches.code is keyed by the lower-cased code", async () => {
        await store.transact(async (tx) => {
          await tx.put("branches", branch("b1", { code: "ArtPlay" }));
          await tx.put("branches", branch("b2", { code: "NAILS" }));
        });
        await store.read(async (tx) => {
          expect(ids(await tx.byIndex("branches", "code", "artplay"))).toEqual(["b1"]);
          expect(ids(await tx.byIndex("branches", "code", "nails"))).toEqual(["b2"]);
          expect(await tx.byIndex("branches", "code", "NAILS")).toEqual([]);
          expect(await tx.countByIndex("branches", "code", "artplay")).toBe(1);
        });
        // renaming the code re-keys the branch
        await store.transact(async (tx) => tx.put("branches", branch("b1", { code: "ART" })));
        await store.read(async (tx) => {
          expect(await tx.byIndex("branches", "code", "artplay")).toEqual([]);
          expect(ids(await tx.byIndex("branches", "code", "art"))).toEqual(["b1"]);
        });
      });

      it("customers by waId and userId; a missing field puts the row in no bucket", async () => {
        await store.transact(async (tx) => {
          await tx.put("customers", customer("wa:79001", { waId: "79001" }));
          await tx.put("customers", customer("US.1", { waId: "79002", userId: "US.1" }));
        });
        await store.read(async (tx) => {
          expect(ids(await tx.byIndex("customers", "waId", "79001"))).toEqual(["wa:79001"]);
          expect(ids(await tx.byIndex("customers", "waId", "79002"))).toEqual(["US.1"]);
          expect(ids(await tx.byIndex("customers", "userId", "US.1"))).toEqual(["US.1"]);
          expect(await tx.byIndex("customers", "userId", "undefined")).toEqual([]);
          expect(await tx.byIndex("customers", "userId", "")).toEqual([]);
        });
        // the number is gone from the customer: it leaves the waId bucket
        await store.transact(async (tx) => tx.put("customers", customer("US.1", { userId: "US.1" })));
        await store.read(async (tx) => {
          expect(await tx.byIndex("customers", "waId", "79002")).toEqual([]);
          expect(ids(await tx.byIndex("customers", "userId", "US.1"))).toEqual(["US.1"]);
        });
      });

      it("bindings by the current branch; ending the binding drops it from the index", async () => {
        const bound = SAMPLES.bindings("c1", "a");
        await store.transact((tx) => tx.put("bindings", bound));
        expect(ids(await store.read((tx) => tx.byIndex("bindings", "branchId", "br-a")))).toEqual(["c1"]);
        await store.transact((tx) => tx.put("bindings", { id: "c1", history: [{ branchId: "br-a", rule: "menu", reason: "x", boundAt: T0, endedAt: T0 + 1 }] }));
        expect(await store.read((tx) => tx.countByIndex("bindings", "branchId", "br-a"))).toBe(0);
      });

      it("messages of a dialog stay in arrival order when their status changes", async () => {
        await store.transact(async (tx) => {
          for (const id of ["m1", "m2", "m3"]) await tx.put("messages", message(id, { dialogId: "d1", wamid: `wamid.${id}` }));
          await tx.put("messages", message("other", { dialogId: "d2" }));
        });
        await store.transact(async (tx) => {
          const m1 = (await tx.get("messages", "m1"))!;
          await tx.put("messages", { ...m1, status: "read", updatedAt: T0 + 5 });
          const m2 = (await tx.byIndex("messages", "wamid", "wamid.m2"))[0]!;
          await tx.put("messages", { ...m2, status: "delivered", updatedAt: T0 + 5 });
        });
        await store.read(async (tx) => {
          expect(ids(await tx.byIndex("messages", "dialogId", "d1"))).toEqual(["m1", "m2", "m3"]);
          expect(ids(await tx.byIndex("messages", "dialogId", "d1", { newestFirst: true, limit: 1 }))).toEqual(["m3"]);
          expect((await tx.byIndex("messages", "wamid", "wamid.m1"))[0]!.status).toBe("read");
        });
      });

      it("dialogs by branch; jobs by state and queue follow state changes", async () => {
        await store.transact(async (tx) => {
          await tx.put("dialogs", dialog("br-1:c1", { branchId: "br-1", customerId: "c1" }));
          await tx.put("dialogs", dialog("br-2:c1", { branchId: "br-2", customerId: "c1" }));
          await tx.put("dialogs", dialog("br-1:c2", { branchId: "br-1", customerId: "c2" }));
          await tx.enqueue(job("j1", { queue: "send" }));
          await tx.enqueue(job("j2", { queue: "crm" }));
          await tx.enqueue(job("j3", { queue: "send" }));
        });
        await store.transact(async (tx) => {
          const j1 = (await tx.get("jobs", "j1"))!;
          await tx.put("jobs", { ...j1, state: "dead", lastError: "boom" });
        });
        await store.read(async (tx) => {
          expect(ids(await tx.byIndex("dialogs", "branchId", "br-1"))).toEqual(["br-1:c1", "br-1:c2"]);
          expect(ids(await tx.byIndex("dialogs", "customerId", "c1"))).toEqual(["br-1:c1", "br-2:c1"]);
          expect(ids(await tx.byIndex("jobs", "queue", "send"))).toEqual(["j1", "j3"]);
          expect(ids(await tx.byIndex("jobs", "state", "pending"))).toEqual(["j2", "j3"]);
          expect(ids(await tx.byIndex("jobs", "state", "dead"))).toEqual(["j1"]);
          expect(await tx.countByIndex("jobs", "state", "pending")).toBe(2);
          expect(await tx.countByIndex("jobs", "state", "running")).toBe(0);
        });
      });
    });

    describe("transactions", () => {
      async function seed() {
        await store.transact(async (tx) => {
          await tx.put("settings", setting("counter", 0));
          await tx.put("messages", message("m1", { dialogId: "d1" }));
          await tx.put("messages", message("m2", { dialogId: "d1" }));
          await tx.put("messages", message("m3", { dialogId: "d1" }));
          await tx.enqueue(job("j1"));
        });
      }
      const snapshotOf = () =>
        store.read(async (tx) => ({
          settings: await tx.list("settings"),
          messages: await tx.list("messages"),
          d1: await tx.byIndex("messages", "dialogId", "d1"),
          d2: await tx.byIndex("messages", "dialogId", "d2"),
          d1count: await tx.countByIndex("messages", "dialogId", "d1"),
          jobs: await tx.list("jobs"),
          pending: await tx.byIndex("jobs", "state", "pending"),
          running: await tx.byIndex("jobs", "state", "running"),
          seen: await tx.list("seenKeys"),
        }));

      it("returns the value of the function", async () => {
        expect(await store.transact(async () => ({ answer: 42 }))).toEqual({ answer: 42 });
        expect(await store.read(async () => "read value")).toBe("read value");
      });

      it("a transaction that throws after several writes leaves nothing of them, and its error propagates unchanged", async () => {
        await seed();
        const before = await snapshotOf();
        const boom = new Error("boom after writes");
        const attempt = store.transact(async (tx) => {
          await tx.put("settings", setting("counter", 1));
          await tx.put("settings", setting("new", true));
          await tx.put("messages", { ...(await tx.get("messages", "m1"))!, status: "read" }); // update in place
          await tx.put("messages", { ...(await tx.get("messages", "m2"))!, dialogId: "d2" }); // index change
          await tx.delete("messages", "m3");
          await tx.put("messages", message("m4", { dialogId: "d1" }));
          await tx.insertIfAbsent("seenKeys", { id: "k", at: 1 });
          await tx.enqueue(job("j2"));
          await tx.claimJobs({ queues: ["send"], now: T0, limit: 10, leaseMs: 1000, owner: "w" });
          await tx.delete("messages", "m4");
          await tick();
          throw boom;
        });
        await expect(attempt).rejects.toBe(boom);
        expect(await snapshotOf()).toEqual(before);
        expect(store.healthy()).toBe(true);

        // the store works on afterwards, and nothing of the failed transaction reached the disk
        await store.transact((tx) => tx.put("settings", setting("after", 1)));
        await reopen();
        const after = await snapshotOf();
        expect(after).toEqual({ ...before, settings: [...before.settings, setting("after", 1)] });
      });

      it("propagates non-Error throws and rejections unchanged", async () => {
        const value = { code: "custom" };
        await expect(store.transact(async () => Promise.reject(value))).rejects.toBe(value);
        await expect(store.transact(async (tx) => {
          await tx.put("settings", setting("x", 1));
          throw "plain string";
        })).rejects.toBe("plain string");
        expect(await store.read((tx) => tx.get("settings", "x"))).toBeUndefined();
      });

      it("rolls back a delete-then-reinsert and an insert-then-delete exactly", async () => {
        await seed();
        const before = await snapshotOf();
        await expect(store.transact(async (tx) => {
          await tx.delete("messages", "m1");
          await tx.put("messages", message("m1", { dialogId: "d2", text: "reborn" }));
          await tx.put("messages", message("tmp", { dialogId: "d1" }));
          await tx.delete("messages", "tmp");
          throw new Error("nope");
        })).rejects.toThrow("nope");
        expect(await snapshotOf()).toEqual(before);
      });

      it("serializes: 50 concurrent read-increment-write transactions count to exactly 50", async () => {
        await store.transact((tx) => tx.put("settings", setting("counter", 0)));
        await Promise.all(
          Array.from({ length: 50 }, () =>
            store.transact(async (tx) => {
              const row = await tx.get("settings", "counter");
              await tick();
              await tx.put("settings", setting("counter", (row!.value as number) + 1));
            }),
          ),
        );
        expect(await store.read((tx) => tx.get("settings", "counter"))).toEqual(setting("counter", 50));
        await reopen();
        expect(await store.read((tx) => tx.get("settings", "counter"))).toEqual(setting("counter", 50));
      });

      it("a failed transaction among concurrent ones does not disturb the others", async () => {
        await store.transact((tx) => tx.put("settings", setting("counter", 0)));
        const results = await Promise.allSettled(
          Array.from({ length: 20 }, (_, i) =>
            store.transact(async (tx) => {
              const row = await tx.get("settings", "counter");
              await tx.put("settings", setting("counter", (row!.value as number) + 1));
              if (i % 4 === 0) throw new Error(`fail ${i}`);
            }),
          ),
        );
        expect(results.filter((r) => r.status === "rejected")).toHaveLength(5);
        expect(await store.read((tx) => tx.get("settings", "counter"))).toEqual(setting("counter", 15));
      });

      it("read sees committed data and refuses every kind of write", async () => {
        await seed();
        await store.transact(async (tx) => tx.enqueue(job("due", { queue: "due-q" })));
        const before = await snapshotOf();
        await store.read(async (tx) => {
          expect(await tx.get("settings", "counter")).toEqual(setting("counter", 0));
          expect(await tx.countByIndex("messages", "dialogId", "d1")).toBe(3);
        });
        const claim: ClaimOptions = { queues: ["due-q"], now: T0, limit: 10, leaseMs: 1000, owner: "reader" };
        await expect(store.read((tx) => tx.put("settings", setting("counter", 5)))).rejects.toBeDefined();
        await expect(store.read((tx) => tx.insertIfAbsent("settings", setting("fresh", 1)))).rejects.toBeDefined();
        await expect(store.read((tx) => tx.delete("messages", "m1"))).rejects.toBeDefined();
        await expect(store.read((tx) => tx.enqueue(job("from-read")))).rejects.toBeDefined();
        await expect(store.read((tx) => tx.claimJobs(claim))).rejects.toBeDefined();
        expect(await snapshotOf()).toEqual(before);
        expect((await store.read((tx) => tx.get("jobs", "due")))!.state).toBe("pending");
        expect(await store.read((tx) => tx.get("jobs", "from-read"))).toBeUndefined();
      });
    });

    describe("durability", () => {
      it("a resolved transaction survives reopening: puts, updates, deletes, indexes", async () => {
        await store.transact(async (tx) => {
          await tx.put("settings", setting("a", 1));
          await tx.put("settings", setting("b", 2));
          await tx.put("messages", message("m1", { dialogId: "d1" }));
          await tx.put("messages", message("m2", { dialogId: "d1" }));
          await tx.put("messages", message("m3", { dialogId: "d1" }));
        });
        await store.transact(async (tx) => {
          await tx.put("settings", setting("a", "updated"));
          await tx.delete("settings", "b");
          await tx.put("messages", { ...(await tx.get("messages", "m1"))!, status: "read" });
          await tx.put("messages", { ...(await tx.get("messages", "m2"))!, dialogId: "d2" });
        });
        await reopen();
        await store.read(async (tx) => {
          expect(await tx.list("settings")).toEqual([setting("a", "updated")]);
          expect(ids(await tx.byIndex("messages", "dialogId", "d1"))).toEqual(["m1", "m3"]);
          expect(ids(await tx.byIndex("messages", "dialogId", "d2"))).toEqual(["m2"]);
          expect((await tx.get("messages", "m1"))!.status).toBe("read");
        });
      });

      it("many small transactions, sequential and concurrent, are all there after reopening", async () => {
        for (let i = 0; i < 40; i++) await store.transact((tx) => tx.put("seenKeys", { id: `seq-${i}`, at: i }));
        await Promise.all(Array.from({ length: 60 }, (_, i) => store.transact((tx) => tx.insertIfAbsent("seenKeys", { id: `par-${i}`, at: i }))));
        await reopen();
        const rows = await store.read((tx) => tx.list("seenKeys"));
        expect(rows).toHaveLength(100);
        expect(ids(rows).slice(0, 40)).toEqual(Array.from({ length: 40 }, (_, i) => `seq-${i}`));
        expect(new Set(ids(rows))).toEqual(new Set([...Array.from({ length: 40 }, (_, i) => `seq-${i}`), ...Array.from({ length: 60 }, (_, i) => `par-${i}`)]));
      });

      it("list and index order survive reopening, including rows updated in place", async () => {
        await store.transact(async (tx) => {
          for (const id of ["x", "y", "z"]) await tx.put("messages", message(id, { dialogId: "d" }));
        });
        await store.transact(async (tx) => {
          await tx.put("messages", { ...(await tx.get("messages", "x"))!, status: "read" });
          await tx.put("messages", { ...(await tx.get("messages", "y"))!, dialogId: "elsewhere" });
        });
        await store.transact(async (tx) => tx.put("messages", { ...(await tx.get("messages", "y"))!, dialogId: "d" }));
        const view = () => store.read(async (tx) => [ids(await tx.list("messages")), ids(await tx.byIndex("messages", "dialogId", "d"))]);
        const before = await view();
        expect(before).toEqual([["x", "y", "z"], ["x", "y", "z"]]);
        await reopen();
        expect(await view()).toEqual(before);
      });
    });

    describe("counters (bump)", () => {
      const DAY = "2026-11-25";
      const base = (branchId: string) => ({ id: `${branchId}|${DAY}`, branchId, day: DAY });
      const stats = (branchId: string, counts: Record<string, number>): DailyStatsRecord => ({ ...base(branchId), counts });
      const getStats = (branchId: string) => store.read((tx) => tx.get("dailyStats", `${branchId}|${DAY}`));

      it("bump creates the row from its base, then adds; get, byIndex and list see the totals", async () => {
        await store.transact((tx) => tx.bump("dailyStats", base("br-1"), { inbound: 1 }));
        // the base only matters when the row is created
        await store.transact((tx) => tx.bump("dailyStats", { ...base("br-1"), branchId: "br-other" }, { inbound: 2, outbound: 1 }));
        await store.transact((tx) => tx.bump("dailyStats", base("br-2"), { "nps:promoter": 1 }));
        const want = stats("br-1", { inbound: 3, outbound: 1 });
        await store.read(async (tx) => {
          expect(await tx.get("dailyStats", want.id)).toEqual(want);
          expect(await tx.byIndex("dailyStats", "branchId", "br-1")).toEqual([want]);
          expect(await tx.byIndex("dailyStats", "branchId", "br-other")).toEqual([]);
          expect(await tx.list("dailyStats")).toEqual([want, stats("br-2", { "nps:promoter": 1 })]);
        });
        await reopen();
        expect(await getStats("br-1")).toEqual(want);
      });

      it("concurrent transactions bumping one row add up exactly, also after reopening", async () => {
        await store.transact((tx) => tx.bump("dailyStats", base("br-1"), { inbound: 0 }));
        await Promise.all(
          Array.from({ length: 40 }, (_, i) =>
            store.transact(async (tx) => {
              await tx.put("messages", message(`m-${i}`, { dialogId: "d1" }));
              await tick();
              await tx.bump("dailyStats", base("br-1"), { inbound: 1, [i % 2 ? "odd" : "even"]: 2 });
              if (i % 4 === 0) await tx.bump("dailyStats", base("br-2"), { outbound: 1 });
            }),
          ),
        );
        const want = [stats("br-1", { inbound: 40, odd: 40, even: 40 }), stats("br-2", { outbound: 10 })];
        expect([await getStats("br-1"), await getStats("br-2")]).toEqual(want);
        await reopen();
        expect([await getStats("br-1"), await getStats("br-2")]).toEqual(want);
      });

      it("the bumps of a transaction that fails are not applied, not even the row's creation", async () => {
        await store.transact((tx) => tx.bump("dailyStats", base("br-1"), { inbound: 5 }));
        const boom = new Error("after the bumps");
        await expect(store.transact(async (tx) => {
          await tx.bump("dailyStats", base("br-1"), { inbound: 1, outbound: 1 });
          await tx.bump("dailyStats", base("br-new"), { inbound: 1 });
          throw boom;
        })).rejects.toBe(boom);
        expect(await getStats("br-1")).toEqual(stats("br-1", { inbound: 5 }));
        expect(await getStats("br-new")).toBeUndefined();
        expect(await store.read((tx) => tx.byIndex("dailyStats", "branchId", "br-new"))).toEqual([]);
      });

      it("a transaction sees its own bumps; a put replaces the totals and a delete drops them", async () => {
        await store.transact((tx) => tx.bump("dailyStats", base("br-1"), { inbound: 5 }));
        const seen = await store.transact(async (tx) => {
          await tx.bump("dailyStats", base("br-1"), { inbound: 1 });
          const afterBump = (await tx.get("dailyStats", base("br-1").id))!.counts;
          await tx.put("dailyStats", stats("br-1", { inbound: 100 }));
          await tx.bump("dailyStats", base("br-1"), { inbound: 2, outbound: 1 });
          return [afterBump, (await tx.get("dailyStats", base("br-1").id))!.counts];
        });
        expect(seen).toEqual([{ inbound: 6 }, { inbound: 102, outbound: 1 }]);
        expect(await getStats("br-1")).toEqual(stats("br-1", { inbound: 102, outbound: 1 }));
        await store.transact((tx) => tx.bump("dailyStats", base("br-1"), { inbound: 1 }));
        await store.transact((tx) => tx.put("dailyStats", stats("br-1", { inbound: 7 })));
        expect(await getStats("br-1")).toEqual(stats("br-1", { inbound: 7 }));
        await store.transact((tx) => tx.delete("dailyStats", base("br-1").id));
        expect(await getStats("br-1")).toBeUndefined();
        await store.transact((tx) => tx.bump("dailyStats", base("br-1"), { outbound: 3 }));
        expect(await getStats("br-1")).toEqual(stats("br-1", { outbound: 3 }));
      });

      it("a read-only transaction refuses bump", async () => {
        await expect(store.read((tx) => tx.bump("dailyStats", base("br-1"), { inbound: 1 }))).rejects.toBeDefined();
        expect(await getStats("br-1")).toBeUndefined();
      });
    });

    describe("jobs", () => {
      const claimOpts = (over: Partial<ClaimOptions> = {}): ClaimOptions => ({ queues: ["send"], now: T0, limit: 10, leaseMs: 60_000, owner: "w1", ...over });
      const claim = (over: Partial<ClaimOptions> = {}) => store.transact((tx) => tx.claimJobs(claimOpts(over)));
      const enqueue = (...jobs: Array<Omit<Job, "seq">>) =>
        store.transact(async (tx) => {
          const out: Job[] = [];
          for (const j of jobs) out.push(await tx.enqueue(j));
          return out;
        });
      const getJob = (id: string) => store.read((tx) => tx.get("jobs", id));

      it("enqueue assigns increasing seq, stored with the job, also across reopen", async () => {
        const [a, b] = await enqueue(job("a"), job("b"));
        const [c] = await enqueue(job("c", { queue: "other" }));
        expect(typeof a!.seq).toBe("number");
        expect(b!.seq!).toBeGreaterThan(a!.seq!);
        expect(c!.seq!).toBeGreaterThan(b!.seq!);
        expect(await getJob("b")).toEqual(b);
        expect(b).toEqual({ ...job("b"), seq: b!.seq });
        await reopen();
        const [d] = await enqueue(job("d"));
        expect(d!.seq!).toBeGreaterThan(c!.seq!);
      });

      it("the job enqueue returns is a copy", async () => {
        const [a] = await enqueue(job("a"));
        a!.state = "dead";
        a!.payload = "changed";
        expect(await getJob("a")).toEqual({ ...job("a"), seq: a!.seq });
      });

      it("claims due jobs oldest first, marking them running with lease owner and expiry", async () => {
        await enqueue(job("j1"), job("j2"), job("j3"));
        const claimed = await claim({ now: T0 + 10, leaseMs: 5_000, owner: "worker-A" });
        expect(ids(claimed)).toEqual(["j1", "j2", "j3"]);
        for (const j of claimed) {
          expect(j).toMatchObject({ state: "running", leaseOwner: "worker-A", leaseUntil: T0 + 10 + 5_000 });
          expect(await getJob(j.id)).toEqual(j);
        }
        expect(claimed[0]!.payload).toEqual({ n: "j1" });
        await store.read(async (tx) => {
          expect(ids(await tx.byIndex("jobs", "state", "running"))).toEqual(["j1", "j2", "j3"]);
          expect(await tx.countByIndex("jobs", "state", "pending")).toBe(0);
        });
      });

      it("respects runAt: a job is claimable only once it is due", async () => {
        await enqueue(job("later", { runAt: T0 + 1_000 }), job("now", { runAt: T0 }));
        expect(ids(await claim({ now: T0 }))).toEqual(["now"]);
        expect(ids(await claim({ now: T0 + 999 }))).toEqual([]);
        expect(ids(await claim({ now: T0 + 1_000 }))).toEqual(["later"]);
      });

      it("respects limit", async () => {
        await enqueue(job("j1"), job("j2"), job("j3"), job("j4"), job("j5"));
        expect(ids(await claim({ limit: 2 }))).toEqual(["j1", "j2"]);
        expect(ids(await claim({ limit: 2 }))).toEqual(["j3", "j4"]);
        expect(ids(await claim({ limit: 0 }))).toEqual([]);
        expect(ids(await claim({ limit: 2 }))).toEqual(["j5"]);
      });

      it("claims only from the requested queues", async () => {
        await enqueue(job("s1", { queue: "send" }), job("c1", { queue: "crm" }), job("m1", { queue: "media" }));
        expect(ids(await claim({ queues: ["crm"] }))).toEqual(["c1"]);
        expect(ids(await claim({ queues: ["nothing-here"] }))).toEqual([]);
        expect(new Set(ids(await claim({ queues: ["send", "media"] })))).toEqual(new Set(["s1", "m1"]));
        expect(await claim({ queues: ["send", "media", "crm"] })).toEqual([]);
      });

      it("never claims dead jobs", async () => {
        await enqueue(job("d1", { state: "dead" }), job("p1"));
        expect(ids(await claim())).toEqual(["p1"]);
        expect(ids(await claim({ now: T0 + 10 * 60_000 }))).toEqual(["p1"]); // lease expired: p1 again, d1 never
        expect((await getJob("d1"))!.state).toBe("dead");
      });

      it("a running job with a live lease is not claimed again; an expired lease is claimable again", async () => {
        await enqueue(job("j1"));
        const [first] = await claim({ now: T0, leaseMs: 1_000, owner: "A" });
        expect(first!.leaseUntil).toBe(T0 + 1_000);
        expect(await claim({ now: T0 + 999, owner: "B" })).toEqual([]);
        const [again] = await claim({ now: T0 + 1_001, leaseMs: 1_000, owner: "B" });
        expect(again).toMatchObject({ id: "j1", state: "running", leaseOwner: "B", leaseUntil: T0 + 2_001 });
        expect(await getJob("j1")).toMatchObject({ leaseOwner: "B", leaseUntil: T0 + 2_001 });
        expect(await claim({ now: T0 + 1_500, owner: "C" })).toEqual([]);
      });

      it("keeps one orderKey in order: the next job waits while its predecessor runs", async () => {
        await enqueue(job("k1-a", { orderKey: "k1" }), job("k1-b", { orderKey: "k1" }), job("k2-a", { orderKey: "k2" }), job("free"));
        // different keys (and jobs without a key) are claimed together; one per key
        expect(ids(await claim({ owner: "A" }))).toEqual(["k1-a", "k2-a", "free"]);
        expect(await claim({ owner: "B" })).toEqual([]);
        expect(await claim({ owner: "B", now: T0 + 30_000 })).toEqual([]);
        // the predecessor finishes (deleted in the transaction that records the work)
        await store.transact((tx) => tx.delete("jobs", "k1-a"));
        expect(ids(await claim({ owner: "B" }))).toEqual(["k1-b"]);
      });

      it("a predecessor waiting for a retry (pending, not due) blocks its successor", async () => {
        await enqueue(job("k-1", { orderKey: "k" }), job("k-2", { orderKey: "k" }));
        const [running] = await claim({ owner: "A" });
        expect(running!.id).toBe("k-1");
        // the run fails: back to pending with a later runAt
        await store.transact(async (tx) => {
          const cur = (await tx.get("jobs", "k-1"))!;
          await tx.put("jobs", { ...cur, state: "pending", attempts: 1, runAt: T0 + 5_000, leaseOwner: undefined, leaseUntil: undefined });
        });
        expect(await claim({ owner: "B", now: T0 + 1_000 })).toEqual([]);
        expect(ids(await claim({ owner: "B", now: T0 + 5_000 }))).toEqual(["k-1"]);
        expect(await claim({ owner: "C", now: T0 + 6_000 })).toEqual([]);
      });

      it("a dead-lettered predecessor no longer blocks its successor", async () => {
        await enqueue(job("k-1", { orderKey: "k" }), job("k-2", { orderKey: "k" }), job("k-3", { orderKey: "k" }));
        await claim({ owner: "A" });
        await store.transact(async (tx) => {
          const cur = (await tx.get("jobs", "k-1"))!;
          await tx.put("jobs", { ...cur, state: "dead", lastError: "gave up", leaseOwner: undefined, leaseUntil: undefined });
        });
        expect(ids(await claim({ owner: "B" }))).toEqual(["k-2"]);
        expect(await claim({ owner: "B" })).toEqual([]);
      });

      it("an expired lease hands the same (oldest) job of a key out again, not its successor", async () => {
        await enqueue(job("k-1", { orderKey: "k" }), job("k-2", { orderKey: "k" }));
        await claim({ owner: "A", leaseMs: 1_000 });
        expect(ids(await claim({ owner: "B", now: T0 + 2_000 }))).toEqual(["k-1"]);
      });

      it("a claim in a transaction that fails is not a claim", async () => {
        await enqueue(job("j1"));
        await expect(store.transact(async (tx) => {
          expect(ids(await tx.claimJobs(claimOpts()))).toEqual(["j1"]);
          throw new Error("crash before the claim committed");
        })).rejects.toThrow("crash before");
        expect((await getJob("j1"))!.state).toBe("pending");
        expect(ids(await claim())).toEqual(["j1"]);
      });

      it("a claim survives reopening", async () => {
        await enqueue(job("j1", { orderKey: "k" }), job("j2", { orderKey: "k" }));
        const [claimed] = await claim({ owner: "A", leaseMs: 10_000 });
        await reopen();
        expect(await getJob("j1")).toEqual(claimed);
        expect(await claim({ owner: "B", now: T0 + 5_000 })).toEqual([]);
        expect(ids(await claim({ owner: "B", now: T0 + 10_001 }))).toEqual(["j1"]);
      });
    });
  });
}
