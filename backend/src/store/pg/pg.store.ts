import { createHash, randomBytes } from "node:crypto";
import pg from "pg";
import { AppError } from "../../errors.js";
import type { Job } from "../../domain/types.js";
import type { Logger } from "../../ops/logger.js";
import { COUNTER_COLLECTIONS, INDEXES, type ClaimOptions, type CollectionName, type Collections, type CounterCollection, type IndexName, type Store, type Tx } from "../store.port.js";
import { migrate, type IndexSpec } from "./migrations.js";

export interface PgStoreOptions {
  /** `DATABASE_URL`: postgres://user:password@host:port/database */
  url: string;
  /** Connections in the pool (each open transaction holds one). */
  poolSize?: number;
  logger?: Logger;
  /** Runs of one transaction before a serialization conflict is given up as `store_conflict`. */
  maxAttempts?: number;
  /** The declared secondary indexes; `INDEXES` of the port unless a test narrows them. */
  indexes?: IndexSpec;
}

type KeyFn = (row: unknown) => string | undefined;
type Outcome<T> = { value: T } | { error: unknown; retry: boolean };

const BEGIN_WRITE = "BEGIN ISOLATION LEVEL REPEATABLE READ";
/** A transaction that starts with claimJobs: row locks (FOR UPDATE SKIP LOCKED) make it safe. */
const BEGIN_CLAIM = "BEGIN ISOLATION LEVEL READ COMMITTED";
const BEGIN_READ = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";

/**
 * The shared store: documents in PostgreSQL, for several stateless instances at once.
 *
 * Every collection lives in one table (`store_docs`: collection, id, insertion rank, JSON row);
 * each row's secondary index values sit in `store_index` with the row's rank, written by the same
 * statement as the row. `transact` is one REPEATABLE READ (snapshot) transaction, re-run from the
 * start on a write conflict or deadlock: no update is lost and every dedupe key or deterministic
 * id is claimed once; it resolves after COMMIT. See README.md beside this file (why not SERIALIZABLE).
 */
export class PgStore implements Store {
  readonly kind = "postgres" as const;
  private ok = true;
  private closed = false;
  private readonly keyFns = new Map<string, Array<[string, KeyFn]>>();
  private readonly maxAttempts: number;
  /** Connections for `withLock`: apart from the main pool, so a lock holder's own transactions always find one. */
  private lockPool?: pg.Pool;
  private claimGuard?: (owner: string) => Promise<void>;
  /**
   * Counter shards (see `Tx.bump`): each running transaction holds a slot of its own, so no two
   * transactions at once add to the same delta row; the instance tag keeps instances apart.
   */
  private readonly instanceTag = randomBytes(6).toString("base64url");
  private readonly freeSlots: number[] = [];
  private slots = 0;

  private constructor(
    private readonly pool: pg.Pool,
    indexes: IndexSpec,
    private readonly url: string,
    private readonly logger?: Logger,
    maxAttempts?: number,
  ) {
    for (const [collection, defs] of Object.entries(indexes)) this.keyFns.set(collection, Object.entries(defs) as Array<[string, KeyFn]>);
    this.maxAttempts = maxAttempts ?? 50;
  }

  /** Connects and brings the schema up to date (migrations run under an advisory lock). */
  static async open(options: PgStoreOptions): Promise<PgStore> {
    let store: PgStore | undefined;
    // An idle connection that dies (server restart, failover, terminated backend) is dropped by
    // the pool; the store reports unhealthy until a transaction commits again.
    const pool = newPool(options.url, options.poolSize ?? 10, "branchline", (err) => store?.markDown(err));
    const indexes = options.indexes ?? (INDEXES as unknown as IndexSpec);
    store = new PgStore(pool, indexes, options.url, options.logger, options.maxAttempts);
    let client: pg.PoolClient | undefined;
    try {
      client = await pool.connect();
      await migrate(client, indexes, options.logger);
      client.release();
    } catch (err) {
      client?.release(true);
      await pool.end().catch(() => undefined);
      throw storeError(err, "could not open the PostgreSQL store");
    }
    return store;
  }

  healthy(): boolean {
    return this.ok && !this.closed;
  }

