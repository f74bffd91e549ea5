import { createHash } from "node:crypto";
import type pg from "pg";
import type { Logger } from "../../ops/logger.js";

/** Declared secondary indexes, as `INDEXES` in store.port.ts has them. */
export type IndexSpec = Record<string, Record<string, (row: never) => string | undefined>>;

/**
 * Schema versions, applied in order, each once (recorded in `store_migrations`). Never edit a
 * released step: add a new one.
 *
 * Rows are `json`, not `jsonb`: it keeps the text exactly as JSON.stringify wrote it, so strings
 * holding U+0000 or a lone surrogate (which jsonb rejects) store like any other text.
 */
export const MIGRATIONS: ReadonlyArray<{ version: number; name: string; sql: string }> = [
  {
    version: 1,
    name: "documents, index entries, job sequence",
    sql: `
      CREATE SEQUENCE store_rank_seq;
      CREATE SEQUENCE store_job_seq;
      CREATE TABLE store_docs (
        collection text NOT NULL,
        id text NOT NULL,
        rank bigint NOT NULL DEFAULT nextval('store_rank_seq'),
        data json NOT NULL,
        PRIMARY KEY (collection, id)
      );
      CREATE INDEX store_docs_by_rank ON store_docs (collection, rank);
      CREATE TABLE store_index (
        collection text NOT NULL,
        idx text NOT NULL,
        id text NOT NULL,
        value text NOT NULL,
        rank bigint NOT NULL,
        PRIMARY KEY (collection, id, idx)
      );
      CREATE INDEX store_index_lookup ON store_index (collection, idx, value, rank);
      CREATE TABLE store_index_defs (
        collection text NOT NULL,
        idx text NOT NULL,
        fingerprint text NOT NULL,
        PRIMARY KEY (collection, idx)
      );
      -- claimJobs reads typed copies of the jobs' scheduling fields, never the JSON: a row
      -- (its payload) may hold text that PostgreSQL's JSON operators refuse (U+0000).
      CREATE TABLE store_jobs (
        id text PRIMARY KEY,
        queue text,
        state text,
        order_key text,
        run_at double precision,
        lease_until double precision,
        rank bigint NOT NULL
      );
      CREATE INDEX store_jobs_live ON store_jobs (queue, rank) WHERE state <> 'dead';
      CREATE INDEX store_jobs_order ON store_jobs (queue, order_key, rank) WHERE state <> 'dead' AND order_key IS NOT NULL;
    `,
  },
  {
    version: 2,
    name: "counter deltas",
    // Tx.bump adds to a row of its own per transaction slot (`shard`) instead of rewriting the
    // counter row, so concurrent bumps of one counter never touch the same row; reads add the
    // shards' values to the document's counts.
    sql: `
      CREATE TABLE store_counters (
        collection text NOT NULL,
        id text NOT NULL,
        key text NOT NULL,
        shard text NOT NULL,
        value double precision NOT NULL,
        PRIMARY KEY (collection, id, key, shard)
      );
    `,
  },
];

/** Advisory lock key held while migrating: instances starting together migrate one at a time. */
const MIGRATION_LOCK = 0x6272_616e_6368; // "branch"

/**
 * Brings the schema up to date and the index entries in line with `indexes`, in one transaction
 * under an advisory lock. An index that is new (or whose key function changed) is rebuilt from
 * the stored rows; one no longer declared is dropped. Safe to run on every start.
 */
export async function migrate(client: pg.PoolClient, indexes: IndexSpec, logger?: Logger): Promise<void> {
  await client.query("BEGIN");
  try {
    await client.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK]);
    await client.query(`CREATE TABLE IF NOT EXISTS store_migrations (
      version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const { rows } = await client.query<{ version: number }>("SELECT version FROM store_migrations");
    const applied = new Set(rows.map((r) => r.version));
    for (const step of MIGRATIONS) {
      if (applied.has(step.version)) continue;
      await client.query(step.sql);
      await client.query("INSERT INTO store_migrations (version, name) VALUES ($1, $2)", [step.version, step.name]);
      logger?.info({ version: step.version, migration: step.name }, "store migration applied");
    }
    await syncIndexes(client, indexes, logger);
    await client.query("COMMIT");
  } catch (err) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw err;
  }
}

/** A key function's identity: its source text. A changed function rebuilds its index once. */
export function fingerprint(fn: (row: never) => string | undefined): string {
  return createHash("sha256").update(fn.toString()).digest("hex").slice(0, 16);
}

async function syncIndexes(client: pg.PoolClient, indexes: IndexSpec, logger?: Logger): Promise<void> {
  const { rows } = await client.query<{ collection: string; idx: string; fingerprint: string }>("SELECT collection, idx, fingerprint FROM store_index_defs");
  const stored = new Map(rows.map((r) => [`${r.collection}.${r.idx}`, r]));
  for (const [collection, defs] of Object.entries(indexes)) {
    for (const [idx, fn] of Object.entries(defs)) {
      const print = fingerprint(fn);
      const key = `${collection}.${idx}`;
      const known = stored.get(key);
      stored.delete(key);
      if (known?.fingerprint === print) continue;
      const count = await rebuildIndex(client, collection, idx, fn as (row: unknown) => string | undefined);
      await client.query(
        `INSERT INTO store_index_defs (collection, idx, fingerprint) VALUES ($1, $2, $3)
         ON CONFLICT (collection, idx) DO UPDATE SET fingerprint = EXCLUDED.fingerprint`,
        [collection, idx, print],
      );
      if (count > 0) logger?.info({ collection, index: idx, rows: count }, "store index rebuilt");
    }
  }
  for (const gone of stored.values()) {
    await client.query("DELETE FROM store_index WHERE collection = $1 AND idx = $2", [gone.collection, gone.idx]);
    await client.query("DELETE FROM store_index_defs WHERE collection = $1 AND idx = $2", [gone.collection, gone.idx]);
  }
}

/** Recomputes one index over every stored row of its collection, in pages by rank. */
async function rebuildIndex(client: pg.PoolClient, collection: string, idx: string, fn: (row: unknown) => string | undefined): Promise<number> {
  await client.query("DELETE FROM store_index WHERE collection = $1 AND idx = $2", [collection, idx]);
  let after = "-1";
  let total = 0;
  for (;;) {
    const page = await client.query<{ id: string; rank: string; data: unknown }>(
      "SELECT id, rank, data FROM store_docs WHERE collection = $1 AND rank > $2 ORDER BY rank LIMIT 1000",
      [collection, after],
    );
    if (page.rows.length === 0) return total;
    const ids: string[] = [];
    const values: string[] = [];
    const ranks: string[] = [];
    for (const row of page.rows) {
      const value = fn(row.data);
      if (value === undefined) continue;
      ids.push(row.id);
      values.push(value);
      ranks.push(row.rank);
    }
    if (ids.length > 0) {
      await client.query(
        `INSERT INTO store_index (collection, idx, id, value, rank)
         SELECT $1, $2, k.id, k.value, k.rank FROM unnest($3::text[], $4::text[], $5::bigint[]) AS k(id, value, rank)`,
        [collection, idx, ids, values, ranks],
      );
    }
    total += ids.length;
    after = page.rows[page.rows.length - 1]!.rank;
  }
}
