import { mkdtemp, readdir, rm, stat } from "node:fs/promises";
import os, { tmpdir } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay, performance, type IntervalHistogram } from "node:perf_hooks";
import { startServer, type RunningServer } from "../backend/src/server.js";
import type { BenchDatabase } from "./postgres.js";
import { round } from "./stats.js";
import { installStoreProbe, storeWindow, type StoreWindow } from "./store-probe.js";

/**
 * The server under test, started in this process (the load comes from a child process), plus
 * the probes the bench reads: job queue depths, messages routed, memory, CPU, event-loop delay.
 * Probes read the store directly: `/metrics` clones every live job to count them, which would
 * itself load the server while a backlog drains.
 */

export const BENCH_ENV = {
  PORT: "0",
  LOG_LEVEL: "silent",
  WHATSAPP_ACCESS_TOKEN: "bench",
  WHATSAPP_APP_SECRET: "bench_secret",
  WHATSAPP_VERIFY_TOKEN: "v",
  WHATSAPP_PHONE_NUMBER_ID: "106540352242922",
  WHATSAPP_GRAPH_URL: "http://127.0.0.1:9/v25.0",
} as const;

export const BENCH_BRANCHES = [
  { name: "Moscow Tverskaya", code: "MSK01", crm: "inbox", keywords: ["tverskaya", "moscow"], isHq: true },
  { name: "Saint Petersburg Nevsky", code: "SPB02", crm: "inbox", keywords: ["nevsky", "petersburg"] },
  { name: "Kazan Bauman", code: "KZN03", crm: "inbox", keywords: ["bauman", "kazan"] },
  { name: "Yekaterinburg Center", code: "EKB04", crm: "inbox", keywords: ["yekaterinburg"] },
];

export interface MemorySample {
  rssMB: number;
  heapUsedMB: number;
  heapTotalMB: number;
  externalMB: number;
}

export interface QueueDepths {
  inbound: number;
  deliver: number;
  send: number;
  dead: number;
}

export interface ServerWindow {
  /** CPU of this process (server + its worker), in % of one core. */
  cpuPct: number;
  /** CPU busy on the whole host, in % of one core (2 cores = 200 %): shows other load on the machine. */
  hostBusyPct: number;
  wallMs: number;
  store: StoreWindow;
  /** Size of the data directory (journal + snapshot), or of the PostgreSQL database, at the end of the window. */
  dataDirMB: number;
  eventLoopP99Ms: number;
  eventLoopMaxMs: number;
  memory: MemorySample;
  /** PostgreSQL only: transactions committed and rolled back in the window (pg_stat_database; rollbacks are mostly serialization conflicts run again). */
  pg?: { commits: number; rollbacks: number };
}

const MB = 1024 * 1024;

/** CPU time all cores of the host spent busy since boot, in ms. */
function hostBusyMs(): number {
  return os.cpus().reduce((sum, c) => sum + c.times.user + c.times.nice + c.times.sys + c.times.irq, 0);
}

export function memorySample(): MemorySample {
  const m = process.memoryUsage();
  return { rssMB: round(m.rss / MB, 1), heapUsedMB: round(m.heapUsed / MB, 1), heapTotalMB: round(m.heapTotal / MB, 1), externalMB: round(m.external / MB, 1) };
}

export class ServerUnderTest {
  private readonly loopDelay: IntervalHistogram = monitorEventLoopDelay({ resolution: 10 });
  private readonly peakTimer: NodeJS.Timeout;
  peak: MemorySample = memorySample();

  private constructor(
    readonly server: RunningServer,
    readonly dataDir: string,
    private readonly db?: BenchDatabase,
  ) {
    this.loopDelay.enable();
    this.peakTimer = setInterval(() => this.samplePeak(), 250);
    this.peakTimer.unref();
  }

  /** On the embedded store, or on PostgreSQL when `db` (a fresh database, dropped by close) is given. */
  static async start(db?: BenchDatabase): Promise<ServerUnderTest> {
    installStoreProbe();
    const dataDir = await mkdtemp(join(tmpdir(), "branchline-bench-"));
    const server = await startServer({ ...BENCH_ENV, DATA_DIR: dataDir, DATABASE_URL: db?.url });
    for (const branch of BENCH_BRANCHES) {
      const res = await fetch(`${server.url}/admin/api/branches`, {
        method: "POST",
        headers: { authorization: `Bearer ${server.adminToken}`, "content-type": "application/json" },
        body: JSON.stringify(branch),
      });
      if (res.status !== 201) throw new Error(`creating branch ${branch.code}: HTTP ${res.status} ${await res.text()}`);
    }
    // Ingestion is measured here; sends have their own benchmark. Without the menu, unmatched
    // messages go to HQ instead of queueing a send to a Graph API that is not there.
    const settings = await fetch(`${server.url}/admin/api/settings/routing`, {
      method: "PATCH",
      headers: { authorization: `Bearer ${server.adminToken}`, "content-type": "application/json" },
      body: JSON.stringify({ menuEnabled: false }),
    });
    if (settings.status !== 200) throw new Error(`routing settings: HTTP ${settings.status}`);
    return new ServerUnderTest(server, dataDir, db);
  }