  async transact<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const outcome = await this.run(fn, true);
      if ("value" in outcome) return outcome.value;
      if (!outcome.retry) throw outcome.error;
      if (attempt >= this.maxAttempts) throw conflictError(attempt, outcome.error);
      this.logger?.debug({ attempt }, "store transaction conflicted; running it again");
      // Jittered backoff: conflicting transactions spread out instead of colliding again.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(50, 2 ** attempt)));
    }
  }

  async read<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    const outcome = await this.run(fn, false);
    if ("value" in outcome) return outcome.value;
    throw outcome.error;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([this.pool.end(), this.lockPool?.end()]);
  }

  /**
   * Runs `fn` while holding the lock named `key` across every instance on this database, waiting
   * for it (e.g. one CRM token refresh at a time). The lock is a transaction-level advisory lock on
   * a connection of its own: it ends with that transaction, or with the connection if this
   * process dies. `fn` runs outside that transaction and may use the store freely.
   */
  async withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    if (this.closed) throw unavailable("store is closed");
    this.lockPool ??= newPool(this.url, 4, "branchline-lock", (err) => this.markDown(err));
    let client: pg.PoolClient;
    try {
      client = await this.lockPool.connect();
    } catch (err) {
      throw this.lost(err).error;
    }
    const onError = (err: Error) => this.markDown(err);
    client.on("error", onError);
    let discard = false;
    try {
      try {
        await client.query("BEGIN");
        await client.query("SELECT pg_advisory_xact_lock($1::bigint)", [advisoryKey(key)]);
      } catch (err) {
        discard = true;
        throw storeError(err, "could not take a lock");
      }
      try {
        return await fn();
      } finally {
        if (!(await client.query("COMMIT").then(() => true, () => false))) discard = true;
      }
    } finally {
      client.removeListener("error", onError);
      client.release(discard ? true : undefined);
    }
  }

  /**
   * A connection of its own, outside the pools, for what must outlive a transaction: session-level
   * advisory locks and LISTEN (see `backend/src/cluster/`). The caller owns it: it must handle its
   * `error` event and end it. TCP keepalive finds a peer that vanished without closing the socket.
   */
  async openSession(name = "branchline-session"): Promise<pg.Client> {
    if (this.closed) throw unavailable("store is closed");
    const client = new pg.Client({ connectionString: this.url, connectionTimeoutMillis: 10_000, query_timeout: 10_000, application_name: name, keepAlive: true, keepAliveInitialDelayMillis: 10_000 });
    client.on("error", () => undefined); // until the caller attaches its own handler
    try {
      await client.connect();
    } catch (err) {
      await client.end().catch(() => undefined);
      throw storeError(err, "could not open a session connection");
    }
    return client;
  }

  /**
   * Awaited before every job claim with the claimer's owner id (once the guard is set): lets the
   * cluster code prove this instance alive to the others before it holds any job lease. A guard
   * that throws fails the claim.
   */
  guardClaims(guard: (owner: string) => Promise<void>): void {
    this.claimGuard = guard;
  }

  /** One attempt of a transaction on its own connection. */
  private async run<T>(fn: (tx: Tx) => Promise<T>, writable: boolean): Promise<Outcome<T>> {
    if (this.closed) return { error: unavailable("store is closed"), retry: false };
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      return this.lost(err);
    }
    // A connection that dies while checked out reports here (and fails its queries) instead of
    // crashing the process with an unhandled 'error' event.
    const onError = (err: Error) => this.markDown(err);
    client.on("error", onError);
    let discard = false;
    const slot = this.freeSlots.pop() ?? this.slots++;
    try {
      const tx = new PgTx(client, writable, this.keyFns, `${this.instanceTag}.${slot}`, this.claimGuard);
      let thrown: { error: unknown } | undefined;
      let value: T | undefined;
      try {
        value = await fn(tx);
        await tx.flush();
      } catch (error) {
        thrown = { error };
      }
      tx.finish();
      // A body that never touched the database has nothing to commit or roll back.
      if (!tx.started) return thrown ? { error: thrown.error, retry: false } : { value: value as T };
      if (thrown || tx.failure !== undefined) {
        discard = !(await client.query("ROLLBACK").then(() => true, () => false));
        const failure = tx.failure;
        if (failure === undefined) return { error: thrown!.error, retry: false };
        // The database refused part of this attempt: what `fn` saw may be stale, so a
        // serialization failure re-runs it whatever `fn` made of the error.
        if (isRetryable(failure)) return { error: failure, retry: true };
        if (isConnectionFailure(failure)) {
          discard = true;
          this.markDown(failure);
        }
        // A body that swallowed the failure must not commit a half-done transaction.
        return { error: thrown ? thrown.error : storeError(failure), retry: false };
      }
      try {
        await client.query("COMMIT");
      } catch (err) {
        if (isRetryable(err)) return { error: err, retry: true };
        discard = true;
        // A connection lost during COMMIT leaves the outcome unknown; the caller sees a 503.
        return this.lost(err);
      }
      if (writable && !this.ok) {
        this.ok = true;
        this.logger?.info("PostgreSQL store writes succeed again");
      }
      return { value: value as T };
    } finally {
      client.removeListener("error", onError);
      client.release(discard ? true : undefined);
      this.freeSlots.push(slot);
    }
  }

  private lost(err: unknown): { error: unknown; retry: false } {
    if (isConnectionFailure(err)) this.markDown(err);
    return { error: storeError(err), retry: false };
  }

  private markDown(err: unknown): void {
    if (this.closed) return;
    if (this.ok) this.logger?.warn({ code: errorCode(err), reason: errorText(err) }, "PostgreSQL store connection failed");
    this.ok = false;
  }
}

