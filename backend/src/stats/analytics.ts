import {
  analyticsRow,
  analyticsTotals,
  daysBetween,
  firstResponsesByDay,
  parseDay,
  ratio,
  repliedByDay,
  type AnalyticsRow,
  type AnalyticsTotals,
} from "../domain/analytics.js";
import type { Branch, CrmConnection, Job, MessageRecord } from "../domain/types.js";
import { DELIVER_QUEUE, type DeliveryPayload } from "../inbound/deliveries.js";
import type { Store, Tx } from "../store/store.port.js";

const DAY_MS = 86_400_000;

// ─────────────────────────────────────────── analytics ───────────────────────────────────────────

export interface AnalyticsQuery {
  /** UTC days, both included. */
  from: string;
  to: string;
  branchId?: string;
}

export interface AnalyticsResult {
  rows: AnalyticsRow[];
  /** The selected branches together, per day (what the console charts). */
  byDay: Array<{ date: string } & AnalyticsTotals>;
  /** The selected branches together over the whole range. */
  totals: AnalyticsTotals;
}

/**
 * One row per branch per UTC day of the range (days without traffic included, so a chart or a
 * pivot has every day). Counts come from the daily counters; `replied` and first response times
 * from the stored messages of the branch's dialogs active in the range.
 */
export async function loadAnalytics(store: Store, q: AnalyticsQuery): Promise<AnalyticsResult> {
  const days = daysBetween(q.from, q.to);
  const inRange = new Set(days);
  const fromMs = parseDay(q.from) ?? 0;
  return store.read(async (tx) => {
    const branches = (await tx.list("branches")).filter((b) => !q.branchId || b.id === q.branchId);
    const rows: AnalyticsRow[] = [];
    const samplesByDay = new Map<string, number[]>(days.map((d) => [d, []]));
    for (const branch of branches) {
      const counters = new Map<string, Record<string, number>>();
      for (const s of await tx.byIndex("dailyStats", "branchId", branch.id)) if (inRange.has(s.day)) counters.set(s.day, s.counts);
      const { replied, responses } = await dialogMath(tx, branch.id, fromMs);
      for (const day of days) {
        const samples = responses.get(day) ?? [];
        samplesByDay.get(day)!.push(...samples);
        rows.push(analyticsRow({ branch, day, counts: counters.get(day) ?? {}, replied: replied.get(day) ?? 0, firstResponses: samples }));
      }
    }
    const rowsByDay = new Map<string, AnalyticsRow[]>(days.map((d) => [d, []]));
    for (const r of rows) rowsByDay.get(r.date)!.push(r);
    const byDay = days.map((date) => ({ date, ...analyticsTotals(rowsByDay.get(date)!, samplesByDay.get(date)!) }));
    return { rows, byDay, totals: analyticsTotals(rows, [...samplesByDay.values()].flat()) };
  });
}

/** Replies and first responses over the branch's dialogs that had a message on or after `sinceMs`. */
async function dialogMath(tx: Tx, branchId: string, sinceMs: number): Promise<{ replied: Map<string, number>; responses: Map<string, number[]> }> {
  const replied = new Map<string, number>();
  const responses = new Map<string, number[]>();
  for (const dialog of await tx.byIndex("dialogs", "branchId", branchId)) {
    // A dialog's updatedAt is the time of its newest message: older dialogs hold nothing in range.
    if (dialog.updatedAt < sinceMs) continue;
    const messages = (await tx.byIndex("messages", "dialogId", dialog.id)).filter((m) => m.branchId === branchId);
    for (const [day, n] of repliedByDay(messages)) replied.set(day, (replied.get(day) ?? 0) + n);
    for (const [day, list] of firstResponsesByDay(messages)) responses.set(day, [...(responses.get(day) ?? []), ...list]);
  }
  return { replied, responses };
}

// ───────────────────────────────────────────── health ────────────────────────────────────────────

export type HealthWindow = "24h" | "7d";
export const HEALTH_WINDOWS: Record<HealthWindow, number> = { "24h": DAY_MS, "7d": 7 * DAY_MS };

export interface CrmConnectionHealth {
  kind: CrmConnection["kind"];
  domain: string;
  state: CrmConnection["state"];
  lastError?: CrmConnection["lastError"];
  updatedAt: number;
}

export interface BranchHealth {
  id: string;
  name: string;
  code: string;
  crm: Branch["crm"];
  enabled: boolean;
  isHq: boolean;
  city?: string;
  keyPrefix: string;
  /** When the newest customer message routed to the branch reached us. */
  lastInboundAt: number | null;
  /** When the branch last sent (queued) a message. */
  lastOutboundAt: number | null;
  /**
   * When the newest customer message that reached the branch's CRM arrived (its connector delivery
   * finished). The built-in inbox reads the store directly: there it equals `lastInboundAt`.
   */
  lastDeliveredAt: number | null;
  /**
   * Connector deliveries of customer messages that arrived within the window: `total` messages,
   * `failed` = their deliveries that were dead-lettered, `retrying` = still being retried after an
   * error, `errorRate` = failed / total (null with no messages; always null for the inbox).
   */
  deliveries: { total: number; failed: number; retrying: number; errorRate: number | null } | null;
  /** Jobs of this branch (any queue: deliveries, sends, …) in the dead-letter list. */
  deadLetters: number;
  /** amoCRM / Bitrix24 accounts bound to the branch (no secrets); empty = not connected yet. */
  crmConnections: CrmConnectionHealth[];
}

