import { mkdir, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { Low } from "lowdb";
import { AppError } from "../../errors.js";
import type { Job } from "../../domain/types.js";
import type { ClaimOptions, CollectionName, Collections, IndexName, Store, Tx } from "../store.port.js";
import { FsyncJsonFile } from "./fsync-json-file.js";
import { Journal, type JournalBatch } from "./journal.js";
import { createTables, type Tables } from "./tables.js";

interface Snapshot {
  format: 1;
  seq: number;
  jobSeq: number;
  tables: Record<string, unknown[]>;
}

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
}

/**
 * The embedded store. The whole state lives in memory; every change is made durable by group
 * commit: all transactions finished within one tick go to disk as one checksummed journal append
 * followed by fdatasync, and each `transact` resolves only after the write that holds it.
 * The journal is folded into `state.json` (lowdb, temp file + fsync + rename) when it grows.
 *
 * Memory is always the future of disk and disk a prefix of memory: a failed write keeps its batch
 * at the head of the queue and is retried; transactions meanwhile fail with 503 `store_unavailable`.
 */
export class LowdbStore implements Store {
  readonly kind = "lowdb" as const;
  private tables: Tables = createTables();
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
  private closed = false;

  private constructor(private readonly opts: Required<LowdbStoreOptions>) {
    this.snapshot = new Low<Snapshot>(new FsyncJsonFile(join(opts.dir, "state.json")), emptySnapshot());
    this.journal = new Journal(join(opts.dir, "journal.log"));
  }

  static async open(options: LowdbStoreOptions): Promise<LowdbStore> {
    const store = new LowdbStore({ compactBytes: 64 * 1024 * 1024, retryMs: 1000, ...options });
    await mkdir(options.dir, { recursive: true });
    await store.load();
    return store;
  }

  private async load(): Promise<void> {
    await this.snapshot.read();
    const snap = this.snapshot.data;
    for (const [name, rows] of Object.entries(snap.tables)) {
      const table = this.tables[name as CollectionName];
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
      this.apply(batch.ops);
      this.seq = batch.seq;
      // Jobs enqueued and deleted since the snapshot still used up their sequence numbers.
      this.jobSeq = Math.max(this.jobSeq, batch.jobSeq ?? 0);
      for (const [name, , row] of batch.ops) if (name === "jobs" && row) this.jobSeq = Math.max(this.jobSeq, (row as Job).seq ?? 0);
    }
    for (const row of this.tables.jobs.rows.values()) this.jobSeq = Math.max(this.jobSeq, (row as Job).seq ?? 0);
    // The journal can be long after a crash; fold it in now so the next start is quick.
    // A snapshot that cannot be written now costs nothing but a longer replay next time.
    if (rotated.length > 0 || this.journal.bytes > this.opts.compactBytes / 4) await this.compact().catch(() => undefined);
  }

  /** `journal.<seq>.log` files, by the last batch they hold. */
  private async rotatedJournals(): Promise<string[]> {
    const names = (await readdir(this.opts.dir)).filter((n) => /^journal\.\d+\.log$/.test(n));
    return names.sort((a, b) => Number(a.split(".")[1]) - Number(b.split(".")[1]));
  }

  private apply(ops: Op[]): void {
    for (const [name, id, row] of ops) {
      const table = this.tables[name as CollectionName];
      if (!table) continue;
      if (row === null) table.remove(id);
      else table.set(row as { id: string });
    }
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
          if (row === null) this.tables[name].remove(id);
          else this.tables[name].set(row as { id: string }, rank);
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
    const write = (name: CollectionName, id: string, row: unknown) => {
      if (!undo) throw new Error("read-only transaction cannot write");
      const before = tables[name].get(id);
      undo.push([name, id, before ?? null, tables[name].rankOf(id)]);
      if (row === null) tables[name].remove(id);
      else tables[name].set(row as { id: string });
      ops.push([name, id, row]);
    };
    const rowsOf = <K extends CollectionName>(name: K, ids: Iterable<string>, limit = Infinity) => {
      const out: Collections[K][] = [];
      for (const id of ids) {
        if (out.length >= limit) break;
        const row = tables[name].get(id);
        if (row) out.push(copyRow(row) as Collections[K]);
      }
      return out;
    };
    const tx: Tx = {
      get: async (name, id) => {
        const row = tables[name].get(id);
        return row ? (copyRow(row) as never) : undefined;
      },
      put: async (name, row) => write(name, row.id, copyRow(row)),
      insertIfAbsent: async (name, row) => {
        if (tables[name].get(row.id)) return false;
        write(name, row.id, copyRow(row));
        return true;
      },
      delete: async (name, id) => {
        if (tables[name].get(id)) write(name, id, null);
      },
      byIndex: async <K extends CollectionName>(name: K, index: IndexName<K>, value: string, opts: { limit?: number; newestFirst?: boolean } = {}) => {
        const ids = tables[name].ids(index, value);
        if (!ids) return [];
        const ordered = opts.newestFirst ? [...ids].reverse() : ids;
        return rowsOf(name, ordered, opts.limit);
      },
      countByIndex: async (name, index, value) => tables[name].ids(index, value)?.size ?? 0,
      list: async (name, opts = {}) => rowsOf(name, tables[name].rows.keys(), opts.limit),
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
            write("jobs", id, next);
            claimed.push(copyRow(next));
          }
        }
        return claimed;
      },
      enqueue: async (job) => {
        const row: Job = { ...job, seq: ++this.jobSeq };
        write("jobs", row.id, copyRow(row));
        return row;
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
          if (this.journal.bytes > this.opts.compactBytes && !this.compacting) {
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
    const data = await this.serialize(async (): Promise<Snapshot> => {
      const tables: Record<string, unknown[]> = {};
      for (const [name, table] of Object.entries(this.tables)) tables[name] = [...table.rows.values()];
      return { format: 1, seq, jobSeq: this.jobSeq, tables };
    });
    this.snapshot.data = data;
    await this.snapshot.write();
    for (const file of covered) await rm(join(this.opts.dir, file), { force: true });
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
    try {
      // Everything is in the journals already; a snapshot that fails here only lengthens the next start.
      if (this.ok) await this.compact().catch(() => undefined);
    } finally {
      await this.journal.close();
    }
  }
}

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