/**
 * A write waiting for the flush: the row's JSON (null: deleted), its index entries and job fields
 * taken when it was written, and its place in the transaction's insertion order.
 */
interface Pending {
  collection: CollectionName;
  id: string;
  data: string | null;
  keys: [string[], string[]];
  job: Array<string | number | null>;
  order: number;
  /** Deleted and written again in this transaction: a new insertion (a new rank), not an update. */
  reinsert: boolean;
  /** Only created unless it exists (the document a bump adds to); reads still go to the database. */
  ifAbsent?: boolean;
}

const COUNTERS: ReadonlySet<string> = new Set(COUNTER_COLLECTIONS);

/**
 * The port's operations on one open transaction.
 *
 * Writes (`put`, `delete`) are buffered and flushed at commit sorted by (collection, id), so
 * every transaction locks the rows it writes in one global order and two of them can never
 * deadlock over them (each deadlock cost `deadlock_timeout`, a second). `get` reads the buffer
 * first; a query over a collection (`byIndex`, `countByIndex`, `list`, `claimJobs`) and an
 * immediate insert into it (`insertIfAbsent`, `enqueue`) flush that collection's writes first.
 */
class PgTx implements Tx {
  /** The first error the database raised in this attempt: the transaction can no longer commit. */
  failure?: unknown;
  private done = false;
  private begun?: Promise<unknown>;
  /** Started by claimJobs at READ COMMITTED: nothing but claims may follow. */
  private claimOnly = false;
  private readonly pending = new Map<string, Pending>();
  /** Rows loaded by `prefetch`, as JSON text (null: absent), as this transaction's snapshot holds them. */
  private readonly fetched = new Map<string, string | null>();
  private writes = 0;

  constructor(
    private readonly client: pg.PoolClient,
    private readonly writable: boolean,
    private readonly keyFns: Map<string, Array<[string, KeyFn]>>,
    /** This transaction's counter shard: no other transaction running now uses it. */
    private readonly shard: string,
    private readonly claimGuard?: (owner: string) => Promise<void>,
  ) {}

  finish(): void {
    this.done = true;
  }

  get started(): boolean {
    return this.begun !== undefined;
  }

  async get<K extends CollectionName>(collection: K, id: string): Promise<Collections[K] | undefined> {
    const buffered = this.pending.get(pendingKey(collection, id));
    if (buffered && !buffered.ifAbsent) return buffered.data === null ? undefined : (JSON.parse(buffered.data) as Collections[K]);
    const fetched = this.fetched.get(pendingKey(collection, id));
    const rows =
      fetched === undefined
        ? (await this.query<{ data: Collections[K] }>(SQL.get, [collection, id])).rows.map((r) => r.data)
        : fetched === null
          ? []
          : [JSON.parse(fetched) as Collections[K]];
    const found = rows.length === 0 && buffered ? [JSON.parse(buffered.data!) as Collections[K]] : rows;
    return (await this.withCounters(collection, found))[0];
  }

  async prefetch(collection: CollectionName, ids: string[]): Promise<void> {
    const want = [...new Set(ids)].filter((id) => !this.pending.has(pendingKey(collection, id)) && !this.fetched.has(pendingKey(collection, id)));
    if (want.length === 0) return;
    const { rows } = await this.query<{ id: string; data: string }>(SQL.getMany, [collection, want]);
    for (const id of want) this.fetched.set(pendingKey(collection, id), null);
    for (const r of rows) this.fetched.set(pendingKey(collection, r.id), r.data);
  }

  async put<K extends CollectionName>(collection: K, row: Collections[K]): Promise<void> {
    await this.buffered("put");
    // Serialized now: later changes to the caller's object do not reach the store.
    this.buffer(collection, row.id, row);
  }

  async insertIfAbsent<K extends CollectionName>(collection: K, row: Collections[K]): Promise<boolean> {
    this.mustWrite("insertIfAbsent");
    const buffered = this.pending.get(pendingKey(collection, row.id));
    if (buffered && !buffered.ifAbsent) {
      if (buffered.data !== null) return false;
      await this.buffered("insertIfAbsent");
      this.buffer(collection, row.id, row);
      return true;
    }
    await this.flush(collection); // keeps insertion order within the collection
    const [idxs, values] = this.keysOf(collection, row);
    const { rows } = await this.query<{ n: number }>(SQL.insertIfAbsent, [collection, row.id, JSON.stringify(row), idxs, values, ...jobFields(collection === "jobs" ? row : undefined)]);
    return rows[0]!.n > 0;
  }

  async delete<K extends CollectionName>(collection: K, id: string): Promise<void> {
    await this.buffered("delete");
    this.buffer(collection, id, null);
  }

