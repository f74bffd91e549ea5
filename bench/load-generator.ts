import http from "node:http";
import { performance } from "node:perf_hooks";
import { PayloadFactory, postWebhook, type SignedBatch } from "./payload.js";
import type { FromGenerator, GeneratorInit, PhaseResult, PhaseSpec, ToGenerator } from "./protocol.js";
import { percentile, round, summarize } from "./stats.js";

/**
 * Load generator, run as a child process (`node --import tsx bench/load-generator.ts`) so that
 * building, signing and timing requests does not share the server's event loop. Configured by
 * the BENCH_GENERATOR env var (JSON `GeneratorInit`); runs phases on IPC command.
 */

const init = readInit();
const target = new URL("/webhooks/whatsapp", init.url);
// Idle sockets close after 4 s, before the server's 5 s keep-alive timeout, so a reused socket is not
// reset by the server mid-request (that race would count as an error that Meta would not see).
const agent = new http.Agent({ keepAlive: true, maxSockets: init.maxSockets, timeout: 4000 });
const factory = new PayloadFactory(init);
const send = (msg: FromGenerator) => process.send!(msg);

function readInit(): GeneratorInit {
  const parsed = JSON.parse(process.env.BENCH_GENERATOR ?? "null") as GeneratorInit | null;
  if (!parsed || !process.send) throw new Error("load-generator.ts is started by bench/run.ts");
  return parsed;
}

type Outcome = { ok: true } | { ok: false; kind: string };

/** One webhook POST (see `postWebhook`). */
async function post(batch: SignedBatch, deadline: number): Promise<Outcome> {
  const failure = await postWebhook(agent, target, batch, deadline);
  return failure === undefined ? { ok: true } : { ok: false, kind: failure };
}

class Recorder {
  readonly latencies: number[] = [];
  readonly errorsByKind: Record<string, number> = {};
  readonly perSecond: number[] = [];
  requests = 0;
  sent = 0;
  acked = 0;
  lastAnswer = 0;
  private readonly cpu = process.cpuUsage();

  constructor(readonly start: number) {}

  record(batch: SignedBatch, outcome: Outcome, latency: number): void {
    const now = performance.now();
    this.lastAnswer = Math.max(this.lastAnswer, now);
    this.latencies.push(latency);
    if (outcome.ok) {
      this.acked += batch.messages;
      const second = Math.floor((now - this.start) / 1000);
      this.perSecond[second] = (this.perSecond[second] ?? 0) + batch.messages;
    } else {
      this.errorsByKind[outcome.kind] = (this.errorsByKind[outcome.kind] ?? 0) + 1;
    }
  }

  result(phase: PhaseSpec, offered: number, extra: Partial<PhaseResult> = {}): PhaseResult {
    const elapsedMs = Math.max(phase.durationMs, this.lastAnswer - this.start);
    const cpu = process.cpuUsage(this.cpu);
    return {
      label: phase.label,
      kind: phase.kind,
      offered,
      durationMs: phase.durationMs,
      elapsedMs: round(elapsedMs),
      requests: this.requests,
      messagesSent: this.sent,
      messagesAcked: this.acked,
      ackedMsgsPerSec: round((this.acked / elapsedMs) * 1000, 0),
      latencyMs: summarize(this.latencies),
      errors: Object.values(this.errorsByKind).reduce((a, b) => a + b, 0),
      errorsByKind: this.errorsByKind,
      ackedPerSecond: Array.from(this.perSecond, (v) => v ?? 0),
      generatorCpuPct: round(((cpu.user + cpu.system) / 1000 / elapsedMs) * 100, 0),
      ...extra,
    };
  }
}

/**
 * Open loop: batch i is due when the messages before it, at `rate`, have been sent. Requests go
 * out on schedule whether or not earlier ones were answered; latency counts from the due time.
 */
async function openLoop(phase: Extract<PhaseSpec, { kind: "open" }>): Promise<PhaseResult> {
  const start = performance.now();
  const rec = new Recorder(start);
  const inFlight = new Set<Promise<void>>();
  const lags: number[] = [];
  let scheduled = 0;
  while (performance.now() - start < phase.durationMs) {
    const now = performance.now();
    for (let due = start + (scheduled / phase.rate) * 1000; due <= now && due - start < phase.durationMs; due = start + (scheduled / phase.rate) * 1000) {
      const batch = factory.build(factory.batchSize());
      scheduled += batch.messages;
      rec.requests++;
      rec.sent += batch.messages;
      lags.push(performance.now() - due);
      const p = post(batch, due + init.requestTimeoutMs).then((outcome) => rec.record(batch, outcome, performance.now() - due));
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  await Promise.all(inFlight);
  lags.sort((a, b) => a - b);
  return rec.result(phase, phase.rate, { sendLagP99Ms: round(percentile(lags, 99)) });
}

/** Closed loop: `concurrency` senders, each sending its next batch as soon as the last is answered. */
async function closedLoop(phase: Extract<PhaseSpec, { kind: "closed" }>): Promise<PhaseResult> {
  const start = performance.now();
  const end = start + phase.durationMs;
  const rec = new Recorder(start);
  const sender = async () => {
    while (performance.now() < end) {
      const batch = factory.build(factory.batchSize());
      rec.requests++;
      rec.sent += batch.messages;
      const t0 = performance.now();
      const outcome = await post(batch, t0 + init.requestTimeoutMs);
      rec.record(batch, outcome, performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: phase.concurrency }, sender));
  return rec.result(phase, phase.concurrency);
}

process.on("message", (msg: ToGenerator) => {
  if (msg.type === "exit") {
    agent.destroy();
    process.disconnect();
    return;
  }
  const run = msg.phase.kind === "open" ? openLoop(msg.phase) : closedLoop(msg.phase);
  void run.then((result) => send({ type: "result", result }));
});
send({ type: "ready" });
