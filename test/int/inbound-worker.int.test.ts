import { createHash } from "node:crypto";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Branch, MessageRecord } from "../../backend/src/domain/types.js";
import { inboundHandler, INBOUND_QUEUE, type Effect } from "../../backend/src/inbound/inbound.worker.js";
import type { JobHandler } from "../../backend/src/jobs/job-runner.js";
import { newJob } from "../../backend/src/jobs/new-job.js";
import { createLogger } from "../../backend/src/ops/logger.js";
import { createMetrics, type Metrics } from "../../backend/src/ops/metrics.js";
import { LowdbStore } from "../../backend/src/store/lowdb/lowdb.store.js";
import { PgStore } from "../../backend/src/store/pg/pg.store.js";
import type { Store } from "../../backend/src/store/store.port.js";
import { tempDir } from "../builders/harness.js";
import { findPostgres } from "../builders/postgres.js";
import { NUMBER, textWebhook, type TextMessageSpec } from "../builders/meta-payloads.js";

/**
 * The inbound worker on the embedded store, driven job by job: what a webhook body becomes (routed
 * messages, the routing metric) when the store runs transactions more than once, and when branches
 * change between bodies.
 */

const T0 = Date.UTC(2026, 10, 26, 9, 0, 0);

function branch(n: number, over: Partial<Branch> = {}): Branch {
  const code = `E${String(n).padStart(3, "0")}`;
  return {
    id: `br_${n}`,
    name: `Branch ${code}`,
    code,
    crm: "inbox",
    enabled: true,
    isHq: n === 1,
    keywords: [],
    adSourceIds: [],
    keyHash: `hash-${n}`,
    keyPrefix: `k${n}`,
    createdAt: T0,
    updatedAt: T0,
    ...over,
  };
}

/**
 * A store that runs the first attempt of every transaction and rolls it back, then runs it again —
 * what the PostgreSQL store does after a serialization failure. Built over the real embedded store.
 */
function storeThatRetries(inner: Store): Store & { attempts: number } {
  const conflict = Symbol("serialization failure");
  const wrapper = {
    kind: inner.kind,
    attempts: 0,
    read: <T>(fn: Parameters<Store["read"]>[0]) => inner.read(fn) as Promise<T>,
    healthy: () => inner.healthy(),
    close: () => inner.close(),
    async transact<T>(fn: (tx: Parameters<Parameters<Store["transact"]>[0]>[0]) => Promise<T>): Promise<T> {
      wrapper.attempts++;
      await inner
        .transact(async (tx) => {
          await fn(tx);
          throw conflict;
        })
        .catch((err: unknown) => {
          if (err !== conflict) throw err;
        });
      wrapper.attempts++;
      return inner.transact(fn);
    },
  };
  return wrapper as Store & { attempts: number };
}

interface World {
  store: Store;
  metrics: Metrics;
  handler: JobHandler;
  effects: Effect[];
}

let dir: { dir: string; remove(): Promise<void> };
let base: LowdbStore;

beforeEach(async () => {
  dir = await tempDir("branchline-inbound-");
  base = await LowdbStore.open({ dir: dir.dir });
});

afterEach(async () => {
  await base.close();
  await dir.remove();
});

function world(store: Store, flows?: Parameters<typeof inboundHandler>[0]["flows"]): World {
  const metrics = createMetrics();
  const effects: Effect[] = [];
  const handler = inboundHandler({
    store,
    logger: createLogger("silent"),
    metrics,
    now: () => T0,
    phoneNumberId: NUMBER.phoneNumberId,
    routingDefaults: { menuEnabled: false },
    optWords: { optOut: ["stop"], optIn: ["start"] },
    findCrmOwners: async () => [],
    afterCommit: (fx) => effects.push(...fx),
    ...(flows ? { flows } : {}),
  });
  return { store, metrics, handler, effects };
}

/** Stores a Meta webhook body and its job as the webhook route does, then runs the job. */
async function processBody(w: World, ...messages: TextMessageSpec[]): Promise<void> {
  await processBodyOn(base, w, ...messages);
}

async function processBodyOn(store: Store, w: World, ...messages: TextMessageSpec[]): Promise<void> {
  const raw = JSON.stringify(textWebhook(...messages.map((m) => ({ timestamp: Math.floor(T0 / 1000), ...m }))));
  const payloadId = createHash("sha256").update(raw).digest("hex");
  const job = await store.transact(async (tx) => {
    await tx.insertIfAbsent("payloads", { id: payloadId, source: "whatsapp", raw, receivedAt: T0 });
    return tx.enqueue(newJob(INBOUND_QUEUE, { payloadId }, T0));
  });
  await w.handler.run(job, { complete: (tx) => tx.delete("jobs", job.id), defer: () => undefined });
}

async function inboundCount(metrics: Metrics): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const v of (await metrics.inboundMessages.get()).values) out[String(v.labels.rule)] = v.value;
  return out;
}

const messagesOf = (waId: string) => base.read((tx) => tx.byIndex("messages", "customerId", `wa:${waId}`));
const routed = (m: MessageRecord[]) => m.map((r) => [r.branchId, r.routing?.rule]);

