import { AppError } from "../../errors.js";
import type { Branch, CrmConnection, MessageRecord } from "../../domain/types.js";
import type { Store } from "../../store/store.port.js";
import type { CrmAdapter, CrmDefinition, CrmEvent } from "../crm.port.js";
import { langOfDomain, managerText } from "../manager-text.js";
import { b24ErrorCode } from "./bitrix24.api.js";
import type { B24Kit } from "./bitrix24.kit.js";
import { deliveryItem, externalChatId, inboundItem, operatorNoticeItem } from "./imconnector-mapping.js";

export interface B24ConnectorDeps {
  kit: B24Kit;
  store: Store;
  now: () => number;
}

/** Statuses that mean WhatsApp took the message. */
const ACCEPTED = new Set(["sent", "delivered", "read", "played"]);

/**
 * The `bitrix24` connector: routed messages go into the branch portal's Open Lines through our
 * connector (`imconnector.send.messages`, with the customer's phone so Bitrix24 links the chat to
 * the CRM); outcomes of what the portal sent come back as delivery confirmations, refusal notes in
 * the chat and the robot's `bizproc.event.send`.
 * @see bitrix24.md §4.4, §4.5, §5.3
 */
export function bitrix24Connector(deps: B24ConnectorDeps): CrmDefinition<"bitrix24"> {
  return {
    kind: "bitrix24",
    title: "Bitrix24",
    capabilities: { crmOwnership: true },
    create: (branch) => createAdapter(branch, deps),
  };
}

