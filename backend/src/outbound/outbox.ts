import { randomUUID } from "node:crypto";
import { unprocessable } from "../errors.js";
import type { Customer, MessageRecord } from "../domain/types.js";
import { windowState } from "../domain/window.js";
import type { Tx } from "../store/store.port.js";
import { contentText, type OutboundContent } from "../channels/whatsapp/graph-payload.js";
import { bindCustomer, ensureDialog } from "../inbound/bindings.js";

export const SEND_QUEUE = "send";

export interface QueueOutboundInput {
  customer: Customer;
  content: OutboundContent;
  /** The branch speaking; undefined for network messages such as the branch menu. */
  branchId?: string;
  origin: "reply" | "menu" | "system";
  now: number;
}

/**
 * Accepts an outbound message: checks what Meta would refuse, records it as `queued` and adds the
 * durable send job, all inside the caller's transaction. A branch message binds the customer to
 * that branch (architecture: "an outbound message from branch X binds the customer to X").
 */
export async function queueOutbound(tx: Tx, input: QueueOutboundInput): Promise<MessageRecord> {
  const { customer, content, branchId, now } = input;
  if (!customer.waId && !customer.userId) throw unprocessable("invalid_phone", "the customer has neither a phone number nor a WhatsApp user id", "to");
  if (content.kind === "text" && content.text.length > 4096) {
    throw unprocessable("text_too_long", `text is ${content.text.length} characters; WhatsApp allows 4096`, "text");
  }
  if (!windowState(customer.lastInboundAt, now).open) {
    throw unprocessable("window_closed", "the 24-hour customer service window is closed: send an approved template instead", "text");
  }
  let dialogId: string | undefined;
  if (branchId) {
    dialogId = (await ensureDialog(tx, branchId, customer.id, now)).id;
    await bindCustomer(tx, customer.id, { branchId, rule: "outbound", reason: "the branch wrote to the customer", now });
  }
  const message: MessageRecord = {
    id: `out_${randomUUID()}`,
    direction: "out",
    dialogId,
    branchId,
    customerId: customer.id,
    kind: content.kind === "text" ? "text" : "interactive",
    text: contentText(content),
    interactive: content.kind === "text" ? undefined : content,
    status: "queued",
    sentAt: now,
    createdAt: now,
    updatedAt: now,
    origin: input.origin,
  };
  await tx.put("messages", message);
  if (dialogId) await touchDialog(tx, dialogId, message.id, now);
  await tx.enqueue({
    id: `job_${randomUUID()}`,
    queue: SEND_QUEUE,
    orderKey: `out:${customer.id}`,
    branchId,
    payload: { messageId: message.id },
    state: "pending",
    attempts: 0,
    runAt: now,
    createdAt: now,
    updatedAt: now,
  });
  return message;
}

export async function touchDialog(tx: Tx, dialogId: string, messageId: string, now: number, unreadDelta = 0): Promise<void> {
  const dialog = await tx.get("dialogs", dialogId);
  if (!dialog) return;
  await tx.put("dialogs", { ...dialog, lastMessageId: messageId, updatedAt: now, unread: Math.max(0, dialog.unread + unreadDelta) });
}
