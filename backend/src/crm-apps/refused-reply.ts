import { randomUUID } from "node:crypto";
import type { MessageRecord } from "../domain/types.js";
import { enqueueDelivery } from "../inbound/deliveries.js";
import type { Tx } from "../store/store.port.js";

/**
 * A staff message WhatsApp would refuse (window closed, no such template…): kept as a failed
 * message, and its `failed` status queued for the branch's CRM, which shows the manager why.
 */
export async function recordRefusedReply(
  tx: Tx,
  r: { branchId: string; dialogId: string; customerId: string; kind: string; text?: string; error: { code: string; message: string }; crmRefs: Record<string, string>; now: number },
): Promise<void> {
  const failed: MessageRecord = {
    id: `out_${randomUUID()}`,
    direction: "out",
    dialogId: r.dialogId,
    branchId: r.branchId,
    customerId: r.customerId,
    kind: r.kind,
    ...(r.text !== undefined ? { text: r.text } : {}),
    status: "failed",
    error: r.error,
    origin: "reply",
    crmRefs: r.crmRefs,
    sentAt: r.now,
    createdAt: r.now,
    updatedAt: r.now,
  };
  await tx.put("messages", failed);
  await enqueueDelivery(tx, { type: "status", branchId: r.branchId, dialogId: r.dialogId, messageId: failed.id, status: "failed", at: r.now }, r.now);
}
