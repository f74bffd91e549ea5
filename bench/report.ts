import type { E2eResult } from "./e2e-latency.js";
import type { MemoryReport, MemoryRun } from "./memory.js";
import type { OutboundReport } from "./outbound.js";
import type { PhaseResult } from "./protocol.js";
import type { MemorySample, QueueDepths, ServerWindow } from "./server-harness.js";

/** The bench's results: one markdown table for the terminal, everything in `latest.json`. */

export interface WorkerFigures {
  /** Messages already routed (so stored) when the phase began: the store only grows during the bench. */
  messagesInStoreAtStart: number;
  /** Messages routed while the load ran, per second of load. */
  routedDuringLoadPerSec: number;
  /** Inbound jobs (webhook bodies) still queued when the load stopped. */
  backlogAtStop: QueueDepths;
  /** After the load stopped: time until the inbound queue was empty, then the deliver queue (ms). */
  inboundDrainMs?: number;
  deliverDrainMs?: number;
  /** Messages of this phase routed, from the first send until the inbound queue was empty, per second. */
  endToEndMsgsPerSec: number;
  left: QueueDepths;
}

export interface PhaseReport {
  load: PhaseResult;
  /** Diagnostic phase: job workers stopped, so only the acknowledgement path runs. */
  workersPaused: boolean;
  worker?: WorkerFigures;
  server: ServerWindow;
  /** Host CPU not used by the server or the load generator (other work on the machine), % of one core. */
  otherCpuPct: number;
}

export interface Targets {
  sustained: { target: number; actual: number; pass: boolean };
  p99At1000: { targetMs: number; actualMs: number; pass: boolean };
}

export interface BenchReport {
  machine: { cpus: number; cpuModel: string; totalMemMB: number; node: string; platform: string; date: string; loadAvgAtStart: number[]; loadAvgAtEnd: number[] };
  config: Record<string, unknown>;
  memory: { before: MemorySample; after: MemorySample; peak: MemorySample };
  phases: PhaseReport[];
  headline: { rate: number; p50Ms: number; p95Ms: number; p99Ms: number; maxMs: number };
  targets: Targets;
  routedByRule: Record<string, number>;
  messagesInStoreAtEnd: number;
  finalQueues: QueueDepths;
  totalMs: number;
}

const fmt = (v: number | undefined, digits = 1): string => (v === undefined || !Number.isFinite(v) ? "–" : v.toFixed(digits));
const int = (v: number | undefined): string => (v === undefined || !Number.isFinite(v) ? "–" : Math.round(v).toLocaleString("en-US"));
const passFail = (ok: boolean) => (ok ? "PASS" : "FAIL");

