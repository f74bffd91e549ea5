/**
 * Outbound benchmark: the sender of the shared number (`backend/src/outbound/sender.ts`).
 *
 * The Sender, its store and its Graph client run in THIS process, so `process.cpuUsage()` is the
 * sender's CPU; the fake Graph API (`bench/fake-graph-server.ts`) runs in a child process and
 * records when each send arrived, on a clock comparable with ours (`performance.timeOrigin +
 * performance.now()`, offset measured over loopback). Scenarios:
 *
 * 1. rate accuracy at mps 20, 80 and 1,000 — a backlog of distinct-recipient messages worth ≥ 5 s
 *    of sending: achieved rate ((n − 1) ÷ (last − first arrival)), achieved ÷ limit (target ≥ 0.95),
 *    the most arrivals in any sliding second (target ≤ limit), CPU per 1,000 sends;
 * 2. replies under a campaign — a 10,000-message campaign from branch A, then live replies from
 *    branches B and C (5 per second for 10 s): queue wait of the replies (arrival at Graph − time
 *    queued; target p99 < 1 s) and the campaign's share of the number meanwhile; at mps 80 and 1,000.
 *    Stops once the replies are out (the campaign is not waited for).
 *
 * Run by `bench/run.ts` on each store (`npm run bench`), or alone on the embedded store:
 * `npx tsx bench/outbound.ts` (prints its own table; replaces `outbound.lowdb` in `bench/results/latest.json`).
 * BENCH_QUICK=1 shortens every scenario to a quarter.
 */
import { fork, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile, mkdir } from "node:fs/promises";
import os, { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import { fileURLToPath, pathToFileURL } from "node:url";
import { createHttpClient } from "../backend/src/ops/http-client.js";
import { createGraphClient } from "../backend/src/channels/whatsapp/graph.client.js";
import type { Branch, Customer, Job } from "../backend/src/domain/types.js";
import { createLogger } from "../backend/src/ops/logger.js";
import { createMetrics } from "../backend/src/ops/metrics.js";
import { queueOutbound } from "../backend/src/outbound/outbox.js";
import type { Priority } from "../backend/src/outbound/send-queue.js";
import { Sender } from "../backend/src/outbound/sender.js";
import type { WhatsAppSender } from "../backend/src/outbound/sender.port.js";
import { LowdbStore } from "../backend/src/store/lowdb/lowdb.store.js";
import { PgStore } from "../backend/src/store/pg/pg.store.js";
import type { Store } from "../backend/src/store/store.port.js";
import type { BenchDatabase } from "./postgres.js";
import { maxInWindow } from "../test/builders/fake-graph.js";
import { round, summarize, type LatencySummary } from "./stats.js";
import { installStoreProbe, storeWindow, type StoreWindow } from "./store-probe.js";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");
const PHONE_NUMBER_ID = "106540352242922";
const clock = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));
const log = (s: string) => console.error(`[bench:outbound] ${s}`);

export function outboundConfig(quick: boolean, store: "lowdb" | "postgres" = "lowdb") {
  const scale = quick ? 0.25 : 1;
  return {
    quick,
    store,
    /**
     * Seconds of sending per rate-accuracy run (messages = mps × this). Shorter on PostgreSQL,
     * where creating the customers and queueing the messages (setup, not measured) is slow.
     */
    rateSeconds: (store === "postgres" ? 3 : 6) * scale,
    rateMps: [20, 80, 1000],
    /** Unreported warm-up (JIT, GC of whatever ran before) at this rate. */
    warmup: { mps: 1000, messages: 400 },
    replies: {
      // On PostgreSQL the 1,000 msg/s case needs a 13,500-message campaign queued first, which at
      // that store's transaction rate takes minutes of setup; the rate-1000 row shows its ceiling.
      mps: store === "postgres" ? [80] : [80, 1000],
      /** Campaign of at least this many messages, and enough for the whole reply phase plus 3 s. */
      campaignMin: quick || store === "postgres" ? 2500 : 10_000,
      /** The campaign runs this long before the first reply. */
      leadMs: 1000 * scale,
      perSecond: 5,
      durationMs: 10_000 * scale,
      branches: ["B", "C"],
    },
    targets: { achievedOverLimit: 0.95, replyP99Ms: 1000 },
    /** A scenario not finished by (expected duration × 2 + this) is reported as it stands. */
    graceMs: 15_000,
  };
}
export type OutboundConfig = ReturnType<typeof outboundConfig>;

