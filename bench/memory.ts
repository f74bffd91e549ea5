/**
 * Memory benchmark: the app started on 100,000 customers and 1,000,000 stored messages.
 *
 * The data set (`bench/memory-dataset.ts`) is built from rows the real app stored, written in each
 * store's own format; the app then starts on it in a child process (`bench/memory-app.ts`) and
 * reports its start time, RSS and heap after start, after representative reads and after a small
 * workload, and the reads' times. The embedded store keeps messages in segment files (only a
 * locator and index entries per message in memory), so every size is measured, 1,000,000
 * messages included. PostgreSQL: the app's RSS (the rows live in the database) and the
 * database's size. Each run records the machine's load average (the box is shared).
 */
import { fork } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import os, { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import type { MemoryAppInit, MemoryAppResult } from "./memory-app.js";
import { branchOfCustomer, customerWaId, generateRows, harvestTemplates, loadPostgres, writeLowdbState, type DatasetShape, type Templates } from "./memory-dataset.js";
import { psqlPath, type BenchPostgres } from "./postgres.js";
import { BENCH_ENV } from "./server-harness.js";
import { round } from "./stats.js";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");
const log = (s: string) => console.error(`[bench:memory] ${s}`);

export function memoryConfig(quick: boolean) {
  return {
    quick,
    target: quick ? { customers: 10_000, messages: 100_000 } : { customers: 100_000, messages: 1_000_000 },
    /** Embedded store: the growth towards the target, then the target itself. */
    lowdbSizes: quick
      ? [{ customers: 10_000, messages: 100_000 }]
      : (process.env.BENCH_MEMORY_SIZES ?? "100000,300000,1000000").split(",").map((m) => ({ customers: 100_000, messages: Number(m) })),
    workloadMessages: 500,
    readRepeats: 3,
  };
}
export type MemoryConfig = ReturnType<typeof memoryConfig>;

export interface MemoryRun {
  store: "lowdb" | "postgres";
  customers: number;
  messages: number;
  ok: boolean;
  error?: string;
  /** Generating and writing (or loading) the data set; not the app's work. */
  datasetMs: number;
  /** state.json + segment files (embedded store) or pg_database_size (PostgreSQL), MB. */
  dataMB: number;
  /** Embedded store: state.json and the segment files apart, MB. */
  stateMB?: number;
  segmentMB?: number;
  /** 1-minute load average before the app started and after it reported (2 shared cores). */
  load?: { before: number; after: number };
  result?: MemoryAppResult;
}

/** No longer produced (every size is measured); kept for the report's type. */
export interface LowdbExtrapolation {
  /** Linear fit over the measured sizes (same customers, more messages). */
  basis: string;
  rssMBPerMessageKB: number;
  heapMBPerMessageKB: number;
  openMsPer100kMessages: number;
  at: { messages: number; rssMB: number; heapUsedMB: number; openMs: number; stateFileMB: number };
}

export interface MemoryReport {
  config: MemoryConfig;
  lowdb: { runs: MemoryRun[]; extrapolation?: LowdbExtrapolation };
  postgres: { runs: MemoryRun[] } | { skipped: string };
  totalMs: number;
}

function initFor(t: Templates, shape: DatasetShape, cfg: MemoryConfig, env: Record<string, string>): MemoryAppInit {
  const c = 1; // customer 1 → branch index 1
  const b = branchOfCustomer(t, c);
  const waIds: string[] = [];
  for (let x = c; x < shape.customers && waIds.length < 50; x += t.branchKeys.length) waIds.push(customerWaId(x));
  return {
    env: { ...BENCH_ENV, ...env },
    branchKey: b.apiKey,
    branchCode: b.code,
    dialogId: `${b.branchId}:wa:${customerWaId(c)}`,
    customerId: `wa:${customerWaId(c)}`,
    workloadWaIds: waIds,
    workloadMessages: cfg.workloadMessages,
    readRepeats: cfg.readRepeats,
  };
}

function runApp(init: MemoryAppInit, heapMB?: number): Promise<MemoryAppResult> {
  return new Promise((resolve, reject) => {
    const child = fork(join(here, "memory-app.ts"), [], {
      cwd: root,
      execArgv: ["--import", "tsx", ...(heapMB ? [`--max-old-space-size=${heapMB}`] : [])],
      env: { ...process.env, BENCH_MEMORY: JSON.stringify(init) },
      stdio: ["ignore", "inherit", "pipe", "ipc"],
    });
    let stderr = "";
    child.stderr!.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    let settled = false;
    child.on("message", (m: { type: string; result?: MemoryAppResult; error?: string }) => {
      settled = true;
      if (m.type === "result") resolve(m.result!);
      else reject(new Error(m.error));
    });
    child.on("exit", (code, signal) => {
      if (settled) return;
      const line = stderr.split("\n").find((l) => /Error|FATAL|heap/i.test(l)) ?? stderr.trim().split("\n").pop() ?? "";
      reject(new Error(`the app exited (${signal ?? code}) before reporting: ${line.trim().slice(0, 300)}`));
    });
  });
}

async function lowdbRun(t: Templates, shape: DatasetShape, cfg: MemoryConfig): Promise<MemoryRun> {
  const dir = await mkdtemp(join(tmpdir(), "branchline-bench-mem-"));
  const run: MemoryRun = { store: "lowdb", ...shape, ok: false, datasetMs: 0, dataMB: 0 };
  try {
    const t0 = performance.now();
    const { stateBytes, segmentBytes } = await writeLowdbState(dir, generateRows(t, shape));
    run.datasetMs = round(performance.now() - t0, 0);
    run.stateMB = round(stateBytes / 1024 / 1024, 0);
    run.segmentMB = round(segmentBytes / 1024 / 1024, 0);
    run.dataMB = run.stateMB + run.segmentMB;
    log(`lowdb ${shape.customers.toLocaleString("en-US")} customers / ${shape.messages.toLocaleString("en-US")} messages: state.json ${run.stateMB} MB + segments ${run.segmentMB} MB written in ${run.datasetMs} ms; starting the app`);
    const before = os.loadavg()[0]!;
    run.result = await runApp(initFor(t, shape, cfg, { DATA_DIR: dir }));
    run.load = { before: round(before, 2), after: round(os.loadavg()[0]!, 2) };
    run.ok = true;
  } catch (err) {
    run.error = (err as Error).message;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  report(run);
  return run;
}

async function postgresRun(t: Templates, shape: DatasetShape, cfg: MemoryConfig, server: BenchPostgres): Promise<MemoryRun> {
  const run: MemoryRun = { store: "postgres", ...shape, ok: false, datasetMs: 0, dataMB: 0 };
  const db = await server.createDatabase();
  try {
    const t0 = performance.now();
    const psql = psqlPath();
    if (!psql) throw new Error("psql not found (the data set is bulk-loaded with COPY through it)");
    const loaded = await loadPostgres(db.url, generateRows(t, shape), psql);
    run.datasetMs = round(performance.now() - t0, 0);
    run.dataMB = await db.sizeMB();
    log(`postgres ${shape.customers.toLocaleString("en-US")} customers / ${shape.messages.toLocaleString("en-US")} messages: ${loaded.rows} rows, ${loaded.indexEntries} index entries loaded in ${run.datasetMs} ms, database ${run.dataMB} MB; starting the app`);
    const dataDir = await mkdtemp(join(tmpdir(), "branchline-bench-mem-pg-"));
    try {
      run.result = await runApp(initFor(t, shape, cfg, { DATA_DIR: dataDir, DATABASE_URL: db.url }));
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
    run.dataMB = await db.sizeMB();
    run.ok = true;
  } catch (err) {
    run.error = (err as Error).message;
  } finally {
    await db.drop();
  }
  report(run);
  return run;
}

function report(run: MemoryRun): void {
  const r = run.result;
  if (!r) return log(`${run.store} ${run.messages.toLocaleString("en-US")} messages: FAILED — ${run.error}`);
  log(
    `${run.store} ${run.messages.toLocaleString("en-US")} messages${run.load ? ` (load ${run.load.before} → ${run.load.after})` : ""}: open ${r.openMs} ms; RSS/heap after start ${r.afterStart.rssMB}/${r.afterStart.heapUsedMB} MB, after reads ${r.afterReads.rssMB}/${r.afterReads.heapUsedMB}, after ${r.workload.messages} workload messages (${r.workload.routedMs} ms) ${r.afterWorkload.rssMB}/${r.afterWorkload.heapUsedMB} MB; ` +
      `dialog list (${r.reads.dialogList.items}) ${r.reads.dialogList.firstMs}/${r.reads.dialogList.medianMs} ms, history (${r.reads.history.items}) ${r.reads.history.firstMs}/${r.reads.history.medianMs} ms, customer ${r.reads.customer.firstMs}/${r.reads.customer.medianMs} ms (first/median)`,
  );
}

export async function runMemory(opts: { quick: boolean; lowdb?: boolean; postgres: { server: BenchPostgres } | { skipped: string } }): Promise<MemoryReport> {
  const cfg = memoryConfig(opts.quick);
  const t0 = performance.now();
  log("harvesting row templates from a short run of the app");
  const t = await harvestTemplates();

  const lowdbRuns: MemoryRun[] = [];
  for (const shape of opts.lowdb === false ? [] : cfg.lowdbSizes) lowdbRuns.push(await lowdbRun(t, shape, cfg));
  const extrapolation: LowdbExtrapolation | undefined = undefined;

  const postgres: MemoryReport["postgres"] = "server" in opts.postgres ? { runs: [await postgresRun(t, cfg.target, cfg, opts.postgres.server)] } : { skipped: opts.postgres.skipped };
  return { config: cfg, lowdb: { runs: lowdbRuns, extrapolation }, postgres, totalMs: round(performance.now() - t0, 0) };
}
