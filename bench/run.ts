/**
 * `npm run bench`: every benchmark, on the embedded store and on PostgreSQL, in one table.
 *
 * Sections, each on the embedded store and then on a fresh PostgreSQL database per scenario
 * (`bench/postgres.ts`: BENCH_DATABASE_URL or a throwaway durable cluster; rows say "skipped:
 * <reason>" without one):
 * 1. inbound ingestion (this file): the server runs in THIS process (its memory, CPU and
 *    event-loop delay measured directly); load from `bench/load-generator.ts` in a child process.
 *    Warm-up, open-loop rate steps (latency from the scheduled send time), a closed loop for the
 *    maximum sustained rate, then a diagnostic closed loop with the job workers stopped; after
 *    each phase the bench waits (bounded) for the worker to route the backlog;
 * 2. outbound rate accuracy (`bench/outbound.ts`, fake Graph API in a child process);
 * 3. webhook → CRM latency at 1,000 msg/s over 100 branches (`bench/e2e-latency.ts`);
 * 4. memory with 100,000 customers and 1,000,000 messages (`bench/memory.ts`).
 * Results: one markdown table on stdout, every figure in `bench/results/latest.json`; progress on
 * stderr. BENCH_QUICK=1 shortens everything (smoke test of the bench itself);
 * BENCH_ONLY=inbound,outbound,e2e,memory and BENCH_STORES=lowdb,postgres pick parts.
 * Profile the server: node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx bench/run.ts, then
 * npx tsx bench/profile-summary.ts /tmp/prof/<largest>.cpuprofile (hot spots with file:line).
 */