// ───────────────────────────────────────── results ─────────────────────────────────────────

export interface RateResult {
  label: string;
  mps: number;
  queued: number;
  sent: number;
  errors: number;
  /** Completed within the time allowed. */
  complete: boolean;
  spanMs: number;
  achievedPerSec: number;
  achievedOverLimit: number;
  maxInAnySecond: number;
  /** Arrivals in each whole second from the first arrival. */
  perSecond: number[];
  /** From handing the jobs to the sender until the last send was recorded. */
  wallMs: number;
  cpuMs: number;
  cpuPct: number;
  cpuMsPer1000: number;
  cpuUserMs: number;
  cpuSystemMs: number;
  /** The store's group commits (journal append + fdatasync) while sending. */
  store: StoreWindow;
  /** Event-loop delay of this process while sending (a saturated loop shows here). */
  eventLoopP50Ms: number;
  eventLoopP99Ms: number;
  eventLoopMaxMs: number;
  /** Time to create the customers and queue the messages (not measured as sender CPU). */
  setupMs: number;
  pass: { achieved: boolean; window: boolean };
}

export interface ReplyResult {
  label: string;
  mps: number;
  campaignQueued: number;
  repliesQueued: number;
  repliesSent: number;
  complete: boolean;
  errors: number;
  /** Arrival at the fake Graph − the moment the reply was queued (before its transaction). */
  replyWaitMs: LatencySummary;
  /** Queueing transaction alone (commit included), for the replies. */
  replyCommitMs: LatencySummary;
  /** From the first reply queued to the last reply's arrival. */
  replyPhaseMs: number;
  inPhase: { total: number; campaign: number; replies: number; campaignShare: number; achievedPerSec: number; achievedOverLimit: number };
  campaignSentTotal: number;
  maxInAnySecond: number;
  wallMs: number;
  cpuMs: number;
  cpuPct: number;
  cpuMsPer1000: number;
  cpuUserMs: number;
  cpuSystemMs: number;
  store: StoreWindow;
  eventLoopP50Ms: number;
  eventLoopP99Ms: number;
  eventLoopMaxMs: number;
  setupMs: number;
  pass: { replyP99: boolean; window: boolean; achieved: boolean };
}

export interface OutboundReport {
  store: StoreTarget["kind"];
  machine: { cpus: number; cpuModel: string; node: string; date: string; loadAvgAtStart: number[]; loadAvgAtEnd: number[] };
  config: OutboundConfig;
  /** Fake Graph clock minus ours (ms), measured over loopback; arrival times are corrected by it. */
  clockOffsetMs: number;
  clockRttMs: number;
  warmup: RateResult;
  rate: RateResult[];
  replies: ReplyResult[];
  totalMs: number;
}

// ───────────────────────────────────── fake Graph (child) ─────────────────────────────────────

interface Records {
  at: number[];
  id: string[];
  to: string[];
}

export class FakeGraphProcess {
  private constructor(
    private readonly child: ChildProcess,
    readonly base: string,
  ) {}

  static async start(): Promise<FakeGraphProcess> {
    const child = fork(join(here, "fake-graph-server.ts"), [], { cwd: root, execArgv: ["--import", "tsx"], stdio: ["ignore", "inherit", "inherit", "ipc"] });
    const port = await new Promise<number>((resolve, reject) => {
      child.once("message", (m: { type?: string; port?: number }) => (m?.type === "ready" && m.port ? resolve(m.port) : reject(new Error(`fake Graph: ${JSON.stringify(m)}`))));
      child.once("exit", (code) => reject(new Error(`fake Graph exited (${code})`)));
    });
    return new FakeGraphProcess(child, `http://127.0.0.1:${port}`);
  }

