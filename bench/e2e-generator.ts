import http from "node:http";
import { performance } from "node:perf_hooks";
import { signMetaPayload } from "../backend/src/channels/whatsapp/webhook-signature.js";
import { postWebhook, rng } from "./payload.js";
import { round, summarize, type LatencySummary } from "./stats.js";

/**
 * Load generator of the end-to-end benchmark, a CHILD process forked by `bench/e2e-latency.ts`
 * (configured by the BENCH_E2E env var, JSON `E2eGeneratorInit`). On `{ type: "run", rate, durationMs }` it
 * sends signed Meta webhooks open-loop at `rate` messages a second for `durationMs`: every customer
 * belongs to one branch (customer i → branch i mod branches) and every text names that branch's
 * code, so each message has one right CRM. It records each message's wamid with its scheduled
 * send time (the latency's start, so a slow server cannot hide behind a late generator), and
 * answers `{ type: "result", result }`.
 */

export interface E2eGeneratorInit {
  url: string;
  appSecret: string;
  phoneNumberId: string;
  displayPhoneNumber: string;
  wabaId: string;
  codes: string[];
  customersPerBranch: number;
  /** Messages per webhook: the ingestion bench's mix (mean ≈ 10) or a fixed number. */
  batch: "mix" | number;
  runId: string;
  seed: number;
  maxSockets: number;
  requestTimeoutMs: number;
}

export interface E2eGeneratorResult {
  /** Scheduled send time of each message (epoch ms, this process's clock). */
  dueAt: number[];
  wamid: string[];
  code: string[];
  requests: number;
  messagesSent: number;
  messagesAcked: number;
  ackLatencyMs: LatencySummary;
  errors: number;
  errorsByKind: Record<string, number>;
  /** How late the generator itself fired requests (p99, ms). */
  sendLagP99Ms: number;
  elapsedMs: number;
  /** Start of the run (epoch ms, this process's clock). */
  startedAt: number;
  generatorCpuPct: number;
}

const init = JSON.parse(process.env.BENCH_E2E ?? "null") as E2eGeneratorInit | null;
if (!init || !process.send) throw new Error("e2e-generator.ts is started by bench/e2e-latency.ts");
const cfg = init;
const target = new URL("/webhooks/whatsapp", cfg.url);
const agent = new http.Agent({ keepAlive: true, maxSockets: cfg.maxSockets, timeout: 4000 });
const random = rng(cfg.seed);
const clock = () => performance.timeOrigin + performance.now();
const int = (min: number, max: number) => min + Math.floor(random() * (max - min + 1));
const TEXTS = ["are you open today?", "do you have this in size 42?", "можно записаться на субботу?", "how much is delivery?", "спасибо!"];

function batchSize(): number {
  if (cfg.batch !== "mix") return cfg.batch;
  const r = random();
  if (r < 0.4) return 1;
  if (r < 0.7) return int(2, 10);
  if (r < 0.9) return int(11, 30);
  return int(31, 50);
}

let seq = 0;
function build(size: number): { body: Buffer; signature: string; wamids: string[]; codes: string[] } {
  const customers = cfg.codes.length * cfg.customersPerBranch;
  const ts = String(Math.floor(Date.now() / 1000));
  const contacts = new Map<string, string>();
  const messages: unknown[] = [];
  const wamids: string[] = [];
  const codes: string[] = [];
  for (let i = 0; i < size; i++) {
    const c = int(0, customers - 1);
    const code = cfg.codes[c % cfg.codes.length]!;
    const waId = `7911${String(c).padStart(7, "0")}`;
    const wamid = `wamid.${Buffer.from(`e2e:${cfg.runId}:${++seq}`).toString("base64")}`;
    contacts.set(waId, `Customer ${c}`);
    messages.push({ from: waId, id: wamid, timestamp: ts, type: "text", text: { body: `Hi ${code}! ${TEXTS[int(0, TEXTS.length - 1)]}` } });
    wamids.push(wamid);
    codes.push(code);
  }
  const envelope = {
    object: "whatsapp_business_account",
    entry: [
      {
        id: cfg.wabaId,
        changes: [
          {
            value: {
              messaging_product: "whatsapp",
              metadata: { display_phone_number: cfg.displayPhoneNumber, phone_number_id: cfg.phoneNumberId },
              contacts: [...contacts].map(([wa_id, name]) => ({ profile: { name }, wa_id })),
              messages,
            },
            field: "messages",
          },
        ],
      },
    ],
  };
  // Meta escapes non-ASCII as \uXXXX.
  const text = JSON.stringify(envelope).replace(/[^\x00-\x7e]/g, (ch) => "\\u" + ch.charCodeAt(0).toString(16).padStart(4, "0"));
  const body = Buffer.from(text, "utf8");
  return { body, signature: signMetaPayload(body, cfg.appSecret), wamids, codes };
}

async function runOpenLoop(rate: number, durationMs: number): Promise<E2eGeneratorResult> {
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  const startedAt = performance.timeOrigin + start;
  const dueAt: number[] = [];
  const wamid: string[] = [];
  const code: string[] = [];
  const ackLatencies: number[] = [];
  const lags: number[] = [];
  const errorsByKind: Record<string, number> = {};
  const inFlight = new Set<Promise<void>>();
  let requests = 0;
  let acked = 0;
  let scheduled = 0;
  let lastAnswer = start;
  while (performance.now() - start < durationMs) {
    const now = performance.now();
    for (let due = start + (scheduled / rate) * 1000; due <= now && due - start < durationMs; due = start + (scheduled / rate) * 1000) {
      const batch = build(batchSize());
      scheduled += batch.wamids.length;
      requests++;
      lags.push(performance.now() - due);
      for (let i = 0; i < batch.wamids.length; i++) {
        dueAt.push(performance.timeOrigin + due);
        wamid.push(batch.wamids[i]!);
        code.push(batch.codes[i]!);
      }
      const p = postWebhook(agent, target, batch, due + cfg.requestTimeoutMs).then((err) => {
        const t = performance.now();
        lastAnswer = Math.max(lastAnswer, t);
        ackLatencies.push(t - due);
        if (err) errorsByKind[err] = (errorsByKind[err] ?? 0) + 1;
        else acked += batch.wamids.length;
      });
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  await Promise.all(inFlight);
  const elapsedMs = Math.max(durationMs, lastAnswer - start);
  const cpu = process.cpuUsage(cpu0);
  lags.sort((a, b) => a - b);
  return {
    dueAt,
    wamid,
    code,
    requests,
    messagesSent: wamid.length,
    messagesAcked: acked,
    ackLatencyMs: summarize(ackLatencies),
    errors: Object.values(errorsByKind).reduce((a, b) => a + b, 0),
    errorsByKind,
    sendLagP99Ms: round(summarize(lags).p99),
    elapsedMs: round(elapsedMs, 0),
    startedAt,
    generatorCpuPct: round(((cpu.user + cpu.system) / 1000 / elapsedMs) * 100, 0),
  };
}

process.on("message", (msg: { type?: string; rate?: number; durationMs?: number }) => {
  if (msg?.type === "exit") {
    agent.destroy();
    process.disconnect();
    return;
  }
  if (msg?.type === "now") return void process.send!({ type: "now", now: clock() });
  if (msg?.type === "run") void runOpenLoop(msg.rate!, msg.durationMs!).then((result) => process.send!({ type: "result", result }));
});
process.send({ type: "ready" });
