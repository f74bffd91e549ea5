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
