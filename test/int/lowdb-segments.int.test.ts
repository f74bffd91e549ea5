import { appendFile, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import type { InboundPayload, MessageRecord } from "../../backend/src/domain/types.js";
import { LowdbStore, type LowdbStoreOptions } from "../../backend/src/store/lowdb/lowdb.store.js";
import { indexHash, segmentLine } from "../../backend/src/store/lowdb/segment-table.js";
import type { Store } from "../../backend/src/store/store.port.js";

/**
 * The embedded store keeps messages, webhook bodies and management events in segment files:
 * these tests reopen stores (cleanly and as a crash leaves them) and check what a reader sees.
 */

const DAY = 86_400_000;
const NOW = Date.now();

function message(id: string, over: Partial<MessageRecord> = {}): MessageRecord {
  return { id, direction: "in", customerId: "cu-1", dialogId: "d1", wamid: `wamid.${id}`, kind: "text", text: `text of ${id}`, status: "received", sentAt: NOW, createdAt: NOW, updatedAt: NOW, ...over };
}
const payload = (id: string, receivedAt = NOW): InboundPayload => ({ id, source: "whatsapp", raw: `{"id":"${id}"}`, receivedAt });

const ids = (rows: Array<{ id: string }>) => rows.map((r) => r.id);
const putMessages = (s: Store, rows: MessageRecord[]) => s.transact(async (tx) => { for (const m of rows) await tx.put("messages", m); });
const everything = (s: Store) =>
  s.read(async (tx) => ({
    messages: await tx.list("messages"),
    payloads: await tx.list("payloads"),
    d1: ids(await tx.byIndex("messages", "dialogId", "d1")),
    d2: ids(await tx.byIndex("messages", "dialogId", "d2")),
    d1Newest: ids(await tx.byIndex("messages", "dialogId", "d1", { newestFirst: true, limit: 3 })),
    count: await tx.countByIndex("messages", "dialogId", "d1"),
  }));

async function until(cond: () => Promise<boolean>, what: string, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const open: LowdbStore[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const s of open.splice(0).reverse()) await s.close().catch(() => undefined);
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});
async function freshDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "branchline-segments-"));
  dirs.push(dir);
  return dir;
}
/** Opens a store without closing earlier ones on the directory: as a process killed with -9 leaves it. */
async function openStore(dir: string, opts: Omit<LowdbStoreOptions, "dir"> = {}): Promise<LowdbStore> {
  const s = await LowdbStore.open({ dir, ...opts });
  open.push(s);
  return s;
}
async function closeStore(s: LowdbStore): Promise<void> {
  await s.close();
  open.splice(open.indexOf(s), 1);
}
const segmentFiles = async (dir: string) => (await readdir(dir)).filter((f) => f.endsWith(".seg")).sort();
const readState = async (dir: string) => JSON.parse(await readFile(join(dir, "state.json"), "utf8")) as { tables: Record<string, unknown[]>; segments: Record<string, { file: string; bytes: number }> };

