import { createHash } from "node:crypto";
import type { InboundMessage, ParsedWebhook, StatusUpdate } from "../channels/whatsapp/webhook.types.js";
import { eventKeyForMessage, eventKeyForStatus, parseMetaWebhook } from "../channels/whatsapp/webhook.parse.js";
import { routeMessage, type RoutingBranch, type RoutingDecision, type RoutingSettings } from "../domain/routing.js";
import { nextStatus } from "../domain/status.js";
import type { Branch, Customer, MessageRecord, MessageStatus } from "../domain/types.js";
import type { JobHandler } from "../jobs/job-runner.js";
import type { Logger } from "../ops/logger.js";
import type { Metrics } from "../ops/metrics.js";
import type { Store, Tx } from "../store/store.port.js";
import { queueOutbound, touchDialog } from "../outbound/outbox.js";
import { bindCustomer, ensureDialog, unbindCustomer } from "./bindings.js";
import { applyIdentityChange, upsertCustomer } from "./customers.js";
import { enqueueDelivery } from "./deliveries.js";
import { loadRoutingSettings } from "./routing-settings.js";

export const INBOUND_QUEUE = "inbound";

export interface InboundDeps {
  store: Store;
  logger: Logger;
  metrics: Metrics;
  now: () => number;
  /** Our number: payloads for another phone_number_id are kept but not routed. Unset = accept any. */
  phoneNumberId?: string;
  routingDefaults: Partial<RoutingSettings>;
  /** Branch ids whose CRM already knows this phone (connectors with the crmOwnership capability). */
  findCrmOwners(customer: Customer): Promise<string[]>;
  /** Called after the transaction commits, to wake workers and notify live pages. */
  afterCommit(effects: Effect[]): void;
}

export type Effect =
  | { type: "delivery" }
  | { type: "send" }
  | { type: "phone.status"; phone: string; id: string; status: string };

/**
 * Processes one stored webhook body: every message is routed and bound and its delivery queued,
 * every status applied, every other field recorded — and the job completed — in ONE transaction,
 * so after a crash at any point the body is processed exactly once. Repeats are dropped by event key.
 */
export function inboundHandler(deps: InboundDeps): JobHandler {
  return {
    queue: INBOUND_QUEUE,
    maxAttempts: 20,
    backoffMs: 500,
    async run(job, ctx) {
      const { payloadId } = job.payload as { payloadId: string };
      const payload = await deps.store.read((tx) => tx.get("payloads", payloadId));
      let parsed: ParsedWebhook | undefined;
      if (payload) {
        try {
          parsed = parseMetaWebhook(JSON.parse(payload.raw));
        } catch (err) {
          deps.logger.warn({ err, payloadId }, "stored webhook body is not JSON; dropped");
        }
      }
      // CRM ownership needs the CRMs' APIs: ask before the transaction, never inside it.
      const owners = new Map<string, string[]>();
      for (const m of parsed?.messages ?? []) {
        const probe: Customer = { id: "", waId: m.customer.waId, userId: m.customer.userId, aliases: [], createdAt: 0, updatedAt: 0 };
        owners.set(m.wamid, await deps.findCrmOwners(probe).catch(() => []));
      }
      const effects = await deps.store.transact(async (tx) => {
        const fx: Effect[] = [];
        if (parsed) {
          const now = deps.now();
          const settings = await loadRoutingSettings(tx, deps.routingDefaults);
          const branches = await tx.list("branches");
          for (const message of parsed.messages) await processMessage(tx, message, { ...deps, settings, branches, owners: owners.get(message.wamid) ?? [], now, fx });
          for (const status of parsed.statuses) await processStatus(tx, status, now, fx);
          await recordOtherFields(tx, parsed, payloadId, now);
          if (parsed.problems.length > 0) deps.logger.warn({ payloadId, problems: parsed.problems.slice(0, 20) }, "webhook body had parts we could not read");
        }
        await tx.delete("payloads", payloadId);
        await ctx.complete(tx);
        return fx;
      });
      deps.afterCommit(effects);
    },
  };
}

