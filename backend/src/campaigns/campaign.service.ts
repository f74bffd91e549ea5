import { randomUUID } from "node:crypto";
import { AppError, notFound } from "../errors.js";
import { DAY_MS, checkMessagingLimit, type LimitCheck } from "../domain/campaign-rules.js";
import { dayOf } from "../domain/day.js";
import { waIdCandidates } from "../domain/phone.js";
import type { Campaign, CampaignImportError, CampaignRecipient, CampaignSchedule } from "../domain/types.js";
import type { Store, Tx } from "../store/store.port.js";
import { importRecipients, type ImportResult } from "./campaign-import.js";
import { campaignView, computeProgress, type CampaignProgress, type CampaignView } from "./campaign-progress.js";
import { CAMPAIGN_QUEUE, recipientId, scheduleTick, tickJobId } from "./campaign.worker.js";
import { readRecipientsCsv, type CsvProblem, type RecipientRow } from "./csv.js";

export interface CampaignServiceDeps {
  store: Store;
  now: () => number;
  /** WHATSAPP_MESSAGING_LIMIT: unique customers per moving 24 h; null = unlimited. */
  messagingLimit: number | null;
  /** A tick job was added or moved: wake the job runner. */
  wake(): void;
}

export interface CreateCampaignInput {
  name: string;
  template: { name: string; language: string; header?: unknown; buttons?: unknown };
  branchIds: string[];
  /** The list as JSON … */
  recipients?: Array<{ phone: string; params?: string[] | Record<string, string>; branch?: string }>;
  /** … or as CSV text. */
  csv?: string;
  schedule?: CampaignSchedule;
}

/** What an import would do: returned by the preview, and with a created campaign. */
export interface ImportReport {
  template: { name: string; language: string; category: string };
  total: number;
  recipients: number;
  skipped: Record<string, number>;
  errors: CampaignImportError[];
  messagingLimit: LimitCheck;
}

export interface CampaignDetail extends CampaignView {
  importErrors: CampaignImportError[];
}

const ACTIVE = ["scheduled", "running", "paused"] as const;
const PROGRESS_TTL_MS = 500;
/** A finished campaign changes only by late statuses and replies: the list (which shows them all) recounts it less often. */
const FINISHED_PROGRESS_TTL_MS = 10_000;

/**
 * Campaigns: create (with an up-front refusal over the number's messaging limit), read with
 * progress, pause, resume, cancel. Sending is the campaign worker's job (campaign.worker.ts).
 */
export class CampaignService {
  private readonly cache = new Map<string, { at: number; progress: CampaignProgress }>();

  constructor(private readonly deps: CampaignServiceDeps) {}

  /** Checks the list and the limit without creating anything. */
  async preview(input: CreateCampaignInput): Promise<ImportReport> {
    const now = this.deps.now();
    return this.deps.store.read(async (tx) => {
      const imported = await importRecipients(tx, importRequest(input), now);
      return report(imported, await this.limitFor(tx, imported, now));
    });
  }