  get graphUrl(): string {
    return `${this.base}/v25.0`;
  }

  async reset(): Promise<void> {
    const res = await fetch(`${this.base}/__bench/reset`, { method: "POST" });
    if (!res.ok) throw new Error(`fake Graph reset: HTTP ${res.status}`);
  }

  async records(): Promise<Records> {
    const res = await fetch(`${this.base}/__bench/records`);
    if (!res.ok) throw new Error(`fake Graph records: HTTP ${res.status}`);
    return (await res.json()) as Records;
  }

  /** Their clock minus ours, from the round trip with the smallest RTT (NTP-style midpoint). */
  async clockOffset(samples = 15): Promise<{ offsetMs: number; rttMs: number }> {
    let best = { offsetMs: 0, rttMs: Number.POSITIVE_INFINITY };
    for (let i = 0; i < samples; i++) {
      const t0 = clock();
      const { now } = (await (await fetch(`${this.base}/__bench/now`)).json()) as { now: number };
      const t1 = clock();
      if (t1 - t0 < best.rttMs) best = { offsetMs: now - (t0 + t1) / 2, rttMs: t1 - t0 };
    }
    return { offsetMs: round(best.offsetMs, 3), rttMs: round(best.rttMs, 3) };
  }

  stop(): void {
    if (this.child.connected) this.child.send({ type: "exit" });
    setTimeout(() => this.child.exitCode === null && this.child.kill(), 2000).unref();
  }
}

// ─────────────────────────────────────── sender rig ───────────────────────────────────────

const metrics = createMetrics();
let phoneSeq = 0;

/** Where a scenario's store lives: a temp directory (embedded store) or a fresh PostgreSQL database each time. */
export type StoreTarget = { kind: "lowdb" } | { kind: "postgres"; createDatabase(): Promise<BenchDatabase> };

async function openStore(target: StoreTarget): Promise<{ store: Store; dispose(): Promise<void> }> {
  if (target.kind === "postgres") {
    const db = await target.createDatabase();
    const store = await PgStore.open({ url: db.url });
    return { store, dispose: () => db.drop() };
  }
  const dir = await mkdtemp(join(tmpdir(), "branchline-bench-out-"));
  return { store: await LowdbStore.open({ dir }), dispose: () => rm(dir, { recursive: true, force: true }) };
}

/** One store, Graph client and Sender at a given mps; counts what was sent. */
class Rig {
  sent = 0;
  failed = 0;
  errors = 0;
  readonly sentIds = new Set<string>();
  private watchers: Array<() => void> = [];

  private constructor(
    readonly store: Store,
    readonly sender: Sender,
    private readonly dispose: () => Promise<void>,
  ) {}

  static async open(graph: FakeGraphProcess, mps: number, target: StoreTarget): Promise<Rig> {
    installStoreProbe(); // times the store's group commits (idempotent; run.ts installed it for inbound)
    const { store, dispose } = await openStore(target);
    const graphClient = createGraphClient({ http: createHttpClient(), graphUrl: graph.graphUrl, phoneNumberId: PHONE_NUMBER_ID, accessToken: "bench", timeoutMs: 20_000 });
    let rig!: Rig;
    const client: WhatsAppSender = {
      send: async (m) => {
        try {
          return await graphClient.send(m);
        } catch (err) {
          rig.errors++;
          throw err;
        }
      },
    };
    const sender = new Sender({
      store,
      client,
      logger: createLogger("silent"),
      metrics,
      mps,
      afterCommit: (e) => {
        if (e.type === "sent") {
          rig.sent++;
          rig.sentIds.add(e.message.id);
        } else rig.failed++;
        for (const w of rig.watchers) w();
      },
    });
    rig = new Rig(store, sender, dispose);
    const now = Date.now();
    await store.transact(async (tx) => {
      for (const [id, name] of [["A", "Campaign branch"], ["B", "Reply branch B"], ["C", "Reply branch C"]] as const) {
        const branch: Branch = { id, name, code: `BENCH${id}`, crm: "inbox", enabled: true, isHq: false, keywords: [], adSourceIds: [], keyHash: "x", keyPrefix: "x", createdAt: now, updatedAt: now };
        await tx.put("branches", branch);
      }
    });
    await sender.start();
    return rig;
  }