  async byIndex<K extends CollectionName>(collection: K, index: IndexName<K>, value: string, opts: { limit?: number; newestFirst?: boolean } = {}): Promise<Collections[K][]> {
    await this.flush(collection);
    const { rows } = await this.query<{ data: Collections[K] }>(opts.newestFirst ? SQL.byIndexDesc : SQL.byIndexAsc, [collection, index, value, opts.limit ?? null]);
    return this.withCounters(collection, rows.map((r) => r.data));
  }

  async countByIndex<K extends CollectionName>(collection: K, index: IndexName<K>, value: string): Promise<number> {
    await this.flush(collection);
    const { rows } = await this.query<{ n: number }>(SQL.count, [collection, index, value]);
    return rows[0]!.n;
  }

  async list<K extends CollectionName>(collection: K, opts: { limit?: number } = {}): Promise<Collections[K][]> {
    await this.flush(collection);
    const { rows } = await this.query<{ data: Collections[K] }>(SQL.list, [collection, opts.limit ?? null]);
    return this.withCounters(collection, rows.map((r) => r.data));
  }

  async claimJobs(opts: ClaimOptions): Promise<Job[]> {
    this.mustWrite("claimJobs");
    await this.flush("jobs");
    if (this.claimGuard) await this.claimGuard(opts.owner);
    const { rows } = await this.query<{ data: Job }>(SQL.claim, [opts.queues, opts.now, opts.limit], true);
    if (rows.length === 0) return [];
    const claimed = rows.map((r): Job => ({ ...r.data, state: "running", leaseUntil: opts.now + opts.leaseMs, leaseOwner: opts.owner, updatedAt: opts.now }));
    // The claim holds these rows locked (FOR UPDATE): writing them at once cannot deadlock.
    await this.putMany("jobs", claimed.map((job) => this.pendingOf("jobs", job.id, job)), true);
    return claimed.map((j) => JSON.parse(JSON.stringify(j)) as Job);
  }

  async enqueue(job: Omit<Job, "seq">): Promise<Job> {
    this.mustWrite("enqueue");
    await this.flush("jobs"); // keeps insertion order within the collection
    const fields: Record<string, unknown> = { ...job };
    delete fields.seq;
    const body = JSON.stringify(fields);
    // The row's JSON up to its `seq` value; the database appends the next number of the sequence.
    const head = body === "{}" ? '{"seq":' : `${body.slice(0, -1)},"seq":`;
    const [idxs, values] = this.keysOf("jobs", job);
    const { rows } = await this.query<{ seq: string }>(SQL.enqueue, [job.id, head, idxs, values, ...jobFields(job)]);
    return JSON.parse(`${head}${rows[0]!.seq}}`) as Job;
  }

  async bump<K extends CounterCollection>(collection: K, base: Omit<Collections[K], "counts">, add: Record<string, number>): Promise<void> {
    await this.buffered("bump");
    const key = pendingKey(collection, base.id);
    const buffered = this.pending.get(key);
    if (buffered && !buffered.ifAbsent) {
      // The row is written whole at commit anyway: add to that.
      const row = (buffered.data === null ? { ...base, counts: {} } : JSON.parse(buffered.data)) as Collections[K];
      for (const [k, v] of Object.entries(add)) row.counts[k] = (row.counts[k] ?? 0) + v;
      this.buffer(collection, base.id, row);
      return;
    }
    // The document is created at commit, in the flush's order, unless it exists: created here,
    // two transactions creating two branches' rows in opposite orders deadlocked.
    if (!buffered) this.pending.set(key, { ...this.pendingOf(collection, base.id, { ...base, counts: {} }), ifAbsent: true });
    const keys = Object.keys(add);
    if (keys.length === 0) return;
    await this.query(SQL.bump, [collection, base.id, this.shard, keys, keys.map((k) => add[k])]);
  }

