import type { StatusUpdate } from "../channels/whatsapp/webhook.types.js";
import { eventKeyForStatus } from "../channels/whatsapp/webhook.parse.js";
import { nextStatus } from "../domain/status.js";
import type { MessageRecord, MessageStatus } from "../domain/types.js";
import { bumpDailyStats } from "../stats/daily-stats.js";
import type { Tx } from "../store/store.port.js";
import { enqueueDelivery, type InboxNotice } from "./deliveries.js";

export type StatusEffect = { type: "delivery" } | { type: "phone.status"; phone: string; id: string; status: string } | { type: "inbox"; notice: InboxNotice };

const REACHED: Partial<Record<MessageStatus, string[]>> = {
  delivered: ["delivered"],
  read: ["delivered", "read"],
  played: ["delivered", "read"],
  failed: ["failed"],
};

/**
 * Applies one status webhook to the message it names. Found by `biz_opaque_callback_data` (our
 * message id, so a status that beats the send response still lands) or by wamid; applied only if
 * it moves the message forward; pricing is recorded once per message for the branch's cost report.
 */
export async function applyStatus(tx: Tx, s: StatusUpdate, now: number): Promise<StatusEffect[]> {
  if (!(await tx.insertIfAbsent("seenKeys", { id: eventKeyForStatus(s), at: now }))) return [];
  const byCallback = s.bizOpaqueCallbackData ? await tx.get("messages", s.bizOpaqueCallbackData) : undefined;
  const message = byCallback ?? (await tx.byIndex("messages", "wamid", s.wamid))[0];
  if (!message) return [];
  const status = nextStatus(message.status, s.status);
  const pricing = !message.pricing && s.pricing?.category ? s.pricing : undefined;
  if (!status && !pricing) return [];

  const error = s.errors?.[0];
  const updated: MessageRecord = {
    ...message,
    wamid: message.wamid ?? s.wamid,
    status: status ?? message.status,
    error: status === "failed" && error ? { code: String(error.code ?? "failed"), message: error.details ?? error.title ?? "failed" } : message.error,
    pricing: pricing ?? message.pricing,
    updatedAt: now,
  };
  await tx.put("messages", updated);

  if (message.branchId) {
    const counts: Record<string, number> = {};
    // Count each milestone once: `read` implies delivered when Meta skipped the delivered webhook.
    const before = new Set(REACHED[message.status] ?? []);
    for (const k of status ? (REACHED[status] ?? []) : []) if (!before.has(k)) counts[k] = 1;
    if (pricing) counts[`pricing:${pricing.category}${pricing.billable === false ? ":free" : ""}`] = 1;
    if (Object.keys(counts).length > 0) await bumpDailyStats(tx, message.branchId, message.createdAt, counts);
  }
  if (!status) return [];
  const effects: StatusEffect[] = [];
  if (message.dialogId && message.branchId) {
    const queued = await enqueueDelivery(tx, { type: "status", branchId: message.branchId, dialogId: message.dialogId, messageId: message.id, status, at: s.timestamp ?? now }, now);
    effects.push(queued ? { type: "delivery" } : { type: "inbox", notice: { kind: "status", branchId: message.branchId, dialogId: message.dialogId, messageId: message.id, status, error: updated.error } });
  }
  const customer = await tx.get("customers", message.customerId);
  if (customer?.waId) effects.push({ type: "phone.status", phone: customer.waId, id: message.id, status });
  return effects;
}