  /** Resolves true when `cond` holds after a commit, false after `timeoutMs`. */
  until(cond: () => boolean, timeoutMs: number): Promise<boolean> {
    if (cond()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const check = () => {
        if (!cond()) return;
        clearTimeout(timer);
        this.watchers = this.watchers.filter((w) => w !== check);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.watchers = this.watchers.filter((w) => w !== check);
        resolve(false);
      }, timeoutMs);
      this.watchers.push(check);
    });
  }

  /** Customers with an open 24-hour window (they wrote a minute ago). */
  async customers(n: number): Promise<Customer[]> {
    const now = Date.now();
    const list = Array.from({ length: n }, () => {
      const waId = `7955${String(++phoneSeq).padStart(7, "0")}`;
      return { id: `wa:${waId}`, waId, aliases: [], lastInboundAt: now - 60_000, createdAt: now, updatedAt: now } satisfies Customer;
    });
    for (let i = 0; i < list.length; i += 1000) {
      await this.store.transact(async (tx) => {
        for (const c of list.slice(i, i + 1000)) await tx.put("customers", c);
      });
    }
    return list;
  }

  /** Queues one text message per customer through the outbox (500 per transaction); returns the jobs. */
  async queue(customers: Customer[], branchId: string, origin: "campaign" | "reply", priority: Priority, text: string): Promise<{ jobs: Job[]; ids: string[] }> {
    const jobs: Job[] = [];
    const ids: string[] = [];
    for (let i = 0; i < customers.length; i += 500) {
      await this.store.transact(async (tx) => {
        for (const [k, customer] of customers.slice(i, i + 500).entries()) {
          const { message, job } = await queueOutbound(tx, { customer, branchId, content: { kind: "text", text: `${text} ${i + k}` }, origin, priority, now: Date.now() });
          jobs.push(job);
          ids.push(message.id);
        }
      });
    }
    return { jobs, ids };
  }

  async close(): Promise<void> {
    await this.sender.stop();
    await this.store.close();
    await this.dispose();
  }
}

// ──────────────────────────────────────── scenarios ────────────────────────────────────────

function perSecond(sorted: number[]): number[] {
  if (!sorted.length) return [];
  const first = sorted[0]!;
  const out: number[] = [];
  for (const t of sorted) {
    const s = Math.floor((t - first) / 1000);
    out[s] = (out[s] ?? 0) + 1;
  }
  return Array.from(out, (v) => v ?? 0);
}

const cpuMs = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1000;
/** Starts measuring event-loop delay; the returned function stops and reads it. */
function loopDelay(): () => { eventLoopP50Ms: number; eventLoopP99Ms: number; eventLoopMaxMs: number } {
  const h = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  return () => {
    h.disable();
    return { eventLoopP50Ms: round(h.percentile(50) / 1e6, 1), eventLoopP99Ms: round(h.percentile(99) / 1e6, 1), eventLoopMaxMs: round(h.max / 1e6, 1) };
  };
}
const cpuSplit = (u: NodeJS.CpuUsage) => ({ cpuUserMs: round(u.user / 1000, 1), cpuSystemMs: round(u.system / 1000, 1) });

