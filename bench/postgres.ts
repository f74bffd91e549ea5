import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { adminQuery, postgresBinDir, startCluster } from "../test/builders/postgres.js";

export { adminQuery };

/**
 * The PostgreSQL server the benchmarks run on, found once per bench process:
 * `BENCH_DATABASE_URL` (or `TEST_DATABASE_URL`), a server where the bench may create and drop
 * databases; else a throwaway cluster made with the local binaries (initdb + pg_ctl, as the
 * `postgres` user when running as root). Unlike the test cluster, this one keeps PostgreSQL's
 * durable defaults (fsync, synchronous_commit on), so its commits wait for the disk as the
 * embedded store's group commits do; lock waits are logged, and the server log is kept as
 * `$TMPDIR/branchline-bench-pg-last.log` when the cluster stops. `BENCH_PG=off` skips every
 * PostgreSQL row.
 */

export interface BenchDatabase {
  url: string;
  name: string;
  /** pg_database_size, in MB. */
  sizeMB(): Promise<number>;
  /** pg_stat_database counters: rollbacks are mostly serialization conflicts the store ran again. */
  stats(): Promise<{ commits: number; rollbacks: number }>;
  drop(): Promise<void>;
}

export interface BenchPostgres {
  origin: string;
  version: string;
  /** The server's fsync and synchronous_commit settings: figures from a server without them are not comparable. */
  durability: string;
  createDatabase(): Promise<BenchDatabase>;
  stop(): Promise<void>;
}

export type BenchPostgresAvailability = { available: true; server: BenchPostgres } | { available: false; reason: string };

let found: Promise<BenchPostgresAvailability> | undefined;

export function benchPostgres(): Promise<BenchPostgresAvailability> {
  found ??= locate();
  return found;
}

async function locate(): Promise<BenchPostgresAvailability> {
  if (process.env.BENCH_PG === "off") return { available: false, reason: "BENCH_PG=off" };
  const url = process.env.BENCH_DATABASE_URL || process.env.TEST_DATABASE_URL;
  if (url) {
    try {
      return { available: true, server: await serverAt(url, process.env.BENCH_DATABASE_URL ? "BENCH_DATABASE_URL" : "TEST_DATABASE_URL", async () => undefined) };
    } catch (err) {
      return { available: false, reason: `the server at ${process.env.BENCH_DATABASE_URL ? "BENCH_DATABASE_URL" : "TEST_DATABASE_URL"} cannot be used: ${(err as Error).message}` };
    }
  }
  const bin = postgresBinDir();
  if (!bin) return { available: false, reason: "no BENCH_DATABASE_URL and no PostgreSQL binaries (/usr/lib/postgresql/*/bin, pg_ctl on PATH)" };
  try {
    return { available: true, server: await throwawayCluster(bin) };
  } catch (err) {
    return { available: false, reason: `could not start a cluster with ${bin}: ${(err as Error).message.split("\n")[0]}` };
  }
}

/** The `psql` client (the memory benchmark bulk-loads with COPY through it), if installed. */
export function psqlPath(): string | undefined {
  const bin = postgresBinDir();
  if (bin && existsSync(join(bin, "psql"))) return join(bin, "psql");
  for (const dir of (process.env.PATH ?? "").split(delimiter)) if (dir && existsSync(join(dir, "psql"))) return join(dir, "psql");
  return undefined;
}

async function throwawayCluster(bin: string): Promise<BenchPostgres> {
  // Durable defaults kept (fsync, synchronous_commit, full_page_writes). wal_level=minimal (no
  // replication on a one-node bench server) lets the memory benchmark's bulk COPY skip the WAL.
  const cluster = await startCluster(bin, {
    prefix: "branchline-bench-pg-",
    settings: { max_connections: 100, wal_level: "minimal", max_wal_senders: 0, log_lock_waits: "on" },
    // The server log (lock waits, deadlocks) outlives the cluster, for a look after the run.
    keepLogAs: join(tmpdir(), "branchline-bench-pg-last.log"),
  });
  return serverAt(cluster.adminUrl, `throwaway cluster (${bin}, durable defaults)`, async () => cluster.stop());
}

async function serverAt(adminUrl: string, origin: string, stop: () => Promise<void>): Promise<BenchPostgres> {
  const [info] = await adminQuery<{ v: number; version: string; fsync: string; sc: string }>(
    adminUrl,
    "SELECT current_setting('server_version_num')::int AS v, current_setting('server_version') AS version, current_setting('fsync') AS fsync, current_setting('synchronous_commit') AS sc",
  );
  const strategy = info!.v >= 150000 ? " STRATEGY FILE_COPY" : "";
  return {
    origin,
    version: `PostgreSQL ${info!.version}`,
    durability: `fsync=${info!.fsync}, synchronous_commit=${info!.sc}`,
    async createDatabase() {
      const name = `branchline_bench_${Date.now().toString(36)}_${randomBytes(3).toString("hex")}`;
      await adminQuery(adminUrl, `CREATE DATABASE ${name}${strategy}`);
      const url = new URL(adminUrl);
      url.pathname = `/${name}`;
      return {
        url: url.toString(),
        name,
        sizeMB: async () => {
          const [row] = await adminQuery<{ bytes: string }>(adminUrl, "SELECT pg_database_size($1)::text AS bytes", [name]);
          return Math.round((Number(row!.bytes) / 1024 / 1024) * 10) / 10;
        },
        stats: async () => {
          const [row] = await adminQuery<{ c: string; r: string }>(adminUrl, "SELECT xact_commit::text AS c, xact_rollback::text AS r FROM pg_stat_database WHERE datname = $1", [name]);
          return { commits: Number(row?.c ?? 0), rollbacks: Number(row?.r ?? 0) };
        },
        drop: async () => {
          await adminQuery(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        },
      };
    },
    stop,
  };
}
