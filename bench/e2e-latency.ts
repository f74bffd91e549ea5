/**
 * End-to-end benchmark: from a Meta webhook to the branch's CRM call.
 *
 * The server runs in THIS process on the embedded store or on a fresh PostgreSQL database; 100
 * branches use the `webhook` connector, all pointing at `bench/crm-receiver.ts` (a child process
 * that records when each message event arrives); `bench/e2e-generator.ts` (another child) sends
 * signed Meta webhooks open-loop at 1,000 messages/s for a fixed period, every text naming its
 * customer's branch code. Latency per message = CRM arrival − the message's scheduled send time
 * (clocks of the two children corrected by their measured offsets). Reported: p50/p95/p99/max,
 * the rate the CRMs received while the load ran and overall, how long the backlog took to drain
 * after the load stopped, and whether every message reached its own branch exactly once.
 */
import { fork, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import os, { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { startServer, type RunningServer } from "../backend/src/server.js";
import type { E2eGeneratorInit, E2eGeneratorResult } from "./e2e-generator.js";
import type { BenchDatabase } from "./postgres.js";
import { BENCH_ENV, memorySample, type MemorySample } from "./server-harness.js";
import { round, summarize, type LatencySummary } from "./stats.js";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");
const clock = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));
const log = (s: string) => console.error(`[bench:e2e] ${s}`);

export function e2eConfig(quick: boolean) {
  return {
    quick,
    branches: 100,
    customersPerBranch: 100,
    rate: 1000,
    durationMs: quick ? 5000 : 20_000,
    batch: "mix" as const,
    warmup: { rate: 200, durationMs: quick ? 1000 : 3000 },
    /** After the load stops: wait at most this long for the CRMs to get everything. */
    drainTimeoutMs: quick ? 30_000 : 60_000,
    /** …and give up earlier when nothing arrives for this long. */
    stallMs: 15_000,
    targets: { achievedOverOffered: 0.95 },
  };
}
export type E2eConfig = ReturnType<typeof e2eConfig>;

export interface E2eResult {
  store: "lowdb" | "postgres";
  config: E2eConfig;
  sent: number;
  acked: number;
  requests: number;
  ackErrors: number;
  ackErrorsByKind: Record<string, number>;
  ackLatencyMs: LatencySummary;
  delivered: number;
  /** Events for a wamid already received (at-least-once repeats). */
  duplicates: number;
  /** Events that reached another branch's URL than the one the text named. */
  misrouted: number;
  /** Acked messages that never reached a CRM within the drain timeout. */
  missing: number;
  /** CRM arrival − scheduled send time, per message (first arrival). */
  latencyMs: LatencySummary;
  /** Messages delivered per second while the load ran. */
  deliveredDuringLoadPerSec: number;
  /** Delivered ÷ (last arrival − first scheduled send): the sustained end-to-end rate. */
  achievedPerSec: number;
  achievedOverOffered: number;
  /** From the end of the load to the last arrival (ms); undefined when not everything arrived. */
  backlogDrainedMs?: number;
  /** Deliveries still queued when the load stopped (messages). */
  backlogAtLoadEnd: number;
  deliveredPerSecond: number[];
  deadJobs: number;
  server: { cpuPct: number; hostBusyPct: number; eventLoopP99Ms: number; eventLoopMaxMs: number; memoryAfter: MemorySample; peakRssMB: number };
  clock: { receiverOffsetMs: number; generatorOffsetMs: number };
  generator: { sendLagP99Ms: number; cpuPct: number };
  wallMs: number;
}

class Child {
  private constructor(
    readonly proc: ChildProcess,
    readonly port?: number,
  ) {}

  static async fork(file: string, env: Record<string, string> = {}): Promise<Child> {
    const proc = fork(join(here, file), [], { cwd: root, execArgv: ["--import", "tsx"], env: { ...process.env, ...env }, stdio: ["ignore", "inherit", "inherit", "ipc"] });
    const ready = await new Promise<{ port?: number }>((resolve, reject) => {
      proc.once("message", (m: { type?: string; port?: number }) => (m?.type === "ready" ? resolve(m) : reject(new Error(`${file}: ${JSON.stringify(m)}`))));
      proc.once("exit", (code) => reject(new Error(`${file} exited (${code})`)));
    });
    return new Child(proc, ready.port);
  }

  request<T>(msg: object, type: string): Promise<T> {
    return new Promise((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`child exited (${code})`));
      const onMessage = (m: { type?: string }) => {
        if (m?.type !== type) return;
        this.proc.off("message", onMessage);
        this.proc.off("exit", onExit);
        resolve(m as T);
      };
      this.proc.on("message", onMessage);
      this.proc.once("exit", onExit);
      this.proc.send(msg);
    });
  }

  stop(): void {
    if (this.proc.connected) this.proc.send({ type: "exit" });
    setTimeout(() => this.proc.exitCode === null && this.proc.kill(), 2000).unref();
  }
}