export async function rateScenario(graph: FakeGraphProcess, cfg: OutboundConfig, mps: number, n: number, label: string, target: StoreTarget = { kind: "lowdb" }): Promise<RateResult> {
  const setup0 = performance.now();
  const rig = await Rig.open(graph, mps, target);
  try {
    const customers = await rig.customers(n);
    const { jobs } = await rig.queue(customers, "A", "campaign", "campaign", "rate");
    await graph.reset();
    const setupMs = performance.now() - setup0;
    const expectedMs = (n / mps) * 1000 * 1.04;
    const storeStats = storeWindow();
    const loop = loopDelay();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const done = rig.until(() => rig.sent + rig.failed >= n, expectedMs * 2 + cfg.graceMs);
    for (const j of jobs) rig.sender.add(j);
    const complete = await done;
    const cpuUsed = process.cpuUsage(cpu0);
    const cpu = cpuMs(cpuUsed);
    const store = storeStats();
    const el = loop();
    const wallMs = performance.now() - t0;
    const rec = await graph.records();
    const times = [...rec.at].sort((a, b) => a - b);
    const spanMs = times.length > 1 ? times[times.length - 1]! - times[0]! : Number.NaN;
    const achieved = times.length > 1 ? ((times.length - 1) / spanMs) * 1000 : Number.NaN;
    const maxIn = maxInWindow(times, 1000);
    const r: RateResult = {
      label,
      mps,
      queued: n,
      sent: times.length,
      errors: rig.errors + rig.failed,
      complete,
      spanMs: round(spanMs, 1),
      achievedPerSec: round(achieved, 2),
      achievedOverLimit: round(achieved / mps, 4),
      maxInAnySecond: maxIn,
      perSecond: perSecond(times),
      wallMs: round(wallMs, 0),
      cpuMs: round(cpu, 1),
      cpuPct: round((cpu / wallMs) * 100, 1),
      cpuMsPer1000: round((cpu / Math.max(1, times.length)) * 1000, 1),
      ...cpuSplit(cpuUsed),
      store,
      ...el,
      setupMs: round(setupMs, 0),
      pass: { achieved: complete && achieved / mps >= cfg.targets.achievedOverLimit, window: maxIn <= mps },
    };
    log(
      `${label}: ${r.sent}/${n} sent in ${(r.spanMs / 1000).toFixed(2)} s → ${r.achievedPerSec} msg/s (${r.achievedOverLimit} of ${mps}), ` +
        `max ${maxIn} in any second, CPU ${r.cpuMsPer1000} ms per 1,000 sends (${r.cpuPct}% of a core; user ${r.cpuUserMs} sys ${r.cpuSystemMs} ms), ` +
        `${store.groupCommits} group commits (p50 ${store.appendMs.p50} p99 ${store.appendMs.p99} ms, ${store.opsPerCommitMean} rows each), ` +
        `event loop p50 ${el.eventLoopP50Ms} p99 ${el.eventLoopP99Ms} max ${el.eventLoopMaxMs} ms, errors ${r.errors}, setup ${r.setupMs} ms`,
    );
    return r;
  } finally {
    await rig.close();
  }
}

