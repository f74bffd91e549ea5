/**
 * Memory benchmark: the app started on 100,000 customers and 1,000,000 stored messages.
 *
 * The data set (`bench/memory-dataset.ts`) is built from rows the real app stored, written in each
 * store's own format; the app then starts on it in a child process (`bench/memory-app.ts`) and
 * reports its start time, RSS and heap after start, after representative reads and after a small
 * workload, and the reads' times. The embedded store keeps every row in memory and reads its
 * snapshot as one string, so where 1,000,000 messages cannot be opened the failure is reported
 * as it happened and the figures are measured at smaller sizes and extrapolated, labelled so.
 * PostgreSQL: the app's RSS (the rows live in the database) and the database's size.
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
/** V8's longest string (Node 20, 64-bit): the embedded store reads `state.json` as one string. */
const V8_MAX_STRING = 0x1fffffe8;

export function memoryConfig(quick: boolean) {
  return {
    quick,
    target: quick ? { customers: 10_000, messages: 100_000 } : { customers: 100_000, messages: 1_000_000 },
    /**
     * Embedded store: sizes measured first; the target is extrapolated from them when it cannot be
     * opened. 300,000 messages with 100,000 customers is a state.json of ≈ 480 MB, just under V8's
     * longest string (the snapshot is read as one string).
     */
    lowdbSizes: quick ? [{ customers: 10_000, messages: 100_000 }] : [{ customers: 100_000, messages: 100_000 }, { customers: 100_000, messages: 300_000 }],
    workloadMessages: 500,
    readRepeats: 3,
    /** Heap limit given to the embedded-store app (MB): the default (~4 GB here) is too small for large states. */
    lowdbHeapMB: Math.min(16_384, Math.floor((os.totalmem() / 1024 / 1024) * 0.6)),
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
  /** state.json (embedded store) or pg_database_size (PostgreSQL), MB. */
  dataMB: number;
  result?: MemoryAppResult;
}

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
    const bytes = await writeLowdbState(dir, generateRows(t, shape));
    run.datasetMs = round(performance.now() - t0, 0);
    run.dataMB = round(bytes / 1024 / 1024, 0);
    log(`lowdb ${shape.customers.toLocaleString("en-US")} customers / ${shape.messages.toLocaleString("en-US")} messages: state.json ${run.dataMB} MB written in ${run.datasetMs} ms${bytes > V8_MAX_STRING ? " (longer than V8's longest string)" : ""}; starting the app`);
    run.result = await runApp(initFor(t, shape, cfg, { DATA_DIR: dir }), cfg.lowdbHeapMB);
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
    `${run.store} ${run.messages.toLocaleString("en-US")} messages: open ${r.openMs} ms; RSS/heap after start ${r.afterStart.rssMB}/${r.afterStart.heapUsedMB} MB, after reads ${r.afterReads.rssMB}/${r.afterReads.heapUsedMB}, after ${r.workload.messages} workload messages (${r.workload.routedMs} ms) ${r.afterWorkload.rssMB}/${r.afterWorkload.heapUsedMB} MB; ` +
      `dialog list (${r.reads.dialogList.items}) ${r.reads.dialogList.firstMs}/${r.reads.dialogList.medianMs} ms, history (${r.reads.history.items}) ${r.reads.history.firstMs}/${r.reads.history.medianMs} ms, customer ${r.reads.customer.firstMs}/${r.reads.customer.medianMs} ms (first/median)`,
  );
}

const fmtShape = (runs: MemoryRun[]) => `${runs.map((r) => r.messages.toLocaleString("en-US")).join(" and ")} messages with ${runs[0]?.customers.toLocaleString("en-US")} customers`;

/** Least-squares line through (messages, value). */
function fit(points: Array<[number, number]>): { slope: number; at: (x: number) => number } {
  const n = points.length;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  const sxx = points.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  const slope = sxx ? points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0) / sxx : 0;
  return { slope, at: (x) => my + slope * (x - mx) };
}