export function markdownTable(r: BenchReport): string {
  const head = [
    "Scenario", "Acked msg/s", "Req", "p50 ms", "p95 ms", "p99 ms", "max ms", "Err",
    "Worker msg/s (load)", "Drain in/deliver s", "E2E msg/s", "Srv CPU %", "Other CPU %", "EL p99/max ms",
    "Commit p50/p99 ms", "Compactions (max ms)", "Msgs in store", "RSS / heap MB", "Target",
  ];
  const blank = (n: number) => Array.from({ length: n }, () => "–");
  const rows: string[][] = [];
  rows.push(["Server idle, before load", ...blank(16), mem(r.memory.before), ""]);
  for (const p of r.phases) {
    const l = p.load;
    const w = p.worker;
    const drain = !w
      ? "–"
      : w.inboundDrainMs === undefined
        ? `not drained (${w.left.inbound} jobs left)`
        : `${fmt(w.inboundDrainMs / 1000, 1)} / ${w.deliverDrainMs === undefined ? `> (${w.left.deliver} left)` : fmt(w.deliverDrainMs / 1000, 1)}`;
    let target = "";
    if (l.kind === "open" && l.offered === r.headline.rate) target = `p99 < ${r.targets.p99At1000.targetMs} ms: ${passFail(r.targets.p99At1000.pass)}`;
    if (l.kind === "closed" && !p.workersPaused) target = `≥ ${int(r.targets.sustained.target)} msg/s: ${passFail(r.targets.sustained.pass)}`;
    if (p.workersPaused) target = "diagnostic, not a target";
    const name = l.kind === "open" ? `Open loop ${int(l.offered)} msg/s` : `Closed loop, ${l.offered} senders${p.workersPaused ? ", workers paused (ack path only)" : ""}`;
    rows.push([
      name,
      int(l.ackedMsgsPerSec),
      int(l.requests),
      fmt(l.latencyMs.p50),
      fmt(l.latencyMs.p95),
      fmt(l.latencyMs.p99),
      fmt(l.latencyMs.max),
      int(l.errors),
      w ? int(w.routedDuringLoadPerSec) : "paused",
      drain,
      w ? int(w.endToEndMsgsPerSec) : "–",
      int(p.server.cpuPct),
      int(p.otherCpuPct),
      `${fmt(p.server.eventLoopP99Ms, 0)} / ${fmt(p.server.eventLoopMaxMs, 0)}`,
      `${fmt(p.server.store.appendMs.p50)} / ${fmt(p.server.store.appendMs.p99)}`,
      p.server.store.compactions ? `${p.server.store.compactions} (${int(p.server.store.compactionMsMax)})` : "0",
      w ? int(w.messagesInStoreAtStart) : "–",
      mem(p.server.memory),
      target,
    ]);
  }
  rows.push(["Server after load", ...blank(15), int(r.messagesInStoreAtEnd), `${mem(r.memory.after)} (peak ${mem(r.memory.peak)})`, ""]);
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [line(head), line(head.map(() => "---")), ...rows.map(line)].join("\n");
}

const mem = (m: MemorySample) => `${fmt(m.rssMB, 0)} / ${fmt(m.heapUsedMB, 0)}`;

// ───────────────────────────── the one table of `npm run bench` ─────────────────────────────

export type Skipped = { skipped: string };
export type PerStore<T> = { lowdb?: T | Skipped; postgres?: T | Skipped };

/** Everything one `npm run bench` measured (written to `bench/results/latest.json`). */
export interface AllResults {
  machine: BenchReport["machine"];
  only: string[];
  quick: boolean;
  postgres: { origin: string; version: string; durability: string } | Skipped;
  inbound: PerStore<BenchReport>;
  outbound: PerStore<OutboundReport>;
  e2e: PerStore<E2eResult>;
  memory?: MemoryReport;
  totalMs: number;
  table?: string;
}

const isSkipped = (v: unknown): v is Skipped => typeof v === "object" && v !== null && "skipped" in v;
const STORE_NAME = { lowdb: "embedded", postgres: "PostgreSQL" } as const;
const lat = (l: { p50: number; p95: number; p99: number; max: number }) => `${fmt(l.p50, 0)} / ${fmt(l.p95, 0)} / ${fmt(l.p99, 0)} / ${fmt(l.max, 0)}`;
const sec = (ms: number | undefined) => (ms === undefined || !Number.isFinite(ms) ? "–" : `${fmt(ms / 1000, 1)} s`);