  get storeKind(): "lowdb" | "postgres" {
    return this.server.store.kind;
  }

  get url(): string {
    return this.server.url;
  }

  /** Starts a measurement window: CPU and event-loop delay are reported for what follows. */
  window(): () => Promise<ServerWindow> {
    const cpu = process.cpuUsage();
    const host = hostBusyMs();
    const t0 = performance.now();
    const store = storeWindow();
    this.loopDelay.reset();
    const pg0 = this.db?.stats().catch(() => undefined);
    return async () => {
      const pgStart = await pg0;
      const pgEnd = await this.db?.stats().catch(() => undefined);
      const used = process.cpuUsage(cpu);
      const ms = performance.now() - t0;
      return {
        cpuPct: round(((used.user + used.system) / 1000 / ms) * 100, 0),
        hostBusyPct: round(((hostBusyMs() - host) / ms) * 100, 0),
        wallMs: round(ms, 0),
        store: store(),
        dataDirMB: await this.dataDirMB(),
        eventLoopP99Ms: round(this.loopDelay.percentile(99) / 1e6),
        eventLoopMaxMs: round(this.loopDelay.max / 1e6),
        memory: memorySample(),
        pg: pgStart && pgEnd ? { commits: pgEnd.commits - pgStart.commits, rollbacks: pgEnd.rollbacks - pgStart.rollbacks } : undefined,
      };
    };
  }

  async queues(): Promise<QueueDepths> {
    return this.server.store.read(async (tx) => ({
      inbound: await tx.countByIndex("jobs", "queue", "inbound"),
      deliver: await tx.countByIndex("jobs", "queue", "deliver"),
      send: await tx.countByIndex("jobs", "queue", "send"),
      dead: await tx.countByIndex("jobs", "state", "dead"),
    }));
  }

  /** Stops the job workers (inbound routing, deliveries, sends): the diagnostic ack-path-only phase. */
  async pauseWorkers(): Promise<void> {
    await this.server.app.stop();
  }

  /** Inbound messages the worker has routed so far (all rules). */
  async messagesRouted(): Promise<number> {
    const metric = await this.server.app.metrics.inboundMessages.get();
    return metric.values.reduce((sum, v) => sum + v.value, 0);
  }

  async routedByRule(): Promise<Record<string, number>> {
    const metric = await this.server.app.metrics.inboundMessages.get();
    return Object.fromEntries(metric.values.map((v) => [String(v.labels.rule), v.value]));
  }

  /**
   * Polls until the inbound queue, then the deliver queue, are empty (or `timeoutMs` passes).
   * Times are from the call; undefined when the queue did not empty in time.
   */
  async drain(timeoutMs: number, pollMs = 20): Promise<{ inboundMs?: number; deliverMs?: number; left: QueueDepths }> {
    const t0 = performance.now();
    let inboundMs: number | undefined;
    let deliverMs: number | undefined;
    for (;;) {
      const q = await this.queues();
      const elapsed = performance.now() - t0;
      if (inboundMs === undefined && q.inbound === 0) inboundMs = round(elapsed, 0);
      if (inboundMs !== undefined && deliverMs === undefined && q.deliver === 0) deliverMs = round(elapsed, 0);
      if (deliverMs !== undefined || elapsed > timeoutMs) return { inboundMs, deliverMs, left: q };
      await new Promise((r) => setTimeout(r, pollMs));
    }
  }

  async dataDirMB(): Promise<number> {
    if (this.db) return this.db.sizeMB();
    let bytes = 0;
    for (const name of await readdir(this.dataDir)) bytes += (await stat(join(this.dataDir, name))).size;
    return round(bytes / MB, 1);
  }

  /** Prometheus text of `/metrics`, fetched once at the end (queues are empty by then). */
  async metricsText(): Promise<string> {
    return (await fetch(`${this.url}/metrics`)).text();
  }

  async close(): Promise<void> {
    clearInterval(this.peakTimer);
    this.loopDelay.disable();
    await this.server.close();
    await rm(this.dataDir, { recursive: true, force: true });
    await this.db?.drop();
  }

  private samplePeak(): void {
    const m = memorySample();
    if (m.rssMB > this.peak.rssMB) this.peak = { ...this.peak, rssMB: m.rssMB };
    if (m.heapUsedMB > this.peak.heapUsedMB) this.peak = { ...this.peak, heapUsedMB: m.heapUsedMB, heapTotalMB: m.heapTotalMB };
  }
}
