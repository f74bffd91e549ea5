import { AppError } from "../errors.js";
import type { CrmEvent } from "../crm/crm.port.js";
import type { CrmRegistry } from "../crm/registry.js";
import type { JobHandler } from "../jobs/job-runner.js";
import type { Metrics } from "../ops/metrics.js";
import type { Store } from "../store/store.port.js";
import { DELIVER_QUEUE, type DeliveryPayload } from "./deliveries.js";

export interface DeliverDeps {
  store: Store;
  registry: CrmRegistry;
  metrics: Metrics;
  maxAttempts: number;
  backoffMs: number;
  now: () => number;
  /** A signed, expiring URL of a stored media file, for the CRM to fetch. */
  mediaUrl(messageId: string): string;
}

/** How long a delivery waits for its media download before going without the file. */
const MEDIA_WAIT_MS = 10 * 60_000;

/** Hands routed messages and status changes to the branch's connector; retried until it accepts. */
export function deliverHandler(deps: DeliverDeps): JobHandler {
  return {
    queue: DELIVER_QUEUE,
    maxAttempts: deps.maxAttempts,
    backoffMs: deps.backoffMs,
    concurrency: 32,
    async run(job, ctx) {
      const p = job.payload as DeliveryPayload;
      const event = await deps.store.read(async (tx): Promise<{ crm: string; branch: NonNullable<Awaited<ReturnType<typeof tx.get<"branches">>>>; event: CrmEvent } | undefined> => {
        const branch = await tx.get("branches", p.branchId);
        const message = await tx.get("messages", p.messageId);
        const dialog = await tx.get("dialogs", p.dialogId);
        if (!branch || !message || !dialog) return undefined;
        const ref = { id: branch.id, code: branch.code, name: branch.name };
        if (p.type === "status") {
          return { crm: branch.crm, branch, event: { type: "status", id: `status:${message.id}:${p.status}`, branch: ref, dialogId: dialog.id, messageId: message.id, wamid: message.wamid, status: p.status, error: message.error, at: p.at } };
        }
        const customer = await tx.get("customers", message.customerId);
        if (!customer) return undefined;
        const { inboundJson: _raw, ...visible } = message;
        if (message.media?.status === "stored") visible.media = { ...message.media, url: deps.mediaUrl(message.id) };
        return {
          crm: branch.crm,
          branch,
          event: {
            type: "message",
            id: `message:${message.id}`,
            branch: ref,
            dialog: { id: dialog.id, routing: dialog.routing },
            customer: { id: customer.id, waId: customer.waId, userId: customer.userId, name: customer.name, username: customer.username },
            message: visible,
          },
        };
      });
      // The CRM gets the file's link only once it is stored: wait (in order) for the download.
      if (event?.event.type === "message") {
        const media = event.event.message.media;
        if (media?.mediaId && !media.status && deps.now() - event.event.message.createdAt < MEDIA_WAIT_MS) {
          ctx.defer(deps.now() + 500);
          return;
        }
      }
      if (event) {
        const definition = deps.registry[event.branch.crm];
        try {
          await definition.create(event.branch).deliver(event.event);
          deps.metrics.deliveries.inc({ connector: event.crm, outcome: "ok" });
        } catch (err) {
          deps.metrics.deliveries.inc({ connector: event.crm, outcome: err instanceof AppError && !err.retryable ? "refused" : "failed" });
          throw err;
        }
      }
      await deps.store.transact((tx) => ctx.complete(tx));
    },
  };
}
