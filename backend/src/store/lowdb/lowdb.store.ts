import { mkdir, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { Low } from "lowdb";
import { AppError } from "../../errors.js";
import type { Job } from "../../domain/types.js";
import { INDEXES, type ClaimOptions, type CollectionName, type Collections, type IndexName, type Store, type Tx } from "../store.port.js";
import { FsyncJsonFile } from "./fsync-json-file.js";
import { Journal, type JournalBatch } from "./journal.js";
import { SEGMENT_COLLECTIONS, SEGMENT_FILE, SegmentTable, isSegmentCollection, type SegmentCollection, type SegmentRef, type SegmentTables, type SegmentWrite } from "./segment-table.js";
import { createTables, type AnyRow, type HotName, type Tables } from "./tables.js";

interface Snapshot {
  /** 1: every collection in `tables`; 2: bulky collections in segment files named by `segments`. */
  format: 1 | 2;
  seq: number;
  jobSeq: number;
  tables: Record<string, unknown[]>;
  segments?: Partial<Record<SegmentCollection, SegmentRef>>;
}

const DAY_MS = 86_400_000;
/** Collections that `messageRetentionDays` applies to. */
const RETAINED: readonly SegmentCollection[] = ["messages", "payloads"];

type Op = [collection: string, id: string, row: unknown];
/** How to take one write back: the row before it, and where it stood (a deleted row returns to its place). */
type Undo = [collection: CollectionName, id: string, row: unknown, rank: number | undefined];
type Waiter = { resolve: () => void; reject: (err: unknown) => void };

export interface LowdbStoreOptions {
  dir: string;
  /** Snapshot and empty the journal once it grows past this many bytes. */
  compactBytes?: number;
  /** Delay before retrying a failed disk write. */
  retryMs?: number;
  /** Messages and webhook bodies older than this many days are dropped (0: kept forever). */
  messageRetentionDays?: number;
  /** How often to look for rows retention should drop. */
  retentionCheckMs?: number;
  /** Segment rows kept parsed in memory per collection (most recently used). */
  cacheRows?: number;
}

/**
 * The embedded store. The state lives in memory; every change is made durable by group
 * commit: all transactions finished within one tick go to disk as one checksummed journal append
 * followed by fdatasync, and each `transact` resolves only after the write that holds it.
 * The journal is folded into `state.json` (lowdb, temp file + fsync + rename) when it grows.
 *
 * Bulky, append-only collections (messages, webhook bodies, management events) are the
 * exception: a compaction appends their changed rows to segment files (`<name>.<n>.seg`), and
 * memory keeps only a locator per row, the index entries and recently used rows. `state.json`
 * records each segment's committed length, so lines a dying compaction appended are cut off on
 * open. Retention drops old rows by rewriting a segment into a new file.
 *
 * Memory is always the future of disk and disk a prefix of memory: a failed write keeps its batch
 * at the head of the queue and is retried; transactions meanwhile fail with 503 `store_unavailable`.
 */
export class LowdbStore implements Store {
  readonly kind = "lowdb" as const;
  private tables: Tables = createTables();
  private readonly segments: SegmentTables;
  private readonly lastRewrite = new Map<SegmentCollection, number>();
  private retentionTimer?: NodeJS.Timeout;
  private readonly snapshot: Low<Snapshot>;
  private readonly journal: Journal;
  private seq = 0;
  private jobSeq = 0;
  private lock: Promise<unknown> = Promise.resolve();
  private pendingOps: Op[] = [];
  private pendingWaiters: Waiter[] = [];
  private failedBatch?: { batch: JournalBatch; waiters: Waiter[] };
  private writing = false;
  private scheduled = false;
  private retryTimer?: NodeJS.Timeout;
  private ok = true;
  private compacting?: Promise<void>;
  /** A compaction asked for by the retention timer, started by the next group write. */
  private compactWanted = false;
  private closed = false;

  private constructor(private readonly opts: Required<LowdbStoreOptions>) {
    this.snapshot = new Low<Snapshot>(new FsyncJsonFile(join(opts.dir, "state.json")), emptySnapshot());
    this.journal = new Journal(join(opts.dir, "journal.log"));
    this.segments = Object.fromEntries(SEGMENT_COLLECTIONS.map((n) => [n, new SegmentTable(n, opts.dir, opts.cacheRows)])) as SegmentTables;
  }

  static async open(options: LowdbStoreOptions): Promise<LowdbStore> {
    const store = new LowdbStore({ compactBytes: 64 * 1024 * 1024, retryMs: 1000, messageRetentionDays: 0, retentionCheckMs: 60 * 60_000, cacheRows: 10_000, ...options });
    await mkdir(options.dir, { recursive: true });
    await store.load();
    if (store.opts.messageRetentionDays > 0) {
      store.retentionTimer = setInterval(() => store.retentionCheck(), store.opts.retentionCheckMs);
      store.retentionTimer.unref();
    }
    return store;
  }

  private async load(): Promise<void> {
    await this.snapshot.read();
    const snap = this.snapshot.data;
    const named = new Set<string>();
    for (const [name, ref] of Object.entries(snap.segments ?? {})) {
      if (!isSegmentCollection(name) || !ref) continue;
      await this.segments[name].load(ref);
      named.add(ref.file);
    }
    // Segment files no committed state.json names: a compaction's new file that died before the rename.
    for (const file of await readdir(this.opts.dir)) if (SEGMENT_FILE.test(file) && !named.has(file)) await rm(join(this.opts.dir, file), { force: true });
    let legacy = false;
    for (const [name, rows] of Object.entries(snap.tables)) {
      if (isSegmentCollection(name)) {
        // format 1 kept them in state.json: they move to a segment at the compaction below
        for (const row of rows) this.segments[name].set(row as { id: string }, undefined);
        legacy ||= rows.length > 0;
        continue;
      }
      const table = this.tables[name as HotName];
      if (!table) continue;
      for (const row of rows) table.set(row as { id: string });
    }
    this.seq = snap.seq;
    this.jobSeq = snap.jobSeq;
    // Journals set aside by a snapshot that never finished come first, oldest first.
    const rotated = await this.rotatedJournals();
    const batches: JournalBatch[] = [];
    for (const file of rotated) batches.push(...(await Journal.read(join(this.opts.dir, file))));
    batches.push(...(await this.journal.open()));
    for (const batch of batches) {
      if (batch.seq <= snap.seq) continue;
      await this.apply(batch.ops);
      this.seq = batch.seq;
      // Jobs enqueued and deleted since the snapshot still used up their sequence numbers.
      this.jobSeq = Math.max(this.jobSeq, batch.jobSeq ?? 0);
      for (const [name, , row] of batch.ops) if (name === "jobs" && row) this.jobSeq = Math.max(this.jobSeq, (row as Job).seq ?? 0);
    }
    for (const row of this.tables.jobs.rows.values()) this.jobSeq = Math.max(this.jobSeq, (row as Job).seq ?? 0);
    // The journal can be long after a crash; fold it in now so the next start is quick.
    // A snapshot that cannot be written now costs nothing but a longer replay next time.
    if (legacy || rotated.length > 0 || this.journal.bytes > this.opts.compactBytes / 4) await this.compact().catch(() => undefined);
  }

  /** `journal.<seq>.log` files, by the last batch they hold. */
  private async rotatedJournals(): Promise<string[]> {
    const names = (await readdir(this.opts.dir)).filter((n) => /^journal\.\d+\.log$/.test(n));
    return names.sort((a, b) => Number(a.split(".")[1]) - Number(b.split(".")[1]));
  }

  private async apply(ops: Op[]): Promise<void> {
    for (const [name, id, row] of ops) {
      if (!isSegmentCollection(name) && !this.tables[name as HotName]) continue; // a collection since dropped
      const before = isSegmentCollection(name) ? await this.segments[name].get(id) : undefined;
      this.place(name as CollectionName, id, row as AnyRow | null, before);
    }
  }

  /**
   * Puts `row` (null: removes it) into whichever table holds its collection: the in-memory one,
   * or the segment table, which needs the row it replaces (`before`) to update its indexes.
   * `rank` puts a row back where it was (a rolled-back delete).
   */
  private place(name: CollectionName, id: string, row: AnyRow | null, before: AnyRow | undefined, rank?: number): void {
    if (isSegmentCollection(name)) {
      const seg = this.segments[name];
      if (row !== null) seg.set(row, before, rank);
      else if (before) seg.remove(id, before);
    } else if (row !== null) this.tables[name as HotName].set(row, rank);
    else this.tables[name as HotName].remove(id);
  }

  healthy(): boolean {
    return this.ok && !this.closed;
  }

  read<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    return this.serialize(() => fn(this.makeTx([])));
  }

  async transact<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    if (this.closed) throw storeUnavailable("store is closed");
    if (!this.ok) throw storeUnavailable("the data directory cannot be written");
    let durable!: Promise<void>;
    const result = await this.serialize(async () => {
      const undo: Undo[] = [];
      const ops: Op[] = [];
      try {
        const value = await fn(this.makeTx(ops, undo));
        durable = this.commit(ops);
        return value;
      } catch (err) {
        for (const [name, id, row, rank] of undo.reverse()) {
          // The row this transaction left is in memory (it wrote it): no disk read to undo.
          const current = isSegmentCollection(name) ? this.segments[name].peek(id) : undefined;
          this.place(name, id, row as AnyRow | null, current, rank);
        }
        throw err;
      }
    });
    await durable;
    return result;
  }

  private serialize<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn);
    this.lock = run.catch(() => undefined);
    return run;
  }

  private makeTx(ops: Op[], undo?: Undo[]): Tx {
    const tables = this.tables;
    const segments = this.segments;
    /** A write (null: a delete), undoable; a segment row it replaces may be read from disk first. */
    const write = async (name: CollectionName, id: string, row: AnyRow | null) => {
      if (!undo) throw new Error("read-only transaction cannot write");
      const table = isSegmentCollection(name) ? segments[name] : tables[name as HotName];
      const before = isSegmentCollection(name) ? await segments[name].get(id) : tables[name as HotName].get(id);
      undo.push([name, id, before ?? null, table.rankOf(id)]);
      this.place(name, id, row, before);
      ops.push([name, id, row]);
    };
    /** Without reading a segment row from disk. */
    const exists = (name: CollectionName, id: string) => (isSegmentCollection(name) ? segments[name].has(id) : tables[name as HotName].get(id) !== undefined);
    const rowsOf = async <K extends CollectionName>(name: K, ids: Iterable<string>, limit = Infinity) => {
      const out: Collections[K][] = [];
      if (isSegmentCollection(name)) {
        // ids come limited already; reads go out together
        const rows = await Promise.all(Array.from(ids, (id) => segments[name].get(id)));
        for (const row of rows) if (row && out.length < limit) out.push(copyRow(row) as Collections[K]);
        return out;
      }
      for (const id of ids) {
        if (out.length >= limit) break;
        const row = tables[name as HotName].get(id);
        if (row) out.push(copyRow(row) as Collections[K]);
      }
      return out;
    };
    const tx: Tx = {
      get: async (name, id) => {
        const row = isSegmentCollection(name) ? await segments[name].get(id) : tables[name as HotName].get(id);
        return row ? (copyRow(row) as never) : undefined;
      },
      put: (name, row) => write(name, row.id, copyRow(row)),
      insertIfAbsent: async (name, row) => {
        if (exists(name, row.id)) return false;
        await write(name, row.id, copyRow(row));
        return true;
      },
      delete: async (name, id) => {
        if (exists(name, id)) await write(name, id, null);
      },
      byIndex: async <K extends CollectionName>(name: K, index: IndexName<K>, value: string, opts: { limit?: number; newestFirst?: boolean } = {}) => {
        if (isSegmentCollection(name)) {
          const seg = segments[name];
          if (!seg.isHashed(index)) return rowsOf(name, seg.ids(index, value, opts));
          // keyed by a hash: keep the rows that really have the value, then apply the options
          const rows = (await rowsOf(name, seg.ids(index, value))).filter((r) => indexValue(name, index, r) === value);
          if (opts.newestFirst) rows.reverse();
          return rows.slice(0, opts.limit ?? rows.length);
        }
        const ids = tables[name as HotName].ids(index, value);
        if (!ids) return [];
        const ordered = opts.newestFirst ? [...ids].reverse() : ids;
        return rowsOf(name, ordered, opts.limit);
      },
      countByIndex: async (name, index, value) => {
        if (!isSegmentCollection(name)) return tables[name as HotName].ids(index, value)?.size ?? 0;
        if (!segments[name].isHashed(index)) return segments[name].count(index, value);
        return (await tx.byIndex(name, index, value)).length;
      },
      list: async (name, opts = {}) => (isSegmentCollection(name) ? rowsOf(name, segments[name].allIds(opts.limit)) : rowsOf(name, tables[name as HotName].rows.keys(), opts.limit)),
      claimJobs: async (opts: ClaimOptions) => {
        const claimed: Job[] = [];
        for (const queue of opts.queues) {
          const ids = tables.jobs.ids("queue", queue);
          if (!ids) continue;
          const blocked = new Set<string>();
          for (const id of ids) {
            if (claimed.length >= opts.limit) break;
            const job = tables.jobs.get(id) as Job;
            if (job.state === "dead") continue;
            if (job.orderKey !== undefined && blocked.has(job.orderKey)) continue;
            const leased = job.state === "running" && (job.leaseUntil ?? 0) > opts.now;
            const due = !leased && job.runAt <= opts.now;
            if (job.orderKey !== undefined) blocked.add(job.orderKey);
            if (!due) continue;
            const next: Job = { ...job, state: "running", leaseUntil: opts.now + opts.leaseMs, leaseOwner: opts.owner, updatedAt: opts.now };
            await write("jobs", id, next);
            claimed.push(copyRow(next));
          }
        }
        return claimed;
      },
      enqueue: async (job) => {
        const row: Job = { ...job, seq: ++this.jobSeq };
        await write("jobs", row.id, copyRow(row));
        return row;
      },
      // Transactions run one at a time here, so a counter is a plain read-modify-write.
      bump: async (name, base, add) => {
        const row = (await tx.get(name, base.id)) ?? { ...base, counts: {} as Record<string, number> };
        for (const [k, v] of Object.entries(add)) row.counts[k] = (row.counts[k] ?? 0) + v;
        await tx.put(name, row);
      },
    };
    return tx;
  }

  /** Queues `ops` for the next group write; resolves once they are on disk. */
  private commit(ops: Op[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pendingOps.push(...ops);
      this.pendingWaiters.push({ resolve, reject });
      this.scheduleFlush();
    });
  }

  private scheduleFlush(): void {
    if (this.scheduled || this.writing || this.retryTimer) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    if (this.writing) return;
    this.writing = true;
    try {
      while (this.failedBatch || this.pendingWaiters.length > 0) {
        const job = this.failedBatch ?? this.takePending();
        try {
          if (job.batch.ops.length > 0) await this.journal.append(job.batch);
          this.failedBatch = undefined;
          this.ok = true;
          for (const w of job.waiters) w.resolve();
          if ((this.journal.bytes > this.opts.compactBytes || this.compactWanted) && !this.compacting) {
            this.compactWanted = false;
            // Set the journal aside and snapshot in the background: commits go on meanwhile.
            const aside = await this.rotate();
            this.compacting = this.snapshotAndDrop(aside)
              .catch(() => undefined) // the rotated journal stays; the next start replays it
              .finally(() => (this.compacting = undefined));
          }
        } catch (err) {
          this.failedBatch = { batch: job.batch, waiters: [] };
          this.ok = false;
          const error = storeUnavailable("the data directory cannot be written", err);
          for (const w of job.waiters) w.reject(error);
          // Everyone queued behind the failed batch learns now, not after the retry.
          for (const w of this.pendingWaiters.splice(0)) w.reject(error);
          if (!this.closed) this.retryTimer = setTimeout(() => {
            this.retryTimer = undefined;
            void this.flush();
          }, this.opts.retryMs);
          return;
        }
      }
    } finally {
      this.writing = false;
    }
    if (this.pendingWaiters.length > 0) this.scheduleFlush();
  }

  private takePending(): { batch: JournalBatch; waiters: Waiter[] } {
    const ops = collapse(this.pendingOps);
    const waiters = this.pendingWaiters;
    this.pendingOps = [];
    this.pendingWaiters = [];
    // A batch with no ops still waits for earlier batches: they are all written in order.
    return { batch: { seq: ops.length > 0 ? ++this.seq : this.seq, jobSeq: this.jobSeq, ops }, waiters };
  }

  /** Moves journal.log aside as `journal.<seq>.log`; returns the files a snapshot from now on covers. */
  private async rotate(): Promise<string[]> {
    // An empty journal has nothing to set aside (and its name could clash with the last one).
    if (this.journal.bytes > 0) await this.journal.rotateTo(join(this.opts.dir, `journal.${this.seq}.log`));
    return this.rotatedJournals();
  }

  /**
   * Writes the whole state as `state.json`, then deletes the set-aside journals it covers.
   * The picture is taken between transactions (a running one may still roll back) and may hold
   * changes journaled after the rotation: replaying those again on top is harmless, since every
   * journal entry is a whole row (or its delete) applied in order.
   */
  private async snapshotAndDrop(covered: string[]): Promise<void> {
    const seq = covered.length > 0 ? Number(covered[covered.length - 1]!.split(".")[1]) : this.seq;
    const { data, pictures } = await this.serialize(async () => {
      const tables: Record<string, unknown[]> = {};
      for (const [name, table] of Object.entries(this.tables)) tables[name] = [...table.rows.values()];
      const pictures = SEGMENT_COLLECTIONS.map((name) => [name, this.segments[name].picture(this.rewriteOf(name))] as const);
      const data: Snapshot = { format: 2, seq, jobSeq: this.jobSeq, tables, segments: {} };
      return { data, pictures };
    });
    // Segments first: state.json then names their new committed lengths (or new files).
    const writes: Array<[SegmentCollection, SegmentWrite]> = [];
    try {
      for (const [name, picture] of pictures) {
        const w = await this.segments[name].write(picture);
        writes.push([name, w]);
        if (w.ref) data.segments![name] = w.ref;
      }
      this.snapshot.data = data;
      await this.snapshot.write();
    } catch (err) {
      for (const [name] of pictures) this.segments[name].abandon();
      for (const [, w] of writes) await w.abandon();
      throw err;
    }
    // Between transactions: a rewrite may drop rows (retention) that one could be reading.
    await this.serialize(async () => {
      for (const [name, w] of writes) {
        w.finish();
        if (pictures.find(([n]) => n === name)![1].rewrite) this.lastRewrite.set(name, Date.now());
      }
    });
    for (const file of covered) await rm(join(this.opts.dir, file), { force: true });
  }

  /** Whether this compaction rewrites a segment: retention has rows to drop, or most of it is superseded. */
  private rewriteOf(name: SegmentCollection): { cutoff: number } | undefined {
    const seg = this.segments[name];
    const days = RETAINED.includes(name) ? this.opts.messageRetentionDays : 0;
    const cutoff = days > 0 ? Date.now() - days * DAY_MS : -Infinity;
    if (days > 0) {
      const expired = seg.expiredCount(cutoff);
      // A rewrite copies the whole file: at most daily, unless much has expired.
      if (expired > 0 && (Date.now() - (this.lastRewrite.get(name) ?? 0) >= DAY_MS || expired >= seg.size * 0.05)) return { cutoff };
    }
    return seg.wasteful ? { cutoff } : undefined;
  }

  /** The retention timer: asks for a compaction when some segment holds rows past their age. */
  private retentionCheck(): void {
    if (this.closed || this.compacting || this.compactWanted) return;
    if (!RETAINED.some((name) => this.rewriteOf(name))) return;
    this.compactWanted = true;
    // Compactions start from the write loop (it owns the journal); an empty commit wakes it.
    void this.commit([]).catch(() => undefined);
  }

  /** Folds everything into `state.json` now (start-up after a crash, shutdown). */
  private async compact(): Promise<void> {
    await this.compacting;
    const aside = await this.rotate();
    await this.snapshotAndDrop(aside);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.lock;
    while (this.writing || this.scheduled || this.pendingWaiters.length > 0) await new Promise((r) => setTimeout(r, 5));
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.retentionTimer) clearInterval(this.retentionTimer);
    try {
      // Everything is in the journals already; a snapshot that fails here only lengthens the next start.
      if (this.ok) await this.compact().catch(() => undefined);
    } finally {
      await this.journal.close();
      for (const seg of Object.values(this.segments)) await seg.close().catch(() => undefined);
    }
  }
}