  /**
   * Creates the campaign and its recipients in one transaction and schedules its first tick.
   * Refused with 422 `no_recipients` when no row is sendable and `messaging_limit` when the new
   * recipients do not fit in what is left of the number's 24-hour messaging limit.
   */
  async create(input: CreateCampaignInput): Promise<{ campaign: CampaignDetail; report: ImportReport }> {
    const now = this.deps.now();
    const created = await this.deps.store.transact(async (tx) => {
      const imported = await importRecipients(tx, importRequest(input), now);
      const limit = await this.limitFor(tx, imported, now);
      const rep = report(imported, limit);
      if (imported.recipients.length === 0) {
        throw new AppError({ code: "no_recipients", message: `none of the ${imported.total} rows can be sent to (${describeCounts(imported.skipped)})`, httpStatus: 422, field: input.csv !== undefined ? "csv" : "recipients", details: { skipped: imported.skipped, errors: imported.errors.slice(0, 50) } });
      }
      if (!limit.ok) {
        throw new AppError({
          code: "messaging_limit",
          message:
            `the campaign would reach ${limit.recipients} new customers, but the number's messaging limit is ${limit.limit} unique customers per 24 hours: ` +
            `${limit.usedLast24h} were reached in the last 24 hours and ${limit.reservedByCampaigns} more are waiting in other campaigns, so ${limit.available} are left`,
          httpStatus: 422,
          details: limit,
        });
      }
      const id = `cmp_${randomUUID()}`;
      const campaign: Campaign = {
        id,
        name: input.name,
        template: { name: imported.template.name, language: imported.template.language, category: imported.template.category, ...(input.template.header !== undefined ? { header: input.template.header } : {}), ...(input.template.buttons !== undefined ? { buttons: input.template.buttons } : {}) },
        branchIds: imported.branches.map((b) => b.id),
        schedule: input.schedule ?? {},
        state: "scheduled",
        total: imported.total,
        recipients: imported.recipients.length,
        importSkipped: imported.skipped,
        importErrors: imported.errors,
        cursor: 0,
        batchStart: 0,
        createdAt: now,
        updatedAt: now,
      };
      await tx.put("campaigns", campaign);
      for (const [seq, r] of imported.recipients.entries()) {
        const row: CampaignRecipient = {
          id: recipientId(id, seq),
          campaignId: id,
          seq,
          phone: r.phone,
          branchId: r.branchId,
          ...(r.params !== undefined ? { params: r.params } : {}),
          ...(r.line !== undefined ? { line: r.line } : {}),
          ...(r.index !== undefined ? { index: r.index } : {}),
          state: "pending",
        };
        await tx.put("campaignRecipients", row);
      }
      await scheduleTick(tx, id, now, now);
      return { campaign, report: rep, progress: await computeProgress(tx, campaign) };
    });
    this.deps.wake();
    return { campaign: { ...campaignView(created.campaign, created.progress, now), importErrors: created.campaign.importErrors }, report: created.report };
  }

  async get(id: string): Promise<CampaignDetail> {
    const c = await this.deps.store.read((tx) => tx.get("campaigns", id));
    if (!c) throw notFound(`campaign ${id}`);
    return { ...campaignView(c, await this.progress(c), this.deps.now()), importErrors: c.importErrors };
  }

  /** Newest first. */
  async list(): Promise<CampaignView[]> {
    const all = await this.deps.store.read((tx) => tx.list("campaigns"));
    const now = this.deps.now();
    const out: CampaignView[] = [];
    for (const c of all.reverse()) out.push(campaignView(c, await this.progress(c, { listing: true }), now));
    return out;
  }

  /** The campaign's recipients with their message's status, in list order. */
  async recipients(id: string, opts: { offset: number; limit: number }) {
    return this.deps.store.read(async (tx) => {
      const c = await tx.get("campaigns", id);
      if (!c) throw notFound(`campaign ${id}`);
      const items = [];
      for (let seq = opts.offset; seq < Math.min(c.recipients, opts.offset + opts.limit); seq++) {
        const r = await tx.get("campaignRecipients", recipientId(id, seq));
        if (!r) continue;
        const m = r.messageId ? await tx.get("messages", r.messageId) : undefined;
        items.push({
          phone: r.phone,
          branchId: r.branchId,
          line: r.line ?? null,
          index: r.index ?? null,
          state: r.state === "pending" && c.state === "cancelled" ? "skipped" : r.state,
          skipReason: r.skipReason ?? (r.state === "pending" && c.state === "cancelled" ? "cancelled" : null),
          messageId: r.messageId ?? null,
          status: m ? (m.status === "sending" ? "queued" : m.status === "played" ? "read" : m.status) : null,
          wamid: m?.wamid ?? null,
          error: m?.error ?? (r.skipMessage ? { code: r.skipReason ?? "skipped", message: r.skipMessage } : null),
        });
      }
      return { total: c.recipients, offset: opts.offset, items };
    });
  }

  /** Progress, recomputed at most every half second per running campaign (shared by pages and streams). */
  async progress(c: Campaign, opts: { listing?: boolean } = {}): Promise<CampaignProgress> {
    const now = this.deps.now();
    const hit = this.cache.get(c.id);
    const ttl = opts.listing && (c.state === "done" || c.state === "cancelled") ? FINISHED_PROGRESS_TTL_MS : PROGRESS_TTL_MS;
    if (hit && now - hit.at < ttl) return hit.progress;
    const progress = await this.deps.store.read(async (tx) => computeProgress(tx, (await tx.get("campaigns", c.id)) ?? c));
    this.cache.set(c.id, { at: now, progress });
    return progress;
  }

  /** Stops feeding the outbox; messages already queued (at most one batch) may still go. */
  pause(id: string): Promise<CampaignDetail> {
    return this.change(id, ["scheduled", "running"], "pause", (c, now) => ({ ...c, state: "paused", pausedAt: now }));
  }

