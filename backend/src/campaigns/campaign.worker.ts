import { AppError } from "../errors.js";
import { DAY_MS, inQuietHours, nextSendAt } from "../domain/campaign-rules.js";
import { waIdCandidates } from "../domain/phone.js";
import type { Branch, Campaign, CampaignRecipient, Job } from "../domain/types.js";
import type { JobContext, JobHandler } from "../jobs/job-runner.js";
import { newJob } from "../jobs/new-job.js";
import type { Logger } from "../ops/logger.js";
import { customerByPhone } from "../inbound/customers.js";
import { queueOutbound } from "../outbound/outbox.js";
import { prepareTemplate } from "../outbound/template-send.js";
import type { Store, Tx } from "../store/store.port.js";

export const CAMPAIGN_QUEUE = "campaign";

/** Each campaign has at most one tick job; its id is fixed so resume and restart find it. */
export const tickJobId = (campaignId: string) => `job_campaign_${campaignId}`;
export const recipientId = (campaignId: string, seq: number) => `${campaignId}:${String(seq).padStart(7, "0")}`;

/** How often a running campaign looks whether its last batch has drained. */
const POLL_MS = 1000;
/** Recipients queued per store transaction (a transaction holds the embedded store). */
const CHUNK = 50;

export interface CampaignWorkerDeps {
  store: Store;
  now: () => number;
  logger: Logger;
  /** Recipients handed to the outbox at a time (see campaignBatchSize). */
  batchSize: number;
  /** A send job was committed: hand it to the sender. */
  onQueued(job: Job): void;
}

/** Adds the campaign's tick job (or brings a waiting or dead one forward to `runAt`). A running one is left alone. */
export async function scheduleTick(tx: Tx, campaignId: string, runAt: number, now: number): Promise<void> {
  const existing = await tx.get("jobs", tickJobId(campaignId));
  if (existing) {
    if (existing.state === "running") return;
    await tx.put("jobs", { ...existing, state: "pending", runAt, attempts: existing.state === "dead" ? 0 : existing.attempts, updatedAt: now });
    return;
  }
  await tx.enqueue(newJob(CAMPAIGN_QUEUE, { campaignId }, now, { id: tickJobId(campaignId), runAt }));
}

type Plan = { kind: "stop" } | { kind: "wait"; at: number } | { kind: "feed"; count: number };

/**
 * The durable campaign worker: one tick job per campaign, which re-schedules itself. A tick waits
 * for the start time and through quiet hours, and hands the next recipients to the outbox only
 * when the previous batch has mostly left it — so a campaign of 10,000 never puts 10,000 send
 * jobs in the queue at once, and the sender's priorities (replies first) and fair share between
 * branches keep working. Each recipient is marked `queued` with its message id in the same
 * transaction that queues the message: after a crash or restart nobody is sent twice.
 */
export function campaignHandler(deps: CampaignWorkerDeps): JobHandler {
  return {
    queue: CAMPAIGN_QUEUE,
    maxAttempts: 20,
    backoffMs: 2000,
    concurrency: 2,
    run: (job, ctx) => tick(deps, (job.payload as { campaignId: string }).campaignId, ctx),
  };
}

