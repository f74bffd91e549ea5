import { createHash } from "node:crypto";
import { spawn } from "node:child_process";
import { mkdtemp, open, rm, type FileHandle } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import type { Binding, Customer, Dialog, MessageRecord } from "../backend/src/domain/types.js";
import { startServer } from "../backend/src/server.js";
import { MIGRATIONS } from "../backend/src/store/pg/migrations.js";
import { PgStore } from "../backend/src/store/pg/pg.store.js";
import { isSegmentCollection, segmentFileName, segmentLine, type SegmentCollection } from "../backend/src/store/lowdb/segment-table.js";
import { INDEXES, type CollectionName } from "../backend/src/store/store.port.js";
import { signMetaPayload } from "../backend/src/channels/whatsapp/webhook-signature.js";
import { BENCH_ENV } from "./server-harness.js";

/**
 * The memory benchmark's data: `customers` customers, each bound to one of 100 branches with one
 * dialog there, and `messages` stored messages (70 % inbound, 30 % outbound) spread over their
 * dialogs over 90 days.
 *
 * Rows are not invented: a short run of the real app (embedded store) routes one inbound message
 * and queues one inbox reply, and its stored rows (customer, binding, dialog, inbound message with
 * its `inboundJson`, outbound message; the branches and settings) are the templates; generated
 * rows change only ids, phone numbers, texts and times. The data set is then written the way each
 * store keeps it — `state.json` plus segment files for the embedded store, or bulk inserts into
 * the PostgreSQL store's own tables with index entries computed by the same `INDEXES` functions
 * the store uses — because a million rows through one transaction at a time would take the whole
 * bench's budget.
 */

export const MEMORY_BRANCHES = 100;

export interface Templates {
  /** Rows of the small collections (branches, settings…), copied as they are. */
  fixed: Partial<Record<CollectionName, Array<{ id: string }>>>;
  branchKeys: Array<{ branchId: string; code: string; apiKey: string }>;
  customer: Customer;
  binding: Binding;
  dialog: Dialog;
  inbound: MessageRecord;
  outbound: MessageRecord;
}

export interface DatasetShape {
  customers: number;
  messages: number;
}

/** The generated data, one collection at a time, rows in insertion order. */
export type RowSource = Iterable<[CollectionName, { id: string }]>;

const TEXTS = ["Are you open today?", "Do you have this in size 42?", "Можно записаться на субботу на 15:00?", "How much is delivery to my address?", "Спасибо большое, до встречи!", "Is there parking nearby?"];
const OUT_TEXTS = ["Yes, we are open until 21:00.", "Да, конечно, ждём вас!", "Delivery is free over 3000 ₽.", "Your order is ready for pickup."];

