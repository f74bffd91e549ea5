/**
 * Inbound ingestion benchmark (`npm run bench`).
 *
 * The server runs in THIS process (so its memory, CPU and event-loop delay are measured directly);
 * the load comes from `bench/load-generator.ts` in a child process over loopback keep-alive HTTP.
 * Phases: warm-up, open-loop rate steps (latency counted from the scheduled send time), then a
 * closed loop for the maximum sustained rate. After each phase the bench waits for the worker to
 * route everything (inbound queue, then deliver queue) and reports how long that took. A last,
 * diagnostic closed loop runs with the job workers stopped (acknowledgement path alone).
 *
 * Results: one markdown table on stdout and `bench/results/latest.json`.
 *
 * Then the outbound benchmark (`bench/outbound.ts`: the sender's rate accuracy and reply wait
 * under a campaign, against a fake Graph API in a child process) runs in this same process once
 * the inbound server is closed; its table follows the inbound one and its results go under the
 * `outbound` key of `latest.json`. Inbound ≈ 2.5–3 minutes, outbound ≈ 1 minute.
 * Profile the server: node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx bench/run.ts, then
 * npx tsx bench/profile-summary.ts /tmp/prof/<largest>.cpuprofile (hot spots with file:line).
 * BENCH_QUICK=1 shortens every phase (smoke test of the bench itself).
 */
import { fork } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import os from "node:os";
import { dirname, join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import type { FromGenerator, GeneratorInit, PhaseResult, PhaseSpec } from "./protocol.js";
import { printOutbound, runOutbound, saveOutbound } from "./outbound.js";
import { markdownTable, type BenchReport, type PhaseReport, type WorkerFigures } from "./report.js";
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

async function main(): Promise<void> {
  await inbound();
  // Outbound after inbound: the inbound server and its load generator are gone by now.
  const outbound = await runOutbound({ quick });
  printOutbound(outbound);
  await saveOutbound(outbound, join(here, "results", "latest.json"));
}

async function inbound(): Promise<void> {
  const benchStart = performance.now();
  const deadline = benchStart + CONFIG.budgetMs;
  const loadAvgAtStart = os.loadavg().map((v) => Number(v.toFixed(2)));
  const sut = await ServerUnderTest.start();
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
    log(`server ${sut.url}, data ${sut.dataDir}; load average ${loadAvgAtStart.join(" ")}; warming up`);
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
      machine: {
        cpus: os.cpus().length,
        cpuModel: os.cpus()[0]?.model ?? "unknown",
        totalMemMB: Math.round(os.totalmem() / 1024 / 1024),
        node: process.version,
        platform: `${os.platform()} ${os.release()}`,
        date: new Date().toISOString(),
        loadAvgAtStart,
        loadAvgAtEnd: os.loadavg().map((v) => Number(v.toFixed(2))),
      },
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
    const m = report.machine;
    console.log(`\nBranchline inbound benchmark — ${m.date}, ${m.cpus}× ${m.cpuModel}, Node ${m.node}, ${m.platform}, load avg ${m.loadAvgAtStart.join("/")}${quick ? " (QUICK)" : ""}\n`);
    console.log(markdownTable(report));
    const t = report.targets;
    console.log(
      `\nHeadline @ ${CONFIG.headlineRate} msg/s: p50 ${report.headline.p50Ms} ms, p99 ${report.headline.p99Ms} ms — target p99 < ${t.p99At1000.targetMs} ms: ${t.p99At1000.pass ? "PASS" : "FAIL"}. ` +
        `Max sustained: ${t.sustained.actual} msg/s — target ≥ ${t.sustained.target}: ${t.sustained.pass ? "PASS" : "FAIL"}. Total ${(report.totalMs / 1000).toFixed(0)} s.`,
    );
    await mkdir(join(here, "results"), { recursive: true });
    await writeFile(join(here, "results", "latest.json"), JSON.stringify(report, null, 2) + "\n");
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
      `${server.store.groupCommits} group commits (p50 ${server.store.appendMs.p50}, p99 ${server.store.appendMs.p99} ms, ${server.store.opsPerCommitMean} rows each), ` +
      `${server.store.compactions} compactions (max ${server.store.compactionMsMax} ms), data ${server.dataDirMB} MB`,
  );
  return report;
}

const log = (s: string) => console.error(`[bench] ${s}`);

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