  /**
   * Writes the buffered rows (of one collection, or all), sorted by (collection, id): runs of
   * puts, deletes, and delete-then-insert (a row deleted and written again) as single statements.
   */
  async flush(collection?: CollectionName): Promise<void> {
    if (this.pending.size === 0) return;
    const entries: Pending[] = [];
    for (const [key, entry] of this.pending) {
      if (collection !== undefined && entry.collection !== collection) continue;
      entries.push(entry);
      this.pending.delete(key);
    }
    entries.sort((a, b) => (a.collection < b.collection ? -1 : a.collection > b.collection ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const kind = (e: Pending) => (e.ifAbsent ? "ensure" : e.data === null ? "delete" : e.reinsert ? "reinsert" : "put");
    for (let i = 0; i < entries.length; ) {
      const first = entries[i]!;
      let j = i + 1;
      while (j < entries.length && entries[j]!.collection === first.collection && kind(entries[j]!) === kind(first)) j++;
      const run = entries.slice(i, j);
      const what = kind(first);
      if (what === "ensure") {
        await this.putMany(first.collection, run, false, true);
      } else {
        if (what !== "put") await this.query(SQL.deleteMany, [first.collection, run.map((e) => e.id)]);
        if (what !== "delete") await this.putMany(first.collection, run);
        if (COUNTERS.has(first.collection)) await this.query(SQL.clearCounters, [first.collection, run.map((e) => e.id)]);
      }
      i = j;
    }
  }

  /** Buffers a write of `row` (null: a delete). */
  private buffer(collection: CollectionName, id: string, row: { id: string } | null): void {
    const key = pendingKey(collection, id);
    const before = this.pending.get(key);
    const entry = this.pendingOf(collection, id, row);
    if (before) {
      // An update keeps the row's place; a row deleted earlier in this transaction comes back as a new one.
      entry.reinsert = before.reinsert || (before.data === null && row !== null);
      if (!(before.data === null && row !== null)) entry.order = before.order;
    }
    this.pending.set(key, entry);
  }

  private pendingOf(collection: CollectionName, id: string, row: { id: string } | null): Pending {
    return {
      collection,
      id,
      data: row === null ? null : JSON.stringify(row),
      keys: row === null ? [[], []] : this.keysOf(collection, row),
      job: jobFields(collection === "jobs" && row !== null ? row : undefined),
      order: ++this.writes,
      reinsert: false,
    };
  }

  /**
   * Inserts or replaces rows (distinct ids, in the order given) and their index entries in one
   * statement; `ifAbsent`: only inserts the rows that do not exist.
   */
  private async putMany(collection: CollectionName, rows: Pending[], claim = false, ifAbsent = false): Promise<void> {
    const ids: string[] = [];
    const data: string[] = [];
    const orders: number[] = [];
    const keyIds: string[] = [];
    const keyIdxs: string[] = [];
    const keyValues: string[] = [];
    const jobs: Array<Array<string | number | null>> = [[], [], [], [], [], []];
    for (const row of rows) {
      ids.push(row.id);
      data.push(row.data!);
      orders.push(row.order);
      const [idxs, values] = row.keys;
      for (let i = 0; i < idxs.length; i++) {
        keyIds.push(row.id);
        keyIdxs.push(idxs[i]!);
        keyValues.push(values[i]!);
      }
      if (collection === "jobs") row.job.forEach((v, i) => jobs[i]!.push(v));
    }
    if (ifAbsent) await this.query(SQL.ensure, [collection, ids, data, orders, keyIds, keyIdxs, keyValues]);
    else await this.query(SQL.put, [collection, ids, data, orders, keyIds, keyIdxs, keyValues, ...jobs], claim);
  }

  /** Counter rows as reads see them: the document's counts plus every shard's deltas. */
  private async withCounters<R>(collection: CollectionName, rows: R[]): Promise<R[]> {
    if (!COUNTERS.has(collection) || rows.length === 0) return rows;
    const byId = new Map(rows.map((r) => [(r as { id: string }).id, r as { counts?: Record<string, number> }]));
    const { rows: totals } = await this.query<{ id: string; key: string; total: number }>(SQL.counterTotals, [collection, [...byId.keys()]]);
    for (const { id, key, total } of totals) {
      const row = byId.get(id);
      if (!row) continue;
      row.counts ??= {};
      row.counts[key] = (row.counts[key] ?? 0) + total;
    }
    return rows;
  }

  /** The row's index entries: names and values, leaving out indexes whose value is undefined. */
  private keysOf(collection: string, row: unknown): [string[], string[]] {
    const idxs: string[] = [];
    const values: string[] = [];
    for (const [idx, fn] of this.keyFns.get(collection) ?? []) {
      const value = fn(row);
      if (value === undefined) continue;
      idxs.push(idx);
      values.push(value);
    }
    return [idxs, values];
  }

  private mustWrite(op: string): void {
    if (!this.writable) throw new AppError({ code: "store_read_only", message: `${op} is not allowed in a read-only transaction`, httpStatus: 500 });
  }

  /** A buffered write still opens the transaction now (its snapshot and its place among the others). */
  private async buffered(op: string): Promise<void> {
    this.mustWrite(op);
    await this.open(op, false);
  }

  /**
   * Opens the transaction on the first operation. Its isolation follows that operation: a
   * transaction that starts with claimJobs (the job runner's poll) runs at READ COMMITTED, where
   * FOR UPDATE SKIP LOCKED lets instances claim side by side without serialization failures;
   * every other one is REPEATABLE READ.
   */
  private async open(op: string, claim: boolean): Promise<void> {
    if (this.done) throw new AppError({ code: "store_tx_finished", message: "the transaction has already ended", httpStatus: 500 });
    if (this.failure !== undefined) throw storeError(this.failure);
    if (!this.begun) {
      this.claimOnly = claim;
      this.begun = this.client.query(!this.writable ? BEGIN_READ : claim ? BEGIN_CLAIM : BEGIN_WRITE);
    }
    try {
      await this.begun;
    } catch (err) {
      this.failure ??= err;
      throw isRetryable(err) ? conflictError(1, err) : storeError(err);
    }
    if (this.claimOnly && !claim) {
      throw new AppError({ code: "store_claim_only", message: `${op} after claimJobs: a transaction that starts with claimJobs may only claim`, httpStatus: 500 });
    }
  }

  /** Runs one statement in the transaction, opening it first. */
  private async query<R extends pg.QueryResultRow>(statement: { name: string; text: string }, values: unknown[], claim = false): Promise<pg.QueryResult<R>> {
    await this.open(statement.name.replace("store_", ""), claim);
    try {
      // A statement marked `custom` is planned for its values each time: a generic plan of the
      // writes scanned a whole collection's index entries (see `put`).
      const named = "custom" in statement ? {} : { name: statement.name };
      return await this.client.query<R>({ ...named, text: statement.text, values });
    } catch (err) {
      this.failure ??= err;
      throw isRetryable(err) ? conflictError(1, err) : storeError(err);
    }
  }
}

function pendingKey(collection: string, id: string): string {
  return `${collection}\u0000${id}`;
}

function newPool(url: string, max: number, name: string, onError: (err: Error) => void): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max, connectionTimeoutMillis: 10_000, application_name: name });
  pool.on("error", onError);
  return pool;
}

