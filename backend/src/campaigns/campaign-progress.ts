import { displayState, type CampaignDisplayState } from "../domain/campaign-rules.js";
import type { Campaign, MessageRecord } from "../domain/types.js";
import type { Tx } from "../store/store.port.js";

/**
 * Where a campaign stands, read from the records it created: each recipient keeps the id of its
 * message, and status webhooks move those messages on. Counts are cumulative milestones: a read
 * message is also delivered and sent. `total = pending + queued + sent + failed + skipped`.
 */
export interface CampaignProgress {
  /** Rows given, good or bad. */
  total: number;
  /** Not yet handed to the outbox. */
  pending: number;
  /** In the outbox, not yet accepted by WhatsApp. */
  queued: number;
  /** Accepted by WhatsApp (and not failed later); includes delivered and read. */
  sent: number;
  delivered: number;
  read: number;
  /** Sent, and the customer wrote to the number after the message was queued. */
  replied: number;
  failed: number;
  skipped: number;
  /** Skipped rows by reason: invalid_row, invalid_phone, duplicate, opted_out, marketing_limit, cancelled… */
  skippedByReason: Record<string, number>;
}

const SENT = new Set(["sent", "delivered", "read", "played"]);
const DELIVERED = new Set(["delivered", "read", "played"]);
const READ = new Set(["read", "played"]);

export async function computeProgress(tx: Tx, c: Campaign): Promise<CampaignProgress> {
  const p: CampaignProgress = { total: c.total, pending: 0, queued: 0, sent: 0, delivered: 0, read: 0, replied: 0, failed: 0, skipped: 0, skippedByReason: { ...c.importSkipped } };
  const skip = (reason: string) => void (p.skippedByReason[reason] = (p.skippedByReason[reason] ?? 0) + 1);
  for (const r of await tx.byIndex("campaignRecipients", "campaignId", c.id)) {
    if (r.state === "skipped") skip(r.skipReason ?? "skipped");
    else if (r.state === "pending") {
      // A cancelled campaign will never send them.
      if (c.state === "cancelled") skip("cancelled");
      else p.pending++;
    } else {
      const m = r.messageId ? await tx.get("messages", r.messageId) : undefined;
      if (!m || m.status === "queued" || m.status === "sending") p.queued++;
      else if (m.status === "failed") p.failed++;
      else if (SENT.has(m.status)) {
        p.sent++;
        if (DELIVERED.has(m.status)) p.delivered++;
        if (READ.has(m.status)) p.read++;
        if (await repliedTo(tx, m)) p.replied++;
      }
    }
  }
  p.skipped = Object.values(p.skippedByReason).reduce((a, b) => a + b, 0);
  return p;
}

/**
 * The customer wrote after the campaign message was queued. The customer's last message time is
 * Meta's timestamp, in whole seconds, so the message's time is compared at that precision.
 */
async function repliedTo(tx: Tx, m: MessageRecord): Promise<boolean> {
  const customer = await tx.get("customers", m.customerId);
  const last = customer?.lastInboundAt;
  return last !== undefined && last >= Math.floor(m.sentAt / 1000) * 1000;
}

export interface CampaignView {
  id: string;
  name: string;
  template: { name: string; language: string; category: string };
  branchIds: string[];
  schedule: { startAt: number | null; quietHours: { from: string; to: string; timezone: string } | null };
  state: CampaignDisplayState;
  /** When sending starts or resumes (scheduled, quiet_hours), else null. */
  nextRunAt: number | null;
  createdAt: number;
  startedAt: number | null;
  pausedAt: number | null;
  finishedAt: number | null;
  cancelledAt: number | null;
  lastError: { code: string; message: string; at: number } | null;
  progress: CampaignProgress;
}

export function campaignView(c: Campaign, progress: CampaignProgress, now: number): CampaignView {
  const d = displayState(c.state, c.schedule, now);
  return {
    id: c.id,
    name: c.name,
    template: { name: c.template.name, language: c.template.language, category: c.template.category },
    branchIds: c.branchIds,
    schedule: { startAt: c.schedule.startAt ?? null, quietHours: c.schedule.quietHours ?? null },
    state: d.state,
    nextRunAt: d.nextRunAt ?? null,
    createdAt: c.createdAt,
    startedAt: c.startedAt ?? null,
    pausedAt: c.state === "paused" ? (c.pausedAt ?? null) : null,
    finishedAt: c.finishedAt ?? null,
    cancelledAt: c.cancelledAt ?? null,
    lastError: c.lastError ?? null,
    progress,
  };
}
