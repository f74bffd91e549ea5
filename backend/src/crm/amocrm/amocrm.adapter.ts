import { AppError } from "../../errors.js";
import type { Branch, MessageRecord } from "../../domain/types.js";
import type { Store } from "../../store/store.port.js";
import type { CrmAdapter, CrmDefinition, CrmEvent } from "../crm.port.js";
import { langOfDomain, managerText } from "../manager-text.js";
import type { AmojoDeliveryStatus } from "./amojo.client.js";
import { amojoContent, inboundExtras, inboundPayload, mirrorPayload } from "./amojo-mapping.js";
import type { AmoKit } from "./amocrm.kit.js";

export interface AmoConnectorDeps {
  kit: AmoKit;
  store: Store;
  now: () => number;
}

/**
 * The `amocrm` connector: routed messages become chat messages in the branch's amoCRM account
 * (amoCRM then creates the chat, the contact and an incoming lead), and what happens to messages
 * sent from amoCRM goes back as delivery statuses.
 * @see https://www.amocrm.ru/developers/content/chats/chat-api-reference
 */
export function amoConnector(deps: AmoConnectorDeps): CrmDefinition<"amocrm"> {
  return {
    kind: "amocrm",
    title: "amoCRM",
    capabilities: { crmOwnership: true },
    create: (branch) => createAdapter(branch, deps),
  };
}

const DELIVERY: Record<string, AmojoDeliveryStatus["status"] | undefined> = { delivered: 1, read: 2, played: 2, failed: -1 };
const OUTCOMES = new Set(["sent", "delivered", "read", "played", "failed"]);

function createAdapter(branch: Pick<Branch, "id" | "code" | "name">, deps: AmoConnectorDeps): CrmAdapter {
  const { kit, store } = deps;

  function channel() {
    const amojo = kit.amojo();
    if (!amojo) throw new AppError({ code: "amojo_not_configured", message: "AMOJO_CHANNEL_ID and AMOJO_CHANNEL_SECRET are not set", retryable: true });
    return amojo;
  }

  async function scopeOf(): Promise<{ scopeId: string; domain: string; connection: Awaited<ReturnType<AmoKit["connectionOfBranch"]>> }> {
    const connection = await kit.connectionOfBranch(branch.id);
    const scopeId = connection.refs.scopeId;
    if (!scopeId) throw new AppError({ code: "amojo_not_connected", message: `the amoCRM account of branch ${branch.code} has no chat channel connection yet`, retryable: true });
    return { scopeId, domain: connection.domain, connection };
  }

  async function patchRefs(messageId: string, refs: Record<string, string>): Promise<void> {
    await store.transact(async (tx) => {
      const m = await tx.get("messages", messageId);
      if (m) await tx.put("messages", { ...m, crmRefs: { ...m.crmRefs, ...refs }, updatedAt: deps.now() });
    });
  }

  async function deliverMessage(event: Extract<CrmEvent, { type: "message" }>): Promise<void> {
    const { scopeId } = await scopeOf();
    const [dialog, stored] = await store.read(async (tx) => [await tx.get("dialogs", event.dialog.id), await tx.get("messages", event.message.id)] as const);
    const content = amojoContent(event.message, inboundExtras(stored?.inboundJson), event.message.media?.status === "stored" ? event.message.media.url : undefined);
    const payload = inboundPayload({ message: event.message, customer: event.customer, dialogId: event.dialog.id, content, amoChatId: dialog?.crmRefs?.amoChatId, amoClientId: dialog?.crmRefs?.amoClientId });
    await channel().sendMessage(scopeId, payload);
  }

  async function deliverStatus(event: Extract<CrmEvent, { type: "status" }>): Promise<void> {
    const message = await store.read((tx) => tx.get("messages", event.messageId));
    if (!message || message.direction !== "out") return;
    const refs = message.crmRefs ?? {};
    const { scopeId, domain, connection } = await scopeOf();
    if (refs.salesbotReturnUrl && !refs.botContinued && OUTCOMES.has(event.status)) {
      await continueBot(message, event.status, connection, domain);
    }
    if (refs.amoMsgId) {
      const status = DELIVERY[event.status];
      if (status === undefined) return;
      const failure = status === -1 ? { errorCode: 905 as const, error: managerText(message.error ?? event.error, langOfDomain(domain)) } : {};
      await channel().deliveryStatus(scopeId, refs.amoMsgId, { status, ...failure });
      return;
    }
    // Sent from outside the chat (Salesbot, the card panel, the API): show it in the chat once.
    const botId = kit.settings.botId;
    if (!botId || refs.mirrored || message.origin === "menu" || !["sent", "delivered", "read", "played"].includes(event.status)) return;
    const [dialog, customer] = await store.read(async (tx) => [await tx.get("dialogs", event.dialogId), await tx.get("customers", message.customerId)] as const);
    if (!customer) return;
    await channel().sendMessage(scopeId, mirrorPayload({ message, customer, dialogId: event.dialogId, botId, amoChatId: dialog?.crmRefs?.amoChatId, amoClientId: dialog?.crmRefs?.amoClientId }));
    await patchRefs(message.id, { mirrored: "1" });
  }

  async function continueBot(message: MessageRecord, status: string, connection: Parameters<AmoKit["api"]>[0], domain: string): Promise<void> {
    const failed = status === "failed";
    const data = {
      status: failed ? "fail" : "success",
      message_id: message.id,
      ...(message.wamid ? { wa_message_id: message.wamid } : {}),
      ...(failed ? { error: managerText(message.error, langOfDomain(domain)) } : {}),
    };
    try {
      await kit.api(connection).continueBot(message.crmRefs!.salesbotReturnUrl!, { data });
    } catch (err) {
      // 404: the bot no longer waits (stopped, or continued already): nothing left to tell it.
      if (!(err instanceof AppError && (err.details as { status?: number } | undefined)?.status === 404)) throw err;
    }
    await patchRefs(message.id, { botContinued: "1" });
  }

  return {
    async deliver(event) {
      if (event.type === "message") await deliverMessage(event);
      else await deliverStatus(event);
    },
    async knowsPhone(phone) {
      const connection = await kit.connectionOfBranch(branch.id);
      return (await kit.api(connection).findContactsByPhone(phone)).length > 0;
    },
  };
}
