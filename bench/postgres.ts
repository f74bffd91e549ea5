import { execFile, execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFileSync, existsSync, readdirSync, rmSync } from "node:fs";
import { chown, mkdtemp, readFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";

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

const run = promisify(execFile);
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
  const bin = binDir();
  if (!bin) return { available: false, reason: "no BENCH_DATABASE_URL and no PostgreSQL binaries (/usr/lib/postgresql/*/bin, pg_ctl on PATH)" };
  try {
    return { available: true, server: await throwawayCluster(bin) };
  } catch (err) {
    return { available: false, reason: `could not start a cluster with ${bin}: ${(err as Error).message.split("\n")[0]}` };
  }
}

/** The `psql` client (the memory benchmark bulk-loads with COPY through it), if installed. */
export function psqlPath(): string | undefined {
  const bin = binDir();
  if (bin && existsSync(join(bin, "psql"))) return join(bin, "psql");
  for (const dir of (process.env.PATH ?? "").split(delimiter)) if (dir && existsSync(join(dir, "psql"))) return join(dir, "psql");
  return undefined;
}

function binDir(): string | undefined {
  const root = "/usr/lib/postgresql";
  if (existsSync(root)) {
    const versions = readdirSync(root)
      .filter((v) => existsSync(join(root, v, "bin", "pg_ctl")))
      .sort((a, b) => Number(b) - Number(a));
    if (versions[0]) return join(root, versions[0], "bin");
  }
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir && existsSync(join(dir, "pg_ctl")) && existsSync(join(dir, "initdb"))) return dir;
  }
  return undefined;
}

async function throwawayCluster(bin: string): Promise<BenchPostgres> {
  const asRoot = process.getuid?.() === 0;
  let owner: { uid: number; gid: number } | undefined;
  if (asRoot) {
    try {
      owner = { uid: Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" })), gid: Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" })) };
    } catch {
      throw new Error("running as root and there is no `postgres` user to run the server as");
    }
  }
  // PostgreSQL refuses to run as root.
  const tool = (name: string, args: string[]) => (asRoot ? run("runuser", ["-u", "postgres", "--", join(bin, name), ...args]) : run(join(bin, name), args));
  const dir = await mkdtemp(join(tmpdir(), "branchline-bench-pg-"));
  if (owner) await chown(dir, owner.uid, owner.gid);
  const data = join(dir, "data");
  const log = join(dir, "server.log");
  const remove = () => rmSync(dir, { recursive: true, force: true });
  const port = await freePort();
  try {
    await tool("initdb", ["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"]);
    // Durable defaults kept (fsync, synchronous_commit, full_page_writes). wal_level=minimal (no
    // replication on a one-node bench server) lets the memory benchmark's bulk COPY skip the WAL.
    const opts = `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${dir} -c max_connections=100 -c wal_level=minimal -c max_wal_senders=0 -c log_lock_waits=on`;
    try {
      await tool("pg_ctl", ["-D", data, "-l", log, "-w", "-t", "60", "-o", opts, "start"]);
    } catch (err) {
      const tail = await readFile(log, "utf8").catch(() => "");
      throw new Error(`${(err as Error).message}\n${tail.slice(-2000)}`);
    }
  } catch (err) {
    remove();
    throw err;
  }
  let stopped = false;
  const stopNow = () => {
    if (stopped) return;
    stopped = true;
    // The server log (lock waits, deadlocks) outlives the cluster, for a look after the run.
    try {
      copyFileSync(log, join(tmpdir(), "branchline-bench-pg-last.log"));
    } catch {
      // no log
    }
    try {
      const args = [join(bin, "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop"];
      if (asRoot) execFileSync("runuser", ["-u", "postgres", "--", ...args], { stdio: "ignore" });
      else execFileSync(args[0]!, args.slice(1), { stdio: "ignore" });
    } catch {
      // already gone
    }
    remove();
  };
  // A bench that dies without its finally blocks still stops its cluster.
  process.once("exit", stopNow);
  return serverAt(`postgres://postgres@127.0.0.1:${port}/postgres`, `throwaway cluster (${bin}, durable defaults)`, async () => stopNow());
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

export async function adminQuery<R extends pg.QueryResultRow>(url: string, sql: string, values?: unknown[]): Promise<R[]> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  client.on("error", () => undefined);
  await client.connect();
  try {
    return (await client.query<R>(sql, values)).rows;
  } finally {
    await client.end().catch(() => undefined);
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}