describe("LowdbStore segments: bulky rows outside state.json", () => {
  it("after compaction messages and webhook bodies live in segment files, and a reopened store reads them all back", async () => {
    const dir = await freshDir();
    const a = await openStore(dir, { compactBytes: 4_000 });
    for (let i = 0; i < 60; i++) {
      await a.transact(async (tx) => {
        await tx.put("messages", message(`m${i}`, { dialogId: i % 3 === 0 ? "d2" : "d1", text: `${"x".repeat(50)} ${i}` }));
        await tx.insertIfAbsent("payloads", payload(`p${i}`));
        if (i % 5 === 4) await tx.delete("payloads", `p${i - 2}`);
        if (i % 7 === 6) await tx.put("messages", { ...message(`m${i - 3}`, { dialogId: (i - 3) % 3 === 0 ? "d2" : "d1", text: `${"x".repeat(50)} ${i - 3}` }), status: "read" });
      });
    }
    const expected = await everything(a);
    expect(expected.messages).toHaveLength(60);
    expect(expected.payloads).toHaveLength(60 - 12);
    // compactions ran while writing: most rows are in the segments already
    expect(await segmentFiles(dir)).toEqual(["messages.1.seg", "payloads.1.seg"]);

    // (no second instance while this one may still be compacting: the crash tests below open a
    // directory only once nothing writes to it)
    await closeStore(a);

    const state = await readState(dir);
    expect(state.tables.messages).toBeUndefined();
    expect(JSON.stringify(state)).not.toContain("text of");
    const b = await openStore(dir);
    expect(await everything(b)).toEqual(expected);
    expect((await b.read((tx) => tx.byIndex("messages", "wamid", "wamid.m3")))[0]!.status).toBe("read");
    expect(await b.read((tx) => tx.get("payloads", "p2"))).toBeUndefined();
  });

  it("byIndex keeps first-insertion order and newestFirst/limit across segment rows and newer rows in memory", async () => {
    const dir = await freshDir();
    const a = await openStore(dir);
    await putMessages(a, ["m1", "m2", "m3", "m4", "m5"].map((id) => message(id, { dialogId: id === "m3" ? "d2" : "d1" })));
    await closeStore(a); // m1..m5 go to the segment

    const b = await openStore(dir);
    await putMessages(b, ["m6", "m7"].map((id) => message(id)));
    await b.transact(async (tx) => {
      const m2 = (await tx.get("messages", "m2"))!;
      await tx.put("messages", { ...m2, status: "read" }); // unchanged index value: keeps its place
      const m3 = (await tx.get("messages", "m3"))!;
      await tx.put("messages", { ...m3, dialogId: "d1" }); // moves into d1: takes its insertion place there
      await tx.delete("messages", "m4");
    });
    const check = async (s: Store) => {
      const seen = await everything(s);
      expect(seen.d1).toEqual(["m1", "m2", "m3", "m5", "m6", "m7"]);
      expect(seen.d2).toEqual([]);
      expect(seen.d1Newest).toEqual(["m7", "m6", "m5"]);
      expect(seen.count).toBe(6);
      expect(ids(seen.messages)).toEqual(["m1", "m2", "m3", "m5", "m6", "m7"]);
      expect(await s.read((tx) => tx.byIndex("messages", "wamid", "wamid.m4"))).toEqual([]);
      expect((await s.read((tx) => tx.get("messages", "m2")))!.status).toBe("read");
    };
    await check(b);
    await check(await openStore(dir)); // crash: the changes come from the journal, over the segment
    await closeStore(b);
    await check(await openStore(dir));
  });

  it("two wamids with the same 32-bit hash each find only their own message, before and after reopening", async () => {
    // the wamid index is keyed by a 32-bit hash of the value: find two random wamids that collide
    // (birthday bound: ~80,000 tries)
    const seen = new Map<number, string>();
    let pair: [string, string] | undefined;
    while (!pair) {
      const wamid = `wamid.${randomBytes(15).toString("base64url")}`;
      const h = indexHash(wamid);
      const other = seen.get(h);
      if (other) pair = [other, wamid];
      else seen.set(h, wamid);
    }
    const dir = await freshDir();
    const a = await openStore(dir);
    await putMessages(a, [message("c1", { wamid: pair[0] }), message("c2", { wamid: pair[1] })]);
    const check = async (s: Store) => {
      expect(ids(await s.read((tx) => tx.byIndex("messages", "wamid", pair![0])))).toEqual(["c1"]);
      expect(ids(await s.read((tx) => tx.byIndex("messages", "wamid", pair![1], { newestFirst: true, limit: 1 })))).toEqual(["c2"]);
      expect(await s.read((tx) => tx.countByIndex("messages", "wamid", pair![1]))).toBe(1);
    };
    await check(a);
    await closeStore(a);
    await check(await openStore(dir));
  });

  it("a failed transaction that changed and deleted segment rows leaves them as they were", async () => {
    const dir = await freshDir();
    const a = await openStore(dir);
    await putMessages(a, ["m1", "m2", "m3"].map((id) => message(id)));
    await closeStore(a);
    const b = await openStore(dir);
    const before = await everything(b);
    await expect(
      b.transact(async (tx) => {
        await tx.delete("messages", "m1");
        await tx.put("messages", { ...(await tx.get("messages", "m2"))!, dialogId: "d2" });
        await tx.put("messages", message("m9"));
        throw new Error("refused");
      }),
    ).rejects.toThrow("refused");
    expect(await everything(b)).toEqual(before);
    await closeStore(b);
    expect(await everything(await openStore(dir))).toEqual(before);
  });

  it("a compaction killed after appending to the segment but before renaming state.json opens with exactly the committed rows", async () => {
    const dir = await freshDir();
    const a = await openStore(dir);
    await putMessages(a, Array.from({ length: 20 }, (_, i) => message(`m${i}`)));
    await closeStore(a);
    const committed = await readFile(join(dir, "state.json"));
    const { bytes } = (await readState(dir)).segments.messages!;

    // Changes after that compaction, journaled only.
    const b = await openStore(dir);
    await putMessages(b, [message("late1", { dialogId: "d2" }), message("late2")]);
    await b.transact(async (tx) => {
      await tx.put("messages", { ...(await tx.get("messages", "m3"))!, status: "read" });
      await tx.delete("messages", "m5");
    });
    const expected = await everything(b);
    const journal = await readFile(join(dir, "journal.log"));
    const lastSeq = (JSON.parse(journal.toString("utf8").trim().split("\n").pop()!.slice(9)) as { seq: number }).seq;
    await closeStore(b); // this compaction appends to the segment and renames a new state.json

    // The crash: the old state.json is still in place, the journal was set aside, and the segment
    // holds the appended lines plus whatever a later picture had started to write (a row that was
    // never committed and half a line).
    const seg = join(dir, "messages.1.seg");
    expect((await stat(seg)).size).toBeGreaterThan(bytes);
    await appendFile(seg, segmentLine("messages", message("ghost"), 999) + segmentLine("messages", message("torn"), 1000).slice(0, 40));
    await writeFile(join(dir, "state.json"), committed);
    await writeFile(join(dir, `journal.${lastSeq}.log`), journal);
    await writeFile(join(dir, "journal.log"), "");

    const c = await openStore(dir);
    expect(await everything(c)).toEqual(expected);
    expect(await c.read((tx) => tx.get("messages", "ghost"))).toBeUndefined();
    expect(await c.read((tx) => tx.byIndex("messages", "wamid", "wamid.torn"))).toEqual([]);
    await putMessages(c, [message("after")]);
    await closeStore(c);
    const d = await openStore(dir);
    expect(ids(await d.read((tx) => tx.byIndex("messages", "dialogId", "d1")))).toEqual([...expected.d1, "after"]);
  });

  it("a segment rewrite killed before state.json named the new file opens from the old one and removes the new file", async () => {
    const dir = await freshDir();
    const a = await openStore(dir);
    await putMessages(a, Array.from({ length: 10 }, (_, i) => message(`m${i}`)));
    await closeStore(a);
    const expected = await everything(await openStore(dir));
    // half of a rewrite's new file
    const old = await readFile(join(dir, "messages.1.seg"));
    await writeFile(join(dir, "messages.2.seg"), old.subarray(0, Math.floor(old.length / 2)));
    const b = await openStore(dir);
    expect(await everything(b)).toEqual(expected);
    expect(await segmentFiles(dir)).toEqual(["messages.1.seg"]);
  });

  it("a compaction whose state.json cannot be written keeps its segment lines uncommitted; the next one commits everything", async () => {
    const dir = await freshDir();
    const a = await openStore(dir, { compactBytes: 3_000, retryMs: 20 });
    await putMessages(a, Array.from({ length: 10 }, (_, i) => message(`m${i}`, { text: "y".repeat(400) })));
    await until(async () => (await segmentFiles(dir)).length > 0 && !(await readdir(dir)).some((f) => /^journal\.\d+\.log$/.test(f)), "the first compaction");
    const { bytes } = (await readState(dir)).segments.messages!;
    // state.json.tmp as a directory: the snapshot fails (EISDIR) after the segment was appended to
    await mkdir(join(dir, "state.json.tmp"));
    await putMessages(a, Array.from({ length: 10 }, (_, i) => message(`n${i}`, { dialogId: "d2", text: "z".repeat(400) })));
    await until(async () => (await stat(join(dir, "messages.1.seg"))).size > bytes, "the failed compaction's append");
    await new Promise((r) => setTimeout(r, 50));
    expect((await readState(dir)).segments.messages!.bytes).toBe(bytes); // still the old commit
    const expected = await everything(a);
    expect(expected.d2).toEqual(Array.from({ length: 10 }, (_, i) => `n${i}`));

    await rm(join(dir, "state.json.tmp"), { recursive: true });
    await putMessages(a, [message("after", { text: "w".repeat(3_000) })]); // the next compaction succeeds
    await until(async () => !(await readdir(dir)).some((f) => /^journal\.\d+\.log$/.test(f)) && (await readState(dir)).segments.messages!.bytes > bytes, "the next compaction");
    const all = await everything(a);
    await closeStore(a);
    const b = await openStore(dir);
    expect(await everything(b)).toEqual(all);
    expect(all.d1).toEqual([...expected.d1, "after"]);
  });

  it("a state.json of the old format (messages inside it) opens and moves them to a segment", async () => {
    const dir = await freshDir();
    const rows = [message("m1"), message("m2", { dialogId: "d2" }), message("m3")];
    await writeFile(join(dir, "state.json"), JSON.stringify({ format: 1, seq: 0, jobSeq: 0, tables: { messages: rows, settings: [{ id: "s", value: 1 }] } }));
    const a = await openStore(dir);
    expect(await a.read((tx) => tx.list("messages"))).toEqual(rows);
    expect((await readState(dir)).tables.messages).toBeUndefined();
    expect(await segmentFiles(dir)).toEqual(["messages.1.seg"]);
    await closeStore(a);
    const b = await openStore(dir);
    expect(await b.read((tx) => tx.list("messages"))).toEqual(rows);
    expect(await b.read((tx) => tx.list("settings"))).toEqual([{ id: "s", value: 1 }]);
  });
});