/** The 64-bit key of a named advisory lock (PostgreSQL keys them by bigint), as decimal text. */
export function advisoryKey(name: string): string {
  return createHash("sha256").update(`branchline:${name}`).digest().readBigInt64BE(0).toString();
}

/** What claimJobs needs of a job row, as `store_jobs` holds it: id, queue, state, orderKey, runAt, leaseUntil. */
function jobFields(row: unknown): Array<string | number | null> {
  if (row === undefined) return [null, null, null, null, null, null];
  const job = row as Record<string, unknown>;
  const text = (v: unknown) => (typeof v === "string" ? v : null);
  const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : null);
  return [text(job.id), text(job.queue), text(job.state), text(job.orderKey), num(job.runAt), num(job.leaseUntil)];
}

const JOB_COLUMNS = "id, queue, state, order_key, run_at, lease_until";
const JOB_UPSERT = `ON CONFLICT (id) DO UPDATE SET queue = EXCLUDED.queue, state = EXCLUDED.state, order_key = EXCLUDED.order_key,
               run_at = EXCLUDED.run_at, lease_until = EXCLUDED.lease_until, rank = EXCLUDED.rank`;

/**
 * The start of `put` and `ensure`: rows ($2 ids, $3 JSON, $4 write order) get ranks in the order
 * the transaction wrote them and are inserted in the order given (the lock order).
 */
const INSERT_ROWS = `WITH input AS MATERIALIZED (
             SELECT u.id, u.data, u.n, nextval('store_rank_seq') AS rank
             FROM (SELECT t.* FROM unnest($2::text[], $3::text[], $4::int[]) WITH ORDINALITY AS t(id, data, ord, n) ORDER BY t.ord) u
           ), doc AS (
             INSERT INTO store_docs AS d (collection, id, rank, data)
             SELECT $1, input.id, input.rank, input.data::json FROM input ORDER BY input.n`;