/** The console's branch overview: activity, connector delivery errors and CRM connection state. */
export async function branchHealth(store: Store, now: number, window: HealthWindow): Promise<{ window: HealthWindow; since: number; branches: BranchHealth[] }> {
  const since = now - HEALTH_WINDOWS[window];
  return store.read(async (tx) => {
    const branches = await tx.list("branches");
    const dead = await tx.byIndex("jobs", "state", "dead");
    const live = [
      ...(await tx.byIndex("jobs", "queueState", `${DELIVER_QUEUE}|pending`)),
      ...(await tx.byIndex("jobs", "queueState", `${DELIVER_QUEUE}|running`)),
    ];
    const out: BranchHealth[] = [];
    for (const b of branches) {
      const mine = (j: Job) => j.branchId === b.id;
      const deadMine = dead.filter(mine);
      const liveMine = live.filter(mine);
      const stats = await messageStats(tx, b, since, {
        dead: messageIdsOf(deadMine.filter((j) => j.queue === DELIVER_QUEUE)),
        live: messageIdsOf(liveMine),
        retrying: messageIdsOf(liveMine.filter((j) => j.attempts > 0)),
      });
      const connections = b.crm === "amocrm" || b.crm === "bitrix24" ? await tx.byIndex("crmConnections", "branchId", b.id) : [];
      out.push({
        id: b.id,
        name: b.name,
        code: b.code,
        crm: b.crm,
        enabled: b.enabled,
        isHq: b.isHq,
        city: b.city,
        keyPrefix: b.keyPrefix,
        lastInboundAt: stats.lastInboundAt,
        lastOutboundAt: stats.lastOutboundAt,
        lastDeliveredAt: b.crm === "inbox" ? stats.lastInboundAt : stats.lastDeliveredAt,
        deliveries: b.crm === "inbox" ? null : { total: stats.total, failed: stats.failed, retrying: stats.retrying, errorRate: ratio(stats.failed, stats.total) },
        deadLetters: deadMine.length,
        crmConnections: connections
          .sort((x, y) => y.updatedAt - x.updatedAt)
          .map((c) => ({ kind: c.kind, domain: c.domain, state: c.state, ...(c.lastError ? { lastError: c.lastError } : {}), updatedAt: c.updatedAt })),
      });
    }
    return { window, since, branches: out };
  });
}

function messageIdsOf(jobs: Job[]): Set<string> {
  return new Set(jobs.map((j) => j.payload as DeliveryPayload).filter((p) => p?.type === "message").map((p) => p.messageId));
}

interface DeliveryJobs {
  dead: Set<string>;
  live: Set<string>;
  retrying: Set<string>;
}

/**
 * Scans the branch's dialogs newest first. A dialog's `updatedAt` is the time of its newest message,
 * so the scan stops once no older dialog can change an answer.
 */
async function messageStats(tx: Tx, b: Branch, since: number, jobs: DeliveryJobs) {
  let lastInboundAt: number | null = null;
  let lastOutboundAt: number | null = null;
  let lastDeliveredAt: number | null = null;
  let total = 0;
  let failed = 0;
  let retrying = 0;
  const dialogs = (await tx.byIndex("dialogs", "branchId", b.id)).sort((x, y) => y.updatedAt - x.updatedAt);
  for (const d of dialogs) {
    const couldImprove = (v: number | null) => v === null || d.updatedAt > v;
    if (d.updatedAt < since && !couldImprove(lastInboundAt) && !couldImprove(lastOutboundAt) && (b.crm === "inbox" || !couldImprove(lastDeliveredAt))) break;
    const messages: MessageRecord[] = await tx.byIndex("messages", "dialogId", d.id);
    for (const m of messages) {
      if (m.branchId !== b.id) continue;
      if (m.direction === "out") {
        lastOutboundAt = Math.max(lastOutboundAt ?? 0, m.createdAt);
        continue;
      }
      lastInboundAt = Math.max(lastInboundAt ?? 0, m.createdAt);
      const pending = jobs.live.has(m.id) || jobs.dead.has(m.id);
      if (!pending) lastDeliveredAt = Math.max(lastDeliveredAt ?? 0, m.createdAt);
      if (m.createdAt >= since) {
        total++;
        if (jobs.dead.has(m.id)) failed++;
        if (jobs.retrying.has(m.id)) retrying++;
      }
    }
  }
  return { lastInboundAt, lastOutboundAt, lastDeliveredAt, total, failed, retrying };
}