async function tick(deps: CampaignWorkerDeps, campaignId: string, ctx: JobContext): Promise<void> {
  const now = deps.now();
  const plan = await deps.store.transact((tx) => decide(tx, deps, campaignId, now, ctx));
  if (plan.kind === "stop") return;
  if (plan.kind === "wait") return ctx.defer(plan.at);

  let left = plan.count;
  let deferTo = now + POLL_MS;
  while (left > 0) {
    const r = await deps.store.transact((tx) => feedChunk(tx, campaignId, Math.min(CHUNK, left), deps.now()));
    for (const job of r.jobs) deps.onQueued(job);
    left -= r.consumed;
    if (r.deferTo) deferTo = r.deferTo;
    if (r.stop || r.consumed === 0) break;
    // Let webhooks and replies in between chunks.
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  ctx.defer(deferTo);
}

/** One transaction: what this tick does. Ends the job (in the same transaction) once the campaign is over or paused. */
async function decide(tx: Tx, deps: CampaignWorkerDeps, id: string, now: number, ctx: JobContext): Promise<Plan> {
  const c = await tx.get("campaigns", id);
  if (!c || c.state === "paused" || c.state === "cancelled" || c.state === "done") {
    await ctx.complete(tx);
    return { kind: "stop" };
  }
  const at = nextSendAt(c.schedule, now);
  if (at > now) return { kind: "wait", at };
  let next: Campaign = c.state === "scheduled" ? { ...c, state: "running", startedAt: now, updatedAt: now } : c;

  const flight = await inFlight(tx, next, deps.batchSize);
  if (flight.batchStart !== next.batchStart) next = { ...next, batchStart: flight.batchStart, updatedAt: now };
  if (next.cursor >= next.recipients && flight.count === 0) {
    await tx.put("campaigns", { ...next, state: "done", finishedAt: now, updatedAt: now });
    await ctx.complete(tx);
    return { kind: "stop" };
  }
  if (next !== c) await tx.put("campaigns", next);
  const room = deps.batchSize - flight.count;
  if (next.cursor >= next.recipients || room < deps.batchSize / 2) return { kind: "wait", at: now + POLL_MS };
  return { kind: "feed", count: room };
}

/** Recipients handed over whose message is still in the outbox, and the first of them. */
async function inFlight(tx: Tx, c: Campaign, batchSize: number): Promise<{ count: number; batchStart: number }> {
  // A message stuck in `sending` (waiting for reconciliation) must not make every tick walk the
  // whole list: look back at most a few batches.
  let from = Math.max(c.batchStart, c.cursor - 4 * batchSize);
  let first: number | undefined;
  let count = 0;
  for (let seq = from; seq < c.cursor; seq++) {
    const r = await tx.get("campaignRecipients", recipientId(c.id, seq));
    if (r?.state !== "queued" || !r.messageId) continue;
    const m = await tx.get("messages", r.messageId);
    if (m && (m.status === "queued" || m.status === "sending")) {
      count++;
      first ??= seq;
    }
  }
  from = first ?? c.cursor;
  return { count, batchStart: from };
}

interface ChunkResult {
  jobs: Job[];
  consumed: number;
  stop: boolean;
  deferTo?: number;
}

async function feedChunk(tx: Tx, id: string, n: number, now: number): Promise<ChunkResult> {
  const c = await tx.get("campaigns", id);
  if (!c || c.state !== "running") return { jobs: [], consumed: 0, stop: true };
  if (c.schedule.quietHours && inQuietHours(now, c.schedule.quietHours)) return { jobs: [], consumed: 0, stop: true, deferTo: nextSendAt(c.schedule, now) };
  const jobs: Job[] = [];
  const branches = new Map<string, Branch | undefined>();
  let next: Campaign = c;
  let seq = c.cursor;
  let consumed = 0;
  let stop = false;
  let deferTo: number | undefined;
  const skip = (r: CampaignRecipient, reason: string, message: string) => tx.put("campaignRecipients", { ...r, state: "skipped", skipReason: reason, skipMessage: message });

  while (consumed < n && seq < c.recipients) {
    const r = await tx.get("campaignRecipients", recipientId(c.id, seq));
    if (r?.state === "pending") {
      if (!branches.has(r.branchId)) branches.set(r.branchId, await tx.get("branches", r.branchId));
      const branch = branches.get(r.branchId);
      if (!branch?.enabled) {
        await skip(r, "branch_disabled", `branch ${branch?.code ?? r.branchId} is disabled or gone`);
      } else {
        try {
          const customer = await customerByPhone(tx, waIdCandidates(r.phone), now);
          const prepared = await prepareTemplate(tx, { name: c.template.name, language: c.template.language, params: r.params as never, header: c.template.header as never, buttons: c.template.buttons as never });
          const queued = await queueOutbound(tx, { customer, branchId: branch.id, content: prepared.content, template: prepared.template, origin: "campaign", priority: "campaign", now });
          await tx.put("campaignRecipients", { ...r, state: "queued", messageId: queued.message.id, queuedAt: now });
          jobs.push(queued.job);
        } catch (err) {
          if (!(err instanceof AppError)) throw err;
          if (err.code === "template_not_found") {
            // The template was paused, disabled or deleted by Meta: nobody else can get it either.
            next = { ...next, state: "paused", pausedAt: now, lastError: { code: err.code, message: err.message, at: now } };
            stop = true;
            break;
          }
          if (err.code === "quota_exceeded") {
            // The branch's daily quota is used up: go on tomorrow (UTC) rather than skip the rest.
            deferTo = (Math.floor(now / DAY_MS) + 1) * DAY_MS + 60_000;
            next = { ...next, lastError: { code: err.code, message: err.message, at: now } };
            stop = true;
            break;
          }
          if (err.httpStatus !== 422) throw err;
          await skip(r, err.code, err.message);
        }
      }
    }
    seq++;
    consumed++;
  }
  if (jobs.length > 0 && next.lastError?.code === "quota_exceeded") next = { ...next, lastError: undefined };
  next = { ...next, cursor: seq, updatedAt: now };
  await tx.put("campaigns", next);
  return { jobs, consumed, stop, deferTo };
}
