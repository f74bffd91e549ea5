import { execFile, execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFileSync, existsSync, readdirSync, rmSync } from "node:fs";
import { chown, mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { afterEach } from "vitest";
import { PgStore, type PgStoreOptions } from "../../backend/src/store/pg/pg.store.js";
import { freePort } from "./http.js";

const run = promisify(execFile);

/** A database of its own for one test. */
export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

/** A PostgreSQL server tests may create databases on. */
export interface PostgresServer {
  /** Where it came from: `TEST_DATABASE_URL` or a throwaway cluster. */
  origin: string;
  createDatabase(): Promise<TestDatabase>;
  /** Runs one statement as the server's superuser (e.g. pg_terminate_backend). */
  admin<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, values?: unknown[]): Promise<R[]>;
  /** Stops a throwaway cluster and deletes it; a no-op for `TEST_DATABASE_URL`. */
  stop(): Promise<void>;
}

export type PostgresAvailability = { available: true; server: PostgresServer } | { available: false; reason: string };

let found: Promise<PostgresAvailability> | undefined;

/**
 * A PostgreSQL server for this test process, started once: the server at `TEST_DATABASE_URL`
 * (which must then work: a set but broken URL fails the tests), else a throwaway cluster made with
 * the local binaries (initdb + pg_ctl in a temp dir on a free port; as root the server runs as
 * `postgres`). Without either the caller skips its tests, saying why.
 */
export function findPostgres(): Promise<PostgresAvailability> {
  found ??= locate();
  return found;
}

async function locate(): Promise<PostgresAvailability> {
  const url = process.env.TEST_DATABASE_URL;
  if (url) {
    try {
      await adminQuery(url, "SELECT 1");
    } catch (err) {
      throw new Error(`TEST_DATABASE_URL is set but the server cannot be used: ${(err as Error).message}`);
    }
    return { available: true, server: serverAt(url, "TEST_DATABASE_URL", async () => undefined) };
  }
  const bin = postgresBinDir();
  if (!bin) return { available: false, reason: "TEST_DATABASE_URL is unset and no PostgreSQL binaries were found (/usr/lib/postgresql/*/bin, pg_ctl on PATH)" };
  try {
    return { available: true, server: await throwawayCluster(bin) };
  } catch (err) {
    return { available: false, reason: `could not start a throwaway cluster with ${bin}: ${(err as Error).message}` };
  }
}

/** The newest local PostgreSQL's binaries: /usr/lib/postgresql/<version>/bin, else pg_ctl and initdb on PATH. */
export function postgresBinDir(): string | undefined {
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

/** A throwaway cluster: superuser `postgres`, trust auth, on 127.0.0.1 only. */
export interface Cluster {
  adminUrl: string;
  /** Stops the server (immediate mode) and deletes its files; once, also run on process exit. */
  stop(): void;
}

export interface ClusterOptions {
  /** The temp dir's name prefix. */
  prefix: string;
  /** Server settings (`-c name=value`) on top of the port, address and socket dir. */
  settings: Record<string, string | number>;
  /** Where the server log is copied when the cluster stops (it is deleted with the cluster). */
  keepLogAs?: string;
}

/**
 * initdb + pg_ctl start in a temp dir on a free port. PostgreSQL refuses to run as root: as root,
 * the server's tools run as the `postgres` user.
 */
export async function startCluster(bin: string, opts: ClusterOptions): Promise<Cluster> {
  const asRoot = process.getuid?.() === 0;
  let owner: { uid: number; gid: number } | undefined;
  if (asRoot) {
    try {
      owner = { uid: Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" })), gid: Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" })) };
    } catch {
      throw new Error("running as root and there is no `postgres` user to run the server as");
    }
  }
  const tool = (name: string, args: string[]) => (asRoot ? run("runuser", ["-u", "postgres", "--", join(bin, name), ...args]) : run(join(bin, name), args));
  const dir = await mkdtemp(join(tmpdir(), opts.prefix));
  if (owner) await chown(dir, owner.uid, owner.gid);
  const data = join(dir, "data");
  const log = join(dir, "server.log");
  const remove = () => rmSync(dir, { recursive: true, force: true });
  const port = await freePort();
  try {
    await tool("initdb", ["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"]);
    const settings = { listen_addresses: "127.0.0.1", unix_socket_directories: dir, ...opts.settings };
    const serverOpts = [`-p ${port}`, ...Object.entries(settings).map(([k, v]) => `-c ${k}=${v}`)].join(" ");
    try {
      await tool("pg_ctl", ["-D", data, "-l", log, "-w", "-t", "60", "-o", serverOpts, "start"]);
    } catch (err) {
      const tail = await readFile(log, "utf8").catch(() => "");
      throw new Error(`${(err as Error).message}\n${tail.slice(-2000)}`);
    }
  } catch (err) {
    remove();
    throw err;
  }
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    if (opts.keepLogAs) {
      try {
        copyFileSync(log, opts.keepLogAs);
      } catch {
        // no log
      }
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
  // A process that ends without its cleanup (crash, interrupted run) still stops its cluster.
  process.once("exit", stop);
  return { adminUrl: `postgres://postgres@127.0.0.1:${port}/postgres`, stop };
}

async function throwawayCluster(bin: string): Promise<PostgresServer> {
  // Test-only settings: nothing here needs to survive a machine crash.
  const cluster = await startCluster(bin, { prefix: "branchline-pg-", settings: { max_connections: 200, fsync: "off", synchronous_commit: "off", full_page_writes: "off" } });
  return serverAt(cluster.adminUrl, `throwaway cluster (${bin})`, async () => cluster.stop());
}

function serverAt(adminUrl: string, origin: string, stop: () => Promise<void>): PostgresServer {
  // PostgreSQL 15+ can copy the template's files instead of WAL-logging every block: faster here.
  let strategy: Promise<string> | undefined;
  const createOptions = () =>
    (strategy ??= adminQuery<{ v: number }>(adminUrl, "SELECT current_setting('server_version_num')::int AS v").then((r) => (r[0]!.v >= 150000 ? " STRATEGY FILE_COPY" : "")));
  return {
    origin,
    admin: (sql, values) => adminQuery(adminUrl, sql, values),
    async createDatabase() {
      const name = `branchline_test_${Date.now().toString(36)}_${randomBytes(4).toString("hex")}`;
      await adminQuery(adminUrl, `CREATE DATABASE ${name}${await createOptions()}`);
      const url = new URL(adminUrl);
      url.pathname = `/${name}`;
      return {
        url: url.toString(),
        name,
        drop: async () => {
          await adminQuery(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        },
      };
    },
    stop,
  };
}

/** Runs one statement on its own connection. */
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


/**
 * For one describe block: fresh databases and stores on `server`, all closed and dropped after
 * each test.
 */
export function pgStoresPerTest(server: PostgresServer, poolSize: number) {
  const dbs: TestDatabase[] = [];
  const stores: PgStore[] = [];
  const closeStores = async () => {
    for (const s of stores.splice(0)) await s.close().catch(() => undefined);
  };
  afterEach(async () => {
    await closeStores();
    for (const db of dbs.splice(0)) await db.drop();
  });
  return {
    /** Closes the stores opened so far (their connections end). */
    closeStores,
    freshDb: async (): Promise<TestDatabase> => {
      const db = await server.createDatabase();
      dbs.push(db);
      return db;
    },
    open: async (url: string, over: Partial<PgStoreOptions> = {}): Promise<PgStore> => {
      const store = await PgStore.open({ url, poolSize, ...over });
      stores.push(store);
      return store;
    },
  };
}
