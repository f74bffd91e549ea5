import type { Tx } from "../store/store.port.js";
import type { MessageRecord } from "../domain/types.js";
import { newJob } from "../jobs/new-job.js";

export const DELIVER_QUEUE = "deliver";

export type DeliveryPayload =
  | { type: "message"; branchId: string; dialogId: string; messageId: string }
  | { type: "status"; branchId: string; dialogId: string; messageId: string; status: string; at: number };

/**
 * Adds a durable connector delivery, ordered per dialog. Returns false for branches on the built-in
 * inbox: the store already holds what the inbox shows, so the caller only notifies open pages
 * after its commit (no job, no second write).
 */
export async function enqueueDelivery(tx: Tx, payload: DeliveryPayload, now: number): Promise<boolean> {
  if ((await tx.get("branches", payload.branchId))?.crm === "inbox") return false;
  await tx.enqueue(newJob(DELIVER_QUEUE, payload, now, { orderKey: payload.dialogId, branchId: payload.branchId }));
  return true;
}

/** What an inbox page is told after a commit (see events/event-bus). */
export type InboxNotice =
  | { kind: "message"; branchId: string; dialogId: string; message: MessageRecord }
  | { kind: "status"; branchId: string; dialogId: string; messageId: string; status: string; error?: unknown };