interface MessageCtx extends Omit<InboundDeps, "now"> {
  settings: RoutingSettings;
  branches: Branch[];
  owners: string[];
  now: number;
  fx: Effect[];
}

async function processMessage(tx: Tx, m: InboundMessage, c: MessageCtx): Promise<void> {
  if (!(await tx.insertIfAbsent("seenKeys", { id: eventKeyForMessage(m), at: c.now }))) return;
  if (c.phoneNumberId && m.phoneNumberId && m.phoneNumberId !== c.phoneNumberId) {
    c.logger.warn({ phoneNumberId: m.phoneNumberId }, "message for another phone number ignored");
    return;
  }
  let customer = await upsertCustomer(tx, m.customer, c.now);
  if (!customer) {
    c.logger.warn({ wamid: m.wamid }, "message without sender identity ignored");
    return;
  }
  if (m.content.kind === "system" && (m.content.newWaId || m.content.newUserId)) {
    customer = await applyIdentityChange(tx, customer, m.content, c.now);
  }
  const sentAt = m.timestamp ?? c.now;
  if (m.kind !== "system" && m.kind !== "reaction" && sentAt > (customer.lastInboundAt ?? 0)) {
    customer = { ...customer, lastInboundAt: sentAt };
    await tx.put("customers", customer);
  }

  const binding = await tx.get("bindings", customer.id);
  const contextBranchId = m.context?.messageId ? (await tx.byIndex("messages", "wamid", m.context.messageId))[0]?.branchId : undefined;
  const decision = routeMessage({
    now: c.now,
    message: {
      text: m.text,
      contextMessageId: m.context?.messageId,
      referralSourceId: m.referral?.sourceId,
      interactiveReplyId: m.content.kind === "interactive" ? m.content.id : undefined,
      buttonPayload: m.content.kind === "button" ? m.content.payload : undefined,
    },
    branches: c.branches.map(toRoutingBranch),
    settings: c.settings,
    binding: binding?.current,
    contextBranchId,
    crmOwners: c.owners,
    awaitingMenu: binding?.awaitingMenuSince !== undefined,
  });
  c.metrics.inboundMessages.inc({ rule: decision.kind === "unroutable" ? "unroutable" : decision.rule });

  const message: MessageRecord = {
    id: `in_${createHash("sha256").update(m.wamid).digest("base64url").slice(0, 22)}`,
    direction: "in",
    customerId: customer.id,
    wamid: m.wamid,
    kind: m.kind,
    text: m.text,
    media: "mediaId" in m.content ? { mediaId: m.content.mediaId, mimeType: m.content.mimeType, sha256: m.content.sha256, filename: m.content.filename, caption: m.content.caption } : undefined,
    status: "received",
    routing: decision.kind === "unroutable" ? undefined : { rule: decision.rule, reason: decision.reason },
    contextWamid: m.context?.messageId,
    sentAt,
    createdAt: c.now,
    updatedAt: c.now,
    inbound: m,
  };

  if (decision.kind === "route") {
    await routeTo(tx, customer, message, decision, c);
  } else {
    // Held until the customer picks a branch (menu) or HQ picks it up (unroutable).
    await tx.put("messages", message);
    if (decision.kind === "ask") await askMenu(tx, customer, decision, c);
    else c.logger.warn({ customerId: customer.id }, "no enabled branch: message held unrouted");
  }
}

