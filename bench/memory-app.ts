import { performance } from "node:perf_hooks";
import { signMetaPayload } from "../backend/src/channels/whatsapp/webhook-signature.js";
import { startServer } from "../backend/src/server.js";
import { round } from "./stats.js";

/**
 * The app under the memory benchmark, a CHILD process (forked by `bench/memory.ts`) so that its
 * RSS is the app's alone. It starts the server on a prepared data set (`DATA_DIR` with a
 * `state.json` and segment files, or `DATABASE_URL`), times the start, samples memory, times
 * representative reads over HTTP (a branch's dialog list, one dialog's history, a customer card),
 * runs a small workload (signed webhooks from existing customers, until routed) and samples
 * again. Configured by the BENCH_MEMORY env var (JSON `MemoryAppInit`); answers one IPC message `{ type: "result" | "error" }`.
 */

export interface MemoryAppInit {
  env: Record<string, string>;
  branchKey: string;
  branchCode: string;
  /** A dialog of that branch and its customer. */
  dialogId: string;
  customerId: string;
  /** Existing customers of that branch to send the workload from. */
  workloadWaIds: string[];
  workloadMessages: number;
  readRepeats: number;
}

export interface MemSample {
  rssMB: number;
  heapUsedMB: number;
  heapTotalMB: number;
  externalMB: number;
}

export interface ReadTiming {
  /** First call (cold), then the median and max of the repeats (ms). */
  firstMs: number;
  medianMs: number;
  maxMs: number;
  items: number;
  bytes: number;
}

export interface MemoryAppResult {
  openMs: number;
  afterStart: MemSample;
  afterReads: MemSample;
  afterWorkload: MemSample;
  reads: { dialogList: ReadTiming; history: ReadTiming; customer: ReadTiming };
  workload: { messages: number; routedMs: number };
  heapLimitMB: number;
}

const MB = 1024 * 1024;
const sample = (): MemSample => {
  const m = process.memoryUsage();
  return { rssMB: round(m.rss / MB, 0), heapUsedMB: round(m.heapUsed / MB, 0), heapTotalMB: round(m.heapTotal / MB, 0), externalMB: round(m.external / MB, 0) };
};

async function main(): Promise<MemoryAppResult> {
  const init = JSON.parse(process.env.BENCH_MEMORY ?? "null") as MemoryAppInit | null;
  if (!init) throw new Error("memory-app.ts is started by bench/memory.ts");
  const t0 = performance.now();
  const server = await startServer(init.env);
  const openMs = round(performance.now() - t0, 0);
  // No close at the end: the process exits (closing the embedded store would snapshot everything).
  {
    await new Promise((r) => setTimeout(r, 1000));
    const afterStart = sample();
    const timed = async (path: string, auth: string, count: (body: unknown) => number): Promise<ReadTiming> => {
      const times: number[] = [];
      let items = 0;
      let bytes = 0;
      for (let i = 0; i <= init.readRepeats; i++) {
        const t = performance.now();
        const res = await fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${auth}` } });
        const text = await res.text();
        times.push(performance.now() - t);
        if (res.status !== 200) throw new Error(`GET ${path}: HTTP ${res.status} ${text.slice(0, 200)}`);
        items = count(JSON.parse(text));
        bytes = text.length;
      }
      const repeats = times.slice(1).sort((a, b) => a - b);
      return { firstMs: round(times[0]!, 1), medianMs: round(repeats[Math.floor(repeats.length / 2)] ?? times[0]!, 1), maxMs: round(Math.max(...repeats), 1), items, bytes };
    };
    const reads = {
      dialogList: await timed("/inbox/api/dialogs", init.branchKey, (b) => (b as { dialogs: unknown[] }).dialogs.length),
      history: await timed(`/inbox/api/dialogs/${encodeURIComponent(init.dialogId)}/messages`, init.branchKey, (b) => (b as { messages: unknown[] }).messages.length),
      customer: await timed(`/admin/api/customers/${encodeURIComponent(init.customerId)}`, server.adminToken, () => 1),
    };
    const afterReads = sample();

    // Workload: webhooks of 10 messages from existing customers, naming their branch, then wait
    // until the worker routed them all.
    const before = await routed(server);
    const t1 = performance.now();
    let seq = 0;
    for (let sent = 0; sent < init.workloadMessages; sent += 10) {
      const messages = Array.from({ length: 10 }, (_, i) => {
        const waId = init.workloadWaIds[(sent + i) % init.workloadWaIds.length]!;
        return { from: waId, id: `wamid.${Buffer.from(`memwork:${process.pid}:${++seq}`).toString("base64")}`, timestamp: String(Math.floor(Date.now() / 1000)), type: "text", text: { body: `Hi ${init.branchCode}, one more question` } };
      });
      const body = Buffer.from(
        JSON.stringify({
          object: "whatsapp_business_account",
          entry: [{ id: "102290129340398", changes: [{ field: "messages", value: { messaging_product: "whatsapp", metadata: { display_phone_number: "15550783881", phone_number_id: init.env.WHATSAPP_PHONE_NUMBER_ID }, contacts: messages.map((m) => ({ profile: { name: "Customer" }, wa_id: m.from })), messages } }] }],
        }),
      );
      const res = await fetch(`${server.url}/webhooks/whatsapp`, { method: "POST", headers: { "content-type": "application/json", "x-hub-signature-256": signMetaPayload(body, init.env.WHATSAPP_APP_SECRET!) }, body });
      if (res.status !== 200) throw new Error(`workload webhook: HTTP ${res.status}`);
    }
    const deadline = performance.now() + 120_000;
    while ((await routed(server)) - before < init.workloadMessages && performance.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const routedMs = round(performance.now() - t1, 0);
    await new Promise((r) => setTimeout(r, 1000));
    const afterWorkload = sample();
    const v8 = await import("node:v8");
    return { openMs, afterStart, afterReads, afterWorkload, reads, workload: { messages: (await routed(server)) - before, routedMs }, heapLimitMB: round(v8.getHeapStatistics().heap_size_limit / MB, 0) };
  }
}

async function routed(server: Awaited<ReturnType<typeof startServer>>): Promise<number> {
  const metric = await server.app.metrics.inboundMessages.get();
  return metric.values.reduce((sum, v) => sum + v.value, 0);
}

main().then(
  (result) => process.send!({ type: "result", result }, () => process.exit(0)),
  (err: unknown) => process.send!({ type: "error", error: (err as Error).message?.slice(0, 500) ?? String(err) }, () => process.exit(1)),
);