  resume(id: string): Promise<CampaignDetail> {
    return this.change(id, ["paused"], "resume", async (c, now, tx) => {
      await scheduleTick(tx, id, now, now);
      return { ...c, state: c.startedAt ? "running" : "scheduled", pausedAt: undefined, lastError: undefined };
    });
  }

  /** Stops the campaign for good; messages already queued (at most one batch) may still go. */
  cancel(id: string): Promise<CampaignDetail> {
    return this.change(id, ACTIVE, "cancel", async (c, now, tx) => {
      const job = await tx.get("jobs", tickJobId(id));
      if (job && job.queue === CAMPAIGN_QUEUE && job.state !== "running") await tx.delete("jobs", job.id);
      return { ...c, state: "cancelled", cancelledAt: now };
    });
  }

  private async change(id: string, from: readonly Campaign["state"][], verb: string, fn: (c: Campaign, now: number, tx: Tx) => Campaign | Promise<Campaign>): Promise<CampaignDetail> {
    const now = this.deps.now();
    await this.deps.store.transact(async (tx) => {
      const c = await tx.get("campaigns", id);
      if (!c) throw notFound(`campaign ${id}`);
      if (!from.includes(c.state)) throw new AppError({ code: "invalid_state", message: `a ${c.state} campaign cannot ${verb}`, httpStatus: 409 });
      await tx.put("campaigns", { ...(await fn(c, now, tx)), updatedAt: now });
    });
    this.cache.delete(id);
    this.deps.wake();
    return this.get(id);
  }

  /** The messaging limit as it stands for this import (doc §5.3). */
  private async limitFor(tx: Tx, imported: ImportResult, now: number): Promise<LimitCheck> {
    const reached = await reachedLast24h(tx, now);
    const reserved = new Set<string>();
    for (const state of ACTIVE) {
      for (const c of await tx.byIndex("campaigns", "state", state)) {
        for (const r of await tx.byIndex("campaignRecipients", "campaignId", c.id)) if (r.state === "pending") reserved.add(waIdCandidates(r.phone)[0]!);
      }
    }
    return checkMessagingLimit(this.deps.messagingLimit, reached, reserved, imported.recipients.map((r) => r.key));
  }
}

/**
 * Customers the number reached with a business-initiated template in the last 24 hours: outbound
 * templates not failed, not priced as free (service window or entry point), and not sent while
 * the customer's own last message had the window open.
 */
async function reachedLast24h(tx: Tx, now: number): Promise<Set<string>> {
  const since = now - DAY_MS;
  const out = new Set<string>();
  for (const day of new Set([dayOf(since), dayOf(now)])) {
    for (const m of await tx.byIndex("messages", "outTemplateDay", day)) {
      if (m.createdAt < since || m.status === "failed") continue;
      if (m.pricing?.type === "free_customer_service" || m.pricing?.type === "free_entry_point") continue;
      const customer = await tx.get("customers", m.customerId);
      const last = customer?.lastInboundAt;
      if (last !== undefined && last <= m.createdAt && last > m.createdAt - DAY_MS) continue;
      out.add(customer?.waId ?? m.customerId);
    }
  }
  return out;
}

function importRequest(input: CreateCampaignInput): { template: CreateCampaignInput["template"]; branchIds: string[]; rows: RecipientRow[]; parseErrors: CsvProblem[] } {
  if (input.csv !== undefined) {
    const { rows, errors } = readRecipientsCsv(input.csv);
    return { template: input.template, branchIds: input.branchIds, rows, parseErrors: errors };
  }
  const rows = (input.recipients ?? []).map((r, index): RecipientRow => ({ index, phone: r.phone, ...(r.params !== undefined ? { params: r.params } : {}), ...(r.branch ? { branch: r.branch } : {}) }));
  return { template: input.template, branchIds: input.branchIds, rows, parseErrors: [] };
}

function report(imported: ImportResult, limit: LimitCheck): ImportReport {
  return {
    template: { name: imported.template.name, language: imported.template.language, category: imported.template.category },
    total: imported.total,
    recipients: imported.recipients.length,
    skipped: imported.skipped,
    errors: imported.errors,
    messagingLimit: limit,
  };
}

function describeCounts(counts: Record<string, number>): string {
  const parts = Object.entries(counts).map(([k, v]) => `${v} ${k}`);
  return parts.length ? parts.join(", ") : "the list is empty";
}