describe("inbound worker: the routing metric counts committed work", () => {
  it("counts each routed message once when the store runs every transaction twice", async () => {
    const store = storeThatRetries(base);
    const w = world(store);
    await base.transact(async (tx) => {
      for (let n = 1; n <= 3; n++) await tx.put("branches", branch(n));
    });

    await processBody(w, { from: "79110000001", text: "Hi E002, are you open?" }, { from: "79110000002", text: "hello" }, { from: "79110000003", text: "E003 please" });

    expect(store.attempts).toBeGreaterThanOrEqual(2); // the body did run twice
    expect(await inboundCount(w.metrics)).toEqual({ explicit_code: 2, hq_fallback: 1 });
    // …and the work itself was done once: one stored message per inbound message.
    expect(routed(await messagesOf("79110000001"))).toEqual([["br_2", "explicit_code"]]);
    expect(routed(await messagesOf("79110000002"))).toEqual([["br_1", "hq_fallback"]]);
    expect(routed(await messagesOf("79110000003"))).toEqual([["br_3", "explicit_code"]]);
  });

  it("counts nothing for a redelivered body whose messages were already processed", async () => {
    const w = world(base);
    await base.transact((tx) => tx.put("branches", branch(1)));
    const wamid = "wamid.HBgLNzkxMTAwMDAwMDQVAgASGBQzQUNERjA3RkZCODI3MzQ4RjA0MQA=";

    await processBody(w, { from: "79110000004", text: "first", wamid });
    await processBody(w, { from: "79110000004", text: "first", wamid, timestamp: Math.floor(T0 / 1000) + 5 });

    expect(await inboundCount(w.metrics)).toEqual({ hq_fallback: 1 });
    expect(await messagesOf("79110000004")).toHaveLength(1);
  });
});

describe("inbound worker: routing follows branch changes at once", () => {
  it("routes 100 branches by code, then by the codes, keywords and switches as edited between bodies", async () => {
    const w = world(base);
    await base.transact(async (tx) => {
      for (let n = 1; n <= 100; n++) await tx.put("branches", branch(n));
    });

    await processBody(w, { from: "79110000010", text: "Hi E042!" }, { from: "79110000011", text: "e077 thanks" });
    expect(routed(await messagesOf("79110000010"))).toEqual([["br_42", "explicit_code"]]);
    expect(routed(await messagesOf("79110000011"))).toEqual([["br_77", "explicit_code"]]);

    // The code moves to another branch; another branch gets a keyword.
    await base.transact(async (tx) => {
      await tx.put("branches", branch(42, { code: "E942" }));
      await tx.put("branches", branch(43, { code: "E042" }));
      await tx.put("branches", branch(50, { keywords: ["маникюр"] }));
    });
    await processBody(w, { from: "79110000012", text: "Hi E042!" }, { from: "79110000013", text: "нужен маникюр" });
    expect(routed(await messagesOf("79110000012"))).toEqual([["br_43", "explicit_code"]]);
    expect(routed(await messagesOf("79110000013"))).toEqual([["br_50", "keyword"]]);

    // Switched off: its code no longer routes, the message goes to HQ and says why.
    await base.transact((tx) => tx.put("branches", branch(43, { code: "E042", enabled: false })));
    await processBody(w, { from: "79110000014", text: "Hi E042!" });
    const [held] = await messagesOf("79110000014");
    expect([held?.branchId, held?.routing?.rule]).toEqual(["br_1", "hq_fallback"]);
    expect(held?.routing?.reason).toContain("disabled branch");
  });
});

const pg = await findPostgres();

describe.skipIf(!pg.available)("inbound worker on PostgreSQL: a transaction retried after a serialization failure", () => {
  afterAll(async () => {
    if (pg.available) await pg.server.stop();
  });

  it("counts each routed message once although the body's transaction ran twice", async () => {
    if (!pg.available) return;
    const db = await pg.server.createDatabase();
    const store = await PgStore.open({ url: db.url, poolSize: 4 });
    const other = await PgStore.open({ url: db.url, poolSize: 2 }); // a second instance
    try {
      await store.transact(async (tx) => {
        for (let n = 1; n <= 3; n++) await tx.put("branches", branch(n));
      });
      // The first time the worker reaches a flow step, another instance changes the body's stored
      // row, which this transaction deletes at its end: PostgreSQL refuses that commit
      // (serialization failure) and the store runs the transaction again.
      let inbound = 0;
      let conflicted = false;
      const w = world(store, {
        onInbound: async () => {
          inbound++;
          if (!conflicted) {
            conflicted = true;
            await other.transact(async (tx) => {
              for (const p of await tx.list("payloads")) await tx.put("payloads", { ...p, receivedAt: p.receivedAt + 1 });
            });
          }
          return undefined;
        },
      });

      await processBodyOn(store, w, { from: "79110000021", text: "Hi E002" }, { from: "79110000022", text: "E003!" }, { from: "79110000023", text: "hello" });

      expect(conflicted).toBe(true);
      expect(inbound).toBeGreaterThan(3); // the flow step ran again: the transaction was retried
      expect(await inboundCount(w.metrics)).toEqual({ explicit_code: 2, hq_fallback: 1 });
      const rows = await store.read(async (tx) => [
        ...(await tx.byIndex("messages", "customerId", "wa:79110000021")),
        ...(await tx.byIndex("messages", "customerId", "wa:79110000022")),
        ...(await tx.byIndex("messages", "customerId", "wa:79110000023")),
      ]);
      expect(routed(rows)).toEqual([["br_2", "explicit_code"], ["br_3", "explicit_code"], ["br_1", "hq_fallback"]]);
      expect(await store.read((tx) => tx.list("payloads"))).toEqual([]);
    } finally {
      await other.close();
      await store.close();
      await db.drop();
    }
  });
});