async function replyScenario(graph: FakeGraphProcess, cfg: OutboundConfig, mps: number, offsetMs: number, target: StoreTarget): Promise<ReplyResult> {
  const rc = cfg.replies;
  const label = `replies-under-campaign-${mps}`;
  const replyCount = Math.round((rc.durationMs / 1000) * rc.perSecond);
  const campaignCount = Math.max(rc.campaignMin, Math.ceil((mps / 1.04) * ((rc.leadMs + rc.durationMs) / 1000 + 3)));
  const setup0 = performance.now();
  const rig = await Rig.open(graph, mps, target);
  try {
    const campaignCustomers = await rig.customers(campaignCount);
    const replyCustomers = await rig.customers(replyCount);
    const campaign = await rig.queue(campaignCustomers, "A", "campaign", "campaign", "A campaign");
    const campaignIds = new Set(campaign.ids);
    await graph.reset();
    const setupMs = performance.now() - setup0;

    const storeStats = storeWindow();
    const loop = loopDelay();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (const j of campaign.jobs) rig.sender.add(j);
    await sleep(rc.leadMs);

    // Live replies: queued on schedule (not one after the other), each right after its own commit.
    const queuedAt = new Map<string, number>();
    const commitMs: number[] = [];
    const pending: Promise<void>[] = [];
    const start = performance.now();
    for (let i = 0; i < replyCount; i++) {
      await sleep(start + (i * 1000) / rc.perSecond - performance.now());
      const customer = replyCustomers[i]!;
      const branchId = rc.branches[i % rc.branches.length]!;
      pending.push(
        (async () => {
          const q = clock();
          const { message, job } = await rig.store.transact((tx) =>
            queueOutbound(tx, { customer, branchId, content: { kind: "text", text: `${branchId} reply ${i}` }, origin: "reply", priority: "reply", now: Date.now() }),
          );
          commitMs.push(clock() - q);
          queuedAt.set(message.id, q);
          rig.sender.add(job);
        })(),
      );
    }
    await Promise.all(pending);
    const complete = await rig.until(() => [...queuedAt.keys()].every((id) => rig.sentIds.has(id)), cfg.graceMs);
    const wallMs = performance.now() - t0;
    const cpuUsed = process.cpuUsage(cpu0);
    const cpu = cpuMs(cpuUsed);
    const store = storeStats();
    const el = loop();
    const campaignSentByCommit = [...rig.sentIds].filter((id) => campaignIds.has(id)).length;
    const rec = await graph.records();

    // Arrival times on our clock.
    const arrivals = rec.at.map((t, k) => ({ t: t - offsetMs, id: rec.id[k]! }));
    const waits: number[] = [];
    let lastReply = Number.NEGATIVE_INFINITY;
    for (const a of arrivals) {
      const q = queuedAt.get(a.id);
      if (q === undefined) continue;
      waits.push(a.t - q);
      lastReply = Math.max(lastReply, a.t);
    }
    const firstQueued = Math.min(...queuedAt.values());
    const inPhaseAll = arrivals.filter((a) => a.t >= firstQueued && a.t <= lastReply);
    const inPhaseCampaign = inPhaseAll.filter((a) => campaignIds.has(a.id)).length;
    const phaseMs = lastReply - firstQueued;
    const phaseRate = ((inPhaseAll.length - 1) / phaseMs) * 1000;
    const times = arrivals.map((a) => a.t).sort((a, b) => a - b);
    const maxIn = maxInWindow(times, 1000);
    const replyWaitMs = summarize(waits);
    const r: ReplyResult = {
      label,
      mps,
      campaignQueued: campaignCount,
      repliesQueued: replyCount,
      repliesSent: waits.length,
      complete,
      errors: rig.errors + rig.failed,
      replyWaitMs,
      replyCommitMs: summarize(commitMs),
      replyPhaseMs: round(phaseMs, 0),
      inPhase: {
        total: inPhaseAll.length,
        campaign: inPhaseCampaign,
        replies: inPhaseAll.length - inPhaseCampaign,
        campaignShare: round(inPhaseCampaign / inPhaseAll.length, 4),
        achievedPerSec: round(phaseRate, 2),
        achievedOverLimit: round(phaseRate / mps, 4),
      },
      campaignSentTotal: Math.max(campaignSentByCommit, arrivals.filter((a) => campaignIds.has(a.id)).length),
      maxInAnySecond: maxIn,
      wallMs: round(wallMs, 0),
      cpuMs: round(cpu, 1),
      cpuPct: round((cpu / wallMs) * 100, 1),
      cpuMsPer1000: round((cpu / Math.max(1, arrivals.length)) * 1000, 1),
      ...cpuSplit(cpuUsed),
      store,
      ...el,
      setupMs: round(setupMs, 0),
      pass: {
        replyP99: complete && waits.length === replyCount && replyWaitMs.p99 < cfg.targets.replyP99Ms,
        window: maxIn <= mps,
        achieved: phaseRate / mps >= cfg.targets.achievedOverLimit,
      },
    };
    log(
      `${label}: ${r.repliesSent}/${replyCount} replies, wait p50 ${replyWaitMs.p50} p99 ${replyWaitMs.p99} max ${replyWaitMs.max} ms (commit p99 ${r.replyCommitMs.p99} ms); ` +
        `meanwhile ${r.inPhase.total} sends at ${r.inPhase.achievedPerSec} msg/s, campaign share ${(r.inPhase.campaignShare * 100).toFixed(1)}%; ` +
        `campaign ${r.campaignSentTotal}/${campaignCount} out when stopped; max ${maxIn} in any second; CPU ${r.cpuMsPer1000} ms per 1,000 sends (user ${r.cpuUserMs} sys ${r.cpuSystemMs} ms); ` +
        `${store.groupCommits} group commits (p50 ${store.appendMs.p50} p99 ${store.appendMs.p99} ms); event loop p99 ${el.eventLoopP99Ms} max ${el.eventLoopMaxMs} ms; errors ${r.errors}; setup ${r.setupMs} ms`,
    );
    return r;
  } finally {
    await rig.close();
  }
}