export function unifiedTable(r: AllResults): string {
  const head = ["Benchmark", "Scenario", "Store", "Throughput", "Latency p50 / p95 / p99 / max ms", "Accuracy / delivery", "Backlog", "RSS / heap MB", "Target / note"];
  const rows: string[][] = [];
  const skippedRow = (bench: string, store: keyof typeof STORE_NAME, why: string) => rows.push([bench, "all scenarios", STORE_NAME[store], "–", "–", "–", "–", "–", `skipped: ${why}`]);
  /** The stores that ran `bench`, in order; a store that skipped it gets its "skipped" row. */
  const ran = <T>(bench: string, results: PerStore<T>): Array<[keyof typeof STORE_NAME, T]> => {
    const out: Array<[keyof typeof STORE_NAME, T]> = [];
    for (const store of ["lowdb", "postgres"] as const) {
      const x = results[store];
      if (isSkipped(x)) skippedRow(bench, store, x.skipped);
      else if (x) out.push([store, x]);
    }
    return out;
  };

  for (const [store, x] of ran("Inbound ingestion", r.inbound)) {
    for (const p of x.phases) {
      const l = p.load;
      const w = p.worker;
      const name = l.kind === "open" ? `open loop ${int(l.offered)} msg/s` : p.workersPaused ? `closed loop ${l.offered} senders, workers paused` : `closed loop ${l.offered} senders`;
      let target = "";
      if (l.kind === "open" && l.offered === x.headline.rate) target = `ack p99 < ${x.targets.p99At1000.targetMs} ms: ${passFail(x.targets.p99At1000.pass)}`;
      if (l.kind === "closed" && !p.workersPaused) target = `≥ ${int(x.targets.sustained.target)} msg/s acked: ${passFail(x.targets.sustained.pass)}`;
      if (p.workersPaused) target = "diagnostic (ack path alone)";
      const backlog = !w ? "–" : w.inboundDrainMs === undefined ? `${int(w.backlogAtStop.inbound)} jobs; not drained (${int(w.left.inbound)} left)` : `${int(w.backlogAtStop.inbound)} jobs; drained in ${sec(w.inboundDrainMs)}`;
      rows.push([
        "Inbound ingestion",
        name,
        STORE_NAME[store],
        `${int(l.ackedMsgsPerSec)} acked/s; routed ${w ? `${int(w.routedDuringLoadPerSec)}/s` : "paused"}`,
        `ack ${lat(l.latencyMs)}`,
        `${int(l.errors)} errors${p.server.pg ? `; ${int(p.server.pg.commits)} commits, ${int(p.server.pg.rollbacks)} rollbacks` : ""}`,
        backlog,
        mem(p.server.memory),
        target,
      ]);
    }
  }

  for (const [store, x] of ran("Outbound rate", r.outbound)) {
    const t = x.config.targets;
    for (const s of x.rate) {
      rows.push([
        "Outbound rate",
        `${int(s.queued)} sends at limit ${int(s.mps)}/s${s.complete ? "" : " (INCOMPLETE)"}`,
        STORE_NAME[store],
        `${fmt(s.achievedPerSec, 1)} msg/s`,
        "–",
        `${fmt(s.achievedOverLimit, 3)} of limit; max ${int(s.maxInAnySecond)} in any 1 s; ${int(s.errors)} errors`,
        "–",
        "–",
        `≥ ${t.achievedOverLimit}: ${passFail(s.pass.achieved)}; ≤ limit: ${passFail(s.pass.window)}`,
      ]);
    }
    for (const s of x.replies) {
      rows.push([
        "Outbound rate",
        `${int(s.repliesQueued)} replies during a ${int(s.campaignQueued)}-msg campaign, limit ${int(s.mps)}/s${s.complete ? "" : " (INCOMPLETE)"}`,
        STORE_NAME[store],
        `${fmt(s.inPhase.achievedPerSec, 1)} msg/s`,
        `reply wait ${lat(s.replyWaitMs)}`,
        `${fmt(s.inPhase.achievedOverLimit, 3)} of limit; max ${int(s.maxInAnySecond)} in any 1 s; ${int(s.errors)} errors`,
        "–",
        "–",
        `reply p99 < ${int(t.replyP99Ms)} ms: ${passFail(s.pass.replyP99)}; ≤ limit: ${passFail(s.pass.window)}`,
      ]);
    }
    if (x.store === "postgres" && !x.config.replies.mps.includes(1000)) {
      rows.push(["Outbound rate", "replies during a campaign, limit 1,000/s", STORE_NAME[store], "–", "–", "–", "–", "–", "not run: queueing the 13,500-message campaign first takes minutes at this store's transaction rate"]);
    }
  }

  for (const [store, x] of ran("Webhook → CRM", r.e2e)) {
    const c = x.config;
    const partial = x.missing > 0 ? ` (of the ${int(x.delivered)} delivered)` : "";
    rows.push([
      "Webhook → CRM",
      `${int(c.rate)} msg/s for ${fmt(c.durationMs / 1000, 0)} s over ${c.branches} webhook branches`,
      STORE_NAME[store],
      `CRMs got ${int(x.deliveredDuringLoadPerSec)}/s during load, ${int(x.achievedPerSec)}/s overall (${fmt(x.achievedOverOffered, 2)} of offered)`,
      `${lat(x.latencyMs)}${partial}`,
      `${int(x.delivered)}/${int(x.acked)} delivered, ${int(x.duplicates)} repeats, ${int(x.misrouted)} misrouted, ${int(x.ackErrors)} ack errors`,
      x.backlogDrainedMs !== undefined ? `${int(x.backlogAtLoadEnd)} msgs at load end; drained in ${sec(x.backlogDrainedMs)}` : `${int(x.backlogAtLoadEnd)} msgs at load end; ${int(x.missing)} not delivered after ${sec(c.drainTimeoutMs)}`,
      `${fmt(x.server.memoryAfter.rssMB, 0)} / ${fmt(x.server.memoryAfter.heapUsedMB, 0)} (peak RSS ${fmt(x.server.peakRssMB, 0)})`,
      `≥ ${c.targets.achievedOverOffered} of offered: ${passFail(x.achievedOverOffered >= c.targets.achievedOverOffered && x.missing === 0)}`,
    ]);
  }

  const m = r.memory;
  if (m) {
    const runRow = (run: MemoryRun, note: string) => {
      const a = run.result;
      const shape = `${int(run.customers)} customers, ${int(run.messages)} messages`;
      const dataNote =
        run.store !== "lowdb" ? `database ${int(run.dataMB)} MB` : run.stateMB !== undefined ? `state.json ${int(run.stateMB)} MB + segments ${int(run.segmentMB ?? 0)} MB` : `state.json ${int(run.dataMB)} MB`;
      if (!a) return rows.push(["Memory", shape, STORE_NAME[run.store], "–", "–", "–", "–", "–", `${note}${run.error ?? "failed"}`]);
      rows.push([
        "Memory",
        shape,
        STORE_NAME[run.store],
        `open ${sec(a.openMs)}; ${int(a.workload.messages)} workload msgs routed in ${sec(a.workload.routedMs)}`,
        `median (first): dialog list of ${int(a.reads.dialogList.items)} ${fmt(a.reads.dialogList.medianMs, 0)} (${fmt(a.reads.dialogList.firstMs, 0)}); history of ${int(a.reads.history.items)} ${fmt(a.reads.history.medianMs, 0)} (${fmt(a.reads.history.firstMs, 0)}); customer ${fmt(a.reads.customer.medianMs, 0)} (${fmt(a.reads.customer.firstMs, 0)})`,
        "–",
        "–",
        `after start ${fmt(a.afterStart.rssMB, 0)} / ${fmt(a.afterStart.heapUsedMB, 0)}; after workload ${fmt(a.afterWorkload.rssMB, 0)} / ${fmt(a.afterWorkload.heapUsedMB, 0)}`,
        `${note}${dataNote}`,
      ]);
    };
    for (const run of m.lowdb.runs) runRow(run, "");
    const e = m.lowdb.extrapolation;
    if (e) {
      rows.push([
        "Memory",
        `${int(m.config.target.customers)} customers, ${int(e.at.messages)} messages — EXTRAPOLATED`,
        STORE_NAME.lowdb,
        `open ≈ ${sec(e.at.openMs)}`,
        "–",
        "–",
        "–",
        `≈ ${int(e.at.rssMB)} / ${int(e.at.heapUsedMB)} (${fmt(e.rssMBPerMessageKB, 2)} KB RSS per message)`,
        `${e.basis}; would not open (see above)`,
      ]);
    }
    if (isSkipped(m.postgres)) skippedRow("Memory", "postgres", m.postgres.skipped);
    else for (const run of m.postgres.runs) runRow(run, "app RSS only (rows in the database); ");
  }
  const line = (cells: string[]) => `| ${cells.map((c) => c.replace(/\|/g, "\\|")).join(" | ")} |`;
  return [line(head), line(head.map(() => "---")), ...rows.map(line)].join("\n");
}
