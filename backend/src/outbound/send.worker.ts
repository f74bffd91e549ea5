import { AppError } from "../errors.js";
import { toGraphMessage, type OutboundContent } from "../channels/whatsapp/graph-payload.js";
import type { MessageRecord } from "../domain/types.js";
import type { JobHandler } from "../jobs/job-runner.js";
import type { Logger } from "../ops/logger.js";
import type { Store } from "../store/store.port.js";
import { enqueueDelivery } from "../inbound/deliveries.js";
import type { WhatsAppSender } from "./sender.port.js";
import { SEND_QUEUE } from "./outbox.js";

export interface SendDeps {
  store: Store;
  sender: WhatsAppSender;
  logger: Logger;
  now: () => number;
  afterCommit(): void;
}

/**
 * Sends queued messages through the shared number, one at a time per customer. The message id
 * travels as `biz_opaque_callback_data`, so statuses find their message even before the wamid is
 * recorded. (Rate limits, priorities and crash reconciliation arrive with the outbound issue.)
 */
export function sendHandler(deps: SendDeps): JobHandler {
  return {
    queue: SEND_QUEUE,
    maxAttempts: 8,
    backoffMs: 1000,
    async run(job, ctx) {
      const { messageId } = job.payload as { messageId: string };
      const found = await deps.store.read(async (tx) => {
        const message = await tx.get("messages", messageId);
        const customer = message ? await tx.get("customers", message.customerId) : undefined;
        return { message, customer };
      });
      const { message, customer } = found;
      if (!message || !customer || message.status !== "queued") {
        await deps.store.transact((tx) => ctx.complete(tx));
        return;
      }
      let wamid: string | undefined;
      let failure: AppError | undefined;
      try {
        const content = (message.interactive as OutboundContent | undefined) ?? { kind: "text", text: message.text ?? "" };
        ({ wamid } = await deps.sender.send(toGraphMessage({ waId: customer.waId, userId: customer.userId }, content, { callbackData: message.id })));
      } catch (err) {
        if (err instanceof AppError && !err.retryable) failure = err;
        else throw err;
      }
      await deps.store.transact(async (tx) => {
        const current = (await tx.get("messages", messageId)) as MessageRecord;
        const now = deps.now();
        const updated: MessageRecord = failure
          ? { ...current, status: "failed", error: { code: failure.code, message: failure.message }, updatedAt: now }
          : { ...current, wamid, status: current.status === "queued" ? "sent" : current.status, updatedAt: now };
        await tx.put("messages", updated);
        if (updated.dialogId && updated.branchId && updated.status !== current.status) {
          await enqueueDelivery(tx, { type: "status", branchId: updated.branchId, dialogId: updated.dialogId, messageId, status: updated.status, at: now }, now);
        }
        await ctx.complete(tx);
      });
      deps.afterCommit();
    },
  };
}
