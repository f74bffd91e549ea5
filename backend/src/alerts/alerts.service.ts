import { randomUUID } from "node:crypto";
import { AppError, notFound } from "../errors.js";
import { waIdCandidates } from "../domain/phone.js";
import type { AlertNotification, AlertStage, Customer, Dialog, Handover, MessageRecord, Operator } from "../domain/types.js";
import { windowState } from "../domain/window.js";
import { customerByPhone } from "../inbound/customers.js";
import type { JobHandler } from "../jobs/job-runner.js";
import { newJob } from "../jobs/new-job.js";
import type { Logger } from "../ops/logger.js";
import { queueOutbound } from "../outbound/outbox.js";
import { prepareTemplate } from "../outbound/template-send.js";
import type { Store, Tx } from "../store/store.port.js";
import { noEffects, type WorkEffects } from "../flows/effects.js";
import { loadAlertSettings, type AlertSettings } from "./alert-settings.js";

export const ALERT_QUEUE = "alert";
const MINUTE_MS = 60_000;

type AlertJob = { handoverId: string; stage: "renotify" | "escalate" };

/** Outbound origins that mean a person of the branch answered (not a campaign, trigger or menu). */
const PERSON_ORIGINS = new Set(["reply", "api", "automation"]);

export interface HandoverInput {
  branchId: string;
  customerId: string;
  dialogId: string;
  reason: string;
  source: Handover["source"];
  flowRunId?: string;
}

export interface AlertDeps {
  store: Store;
  logger: Logger;
  now: () => number;
  /** `$PUBLIC_URL`: the built-in inbox is the link when the branch's CRM link is unknown. */
  publicUrl: string;
  defaults: AlertSettings;
  /** Runs after the alert worker's transaction commits. */
  afterCommit(fx: WorkEffects): void;
}

/**
 * Operator alerts. A handover notifies the branch's operators who chose "notify me in WhatsApp"
 * on their own phones; durable timers (jobs) re-notify them and then call the HQ branch's
 * operators while nobody of the branch has written in the dialog. A timer that finds a branch
 * message sent after the handover does nothing: that is how a reply cancels the alerts, without
 * a hook in the outbox.
 */
export class AlertService {
  constructor(private readonly deps: AlertDeps) {}

  /** Hands a dialog over, in the caller's transaction. A dialog already waiting keeps its alerts. */
  async handover(tx: Tx, input: HandoverInput, now: number): Promise<{ handover: Handover; fx: WorkEffects; repeated: boolean }> {
    const fx = noEffects();
    const dialog = await tx.get("dialogs", input.dialogId);
    if (!dialog) throw notFound(`dialog ${input.dialogId}`);
    const last = (await tx.byIndex("handovers", "dialogId", input.dialogId, { newestFirst: true, limit: 1 }))[0];
    if (last?.state === "waiting") {
      if (!(await answeredSince(tx, dialog.id, last.at))) return { handover: last, fx, repeated: true };
      await tx.put("handovers", { ...last, state: "answered", answeredAt: now, updatedAt: now });
    }
    const settings = await loadAlertSettings(tx, this.deps.defaults);
    const base: Handover = {
      id: `ho_${randomUUID()}`,
      branchId: input.branchId,
      dialogId: input.dialogId,
      customerId: input.customerId,
      reason: input.reason,
      source: input.source,
      ...(input.flowRunId ? { flowRunId: input.flowRunId } : {}),
      at: now,
      state: "waiting",
      stage: "notified",
      notifications: [],
      updatedAt: now,
    };
    const notifications = await this.notify(tx, base, dialog, await operatorsOf(tx, [input.branchId]), "notified", settings, now, fx);
    const job = await this.schedule(tx, base, "renotify", now + settings.renotifyAfterMinutes * MINUTE_MS, now);
    const handover: Handover = { ...base, notifications, timerJobId: job.id };
    await tx.put("handovers", handover);
    fx.wake = true;
    return { handover, fx, repeated: false };
  }

  handler(): JobHandler {
    return {
      queue: ALERT_QUEUE,
      maxAttempts: 10,
      backoffMs: 1000,
      concurrency: 4,
      run: async (job, ctx) => {
        const p = job.payload as AlertJob;
        const fx = await this.deps.store.transact(async (tx) => {
          const out = noEffects();
          await this.fire(tx, p, out);
          await ctx.complete(tx);
          return out;
        });
        this.deps.afterCommit(fx);
      },
    };
  }

  private async fire(tx: Tx, p: AlertJob, fx: WorkEffects): Promise<void> {
    const now = this.deps.now();
    const h = await tx.get("handovers", p.handoverId);
    if (!h || h.state !== "waiting") return;
    const dialog = await tx.get("dialogs", h.dialogId);
    if (!dialog) return;
    if (await answeredSince(tx, h.dialogId, h.at)) {
      await tx.put("handovers", { ...h, state: "answered", answeredAt: now, timerJobId: undefined, updatedAt: now });
      return;
    }
    const settings = await loadAlertSettings(tx, this.deps.defaults);
    if (p.stage === "renotify") {
      const sent = await this.notify(tx, h, dialog, await operatorsOf(tx, [h.branchId]), "renotified", settings, now, fx);
      const job = await this.schedule(tx, h, "escalate", Math.max(now, h.at + settings.escalateAfterMinutes * MINUTE_MS), now);
      await tx.put("handovers", { ...h, stage: "renotified", notifications: [...h.notifications, ...sent], timerJobId: job.id, updatedAt: now });
      fx.wake = true;
      return;
    }
    const hq = (await tx.list("branches")).filter((b) => b.isHq && b.enabled).map((b) => b.id);
    const operators = await operatorsOf(tx, hq);
    if (operators.length === 0) this.deps.logger.warn({ handoverId: h.id }, "nobody answered the handed-over dialog and HQ has no operators to escalate to");
    const sent = await this.notify(tx, h, dialog, operators, "escalated", settings, now, fx);
    await tx.put("handovers", { ...h, state: "unanswered", stage: "escalated", notifications: [...h.notifications, ...sent], timerJobId: undefined, updatedAt: now });
  }

