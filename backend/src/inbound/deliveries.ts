import { randomUUID } from "node:crypto";
import type { Tx } from "../store/store.port.js";

export const DELIVER_QUEUE = "deliver";

export type DeliveryPayload =
  | { type: "message"; branchId: string; dialogId: string; messageId: string }
  | { type: "status"; branchId: string; dialogId: string; messageId: string; status: string; at: number };

/** Adds a durable connector delivery, ordered per dialog. */
export async function enqueueDelivery(tx: Tx, payload: DeliveryPayload, now: number): Promise<void> {
  await tx.enqueue({
    id: `job_${randomUUID()}`,
    queue: DELIVER_QUEUE,
    orderKey: payload.dialogId,
    branchId: payload.branchId,
    payload,
    state: "pending",
    attempts: 0,
    runAt: now,
    createdAt: now,
    updatedAt: now,
  });
}