export async function runOutbound(opts: { quick: boolean; target?: StoreTarget }): Promise<OutboundReport> {
  const target = opts.target ?? { kind: "lowdb" };
  const cfg = outboundConfig(opts.quick, target.kind);
  const t0 = performance.now();
  const loadAvgAtStart = os.loadavg().map((v) => round(v, 2));
  const graph = await FakeGraphProcess.start();
  try {
    const { offsetMs, rttMs } = await graph.clockOffset();
    log(`store ${target.kind}; fake Graph ${graph.graphUrl} (child pid), clock offset ${offsetMs} ms (rtt ${rttMs} ms)${cfg.quick ? "; QUICK" : ""}`);
    const warmup = await rateScenario(graph, cfg, cfg.warmup.mps, cfg.warmup.messages, "warmup", target);
    const rate: RateResult[] = [];
    for (const mps of cfg.rateMps) rate.push(await rateScenario(graph, cfg, mps, Math.round(mps * cfg.rateSeconds), `rate-${mps}`, target));
    const replies: ReplyResult[] = [];
    for (const mps of cfg.replies.mps) replies.push(await replyScenario(graph, cfg, mps, offsetMs, target));
    const cpus = os.cpus();
    return {
      store: target.kind,
      machine: {
        cpus: cpus.length,
        cpuModel: cpus[0]?.model ?? "unknown",
        node: process.version,
        date: new Date().toISOString(),
        loadAvgAtStart,
        loadAvgAtEnd: os.loadavg().map((v) => round(v, 2)),
      },
      config: cfg,
      clockOffsetMs: offsetMs,
      clockRttMs: rttMs,
      warmup,
      rate,
      replies,
      totalMs: round(performance.now() - t0, 0),
    };
  } finally {
    graph.stop();
  }
}

// ───────────────────────────────────────── report ─────────────────────────────────────────

const pf = (ok: boolean) => (ok ? "PASS" : "FAIL");
const int = (v: number) => (Number.isFinite(v) ? Math.round(v).toLocaleString("en-US") : "–");
const fix = (v: number, d = 1) => (Number.isFinite(v) ? v.toFixed(d) : "–");