const indexValue = (name: CollectionName, index: string, row: unknown) => (INDEXES[name] as Record<string, (r: unknown) => string | undefined>)[index]!(row);

function emptySnapshot(): Snapshot {
  return { format: 1, seq: 0, jobSeq: 0, tables: {} };
}

function storeUnavailable(message: string, cause?: unknown): AppError {
  return new AppError({ code: "store_unavailable", message, httpStatus: 503, retryable: true, cause });
}

/**
 * A batch is applied whole, so only the last write of each row matters: a message updated five
 * times, or a webhook body stored and processed within one tick, is written once (or not at all
 * but for its delete). Rows keep the position of their first write, which replay turns into the
 * same insertion order.
 */
function collapse(ops: Op[]): Op[] {
  if (ops.length < 2) return ops;
  const last = new Map<string, Op>();
  for (const op of ops) last.set(`${op[0]}\u0000${op[1]}`, op);
  return last.size === ops.length ? ops : [...last.values()];
}

/**
 * A deep copy of a JSON row: callers get their own copy and nothing they do later reaches the
 * store. Rows are plain JSON, so this is several times cheaper than `structuredClone`; like the
 * journal, it drops `undefined` fields.
 */
function copyRow<T>(value: T): T {
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) {
    const out = new Array(value.length);
    for (let i = 0; i < value.length; i++) out[i] = copyRow(value[i]);
    return out as T;
  }
  const out: Record<string, unknown> = {};
  for (const key in value) {
    const v = (value as Record<string, unknown>)[key];
    if (v !== undefined) out[key] = copyRow(v);
  }
  return out as T;
}