async function routeTo(tx: Tx, customer: Customer, message: MessageRecord, decision: Extract<RoutingDecision, { kind: "route" }>, c: MessageCtx): Promise<void> {
  const routing = { rule: decision.rule, reason: decision.reason };
  const dialog = await ensureDialog(tx, decision.branchId, customer.id, c.now, routing);
  if (decision.bind) await bindCustomer(tx, customer.id, { branchId: decision.branchId, rule: decision.rule, reason: decision.reason, now: c.now });
  // Messages held while the menu was open go first, in the order they came.
  const held = (await tx.byIndex("messages", "customerId", customer.id)).filter((h) => h.direction === "in" && !h.dialogId);
  for (const m of [...held, message]) {
    const routed: MessageRecord = { ...m, dialogId: dialog.id, branchId: decision.branchId, routing: m === message ? routing : { ...routing, reason: `${routing.reason} (sent before the choice)` } };
    await tx.put("messages", routed);
    await touchDialog(tx, dialog.id, routed.id, c.now, 1);
    await enqueueDelivery(tx, { type: "message", branchId: decision.branchId, dialogId: dialog.id, messageId: routed.id }, c.now);
  }
  c.fx.push({ type: "delivery" });
}

async function askMenu(tx: Tx, customer: Customer, decision: Extract<RoutingDecision, { kind: "ask" }>, c: MessageCtx): Promise<void> {
  if (decision.rule === "change_request") await unbindCustomer(tx, customer.id, c.now, "the customer asked to change branch");
  const binding = (await tx.get("bindings", customer.id)) ?? { id: customer.id, history: [] };
  await tx.put("bindings", { ...binding, awaitingMenuSince: c.now });
  const { menu } = decision;
  await queueOutbound(tx, { customer, content: { kind: "list", body: menu.body, button: menu.button, sections: menu.sections }, origin: "menu", now: c.now });
  c.fx.push({ type: "send" });
}

async function processStatus(tx: Tx, s: StatusUpdate, now: number, fx: Effect[]): Promise<void> {
  if (!(await tx.insertIfAbsent("seenKeys", { id: eventKeyForStatus(s), at: now }))) return;
  // biz_opaque_callback_data carries our message id, so a status that beats the send response still finds it.
  const byCallback = s.bizOpaqueCallbackData ? await tx.get("messages", s.bizOpaqueCallbackData) : undefined;
  const message = byCallback ?? (await tx.byIndex("messages", "wamid", s.wamid))[0];
  if (!message) return;
  const status = nextStatus(message.status, s.status);
  if (!status) return;
  const error = s.errors?.[0];
  const updated: MessageRecord = {
    ...message,
    wamid: message.wamid ?? s.wamid,
    status,
    error: status === "failed" && error ? { code: String(error.code ?? "failed"), message: error.details ?? error.title ?? "failed" } : message.error,
    updatedAt: now,
  };
  if (s.pricing?.category) (updated as MessageRecord & { pricing?: unknown }).pricing = s.pricing;
  await tx.put("messages", updated);
  if (message.dialogId && message.branchId) {
    await enqueueDelivery(tx, { type: "status", branchId: message.branchId, dialogId: message.dialogId, messageId: message.id, status, at: s.timestamp ?? now }, now);
    fx.push({ type: "delivery" });
  }
  const customer = await tx.get("customers", message.customerId);
  if (customer?.waId) fx.push({ type: "phone.status", phone: customer.waId, id: message.id, status: status as MessageStatus });
}

async function recordOtherFields(tx: Tx, parsed: ParsedWebhook, payloadId: string, now: number): Promise<void> {
  const records = [
    ...parsed.errors.map((e) => ({ field: "errors", wabaId: e.wabaId, path: e.path, value: { code: e.code, title: e.title, message: e.message, details: e.details, phoneNumberId: e.phoneNumberId } })),
    ...parsed.managementEvents.map((e) => ({ field: e.field, wabaId: e.wabaId, path: e.path, value: e })),
  ];
  for (const r of records) {
    const id = `${payloadId.slice(0, 16)}:${r.path}`;
    await tx.insertIfAbsent("managementEvents", { id, field: r.field, wabaId: r.wabaId, receivedAt: now, value: r.value });
  }
}

function toRoutingBranch(b: Branch): RoutingBranch {
  return { id: b.id, code: b.code, name: b.name, city: b.city, enabled: b.enabled, isHq: b.isHq, keywords: b.keywords, adSourceIds: b.adSourceIds, menuOrder: b.menuOrder, menuTitle: b.menuTitle };
}