/** Prepared statements (each connection prepares a name once). */
const SQL = {
  get: { name: "store_get", text: "SELECT data FROM store_docs WHERE collection = $1 AND id = $2" },
  getMany: { name: "store_get_many", text: "SELECT id, data::text AS data FROM store_docs WHERE collection = $1 AND id = ANY($2::text[])" },
  list: { name: "store_list", text: "SELECT data FROM store_docs WHERE collection = $1 ORDER BY rank LIMIT $2" },
  byIndexAsc: {
    name: "store_by_index_asc",
    text: `SELECT d.data FROM store_index x JOIN store_docs d ON d.collection = x.collection AND d.id = x.id
           WHERE x.collection = $1 AND x.idx = $2 AND x.value = $3 ORDER BY x.rank LIMIT $4`,
  },
  byIndexDesc: {
    name: "store_by_index_desc",
    text: `SELECT d.data FROM store_index x JOIN store_docs d ON d.collection = x.collection AND d.id = x.id
           WHERE x.collection = $1 AND x.idx = $2 AND x.value = $3 ORDER BY x.rank DESC LIMIT $4`,
  },
  count: { name: "store_count", text: "SELECT count(*)::int AS n FROM store_index WHERE collection = $1 AND idx = $2 AND value = $3" },
  // A replaced row keeps its rank (its place in list and index order); an index entry is
  // rewritten only when its value changed, and dropped when the value became undefined. Only a
  // replaced row's old entries are looked for (`xmax = 0`: the row was inserted, not updated),
  // by primary key (`id = ANY(ARRAY(…))` keeps the planner on it): a scan of the collection's
  // entries cost a whole-table predicate lock when this store ran SERIALIZABLE, and is slow anyway.
  // Rows are written in the order given (the lock order); new rows take ranks in the order the
  // transaction wrote them ($4), which is the insertion order list and byIndex return.
  put: {
    name: "store_put",
    custom: true,
    text: `${INSERT_ROWS}
             ON CONFLICT (collection, id) DO UPDATE SET data = EXCLUDED.data
             RETURNING d.id, d.rank, d.xmax = 0 AS created
           ), keys AS (
             SELECT k.id, k.idx, k.value FROM unnest($5::text[], $6::text[], $7::text[]) AS k(id, idx, value)
           ), gone AS (
             DELETE FROM store_index x
             WHERE x.collection = $1 AND x.id = ANY(ARRAY(SELECT doc.id FROM doc WHERE NOT doc.created))
               AND NOT EXISTS (SELECT 1 FROM keys WHERE keys.id = x.id AND keys.idx = x.idx)
           ), keyed AS (
             INSERT INTO store_index AS x (collection, idx, id, value, rank)
             SELECT $1, keys.idx, keys.id, keys.value, doc.rank FROM keys JOIN doc ON doc.id = keys.id
             ON CONFLICT (collection, id, idx) DO UPDATE SET value = EXCLUDED.value, rank = EXCLUDED.rank
             WHERE x.value <> EXCLUDED.value OR x.rank <> EXCLUDED.rank
           ), job AS (
             INSERT INTO store_jobs (${JOB_COLUMNS}, rank)
             SELECT t.*, doc.rank
             FROM unnest($8::text[], $9::text[], $10::text[], $11::text[], $12::float8[], $13::float8[]) AS t(${JOB_COLUMNS})
             JOIN doc ON doc.id = t.id
             ${JOB_UPSERT}
           )
           SELECT count(*)::int AS n FROM doc`,
  },
  insertIfAbsent: {
    name: "store_insert_if_absent",
    text: `WITH doc AS (
             INSERT INTO store_docs (collection, id, data) VALUES ($1, $2, $3::json)
             ON CONFLICT (collection, id) DO NOTHING
             RETURNING rank
           ), keyed AS (
             INSERT INTO store_index (collection, idx, id, value, rank)
             SELECT $1, k.idx, $2, k.value, doc.rank FROM doc, unnest($4::text[], $5::text[]) AS k(idx, value)
           ), job AS (
             INSERT INTO store_jobs (${JOB_COLUMNS}, rank)
             SELECT $6::text, $7::text, $8::text, $9::text, $10::float8, $11::float8, doc.rank FROM doc WHERE $1 = 'jobs'
           )
           SELECT count(*)::int AS n FROM doc`,
  },
  // The documents are locked first, in the order given, as put locks them; then their index
  // entries and job rows go.
  deleteMany: {
    name: "store_delete_many",
    custom: true,
    text: `WITH locked AS MATERIALIZED (
             SELECT d.id FROM unnest($2::text[]) WITH ORDINALITY AS t(id, n)
             JOIN store_docs d ON d.collection = $1 AND d.id = t.id
             ORDER BY t.n
             FOR UPDATE OF d
           ), doc AS (
             DELETE FROM store_docs d USING locked WHERE d.collection = $1 AND d.id = locked.id
             RETURNING d.id
           ), job AS (
             DELETE FROM store_jobs j USING doc WHERE $1 = 'jobs' AND j.id = doc.id
           ), keyed AS (
             DELETE FROM store_index x USING doc WHERE x.collection = $1 AND x.id = doc.id
           )
           SELECT count(*)::int AS n FROM doc`,
  },
  // Tx.bump: adds to this transaction's own delta rows (its shard), so two transactions bumping
  // one counter never write the same row. The document itself is created by `ensure` at commit.
  bump: {
    name: "store_bump",
    text: `INSERT INTO store_counters AS c (collection, id, key, shard, value)
           SELECT $1, $2, k.key, $3, k.value FROM unnest($4::text[], $5::float8[]) AS k(key, value)
           ON CONFLICT (collection, id, key, shard) DO UPDATE SET value = c.value + EXCLUDED.value`,
  },
  // Rows created unless they exist (neither reading nor locking an existing one), with the index
  // entries of those created; parameters as `put` has them, without the job fields.
  ensure: {
    name: "store_ensure",
    text: `${INSERT_ROWS}
             ON CONFLICT (collection, id) DO NOTHING
             RETURNING d.id, d.rank
           ), keyed AS (
             INSERT INTO store_index (collection, idx, id, value, rank)
             SELECT $1, k.idx, k.id, k.value, doc.rank FROM unnest($5::text[], $6::text[], $7::text[]) AS k(id, idx, value) JOIN doc ON doc.id = k.id
           )
           SELECT count(*)::int AS n FROM doc`,
  },
  counterTotals: {
    name: "store_counter_totals",
    text: `SELECT id, key, sum(value) AS total FROM store_counters
           WHERE collection = $1 AND id = ANY($2::text[]) GROUP BY id, key`,
  },
  /** A put or delete of a counter row replaces its totals. */
  clearCounters: {
    name: "store_clear_counters",
    text: "DELETE FROM store_counters WHERE collection = $1 AND id = ANY($2::text[])",
  },
  enqueue: {
    name: "store_enqueue",
    custom: true,
    text: `WITH s AS (
             SELECT nextval('store_job_seq') AS seq
           ), doc AS (
             INSERT INTO store_docs AS d (collection, id, data)
             SELECT 'jobs', $1, ($2 || s.seq::text || '}')::json FROM s
             ON CONFLICT (collection, id) DO UPDATE SET data = EXCLUDED.data
             RETURNING d.rank, d.xmax = 0 AS created
           ), gone AS (
             DELETE FROM store_index x
             WHERE x.collection = 'jobs' AND x.id = ANY(ARRAY(SELECT $1::text FROM doc WHERE NOT doc.created)) AND NOT (x.idx = ANY($3::text[]))
           ), keyed AS (
             INSERT INTO store_index AS x (collection, idx, id, value, rank)
             SELECT 'jobs', k.idx, $1, k.value, doc.rank FROM doc, unnest($3::text[], $4::text[]) AS k(idx, value)
             ON CONFLICT (collection, id, idx) DO UPDATE SET value = EXCLUDED.value, rank = EXCLUDED.rank
             WHERE x.value <> EXCLUDED.value OR x.rank <> EXCLUDED.rank
           ), job AS (
             INSERT INTO store_jobs (${JOB_COLUMNS}, rank)
             SELECT $5::text, $6::text, $7::text, $8::text, $9::float8, $10::float8, doc.rank FROM doc
             ${JOB_UPSERT}
           )
           SELECT seq::text AS seq FROM s`,
  },
  // Due live jobs that are the oldest live job of their orderKey in their queue; rows another
  // instance is claiming right now are skipped, and their successors stay blocked behind them.
  claim: {
    name: "store_claim",
    text: `SELECT d.data FROM store_jobs j JOIN store_docs d ON d.collection = 'jobs' AND d.id = j.id
           WHERE j.state <> 'dead' AND j.queue = ANY($1::text[]) AND j.run_at <= $2
             AND NOT (j.state = 'running' AND coalesce(j.lease_until, 0) > $2)
             AND NOT EXISTS (
               SELECT 1 FROM store_jobs p
               WHERE p.state <> 'dead' AND p.order_key IS NOT NULL
                 AND p.queue = j.queue AND p.order_key = j.order_key AND p.rank < j.rank)
           ORDER BY array_position($1::text[], j.queue), j.rank
           LIMIT $3
           FOR UPDATE OF j, d SKIP LOCKED`,
  },
} as const;