function createAdapter(branch: Pick<Branch, "id" | "code" | "name">, deps: B24ConnectorDeps): CrmAdapter {
  const { kit, store } = deps;

  async function line(): Promise<{ connection: CrmConnection; lineId: string; connector: string }> {
    const connection = await kit.connectionOfBranch(branch.id);
    const lineId = connection.refs.lineId;
    if (!lineId) throw new AppError({ code: "bitrix24_no_line", message: `the Bitrix24 portal of branch ${branch.code} has no active Open Lines line for the connector: open the app to reinstall`, retryable: true });
    return { connection, lineId, connector: connection.refs.connectorId ?? kit.settings.connectorId };
  }

  async function patchRefs(messageId: string, refs: Record<string, string>): Promise<void> {
    await store.transact(async (tx) => {
      const m = await tx.get("messages", messageId);
      if (m) await tx.put("messages", { ...m, crmRefs: { ...m.crmRefs, ...refs }, updatedAt: deps.now() });
    });
  }

  async function deliverMessage(event: Extract<CrmEvent, { type: "message" }>): Promise<void> {
    const { connection, lineId, connector } = await line();
    const stored = await store.read((tx) => tx.get("messages", event.message.id));
    const item = inboundItem({ message: event.message, customer: event.customer, inboundJson: stored?.inboundJson });
    const [result] = await kit.api(connection).sendMessages(connector, lineId, [item]);
    if (!result || result.SUCCESS === false) {
      throw new AppError({ code: "bitrix24_refused", message: `Bitrix24 refused the message: ${JSON.stringify(result?.ERRORS ?? "no result").slice(0, 300)}`, retryable: false, details: { errors: result?.ERRORS } });
    }
    // Keep the portal's chat and session: the card panel and operators' replies name them.
    const chatId = result.session?.CHAT_ID;
    const sessionId = result.session?.ID;
    if (!chatId && !sessionId) return;
    await store.transact(async (tx) => {
      const dialog = await tx.get("dialogs", event.dialog.id);
      if (!dialog) return;
      const refs = { ...dialog.crmRefs, b24Member: connection.account, b24Line: lineId, ...(chatId ? { b24ChatId: String(chatId) } : {}), ...(sessionId ? { b24SessionId: String(sessionId) } : {}) };
      if (JSON.stringify(refs) !== JSON.stringify(dialog.crmRefs ?? {})) await tx.put("dialogs", { ...dialog, crmRefs: refs, updatedAt: deps.now() });
    });
  }

  async function deliverStatus(event: Extract<CrmEvent, { type: "status" }>): Promise<void> {
    const message = await store.read((tx) => tx.get("messages", event.messageId));
    if (!message || message.direction !== "out") return;
    const refs = message.crmRefs ?? {};
    if (refs.b24EventToken && !refs.b24RobotAnswered && (ACCEPTED.has(event.status) || event.status === "failed")) {
      await answerRobot(message, event.status === "failed" ? "failed" : "sent", event.error);
    }
    if (refs.b24ImMessageId) {
      if (ACCEPTED.has(event.status) && !refs.b24Delivered) await confirmDelivery(message, event.at);
      else if (event.status === "failed" && !refs.b24Noticed) await noticeRefusal(message, event.error, event.at);
    }
  }

  /** Stops the operator's "sending" spinner: WhatsApp has the message. */
  async function confirmDelivery(message: MessageRecord, at: number): Promise<void> {
    const refs = message.crmRefs!;
    const { connection, lineId, connector } = await line();
    await kit.api(connection).call("imconnector.send.status.delivery", {
      CONNECTOR: refs.b24Connector ?? connector,
      LINE: refs.b24Line ?? lineId,
      MESSAGES: [deliveryItem({ imChatId: refs.b24ImChatId, imMessageId: refs.b24ImMessageId!, chatId: refs.b24ChatRef ?? "", externalId: message.wamid ?? message.id, at })],
    });
    await patchRefs(message.id, { b24Delivered: "1" });
  }

  /** Tells the operator in the chat why WhatsApp did not get their message. */
  async function noticeRefusal(message: MessageRecord, error: { code: string; message: string } | undefined, at: number): Promise<void> {
    const refs = message.crmRefs!;
    const { connection, lineId, connector } = await line();
    const text = managerText(message.error ?? error, langOfDomain(connection.domain));
    const chatId = refs.b24ChatRef ?? (await customerChatId(message));
    if (!chatId) return;
    await kit.api(connection).sendMessages(refs.b24Connector ?? connector, refs.b24Line ?? lineId, [operatorNoticeItem({ chatId, noticeId: `notice-${message.id}`, text, at })]);
    await patchRefs(message.id, { b24Noticed: "1" });
  }

  async function customerChatId(message: MessageRecord): Promise<string | undefined> {
    const customer = await store.read((tx) => tx.get("customers", message.customerId));
    return customer ? externalChatId(customer) : undefined;
  }

  /** The robot waits for `bizproc.event.send` (USE_SUBSCRIPTION=Y): message id and status. */
  async function answerRobot(message: MessageRecord, status: "sent" | "failed", error: { code: string; message: string } | undefined): Promise<void> {
    const connection = await kit.connectionOfBranch(branch.id);
    const failure = status === "failed" ? managerText(message.error ?? error, langOfDomain(connection.domain)) : undefined;
    try {
      await kit.api(connection).call("bizproc.event.send", {
        EVENT_TOKEN: message.crmRefs!.b24EventToken,
        RETURN_VALUES: { message_id: message.id, status },
        LOG_MESSAGE: failure ? `WhatsApp: ${failure}` : `WhatsApp template ${message.template?.name ?? ""} sent`.trim(),
      });
    } catch (err) {
      // ACCESS_DENIED: the workflow no longer waits (answered, stopped or timed out): nothing to tell.
      if (b24ErrorCode(err) !== "ACCESS_DENIED") throw err;
    }
    await patchRefs(message.id, { b24RobotAnswered: "1" });
  }

  return {
    async deliver(event) {
      if (event.type === "message") await deliverMessage(event);
      else await deliverStatus(event);
    },
    async knowsPhone(phone) {
      const connection = await kit.connectionOfBranch(branch.id);
      const found = await kit.api(connection).findByPhone(phone);
      return found.leadIds.length + found.contactIds.length + found.companyIds.length > 0;
    },
  };
}