  /**
   * One WhatsApp message per operator who wants them. Operators are WhatsApp users like customers:
   * free text reaches them only inside their own 24-hour window (they wrote to the number in the
   * last 24 h); outside it the configured alert template goes, and without one the alert is
   * recorded as not sent, with the reason.
   */
  private async notify(tx: Tx, h: Handover, dialog: Dialog, operators: Operator[], stage: AlertStage, settings: AlertSettings, now: number, fx: WorkEffects): Promise<AlertNotification[]> {
    const customer = await tx.get("customers", h.customerId);
    const who = customerLabel(customer);
    const link = await dialogLink(tx, dialog, this.deps.publicUrl);
    const branch = await tx.get("branches", h.branchId);
    const minutes = Math.round((now - h.at) / MINUTE_MS);
    const text = alertText(stage, { customer: who, link, branch: branch?.name ?? h.branchId, reason: h.reason, minutes });
    const out: AlertNotification[] = [];
    for (const op of operators.filter((o) => o.notifyWhatsApp)) {
      const n: AlertNotification = { operatorId: op.id, branchId: op.branchId, phone: op.phone, stage, at: now, via: "none" };
      try {
        const recipient = await customerByPhone(tx, waIdCandidates(op.phone), now);
        if (windowState(recipient.lastInboundAt, now).open) {
          const { message, job } = await queueOutbound(tx, { customer: recipient, content: { kind: "text", text }, origin: "system", priority: "reply", now });
          Object.assign(n, { via: "text", messageId: message.id });
          fx.sends.push(job);
        } else if (settings.template) {
          const prepared = await prepareTemplate(tx, { name: settings.template.name, language: settings.template.language, params: [who, link] });
          const { message, job } = await queueOutbound(tx, { customer: recipient, content: prepared.content, template: prepared.template, origin: "system", priority: "reply", now });
          Object.assign(n, { via: "template", messageId: message.id });
          fx.sends.push(job);
        } else {
          n.error = "the operator's 24-hour window is closed and no alert template is set (ALERT_TEMPLATE or PATCH /admin/api/settings/alerts)";
        }
      } catch (err) {
        if (!(err instanceof AppError) || err.httpStatus >= 500) throw err;
        n.error = `${err.code}: ${err.message}`;
      }
      if (n.error) this.deps.logger.warn({ handoverId: h.id, operatorId: op.id, stage, error: n.error }, "operator alert not sent");
      out.push(n);
    }
    return out;
  }

  private schedule(tx: Tx, h: Handover, stage: AlertJob["stage"], runAt: number, now: number) {
    return tx.enqueue(newJob(ALERT_QUEUE, { handoverId: h.id, stage } satisfies AlertJob, now, { branchId: h.branchId, runAt }));
  }
}

async function operatorsOf(tx: Tx, branchIds: string[]): Promise<Operator[]> {
  const out: Operator[] = [];
  for (const id of branchIds) out.push(...(await tx.byIndex("operators", "branchId", id)));
  return out;
}

/** Has someone of the branch written in the dialog since `since` (not a flow, campaign, trigger or menu)? */
export async function answeredSince(tx: Tx, dialogId: string, since: number): Promise<boolean> {
  const recent: MessageRecord[] = await tx.byIndex("messages", "dialogId", dialogId, { newestFirst: true, limit: 200 });
  return recent.some((m) => m.direction === "out" && m.createdAt >= since && m.status !== "failed" && PERSON_ORIGINS.has(m.origin ?? "") && !m.crmRefs?.flowRunId);
}

function customerLabel(c: Customer | undefined): string {
  if (!c) return "a customer";
  const phone = c.waId ? `+${c.waId}` : (c.username ?? c.userId ?? c.id);
  return c.name ? `${c.name} (${phone})` : phone;
}

/**
 * Where the operator answers: the CRM's own page for the dialog when a connector recorded one
 * (`crmUrl`, or an amoCRM lead id with the account's domain), else the built-in inbox.
 */
export async function dialogLink(tx: Tx, dialog: Dialog, publicUrl: string): Promise<string> {
  const refs = dialog.crmRefs ?? {};
  if (refs.crmUrl && /^https?:\/\//.test(refs.crmUrl)) return refs.crmUrl;
  if (refs.leadId) {
    const amo = (await tx.byIndex("crmConnections", "branchId", dialog.branchId)).find((c) => c.kind === "amocrm" && c.state === "connected");
    if (amo) return `https://${amo.domain}/leads/detail/${encodeURIComponent(refs.leadId)}`;
  }
  return `${publicUrl}/inbox`;
}

function alertText(stage: AlertStage, v: { customer: string; link: string; branch: string; reason: string; minutes: number }): string {
  const reason = v.reason ? `\n${v.reason}` : "";
  switch (stage) {
    case "notified":
      return `🔔 ${v.branch}: клиент ждёт ответа — ${v.customer}${reason}\n${v.link}`;
    case "renotified":
      return `🔔 Напоминание (${v.branch}): клиенту ${v.customer} не ответили ${v.minutes} мин.${reason}\n${v.link}`;
    case "escalated":
      return `⚠️ Эскалация: в филиале ${v.branch} клиенту ${v.customer} не ответили ${v.minutes} мин.${reason}\n${v.link}`;
  }
}