/** SQLSTATE of a database error, or the errno code of a socket error. */
function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Serialization failure or deadlock: the attempt is void and may simply be run again. */
function isRetryable(err: unknown): boolean {
  const code = errorCode(err);
  return code === "40001" || code === "40P01";
}

/**
 * The database cannot be reached or cannot write: connection errors (class 08), the server
 * shutting down or terminating us (57P0x), out of disk or memory (53), I/O errors (58), a
 * read-only server (25006, e.g. a standby after failover), and socket errors without a SQLSTATE.
 */
function isConnectionFailure(err: unknown): boolean {
  const code = errorCode(err);
  if (code !== undefined) {
    if (/^(08|53|58|57P0)/.test(code) || code === "25006") return true;
    return !/^[0-9A-Z]{5}$/.test(code); // ECONNREFUSED, ECONNRESET, ETIMEDOUT…
  }
  return err instanceof Error && /connection|terminated|timeout|not queryable|closed/i.test(err.message);
}

function unavailable(message: string, cause?: unknown): AppError {
  return new AppError({ code: "store_unavailable", message, httpStatus: 503, retryable: true, cause });
}

function conflictError(attempts: number, cause: unknown): AppError {
  return new AppError({ code: "store_conflict", message: `transaction conflicted with concurrent ones (${attempts} attempts)`, httpStatus: 503, retryable: true, cause });
}

/** A database failure as the app's error; the message never holds the connection string. */
function storeError(err: unknown, context = "PostgreSQL store"): AppError {
  if (err instanceof AppError) return err;
  const code = errorCode(err);
  const detail = `${context}: ${errorText(err)}${code ? ` (${code})` : ""}`;
  if (isConnectionFailure(err)) return unavailable(detail, err);
  if (isRetryable(err)) return conflictError(1, err);
  return new AppError({ code: "store_error", message: detail, httpStatus: 500, cause: err });
}
