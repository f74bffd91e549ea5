import { execFileSync } from "node:child_process";
import { appendFile, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import { afterEach, describe, expect, it } from "vitest";
import type { Job, SettingRecord } from "../../backend/src/domain/types.js";
import { AppError } from "../../backend/src/errors.js";
import { LowdbStore, type LowdbStoreOptions } from "../../backend/src/store/lowdb/lowdb.store.js";
import type { Store } from "../../backend/src/store/store.port.js";
import { describeStoreContract } from "./store.contract.js";

const freshDir = () => mkdtemp(join(tmpdir(), "branchline-lowdb-"));

describeStoreContract("lowdb", async () => {
  const dir = await freshDir();
  let store = await LowdbStore.open({ dir });
  return {
    store,
    reopen: async () => {
      await store.close();
      store = await LowdbStore.open({ dir });
      return store;
    },
    cleanup: async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

// ─────────────────────────────────────── lowdb specifics ───────────────────────────────────────

/**
 * A data directory on which stores are "crashed": `crashOpen` opens a new instance without closing
 * the previous one, as a process killed with -9 would leave it (nothing flushed or compacted at
 * close). Every instance is closed at cleanup, newest first.
 */
class CrashDir {
  readonly instances: LowdbStore[] = [];
  private constructor(readonly dir: string, private readonly opts: Omit<LowdbStoreOptions, "dir">) {}

  static async create(opts: Omit<LowdbStoreOptions, "dir"> = {}): Promise<CrashDir> {
    return new CrashDir(await freshDir(), opts);
  }

  get journal(): string {
    return join(this.dir, "journal.log");
  }
  get state(): string {
    return join(this.dir, "state.json");
  }

  async crashOpen(): Promise<LowdbStore> {
    const store = await LowdbStore.open({ dir: this.dir, ...this.opts });
    this.instances.push(store);
    return store;
  }

  async journalLines(): Promise<string[]> {
    const text = await readFile(this.journal, "utf8").catch(() => "");
    return text.split("\n").filter((l) => l.length > 0);
  }

  async cleanup(): Promise<void> {
    for (const s of this.instances.reverse()) await s.close().catch(() => undefined);
    await rm(this.dir, { recursive: true, force: true });
  }
}

const setting = (id: string, value: unknown): SettingRecord => ({ id, value });
const job = (id: string, over: Partial<Job> = {}): Omit<Job, "seq"> => ({
  id,
  queue: "send",
  payload: {},
  state: "pending",
  attempts: 0,
  runAt: 0,
  createdAt: 0,
  updatedAt: 0,
  ...over,
});
const allSettings = (s: Store) => s.read((tx) => tx.list("settings"));
const put = (s: Store, id: string, value: unknown = id) => s.transact((tx) => tx.put("settings", setting(id, value)));

async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A journal line exactly as the store writes it. */
function journalLine(batch: unknown, badChecksum = false): string {
  const body = JSON.stringify(batch);
  let sum = crc32(Buffer.from(body, "utf8"));
  if (badChecksum) sum = (sum + 1) >>> 0;
  return `${sum.toString(16).padStart(8, "0")} ${body}\n`;
}

describe("LowdbStore (crash behaviour)", () => {
  const dirs: CrashDir[] = [];
  const crashDir = async (opts: Omit<LowdbStoreOptions, "dir"> = {}) => {
    const d = await CrashDir.create(opts);
    dirs.push(d);
    return d;
  };
  afterEach(async () => {
    for (const d of dirs.splice(0)) await d.cleanup();
  });

  it("group commit: 200 concurrent transactions take far fewer than 200 journal appends, and all are durable", async () => {
    const d = await crashDir();
    const a = await d.crashOpen();
    await Promise.all(Array.from({ length: 200 }, (_, i) => put(a, `s${i}`, i)));
    const lines = await d.journalLines();
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.length).toBeLessThan(20);
    const b = await d.crashOpen();
    const rows = await allSettings(b);
    expect(rows).toHaveLength(200);
    expect(rows).toEqual(Array.from({ length: 200 }, (_, i) => setting(`s${i}`, i)));
  });

  it("crash without close: a second instance sees everything transact had resolved", async () => {
    const d = await crashDir();
    const a = await d.crashOpen();
    await put(a, "first");
    await Promise.all(Array.from({ length: 50 }, (_, i) => put(a, `p${i}`)));
    await a.transact(async (tx) => {
      await tx.delete("settings", "p0");
      await tx.put("settings", setting("first", "updated"));
      await tx.enqueue(job("j1", { orderKey: "k" }));
      await tx.enqueue(job("j2", { orderKey: "k" }));
    });
    const claimed = await a.transact((tx) => tx.claimJobs({ queues: ["send"], now: 10, limit: 5, leaseMs: 1_000, owner: "A" }));
    const expected = await allSettings(a);

    const b = await d.crashOpen();
    expect(await allSettings(b)).toEqual(expected);
    expect(await b.read((tx) => tx.get("settings", "p0"))).toBeUndefined();
    expect(await b.read((tx) => tx.get("jobs", "j1"))).toEqual(claimed[0]);
    expect(await b.transact((tx) => tx.claimJobs({ queues: ["send"], now: 20, limit: 5, leaseMs: 1_000, owner: "B" }))).toEqual([]);
  });

  it("crash without close: job sequence numbers keep increasing past jobs that were already deleted", async () => {
    const d = await crashDir();
    const a = await d.crashOpen();
    const [j1, j2] = await a.transact(async (tx) => [await tx.enqueue(job("j1")), await tx.enqueue(job("j2"))]);
    await a.transact((tx) => tx.delete("jobs", "j2"));
    const b = await d.crashOpen();
    const j3 = await b.transact((tx) => tx.enqueue(job("j3")));
    expect(j2!.seq!).toBeGreaterThan(j1!.seq!);
    expect(j3.seq!).toBeGreaterThan(j2!.seq!);
  });

  describe("torn journal tail", () => {
    const tails: Array<[string, (next: unknown) => string]> = [
      ["binary garbage without a newline", () => "\u0000\u0001\u00ffgarbage"],
      ["the first half of a valid line", (next) => { const l = journalLine(next); return l.slice(0, Math.floor(l.length / 2)); }],
      ["a complete line with a wrong checksum", (next) => journalLine(next, true)],
      ["a line with a right checksum but a body that is not JSON", () => { const body = '{"seq":4,"ops":[["settings"'; return `${crc32(Buffer.from(body)).toString(16).padStart(8, "0")} ${body}\n`; }],
      ["a garbage line followed by a valid one", (next) => `garbage\n${journalLine(next)}`],
    ];

    it.each(tails)("%s: intact batches are kept, the tail is cut off, later commits reopen fine", async (_, tail) => {
      const d = await crashDir();
      const a = await d.crashOpen();
      for (const id of ["s1", "s2", "s3"]) await put(a, id);
      const clean = await readFile(d.journal);
      expect(await d.journalLines()).toHaveLength(3);

      await appendFile(d.journal, tail({ seq: 4, ops: [["settings", "torn", setting("torn", "torn")]] }));

      const b = await d.crashOpen();
      expect(await allSettings(b)).toEqual([setting("s1", "s1"), setting("s2", "s2"), setting("s3", "s3")]);
      expect(await readFile(d.journal)).toEqual(clean); // truncated back to the intact prefix

      await put(b, "s4");
      await b.transact((tx) => tx.delete("settings", "s1"));
      const c = await d.crashOpen();
      expect(await allSettings(c)).toEqual([setting("s2", "s2"), setting("s3", "s3"), setting("s4", "s4")]);
      expect(await d.journalLines()).toHaveLength(5);
    });
  });

  describe("compaction", () => {
    it("a tiny compactBytes folds the journal into state.json; everything is there after a crash", async () => {
      const d = await crashDir({ compactBytes: 2000 });
      const a = await d.crashOpen();
      for (let i = 0; i < 100; i++) {
        await a.transact(async (tx) => {
          await tx.put("settings", setting(`s${i}`, { i, pad: "x".repeat(40) }));
          if (i % 10 === 0) await tx.enqueue(job(`j${i}`));
          if (i % 7 === 0 && i > 0) await tx.delete("settings", `s${i - 1}`);
        });
      }
      const expected = await a.read(async (tx) => ({ settings: await tx.list("settings"), jobs: await tx.list("jobs") }));
      expect((await stat(d.state)).isFile()).toBe(true);
      expect((await stat(d.journal)).size).toBeLessThan(2000 + 500);
      expect(expected.settings.length).toBe(100 - 14);

      const b = await d.crashOpen();
      expect(await b.read(async (tx) => ({ settings: await tx.list("settings"), jobs: await tx.list("jobs") }))).toEqual(expected);
      const next = await b.transact((tx) => tx.enqueue(job("after")));
      expect(next.seq!).toBeGreaterThan(Math.max(...expected.jobs.map((j) => j.seq!)));
    });

    it("a leftover state.json.tmp with garbage (crash mid-snapshot) does not break opening", async () => {
      const d = await crashDir({ compactBytes: 2000 });
      const a = await d.crashOpen();
      for (let i = 0; i < 40; i++) await put(a, `s${i}`, "y".repeat(50));
      const expected = await allSettings(a);
      await writeFile(`${d.state}.tmp`, "{\"format\":1,\"seq\":99,\"tables\":{\"settings\":[{\"id\":\"gar");

      const b = await d.crashOpen();
      expect(await allSettings(b)).toEqual(expected);
      for (let i = 40; i < 80; i++) await put(b, `s${i}`, "y".repeat(50));
      const c = await d.crashOpen();
      expect(await allSettings(c)).toHaveLength(80);
    });

    it("a transaction still running while a compaction snapshots the state does not leak its writes when it fails", async () => {
      const d = await crashDir({ compactBytes: 2000 });
      const a = await d.crashOpen();
      await put(a, "base");
      // The first transaction's append pushes the journal past compactBytes; the compaction runs
      // while the second transaction has written and is awaiting real I/O (a timer).
      const big = put(a, "big", "z".repeat(3000));
      const failing = a.transact(async (tx) => {
        await tx.put("settings", setting("partial", true));
        await new Promise((r) => setTimeout(r, 100));
        throw new Error("failed after writing");
      });
      await big;
      await expect(failing).rejects.toThrow("failed after writing");
      expect(await a.read((tx) => tx.get("settings", "partial"))).toBeUndefined();
      // let the first instance finish its compaction before "crashing" it: two live instances
      // must not snapshot the same directory at once
      await until(async () => (await stat(d.journal)).size === 0, "the compaction to finish");

      const b = await d.crashOpen();
      expect(await b.read((tx) => tx.get("settings", "partial"))).toBeUndefined();
      expect(ids(await allSettings(b))).toEqual(["base", "big"]);
    });
  });

  describe("disk failures", () => {
    it("a snapshot that cannot be written leaves commits working and is folded in once the disk allows", async () => {
      const d = await crashDir({ compactBytes: 2000, retryMs: 20 });
      const a = await d.crashOpen();
      await put(a, "s0");
      // state.json.tmp as a directory: opening it for writing fails with EISDIR, even as root
      await mkdir(`${d.state}.tmp`);
      await put(a, "big", "z".repeat(3000)); // journaled, then the journal is set aside and the snapshot fails
      await until(async () => (await readdir(d.dir)).some((f) => /^journal\.\d+\.log$/.test(f)), "the journal to be set aside");
      await new Promise((r) => setTimeout(r, 50));
      // Commits do not depend on snapshots: the set-aside journal still holds everything.
      expect(a.healthy()).toBe(true);
      await put(a, "while-broken");
      const b = await d.crashOpen();
      expect(ids(await allSettings(b))).toEqual(["s0", "big", "while-broken"]);

      await rm(`${d.state}.tmp`, { recursive: true });
      await put(b, "after", "y".repeat(3000)); // the next compaction succeeds and drops old journals
      await until(async () => !(await readdir(d.dir)).some((f) => /^journal\.\d+\.log$/.test(f)), "set-aside journals to be folded in");
      const c = await d.crashOpen();
      expect(ids(await allSettings(c))).toEqual(["s0", "big", "while-broken", "after"]);
    });

    const prlimit = (args: string[]) => execFileSync("prlimit", ["--pid", String(process.pid), ...args], { encoding: "utf8" }).trim();
    let canLimit = false;
    try {
      canLimit = /^\S+$/.test(prlimit(["--fsize", "--output=SOFT", "--noheadings"]));
    } catch {
      canLimit = false;
    }

    it("a journal append that hits the file size limit (EFBIG, short write) fails the transaction, and a retry lands it once writes succeed", async (ctx) => {
      // Root ignores permissions, so the real I/O failure is RLIMIT_FSIZE on this worker process:
      // writes past the limit are cut short and then fail with EFBIG (Node ignores SIGXFSZ).
      if (!canLimit) ctx.skip("prlimit is not available: cannot provoke a real write failure");
      const d = await crashDir({ retryMs: 300 });
      const a = await d.crashOpen();
      for (const id of ["s1", "s2", "s3"]) await put(a, id);
      const size = (await stat(d.journal)).size;
      const original = prlimit(["--fsize", "--output=SOFT", "--noheadings"]);
      let rejected: unknown;
      try {
        // room for a few bytes only: the next line is written partly, then the write fails
        prlimit([`--fsize=${size + 10}:`]);
        rejected = await a.transact((tx) => tx.put("settings", setting("s4", "s4"))).catch((e: unknown) => e);
        expect(a.healthy()).toBe(false);
        const fast = await a.transact((tx) => tx.put("settings", setting("s5", "s5"))).catch((e: unknown) => e);
        expect((fast as AppError).code).toBe("store_unavailable");
        expect((await stat(d.journal)).size).toBe(size); // the partial line was cut off again
      } finally {
        prlimit([`--fsize=${original === "unlimited" ? "unlimited" : original}:`]);
      }
      expect(rejected).toBeInstanceOf(AppError);
      expect((rejected as AppError).code).toBe("store_unavailable");
      expect((rejected as AppError).retryable).toBe(true);

      // the failed batch stays queued and is retried: memory is the future of disk, never the reverse
      await until(() => a.healthy(), "the retry to succeed");
      await put(a, "s6");
      const expected = await allSettings(a);
      const b = await d.crashOpen();
      expect(await allSettings(b)).toEqual(expected);
      expect(ids(expected)).toEqual(expect.arrayContaining(["s1", "s2", "s3", "s6"]));
      for (const line of await d.journalLines()) expect(line).toMatch(/^[0-9a-f]{8} \{/);
    });
  });
});

function ids(rows: Array<{ id: string }>): string[] {
  return rows.map((r) => r.id);
}