/** Runs the real app briefly and keeps its stored rows as templates. */
export async function harvestTemplates(): Promise<Templates> {
  const dataDir = await mkdtemp(join(tmpdir(), "branchline-bench-mem-tpl-"));
  const server = await startServer({ ...BENCH_ENV, DATA_DIR: dataDir });
  try {
    const admin = (method: string, path: string, body: unknown) =>
      fetch(`${server.url}${path}`, { method, headers: { authorization: `Bearer ${server.adminToken}`, "content-type": "application/json" }, body: JSON.stringify(body) });
    const branchKeys: Templates["branchKeys"] = [];
    for (let i = 0; i < MEMORY_BRANCHES; i++) {
      const code = `M${String(i + 1).padStart(3, "0")}`;
      const res = await admin("POST", "/admin/api/branches", { name: `Branch ${code}`, code, crm: "inbox", city: "Moscow", keywords: [`keyword${i + 1}`], isHq: i === 0 });
      if (res.status !== 201) throw new Error(`creating branch ${code}: HTTP ${res.status}`);
      const b = (await res.json()) as { id: string; apiKey: string };
      branchKeys.push({ branchId: b.id, code, apiKey: b.apiKey });
    }
    await admin("PATCH", "/admin/api/settings/routing", { menuEnabled: false });
    const waId = "79001234567";
    const wamid = "wamid.HBgLNzkwMDEyMzQ1NjcVAgASGBQzQUI0RjE2QjBGQ0JDRTRBNkE4MQA=";
    const body = Buffer.from(
      JSON.stringify({
        object: "whatsapp_business_account",
        entry: [
          {
            id: "102290129340398",
            changes: [
              {
                value: {
                  messaging_product: "whatsapp",
                  metadata: { display_phone_number: "15550783881", phone_number_id: BENCH_ENV.WHATSAPP_PHONE_NUMBER_ID },
                  contacts: [{ profile: { name: "Анна Петрова" }, wa_id: waId }],
                  messages: [{ from: waId, id: wamid, timestamp: String(Math.floor(Date.now() / 1000)), type: "text", text: { body: `Hi ${branchKeys[1]!.code}! ${TEXTS[0]}` } }],
                },
                field: "messages",
              },
            ],
          },
        ],
      }),
    );
    const hook = await fetch(`${server.url}/webhooks/whatsapp`, { method: "POST", headers: { "content-type": "application/json", "x-hub-signature-256": signMetaPayload(body, BENCH_ENV.WHATSAPP_APP_SECRET) }, body });
    if (hook.status !== 200) throw new Error(`webhook: HTTP ${hook.status}`);
    const inbound = await poll(() => server.store.read(async (tx) => (await tx.byIndex("messages", "wamid", wamid))[0]));
    const dialogId = inbound.dialogId!;
    const key = branchKeys[1]!.apiKey;
    const reply = await fetch(`${server.url}/inbox/api/dialogs/${encodeURIComponent(dialogId)}/messages`, { method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: JSON.stringify({ text: OUT_TEXTS[0] }) });
    if (reply.status !== 202) throw new Error(`inbox reply: HTTP ${reply.status} ${await reply.text()}`);
    const { id: outId } = (await reply.json()) as { id: string };
    return await server.store.read(async (tx) => {
      const fixed: Templates["fixed"] = {};
      for (const name of ["branches", "settings", "templates"] as const) fixed[name] = await tx.list(name);
      const outbound = (await tx.get("messages", outId))!;
      const dialog = (await tx.get("dialogs", dialogId))!;
      return {
        fixed,
        branchKeys,
        customer: (await tx.get("customers", inbound.customerId))!,
        binding: (await tx.get("bindings", inbound.customerId))!,
        dialog,
        inbound,
        // As it stands once Meta reported it delivered.
        outbound: { ...outbound, status: "delivered", wamid: "wamid.HBgLNzkwMDEyMzQ1NjcVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA", sendAttempts: 1 },
      };
    });
  } finally {
    await server.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

async function poll<T>(fn: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error("timed out waiting for the app to store the template rows");
    await new Promise((r) => setTimeout(r, 50));
  }
}

export const customerWaId = (c: number) => `7900${String(c).padStart(7, "0")}`;
export const branchOfCustomer = (t: Templates, c: number) => t.branchKeys[c % t.branchKeys.length]!;

/**
 * Every generated row, collection by collection: customers, bindings, dialogs, then messages
 * dialog by dialog in time order (the order the app would have stored them in, as far as each
 * dialog's history goes).
 */
export function* generateRows(t: Templates, shape: DatasetShape, now = Date.now()): Generator<[CollectionName, { id: string }]> {
  for (const [name, rows] of Object.entries(t.fixed)) for (const row of rows ?? []) yield [name as CollectionName, row];
  const dayMs = 86_400_000;
  const start = now - 90 * dayMs;
  const perCustomer = (c: number) => Math.floor(shape.messages / shape.customers) + (c < shape.messages % shape.customers ? 1 : 0);
  /** Index of customer c's first message among all messages: the 70/30 mix is kept at every size. */
  const firstIndex = (c: number) => c * Math.floor(shape.messages / shape.customers) + Math.min(c, shape.messages % shape.customers);
  const idOf = (c: number, k: number) => messageId(c, k, isOutbound(firstIndex(c) + k));
  const firstAt = (c: number) => start + Math.floor(((c * 7919) % shape.customers) / shape.customers * 60 * dayMs);
  const tplIn = t.inbound;
  const tplText = JSON.stringify(tplIn.text).slice(1, -1);
  const tplWa = t.customer.waId!;
  for (let c = 0; c < shape.customers; c++) {
    const waId = customerWaId(c);
    const at = firstAt(c);
    yield ["customers", typed<Customer>({ ...t.customer, id: `wa:${waId}`, waId, name: `Customer ${c}`, lastInboundAt: at + 20 * dayMs, createdAt: at, updatedAt: at + 20 * dayMs })];
  }
  for (let c = 0; c < shape.customers; c++) {
    const b = branchOfCustomer(t, c);
    const at = firstAt(c);
    const entry = { ...t.binding.current!, branchId: b.branchId, boundAt: at, lastActivityAt: at + 20 * dayMs };
    const { lastActivityAt: _drop, ...past } = entry;
    void _drop;
    yield ["bindings", typed<Binding>({ ...t.binding, id: `wa:${customerWaId(c)}`, current: entry, history: [past] })];
  }
  for (let c = 0; c < shape.customers; c++) {
    const b = branchOfCustomer(t, c);
    const customerId = `wa:${customerWaId(c)}`;
    const n = perCustomer(c);
    const at = firstAt(c);
    yield ["dialogs", typed<Dialog>({ ...t.dialog, id: `${b.branchId}:${customerId}`, branchId: b.branchId, customerId, createdAt: at, updatedAt: at + 20 * dayMs, lastMessageId: n ? idOf(c, n - 1) : undefined, unread: c % 3 })];
  }
  for (let c = 0; c < shape.customers; c++) {
    const b = branchOfCustomer(t, c);
    const customerId = `wa:${customerWaId(c)}`;
    const waId = customerWaId(c);
    const dialogId = `${b.branchId}:${customerId}`;
    const n = perCustomer(c);
    const at = firstAt(c);
    for (let k = 0; k < n; k++) {
      const time = at + Math.floor((k / Math.max(1, n)) * 20 * dayMs);
      if (isOutbound(firstIndex(c) + k)) {
        yield ["messages", { ...t.outbound, id: idOf(c, k), dialogId, branchId: b.branchId, customerId, wamid: wamidOf(c, k), text: OUT_TEXTS[(c + k) % OUT_TEXTS.length], outbound: { kind: "text", text: OUT_TEXTS[(c + k) % OUT_TEXTS.length] }, sentAt: time, createdAt: time, updatedAt: time + 2000 } as MessageRecord];
      } else {
        const wamid = wamidOf(c, k);
        const text = `${TEXTS[(c + k) % TEXTS.length]} (${b.code})`;
        const inboundJson = tplIn.inboundJson!.split(tplIn.wamid!).join(wamid).split(tplWa).join(waId).split(tplText).join(JSON.stringify(text).slice(1, -1));
        yield ["messages", { ...tplIn, id: idOf(c, k), dialogId, branchId: b.branchId, customerId, wamid, text, sentAt: time, createdAt: time, updatedAt: time, inboundJson } as MessageRecord];
      }
    }
  }
}

/** Checks a generated row against its type (excess properties included). */
const typed = <T extends { id: string }>(row: T): { id: string } => row;

/** 7 of every 10 messages (by their index among all) inbound, 3 outbound. */
const isOutbound = (g: number) => g % 10 === 2 || g % 10 === 5 || g % 10 === 8;
const wamidOf = (c: number, k: number) => `wamid.${Buffer.from(`mem:${c}:${k}:${"x".repeat(20)}`).toString("base64")}`;
function messageId(c: number, k: number, outbound: boolean): string {
  if (outbound) return `out_${createHash("sha256").update(`${c}:${k}`).digest("hex").replace(/^(.{8})(.{4})(.{4})(.{4})(.{12}).*$/, "$1-$2-$3-$4-$5")}`;
  return `in_${createHash("sha256").update(wamidOf(c, k)).digest("base64url").slice(0, 22)}`;
}

/**
 * Writes the embedded store's files as a compaction leaves them (snapshot format 2): the bulky
 * collections (messages…) as segment files of `segmentLine`s with ranks in insertion order, the
 * rest as `state.json` naming each segment's committed length. Returns the sizes in bytes.
 */
export async function writeLowdbState(dir: string, rows: RowSource): Promise<{ stateBytes: number; segmentBytes: number }> {
  const state = await open(join(dir, "state.json"), "w");
  const segments = new Map<SegmentCollection, { handle: FileHandle; bytes: number; rank: number; buffer: string }>();
  let stateBytes = 0;
  try {
    let buffer = '{"format":2,"seq":0,"jobSeq":0,"tables":{';
    let current: string | undefined;
    let first = true;
    const flush = async () => {
      stateBytes += Buffer.byteLength(buffer);
      await state.write(buffer);
      buffer = "";
    };
    const flushSegment = async (seg: { handle: FileHandle; bytes: number; buffer: string }) => {
      const chunk = Buffer.from(seg.buffer, "utf8");
      seg.buffer = "";
      await seg.handle.write(chunk, 0, chunk.length, seg.bytes);
      seg.bytes += chunk.length;
    };
    for (const [name, row] of rows) {
      if (isSegmentCollection(name)) {
        let seg = segments.get(name);
        if (!seg) segments.set(name, (seg = { handle: await open(join(dir, segmentFileName(name, 1)), "w"), bytes: 0, rank: 0, buffer: "" }));
        seg.buffer += segmentLine(name, row, seg.rank++);
        if (seg.buffer.length >= 1 << 20) await flushSegment(seg);
        continue;
      }
      if (name !== current) {
        buffer += `${current === undefined ? "" : "],"}${JSON.stringify(name)}:[`;
        current = name;
        first = true;
      }
      buffer += (first ? "" : ",") + JSON.stringify(row);
      first = false;
      if (buffer.length >= 1 << 20) await flush();
    }
    buffer += current === undefined ? "}" : "]}";
    for (const seg of segments.values()) {
      await flushSegment(seg);
      await seg.handle.sync();
    }
    const refs = Object.fromEntries([...segments].map(([name, seg]) => [name, { file: segmentFileName(name, 1), bytes: seg.bytes }]));
    buffer += `,"segments":${JSON.stringify(refs)}}`;
    await flush();
    await state.sync();
  } finally {
    await state.close();
    for (const seg of segments.values()) await seg.handle.close();
  }
  return { stateBytes, segmentBytes: [...segments.values()].reduce((sum, s) => sum + s.bytes, 0) };
}

/**
 * Loads the rows into a fresh PostgreSQL store database: the store's own migrations first (a
 * PgStore is opened and closed), then `store_docs` and `store_index` by COPY (two `psql`
 * processes fed from one pass over the rows), each row with the next rank and its index entries
 * from the port's `INDEXES`, as `put` would write them. Bulk-load practice: the two secondary
 * indexes are dropped and rebuilt afterwards from the store's own migration text.
 */
export async function loadPostgres(url: string, rows: RowSource, psql: string): Promise<{ rows: number; indexEntries: number }> {
  const store = await PgStore.open({ url });
  await store.close();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const secondary = [...MIGRATIONS[0]!.sql.matchAll(/CREATE INDEX (store_docs_by_rank|store_index_lookup) [^;]+;/g)].map((m) => ({ name: m[1]!, sql: m[0] }));
  if (secondary.length !== 2) throw new Error("bench/memory-dataset.ts: the store's index definitions changed; update the bulk loader");
  let rank = 0;
  let entries = 0;
  try {
    for (const ix of secondary) await client.query(`DROP INDEX ${ix.name}`);
    const docs = copyInto(psql, url, "store_docs (collection, id, rank, data)");
    const index = copyInto(psql, url, "store_index (collection, idx, id, value, rank)");
    for (const [name, row] of rows) {
      rank++;
      await docs.line(`${name}\t${copyText(row.id)}\t${rank}\t${copyText(JSON.stringify(row))}\n`);
      for (const [idx, fn] of Object.entries(INDEXES[name] as Record<string, (r: unknown) => string | undefined>)) {
        const value = fn(row);
        if (value === undefined) continue;
        await index.line(`${name}\t${idx}\t${copyText(row.id)}\t${copyText(value)}\t${rank}\n`);
        entries++;
      }
    }
    await Promise.all([docs.end(), index.end()]);
    await client.query("SET maintenance_work_mem = '256MB'");
    for (const ix of secondary) await client.query(ix.sql);
    await client.query("SELECT setval('store_rank_seq', $1)", [rank]);
    await client.query("ANALYZE");
  } finally {
    await client.end();
  }
  return { rows: rank, indexEntries: entries };
}

/** COPY's text format: backslash, tab, newline and carriage return escaped. */
const copyText = (s: string) => s.replace(/[\\\t\n\r]/g, (ch) => (ch === "\\" ? "\\\\" : ch === "\t" ? "\\t" : ch === "\n" ? "\\n" : "\\r"));

/** A `psql` COPY … FROM STDIN, fed line by line (buffered, with backpressure). */
function copyInto(psql: string, url: string, target: string): { line(text: string): Promise<void>; end(): Promise<void> } {
  // TRUNCATE and COPY in one transaction (-1): with wal_level=minimal the load skips the WAL.
  const table = target.split(" ")[0]!;
  const child = spawn(psql, [url, "-X", "-q", "-1", "-v", "ON_ERROR_STOP=1", "-c", `TRUNCATE ${table}`, "-c", `COPY ${target} FROM STDIN`], { stdio: ["pipe", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve, reject) =>
    child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`psql COPY into ${table} failed (${code}): ${stderr.trim().slice(0, 300)}`)))),
  );
  exited.catch(() => undefined);
  let buffer = "";
  const write = async () => {
    const chunk = buffer;
    buffer = "";
    if (!child.stdin.write(chunk)) await Promise.race([new Promise((r) => child.stdin.once("drain", r)), exited]);
  };
  return {
    async line(text) {
      buffer += text;
      if (buffer.length >= 1 << 20) await write();
    },
    async end() {
      if (buffer) await write();
      child.stdin.end();
      await exited;
    },
  };
}
