import { randomUUID } from "node:crypto";
import { AppError, unprocessable } from "../errors.js";
import type { Customer, Job, MessageRecord } from "../domain/types.js";
import { windowState } from "../domain/window.js";
import type { Tx } from "../store/store.port.js";
import { contentText, type OutboundContent } from "../channels/whatsapp/graph-payload.js";
import { bindCustomer, ensureDialog } from "../inbound/bindings.js";
import { bumpDailyStats, dailyCount } from "../stats/daily-stats.js";
import type { Priority } from "./send-queue.js";
import { newJob } from "../jobs/new-job.js";

export const SEND_QUEUE = "send";

export interface SendJobPayload {
  messageId: string;
  /** Customer id: the pair rate and per-recipient order are kept per recipient. */
  recipient: string;
  priority: Priority;
}

export interface QueueOutboundInput {
  customer: Customer;
  content: OutboundContent;
  /** The branch speaking; undefined for network messages such as the branch menu. */
  branchId?: string;
  origin: "reply" | "menu" | "system" | "api" | "automation" | "trigger" | "campaign";
  priority?: Priority;
  /** For templates: the synced definition's name, language and category (opt-out and pricing). */
  template?: { name: string; language: string; category: string; params?: unknown };
  /** wamid of the customer's message this one answers (shown as a quote). */
  replyTo?: string;
  /** Connector references kept on the message (e.g. the CRM's own id of a manager's message). */
  crmRefs?: Record<string, string>;
  now: number;
}

/**
 * Accepts an outbound message: checks what Meta would refuse or the network forbids (24-hour
 * window, marketing opt-out, the branch's daily quota), records it as `queued` and adds the durable
 * send job, all inside the caller's transaction. A branch message binds the customer to that
 * branch (architecture: "an outbound message from branch X binds the customer to X").
 */
export async function queueOutbound(tx: Tx, input: QueueOutboundInput): Promise<{ message: MessageRecord; job: Job }> {
  const { customer, content, branchId, now } = input;
  if (!customer.waId && !customer.userId) throw unprocessable("invalid_phone", "the customer has neither a phone number nor a WhatsApp user id", "to");
  if (content.kind === "text" && content.text.length > 4096) {
    throw unprocessable("text_too_long", `text is ${content.text.length} characters; WhatsApp allows 4096`, "text");
  }
  if (content.kind !== "template" && !windowState(customer.lastInboundAt, now).open) {
    throw unprocessable("window_closed", "the 24-hour customer service window is closed: send an approved template instead", "text");
  }
  if (input.template?.category.toUpperCase() === "MARKETING" && customer.marketingOptOut) {
    throw unprocessable("opted_out", "the customer has opted out of marketing messages; utility templates still go", "template");
  }
  let dialogId: string | undefined;
  if (branchId) {
    const branch = await tx.get("branches", branchId);
    if (branch?.dailyQuota !== undefined && (await dailyCount(tx, branchId, now, "outbound")) >= branch.dailyQuota) {
      throw new AppError({ code: "quota_exceeded", message: `branch ${branch.code} has used its daily quota of ${branch.dailyQuota} messages`, httpStatus: 429 });
    }
    dialogId = (await ensureDialog(tx, branchId, customer.id, now)).id;
    await bindCustomer(tx, customer.id, { branchId, rule: "outbound", reason: "the branch wrote to the customer", now });
    await bumpDailyStats(tx, branchId, now, { outbound: 1 });
  }
  const message: MessageRecord = {
    id: `out_${randomUUID()}`,
    direction: "out",
    dialogId,
    branchId,
    customerId: customer.id,
    kind: content.kind === "list" || content.kind === "buttons" ? "interactive" : content.kind === "media" ? content.mediaType : content.kind,
    text: contentText(content),
    outbound: content,
    template: input.template,
    status: "queued",
    contextWamid: input.replyTo,
    sentAt: now,
    createdAt: now,
    updatedAt: now,
    origin: input.origin,
    ...(input.crmRefs ? { crmRefs: input.crmRefs } : {}),
  };
  await tx.put("messages", message);
  if (dialogId) await touchDialog(tx, dialogId, message.id, now);
  const priority = input.priority ?? defaultPriority(input.origin);
  const job = await tx.enqueue(newJob(SEND_QUEUE, { messageId: message.id, recipient: customer.id, priority } satisfies SendJobPayload, now, { branchId }));
  return { message, job };
}

function defaultPriority(origin: QueueOutboundInput["origin"]): Priority {
  if (origin === "campaign") return "campaign";
  if (origin === "automation" || origin === "trigger") return "automation";
  return "reply";
}

export async function touchDialog(tx: Tx, dialogId: string, messageId: string, now: number, unreadDelta = 0): Promise<void> {
  const dialog = await tx.get("dialogs", dialogId);
  if (!dialog) return;
  await tx.put("dialogs", { ...dialog, lastMessageId: messageId, updatedAt: now, unread: Math.max(0, dialog.unread + unreadDelta) });
}