describe("LowdbStore retention (messageRetentionDays)", () => {
  it("drops messages and webhook bodies older than the retention age, with their index entries; newer rows stay", async () => {
    const dir = await freshDir();
    const a = await openStore(dir);
    const old = (id: string, days: number) => message(id, { createdAt: NOW - days * DAY, sentAt: NOW - days * DAY });
    await putMessages(a, [old("o1", 45), message("n1"), old("o2", 31), old("n2", 29), message("n3", { dialogId: "d2" })]);
    await a.transact(async (tx) => {
      await tx.put("payloads", payload("p-old", NOW - 40 * DAY));
      await tx.put("payloads", payload("p-new"));
      await tx.put("managementEvents", { id: "e-old", field: "account_update", receivedAt: NOW - 400 * DAY, value: {} });
    });
    await closeStore(a);

    const b = await openStore(dir, { messageRetentionDays: 30, retentionCheckMs: 20 });
    await until(async () => (await b.read((tx) => tx.get("messages", "o1"))) === undefined, "retention to drop old messages");
    const check = async (s: Store) => {
      const seen = await everything(s);
      expect(ids(seen.messages)).toEqual(["n1", "n2", "n3"]);
      expect(seen.d1).toEqual(["n1", "n2"]);
      expect(seen.count).toBe(2);
      expect(await s.read((tx) => tx.byIndex("messages", "wamid", "wamid.o2"))).toEqual([]);
      expect(await s.read((tx) => tx.byIndex("messages", "customerId", "cu-1"))).toHaveLength(3);
      expect(ids(seen.payloads)).toEqual(["p-new"]);
      // management events are not messages: retention leaves them
      expect(await s.read((tx) => tx.get("managementEvents", "e-old"))).toBeDefined();
    };
    await check(b);
    // the old rows are gone from disk too: a new segment file replaced the old one
    await until(async () => !(await segmentFiles(dir)).includes("messages.1.seg"), "the old segment to be removed");
    await check(await openStore(dir)); // crash-open
    await closeStore(b);
    await check(await openStore(dir));
    const onDisk = (await Promise.all((await segmentFiles(dir)).map((f) => readFile(join(dir, f), "utf8")))).join("");
    expect(onDisk).not.toContain("text of o1");
    expect(onDisk).toContain("text of n1");
  });
});