export async function runMemory(opts: { quick: boolean; lowdb?: boolean; postgres: { server: BenchPostgres } | { skipped: string } }): Promise<MemoryReport> {
  const cfg = memoryConfig(opts.quick);
  const t0 = performance.now();
  log("harvesting row templates from a short run of the app");
  const t = await harvestTemplates();

  // Embedded store: smaller sizes first; the target only if its state.json can be read at all
  // (one string, at most V8's longest) and its memory fits (≈ 7 KB RSS per message was measured).
  const lowdbRuns: MemoryRun[] = [];
  for (const shape of opts.lowdb === false ? [] : cfg.lowdbSizes) lowdbRuns.push(await lowdbRun(t, shape, cfg));
  const ok = lowdbRuns.filter((r) => r.ok && r.result);
  const x = cfg.target.messages;
  const file = ok.length >= 2 ? fit(ok.map((r) => [r.messages, r.dataMB])) : undefined;
  const predictedMB = file ? file.at(x) : undefined;
  const needMB = (x * 7) / 1024 + 1024;
  const freeMB = os.freemem() / 1024 / 1024;
  let extrapolation: LowdbExtrapolation | undefined;
  if (opts.lowdb === false || cfg.lowdbSizes.some((s) => s.messages === x && s.customers === cfg.target.customers)) {
    // not wanted, or measured above (quick run)
  } else if (predictedMB !== undefined && predictedMB * 1024 * 1024 > V8_MAX_STRING) {
    lowdbRuns.push({
      store: "lowdb",
      ...cfg.target,
      ok: false,
      error: `cannot open: its state.json would be ≈ ${Math.round(predictedMB)} MB (fitted over the ${fmtShape(ok)}), and the embedded store reads state.json with readFile("utf8") into one string — V8's longest is ${V8_MAX_STRING.toLocaleString("en-US")} characters (512 MiB), so start-up fails with "RangeError: Invalid string length"`,
      datasetMs: 0,
      dataMB: Math.round(predictedMB),
    });
  } else if (needMB > freeMB * 0.8) {
    lowdbRuns.push({ store: "lowdb", ...cfg.target, ok: false, error: `not attempted: needs ≈ ${Math.round(needMB)} MB of memory, ${Math.round(freeMB)} MB free`, datasetMs: 0, dataMB: 0 });
  } else {
    lowdbRuns.push(await lowdbRun(t, cfg.target, cfg));
  }
  const measuredTarget = lowdbRuns.find((r) => r.messages === x && r.customers === cfg.target.customers && r.ok);
  if (!measuredTarget && ok.length >= 2) {
    const rss = fit(ok.map((r) => [r.messages, r.result!.afterWorkload.rssMB]));
    const heap = fit(ok.map((r) => [r.messages, r.result!.afterWorkload.heapUsedMB]));
    const open = fit(ok.map((r) => [r.messages, r.result!.openMs]));
    extrapolation = {
      basis: `linear fit over ${fmtShape(ok)}`,
      rssMBPerMessageKB: round(rss.slope * 1024, 2),
      heapMBPerMessageKB: round(heap.slope * 1024, 2),
      openMsPer100kMessages: round(open.slope * 100_000, 0),
      at: { messages: x, rssMB: round(rss.at(x), 0), heapUsedMB: round(heap.at(x), 0), openMs: round(open.at(x), 0), stateFileMB: round(predictedMB ?? Number.NaN, 0) },
    };
    log(`lowdb extrapolated to ${x.toLocaleString("en-US")} messages: RSS ≈ ${extrapolation.at.rssMB} MB, heap ≈ ${extrapolation.at.heapUsedMB} MB, open ≈ ${extrapolation.at.openMs} ms (${extrapolation.basis})`);
  }

  const postgres: MemoryReport["postgres"] = "server" in opts.postgres ? { runs: [await postgresRun(t, cfg.target, cfg, opts.postgres.server)] } : { skipped: opts.postgres.skipped };
  return { config: cfg, lowdb: { runs: lowdbRuns, extrapolation }, postgres, totalMs: round(performance.now() - t0, 0) };
}
