import { execFile, execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, rmSync } from "node:fs";
import { chown, mkdtemp, readFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";

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
  const bin = binDir();
  if (!bin) return { available: false, reason: "TEST_DATABASE_URL is unset and no PostgreSQL binaries were found (/usr/lib/postgresql/*/bin, pg_ctl on PATH)" };
  try {
    return { available: true, server: await throwawayCluster(bin) };
  } catch (err) {
    return { available: false, reason: `could not start a throwaway cluster with ${bin}: ${(err as Error).message}` };
  }
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

async function throwawayCluster(bin: string): Promise<PostgresServer> {
  const asRoot = process.getuid?.() === 0;
  let owner: { uid: number; gid: number } | undefined;
  if (asRoot) {
    try {
      owner = { uid: Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" })), gid: Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" })) };
    } catch {
      throw new Error("running as root and there is no `postgres` user to run the server as");
    }
  }
  // PostgreSQL refuses to run as root: as root, run the server's tools as `postgres`.
  const tool = (name: string, args: string[]) => (asRoot ? run("runuser", ["-u", "postgres", "--", join(bin, name), ...args]) : run(join(bin, name), args));
  const dir = await mkdtemp(join(tmpdir(), "branchline-pg-"));
  if (owner) await chown(dir, owner.uid, owner.gid);
  const data = join(dir, "data");
  const log = join(dir, "server.log");
  const remove = () => rmSync(dir, { recursive: true, force: true });
  const port = await freePort();
  try {
    await tool("initdb", ["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"]);
    // Test-only settings: nothing here needs to survive a machine crash.
    const opts = `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${dir} -c max_connections=200 -c fsync=off -c synchronous_commit=off -c full_page_writes=off`;
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
    try {
      const args = [join(bin, "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop"];
      if (asRoot) execFileSync("runuser", ["-u", "postgres", "--", ...args], { stdio: "ignore" });
      else execFileSync(args[0]!, args.slice(1), { stdio: "ignore" });
    } catch {
      // already gone
    }
    remove();
  };
  // A test process that ends without afterAll (crash, interrupted run) still stops its cluster.
  process.once("exit", stopNow);
  return serverAt(`postgres://postgres@127.0.0.1:${port}/postgres`, `throwaway cluster (${bin})`, async () => stopNow());
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

async function adminQuery<R extends pg.QueryResultRow>(url: string, sql: string, values?: unknown[]): Promise<R[]> {
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