import { fork } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import os from "node:os";
import { dirname, join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import type { FromGenerator, GeneratorInit, PhaseResult, PhaseSpec } from "./protocol.js";
import { runE2e } from "./e2e-latency.js";
import { runMemory } from "./memory.js";
import { runOutbound } from "./outbound.js";
import { benchPostgres, type BenchDatabase, type BenchPostgresAvailability } from "./postgres.js";
import { unifiedTable, type AllResults, type BenchReport, type PerStore, type PhaseReport, type WorkerFigures } from "./report.js";
import { BENCH_BRANCHES, BENCH_ENV, ServerUnderTest, memorySample } from "./server-harness.js";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");
const quick = process.env.BENCH_QUICK === "1";
const scale = quick ? 0.25 : 1;

const CONFIG = {
  rates: [250, 500, 1000, 2000, 4000],
  stepMs: 8000 * scale,
  warmup: { rate: 500, ms: 3000 * scale },
  closed: { concurrency: 64, ms: 15_000 * scale },
  /** Diagnostic closed loop with the job workers stopped. */
  ackOnlyMs: 6000 * scale,
  headlineRate: 1000,
  targets: { sustainedMsgsPerSec: 2000, p99At1000Ms: 50 },
  maxSockets: 64,
  customers: 5000,
  requestTimeoutMs: 10_000,
  /** Each phase's backlog gets at most this long to drain; the whole bench stays near 3 minutes. */
  drainTimeoutMs: 25_000,
  budgetMs: 175_000,
  /** PostgreSQL routes far slower (see its README): its backlogs would not drain in any budget. */
  budgetMsPostgres: 120_000,
};

class Generator {
  private readonly child;
  private waiting?: (msg: FromGenerator) => void;

  constructor(init: GeneratorInit) {
    this.child = fork(join(here, "load-generator.ts"), [], {
      cwd: root,
      execArgv: ["--import", "tsx"],
      env: { ...process.env, BENCH_GENERATOR: JSON.stringify(init) },
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    this.child.on("message", (msg: FromGenerator) => this.waiting?.(msg));
    this.child.on("exit", (code) => {
      if (code) console.error(`load generator exited with code ${code}`);
    });
  }

  private next(): Promise<FromGenerator> {
    return new Promise((resolve, reject) => {
      this.child.once("exit", (code) => reject(new Error(`load generator exited (${code})`)));
      this.waiting = resolve;
    });
  }

  async ready(): Promise<void> {
    await this.next();
  }

  async run(phase: PhaseSpec): Promise<PhaseResult> {
    const reply = this.next();
    this.child.send({ type: "run", phase });
    const msg = await reply;
    if (msg.type !== "result") throw new Error(`unexpected message from the load generator: ${msg.type}`);
    return msg.result;
  }

  stop(): void {
    if (this.child.connected) this.child.send({ type: "exit" });
  }
}

const SECTIONS = ["inbound", "outbound", "e2e", "memory"] as const;
type Section = (typeof SECTIONS)[number];
const STORES = ["lowdb", "postgres"] as const;

/** `BENCH_ONLY=inbound,e2e` runs some sections; `BENCH_STORES=lowdb` one store. */
function selection<T extends string>(value: string | undefined, all: readonly T[], name: string): T[] {
  if (!value) return [...all];
  const picked = value.split(",").map((v) => v.trim()).filter(Boolean);
  const bad = picked.filter((v) => !all.includes(v as T));
  if (bad.length) throw new Error(`${name}: unknown ${bad.join(", ")} (choose from ${all.join(", ")})`);
  return picked as T[];
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const only = selection<Section>(process.env.BENCH_ONLY, SECTIONS, "BENCH_ONLY");
  const stores = selection(process.env.BENCH_STORES, STORES, "BENCH_STORES");
  const loadAvgAtStart = os.loadavg().map((v) => Number(v.toFixed(2)));
  const pgFound: BenchPostgresAvailability = stores.includes("postgres") ? await benchPostgres() : { available: false, reason: "BENCH_STORES excludes postgres" };
  const pgSkip = pgFound.available ? undefined : { skipped: pgFound.reason };
  const pg = pgFound.available ? pgFound.server : undefined;
  if (pg) log(`PostgreSQL: ${pg.version}, ${pg.origin}, ${pg.durability}`);
  else log(`PostgreSQL rows skipped: ${pgFound.available ? "" : pgFound.reason}`);
  const all: AllResults = {
    machine: machine(loadAvgAtStart),
    only,
    quick,
    postgres: pg ? { origin: pg.origin, version: pg.version, durability: pg.durability } : pgSkip!,
    inbound: {},
    outbound: {},
    e2e: {},
    totalMs: 0,
  };
  try {
    // Each section on the embedded store, then on a fresh PostgreSQL database (one per scenario).
    const both = async <T>(run: (db?: BenchDatabase) => Promise<T>): Promise<PerStore<T>> => {
      const out: PerStore<T> = {};
      if (stores.includes("lowdb")) out.lowdb = await run();
      if (stores.includes("postgres")) out.postgres = pg ? await run(await pg.createDatabase()) : pgSkip;
      return out;
    };
    if (only.includes("inbound")) all.inbound = await both((db) => inbound(db));
    if (only.includes("outbound")) {
      if (stores.includes("lowdb")) all.outbound.lowdb = await runOutbound({ quick });
      if (stores.includes("postgres")) all.outbound.postgres = pg ? await runOutbound({ quick, target: { kind: "postgres", createDatabase: () => pg.createDatabase() } }) : pgSkip;
    }
    if (only.includes("e2e")) all.e2e = await both((db) => runE2e({ quick, db }));
    if (only.includes("memory")) all.memory = await runMemory({ quick, lowdb: stores.includes("lowdb"), postgres: pg ? { server: pg } : pgSkip! });
  } finally {
    await pg?.stop();
  }
  all.machine.loadAvgAtEnd = os.loadavg().map((v) => Number(v.toFixed(2)));
  all.totalMs = Math.round(performance.now() - t0);
  all.table = unifiedTable(all);
  const m = all.machine;
  console.log(
    `\nBranchline benchmarks — ${m.date}, ${m.cpus}× ${m.cpuModel}, ${Math.round(m.totalMemMB / 1024)} GB, Node ${m.node}, ${m.platform}; ` +
      `load average ${m.loadAvgAtStart.join("/")} at start, ${m.loadAvgAtEnd.join("/")} at end; ${pg ? `${pg.version} (${pg.durability})` : `PostgreSQL skipped`}${quick ? "; QUICK (smoke run)" : ""}\n`,
  );
  console.log(all.table);
  console.log(`\nTotal ${(all.totalMs / 1000).toFixed(0)} s. Every figure: bench/results/latest.json.`);
  await mkdir(join(here, "results"), { recursive: true });
  await writeFile(join(here, "results", "latest.json"), JSON.stringify(all, null, 2) + "\n");
}

function machine(loadAvgAtStart: number[]): BenchReport["machine"] {
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? "unknown",
    totalMemMB: Math.round(os.totalmem() / 1024 / 1024),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    date: new Date().toISOString(),
    loadAvgAtStart,
    loadAvgAtEnd: loadAvgAtStart,
  };
}

/** The inbound benchmark on the embedded store, or on PostgreSQL when `db` is given (dropped at the end). */
async function inbound(db?: BenchDatabase): Promise<BenchReport> {
  const benchStart = performance.now();
  const deadline = benchStart + (db ? CONFIG.budgetMsPostgres : CONFIG.budgetMs);
  const loadAvgAtStart = os.loadavg().map((v) => Number(v.toFixed(2)));
  const sut = await ServerUnderTest.start(db);
  await new Promise((r) => setTimeout(r, 200));
  const before = memorySample();
  const gen = new Generator({
    url: sut.url,
    maxSockets: CONFIG.maxSockets,
    requestTimeoutMs: CONFIG.requestTimeoutMs,
    appSecret: BENCH_ENV.WHATSAPP_APP_SECRET,
    phoneNumberId: BENCH_ENV.WHATSAPP_PHONE_NUMBER_ID,
    displayPhoneNumber: "15550783881",
    wabaId: "102290129340398",
    codes: BENCH_BRANCHES.map((b) => b.code),
    keywords: BENCH_BRANCHES.flatMap((b) => b.keywords),
    customers: CONFIG.customers,
    runId: randomBytes(6).toString("hex"),
    seed: 20250601,
  });
  const phases: PhaseReport[] = [];
  try {
    await gen.ready();
    log(`inbound on ${sut.storeKind}: server ${sut.url}${db ? `, database ${db.name}` : `, data ${sut.dataDir}`}; load average ${loadAvgAtStart.join(" ")}; warming up`);
    await runPhase(sut, gen, { kind: "open", label: "warmup", rate: CONFIG.warmup.rate, durationMs: CONFIG.warmup.ms }, deadline);

    for (const rate of CONFIG.rates) {
      phases.push(await runPhase(sut, gen, { kind: "open", label: `open-${rate}`, rate, durationMs: CONFIG.stepMs }, deadline));
    }
    const { concurrency, ms } = CONFIG.closed;
    phases.push(await runPhase(sut, gen, { kind: "closed", label: `closed-${concurrency}`, concurrency, durationMs: ms }, deadline));
    // Diagnostic: the same closed loop with the job workers stopped, i.e. what the acknowledgement
    // path alone can take when routing does not share the event loop. Last, as workers stay off.
    await sut.pauseWorkers();
    phases.push(await runPhase(sut, gen, { kind: "closed", label: `closed-${concurrency}-workers-paused`, concurrency, durationMs: CONFIG.ackOnlyMs }, deadline, true));

    const after = memorySample();
    const headline = phases.find((p) => p.load.kind === "open" && p.load.offered === CONFIG.headlineRate)!.load;
    const closed = phases.find((p) => p.load.kind === "closed" && !p.workersPaused)!.load;
    const report: BenchReport = {
      machine: { ...machine(loadAvgAtStart), loadAvgAtEnd: os.loadavg().map((v) => Number(v.toFixed(2))) },
      config: { ...CONFIG, quick, branches: BENCH_BRANCHES.length, batchMix: "40% 1, 30% 2-10, 20% 11-30, 10% 31-50 messages" },
      memory: { before, after, peak: sut.peak },
      phases,
      headline: { rate: CONFIG.headlineRate, p50Ms: headline.latencyMs.p50, p95Ms: headline.latencyMs.p95, p99Ms: headline.latencyMs.p99, maxMs: headline.latencyMs.max },
      targets: {
        sustained: { target: CONFIG.targets.sustainedMsgsPerSec, actual: closed.ackedMsgsPerSec, pass: closed.ackedMsgsPerSec >= CONFIG.targets.sustainedMsgsPerSec && closed.errors === 0 },
        p99At1000: { targetMs: CONFIG.targets.p99At1000Ms, actualMs: headline.latencyMs.p99, pass: headline.latencyMs.p99 < CONFIG.targets.p99At1000Ms && headline.errors === 0 },
      },
      routedByRule: await sut.routedByRule(),
      messagesInStoreAtEnd: await sut.messagesRouted(),
      finalQueues: await sut.queues(),
      totalMs: Math.round(performance.now() - benchStart),
    };
    const t = report.targets;
    log(
      `inbound on ${sut.storeKind}: headline @ ${CONFIG.headlineRate} msg/s p50 ${report.headline.p50Ms} ms, p99 ${report.headline.p99Ms} ms (target < ${t.p99At1000.targetMs}: ${t.p99At1000.pass ? "PASS" : "FAIL"}); ` +
        `max sustained ${t.sustained.actual} msg/s (target ≥ ${t.sustained.target}: ${t.sustained.pass ? "PASS" : "FAIL"}); ${(report.totalMs / 1000).toFixed(0)} s`,
    );
    return report;
  } finally {
    gen.stop();
    await sut.close();
  }
}

/**
 * Runs one load phase, then (workers running) waits, bounded, for the worker to route everything
 * that was acknowledged.
 */
async function runPhase(sut: ServerUnderTest, gen: Generator, phase: PhaseSpec, deadline: number, workersPaused = false): Promise<PhaseReport> {
  const endWindow = sut.window();
  const routedStart = await sut.messagesRouted();
  const t0 = performance.now();
  const load = await gen.run(phase);
  const loadEnd = performance.now();
  let worker: WorkerFigures | undefined;
  if (!workersPaused) {
    const routedAtStop = await sut.messagesRouted();
    const backlogAtStop = await sut.queues();
    const drainBudget = Math.max(2000, Math.min(CONFIG.drainTimeoutMs, deadline - performance.now()));
    const drained = await sut.drain(drainBudget);
    const routedEnd = await sut.messagesRouted();
    const e2eMs = (drained.inboundMs ?? drainBudget) + (loadEnd - t0);
    worker = {
      messagesInStoreAtStart: routedStart,
      routedDuringLoadPerSec: Math.round(((routedAtStop - routedStart) / (loadEnd - t0)) * 1000),
      backlogAtStop,
      inboundDrainMs: drained.inboundMs,
      deliverDrainMs: drained.deliverMs,
      endToEndMsgsPerSec: Math.round(((routedEnd - routedStart) / e2eMs) * 1000),
      left: drained.left,
    };
  }
  const server = await endWindow();
  const generatorMs = (load.generatorCpuPct / 100) * load.elapsedMs;
  const otherCpuPct = Math.max(0, Math.round(server.hostBusyPct - server.cpuPct - (generatorMs / server.wallMs) * 100));
  const report: PhaseReport = { load, workersPaused, worker, server, otherCpuPct };
  const l = load.latencyMs;
  log(
    `${phase.label}: ${load.ackedMsgsPerSec} msg/s acked, p50 ${l.p50} p99 ${l.p99} max ${l.max} ms, errors ${load.errors} ${JSON.stringify(load.errorsByKind)}; ` +
      (worker ? `worker ${worker.routedDuringLoadPerSec} msg/s during load, backlog ${worker.backlogAtStop.inbound} jobs, drained in ${worker.inboundDrainMs ?? "—"} ms; ` : "workers paused; ") +
      `server CPU ${server.cpuPct}%, other CPU ${otherCpuPct}%, event loop p99 ${server.eventLoopP99Ms} max ${server.eventLoopMaxMs} ms, ` +
      (server.pg
        ? `PostgreSQL ${server.pg.commits} commits, ${server.pg.rollbacks} rollbacks, `
        : `${server.store.groupCommits} group commits (p50 ${server.store.appendMs.p50}, p99 ${server.store.appendMs.p99} ms, ${server.store.opsPerCommitMean} rows each), ` +
          `${server.store.compactions} compactions (max ${server.store.compactionMsMax} ms), `) +
      `data ${server.dataDirMB} MB`,
  );
  return report;
}

const log = (s: string) => console.error(`[bench] ${s}`);

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
