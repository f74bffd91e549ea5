import type { EventBus } from "../../events/event-bus.js";
import type { CrmDefinition } from "../crm.port.js";

/**
 * The built-in inbox: the store already holds the dialog, so delivering means telling the
 * branch's open inbox pages (server-sent events). It never fails, so the durable job always ends.
 */
export function inboxConnector(bus: EventBus): CrmDefinition<"inbox"> {
  return {
    kind: "inbox",
    title: "Built-in inbox",
    capabilities: { crmOwnership: false },
    create: () => ({
      async deliver(event) {
        if (event.type === "message") {
          bus.emit("inbox.message", { branchId: event.branch.id, dialogId: event.dialog.id, message: event.message });
        } else {
          bus.emit("inbox.status", { branchId: event.branch.id, dialogId: event.dialogId, messageId: event.messageId, status: event.status, error: event.error });
        }
      },
    }),
  };
}