/** Their clock minus ours, from the exchange with the smallest round trip. */
async function offset(ask: () => Promise<number>, samples = 15): Promise<number> {
  let best = { off: 0, rtt: Number.POSITIVE_INFINITY };
  for (let i = 0; i < samples; i++) {
    const t0 = clock();
    const now = await ask();
    const t1 = clock();
    if (t1 - t0 < best.rtt) best = { off: now - (t0 + t1) / 2, rtt: t1 - t0 };
  }
  return round(best.off, 3);
}

async function api(server: RunningServer, method: string, path: string, body: unknown): Promise<unknown> {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${server.adminToken}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${await res.text()}`);
  return res.json();
}

export async function runE2e(opts: { quick: boolean; db?: BenchDatabase }): Promise<E2eResult> {
  const cfg = e2eConfig(opts.quick);
  const t0 = performance.now();
  const storeKind = opts.db ? "postgres" : "lowdb";
  const receiver = await Child.fork("crm-receiver.ts");
  const recvBase = `http://127.0.0.1:${receiver.port}`;
  const recv = async <T>(path: string, method = "GET"): Promise<T> => (await (await fetch(`${recvBase}${path}`, { method })).json()) as T;
  const dataDir = await mkdtemp(join(tmpdir(), "branchline-bench-e2e-"));
  let server: RunningServer | undefined;
  let gen: Child | undefined;
  try {
    server = await startServer({ ...BENCH_ENV, DATA_DIR: dataDir, DATABASE_URL: opts.db?.url });
    const codes = Array.from({ length: cfg.branches }, (_, i) => `E${String(i + 1).padStart(3, "0")}`);
    for (const [i, code] of codes.entries()) {
      await api(server, "POST", "/admin/api/branches", { name: `Branch ${code}`, code, crm: "webhook", webhookUrl: `${recvBase}/hook/${code}`, isHq: i === 0 });
    }
    await api(server, "PATCH", "/admin/api/settings/routing", { menuEnabled: false });
    const init: E2eGeneratorInit = {
      url: server.url,
      appSecret: BENCH_ENV.WHATSAPP_APP_SECRET,
      phoneNumberId: BENCH_ENV.WHATSAPP_PHONE_NUMBER_ID,
      displayPhoneNumber: "15550783881",
      wabaId: "102290129340398",
      codes,
      customersPerBranch: cfg.customersPerBranch,
      batch: cfg.batch,
      runId: randomBytes(6).toString("hex"),
      seed: 20250607,
      maxSockets: 64,
      requestTimeoutMs: 10_000,
    };
    gen = await Child.fork("e2e-generator.ts", { BENCH_E2E: JSON.stringify(init) });
    const runLoad = (rate: number, durationMs: number) => gen!.request<{ result: E2eGeneratorResult }>({ type: "run", rate, durationMs }, "result").then((m) => m.result);

    // Warm-up (JIT, first customers and dialogs), not reported.
    log(`${storeKind}: ${cfg.branches} webhook branches → receiver ${recvBase}; warming up`);
    const warm = await runLoad(cfg.warmup.rate, cfg.warmup.durationMs);
    await waitFor(async () => (await recv<{ count: number }>("/__bench/count")).count >= warm.messagesAcked, 30_000);
    await recv("/__bench/reset", "POST");

    const receiverOffsetMs = await offset(async () => (await recv<{ now: number }>("/__bench/now")).now);
    const generatorOffsetMs = await offset(async () => (await gen!.request<{ now: number }>({ type: "now" }, "now")).now);

    const loop = monitorEventLoopDelay({ resolution: 10 });
    loop.enable();
    let peakRssMB = 0;
    const peak = setInterval(() => (peakRssMB = Math.max(peakRssMB, memorySample().rssMB)), 250);
    const cpu0 = process.cpuUsage();
    const host0 = hostBusyMs();
    const w0 = performance.now();
    const load = await runLoad(cfg.rate, cfg.durationMs);
    const loadEnd = clock();
    const atLoadEnd = (await recv<{ count: number }>("/__bench/count")).count;
    log(`${storeKind}: load done — ${load.messagesAcked}/${load.messagesSent} acked (${load.errors} errors), ${atLoadEnd} at the CRMs so far; draining`);

    // Drain: until every acked message arrived, nothing arrived for `stallMs`, or the timeout.
    let last = atLoadEnd;
    let lastChange = performance.now();
    const drainStart = performance.now();
    for (;;) {
      const { count } = await recv<{ count: number }>("/__bench/count");
      if (count !== last) {
        last = count;
        lastChange = performance.now();
      }
      if (count >= load.messagesAcked) break;
      if (performance.now() - drainStart > cfg.drainTimeoutMs || performance.now() - lastChange > cfg.stallMs) break;
      await sleep(200);
    }
    clearInterval(peak);
    loop.disable();
    const cpu = process.cpuUsage(cpu0);
    const wallMs = performance.now() - w0;
    const hostBusyPct = round(((hostBusyMs() - host0) / wallMs) * 100, 0);
    const rec = await recv<{ at: number[]; wamid: string[]; path: string[] }>("/__bench/records");
    const deadJobs = await server.store.read((tx) => tx.countByIndex("jobs", "state", "dead"));

    // Match arrivals to scheduled sends by wamid, on the generator's clock.
    const due = new Map<string, { at: number; code: string }>();
    for (let i = 0; i < load.wamid.length; i++) due.set(load.wamid[i]!, { at: load.dueAt[i]! - generatorOffsetMs, code: load.code[i]! });
    const seen = new Set<string>();
    const latencies: number[] = [];
    const arrivals: number[] = [];
    let duplicates = 0;
    let misrouted = 0;
    for (let i = 0; i < rec.at.length; i++) {
      const w = rec.wamid[i]!;
      const d = due.get(w);
      if (!d) continue;
      if (seen.has(w)) {
        duplicates++;
        continue;
      }
      seen.add(w);
      if (rec.path[i] !== d.code) misrouted++;
      const arrived = rec.at[i]! - receiverOffsetMs;
      arrivals.push(arrived);
      latencies.push(arrived - d.at);
    }
    arrivals.sort((a, b) => a - b);
    const firstDue = load.startedAt - generatorOffsetMs;
    const lastArrival = arrivals.length ? arrivals[arrivals.length - 1]! : Number.NaN;
    const loadEndOurs = loadEnd;
    const duringLoad = arrivals.filter((t) => t <= loadEndOurs).length;
    const achieved = (seen.size / (lastArrival - firstDue)) * 1000;
    const missing = load.messagesAcked - seen.size;
    const perSecond: number[] = [];
    for (const t of arrivals) {
      const s = Math.floor((t - firstDue) / 1000);
      perSecond[s] = (perSecond[s] ?? 0) + 1;
    }
    const result: E2eResult = {
      store: storeKind,
      config: cfg,
      sent: load.messagesSent,
      acked: load.messagesAcked,
      requests: load.requests,
      ackErrors: load.errors,
      ackErrorsByKind: load.errorsByKind,
      ackLatencyMs: load.ackLatencyMs,
      delivered: seen.size,
      duplicates,
      misrouted,
      missing,
      latencyMs: summarize(latencies),
      deliveredDuringLoadPerSec: round((duringLoad / (loadEndOurs - firstDue)) * 1000, 0),
      achievedPerSec: round(achieved, 0),
      achievedOverOffered: round(achieved / cfg.rate, 3),
      backlogDrainedMs: missing <= 0 ? round(Math.max(0, lastArrival - loadEndOurs), 0) : undefined,
      backlogAtLoadEnd: load.messagesAcked - atLoadEnd,
      deliveredPerSecond: Array.from(perSecond, (v) => v ?? 0),
      deadJobs,
      server: {
        cpuPct: round(((cpu.user + cpu.system) / 1000 / wallMs) * 100, 0),
        hostBusyPct,
        eventLoopP99Ms: round(loop.percentile(99) / 1e6),
        eventLoopMaxMs: round(loop.max / 1e6),
        memoryAfter: memorySample(),
        peakRssMB,
      },
      clock: { receiverOffsetMs, generatorOffsetMs },
      generator: { sendLagP99Ms: load.sendLagP99Ms, cpuPct: load.generatorCpuPct },
      wallMs: round(performance.now() - t0, 0),
    };
    const l = result.latencyMs;
    log(
      `${storeKind}: ${result.delivered}/${result.acked} delivered (${missing} missing, ${duplicates} repeats, ${misrouted} misrouted, ${deadJobs} dead), ` +
        `latency p50 ${l.p50} p95 ${l.p95} p99 ${l.p99} max ${l.max} ms; ${result.deliveredDuringLoadPerSec} msg/s during load, ${result.achievedPerSec} msg/s overall; ` +
        `backlog ${result.backlogAtLoadEnd} at load end, drained in ${result.backlogDrainedMs ?? "—"} ms; server CPU ${result.server.cpuPct}% (host ${hostBusyPct}%), event loop p99 ${result.server.eventLoopP99Ms} ms`,
    );
    return result;
  } finally {
    gen?.stop();
    receiver.stop();
    await server?.close().catch((err: unknown) => log(`close: ${(err as Error).message}`));
    await rm(dataDir, { recursive: true, force: true });
    await opts.db?.drop();
  }
}

async function waitFor(cond: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const end = performance.now() + timeoutMs;
  while (performance.now() < end) {
    if (await cond()) return true;
    await sleep(100);
  }
  return false;
}

function hostBusyMs(): number {
  return os.cpus().reduce((sum, c) => sum + c.times.user + c.times.nice + c.times.sys + c.times.irq, 0);
}
