import type { PayloadConfig } from "./payload.js";
import type { LatencySummary } from "./stats.js";

/** Messages between `run.ts` (the server process) and `load-generator.ts` (a child with IPC). */

export interface GeneratorInit extends PayloadConfig {
  url: string;
  maxSockets: number;
  requestTimeoutMs: number;
}

export type PhaseSpec =
  | { kind: "open"; label: string; rate: number; durationMs: number }
  | { kind: "closed"; label: string; concurrency: number; durationMs: number };

export type ToGenerator = { type: "run"; phase: PhaseSpec } | { type: "exit" };

export interface PhaseResult {
  label: string;
  kind: PhaseSpec["kind"];
  /** Offered rate (open loop) or number of senders (closed loop). */
  offered: number;
  durationMs: number;
  /** From the first send to the last answer (the load window plus the tail of in-flight requests). */
  elapsedMs: number;
  requests: number;
  messagesSent: number;
  messagesAcked: number;
  ackedMsgsPerSec: number;
  /** Per request: open loop measures from the scheduled send time (no coordinated omission). */
  latencyMs: LatencySummary;
  errors: number;
  errorsByKind: Record<string, number>;
  /** Messages acknowledged in each second of the phase (stalls show up here). */
  ackedPerSecond: number[];
  /** Open loop: how late the generator itself fired requests (p99, ms); a large value means the generator lagged. */
  sendLagP99Ms?: number;
  generatorCpuPct: number;
}

export type FromGenerator = { type: "ready" } | { type: "result"; result: PhaseResult };