export function outboundTable(r: OutboundReport): string {
  const t = r.config.targets;
  const head = [
    "Scenario",
    "Limit msg/s",
    "Sent",
    "Span s",
    "Achieved msg/s",
    `Achieved ÷ limit (≥ ${t.achievedOverLimit})`,
    "Max in any 1 s (≤ limit)",
    "Sender CPU ms / 1,000 sends",
    "CPU % of one core (all threads)",
    "Event loop p99 ms",
    `Reply wait p50 / p99 / max ms (p99 < ${int(t.replyP99Ms)})`,
    "Campaign share meanwhile",
    "Errors",
  ];
  const rows: string[][] = [];
  for (const x of r.rate) {
    rows.push([
      `Rate accuracy, ${int(x.queued)} msgs${x.complete ? "" : " (INCOMPLETE)"}`,
      int(x.mps),
      int(x.sent),
      fix(x.spanMs / 1000, 2),
      fix(x.achievedPerSec, 1),
      `${fix(x.achievedOverLimit, 4)} ${pf(x.pass.achieved)}`,
      `${x.maxInAnySecond} ${pf(x.pass.window)}`,
      fix(x.cpuMsPer1000, 0),
      fix(x.cpuPct, 1),
      fix(x.eventLoopP99Ms, 0),
      "–",
      "–",
      int(x.errors),
    ]);
  }
  for (const x of r.replies) {
    const w = x.replyWaitMs;
    rows.push([
      `${int(x.repliesQueued)} replies (B, C; ${r.config.replies.perSecond}/s) under a ${int(x.campaignQueued)}-msg campaign (A)${x.complete ? "" : " (INCOMPLETE)"}`,
      int(x.mps),
      `${int(x.inPhase.total)} in reply phase (${int(x.campaignSentTotal)} campaign in all)`,
      fix(x.replyPhaseMs / 1000, 2),
      fix(x.inPhase.achievedPerSec, 1),
      `${fix(x.inPhase.achievedOverLimit, 4)} ${pf(x.pass.achieved)}`,
      `${x.maxInAnySecond} ${pf(x.pass.window)}`,
      fix(x.cpuMsPer1000, 0),
      fix(x.cpuPct, 1),
      fix(x.eventLoopP99Ms, 0),
      `${fix(w.p50, 0)} / ${fix(w.p99, 0)} / ${fix(w.max, 0)} ${pf(x.pass.replyP99)}`,
      `${fix(x.inPhase.campaignShare * 100, 1)} %`,
      int(x.errors),
    ]);
  }
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [line(head), line(head.map(() => "---")), ...rows.map(line)].join("\n");
}

export function printOutbound(r: OutboundReport): void {
  const m = r.machine;
  console.log(`\nBranchline outbound benchmark — ${m.date}, ${m.cpus}× ${m.cpuModel}, Node ${m.node}, load avg ${m.loadAvgAtStart.join("/")}${r.config.quick ? " (QUICK)" : ""}\n`);
  console.log(outboundTable(r));
  const all = [...r.rate.flatMap((x) => [x.pass.achieved, x.pass.window]), ...r.replies.flatMap((x) => [x.pass.replyP99, x.pass.window, x.pass.achieved])];
  console.log(
    `\nOutbound: ${all.filter(Boolean).length}/${all.length} targets PASS. Span = first to last arrival at the fake Graph (child process); ` +
      `reply wait = arrival − time queued (clock offset ${r.clockOffsetMs} ms corrected); "meanwhile" = first reply queued → last reply sent. Total ${(r.totalMs / 1000).toFixed(0)} s.`,
  );
}

/** Adds (or replaces) `outbound.<store>` in `latest.json`, keeping everything else. */
export async function saveOutbound(r: OutboundReport, file = join(here, "results", "latest.json")): Promise<void> {
  let existing: Record<string, unknown> = {};
  try {
    existing = JSON.parse(await readFile(file, "utf8")) as Record<string, unknown>;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  await mkdir(dirname(file), { recursive: true });
  const outbound = typeof existing.outbound === "object" && existing.outbound !== null ? (existing.outbound as Record<string, unknown>) : {};
  await writeFile(file, JSON.stringify({ ...existing, outbound: { ...outbound, [r.store]: r } }, null, 2) + "\n");
}

if (process.argv[1] && pathToFileURL(resolve(process.argv[1])).href === import.meta.url) {
  runOutbound({ quick: process.env.BENCH_QUICK === "1" })
    .then(async (r) => {
      printOutbound(r);
      await saveOutbound(r);
    })
    .catch((err) => {
      console.error(err);
      process.exitCode = 1;
    });
}
