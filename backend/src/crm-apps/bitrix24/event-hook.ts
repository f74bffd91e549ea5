import { AppError } from "../../errors.js";
import type { OutboundContent } from "../../channels/whatsapp/graph-payload.js";
import type { CrmConnection, Customer, Job } from "../../domain/types.js";
import { applicationTokenMatches, operatorMessages, parseB24Event, type B24Event, type OperatorMessage } from "../../crm/bitrix24/bitrix24-events.js";
import type { B24Kit } from "../../crm/bitrix24/bitrix24.kit.js";
import { chatKeyOf, operatorContents } from "../../crm/bitrix24/imconnector-mapping.js";
import { dialogIdOf, ensureDialog } from "../../inbound/bindings.js";
import { customerByPhone } from "../../inbound/customers.js";
import { recordRefusedReply } from "../refused-reply.js";
import type { Logger } from "../../ops/logger.js";
import { queueOutbound } from "../../outbound/outbox.js";
import type { Store, Tx } from "../../store/store.port.js";

export interface B24EventDeps {
  kit: B24Kit;
  store: Store;
  logger: Logger;
  now: () => number;
  onQueued(job: Job): void;
  /** Wakes the delivery worker (a refusal goes back to the chat as a note). */
  wake(): void;
}

export type B24EventOutcome = "queued" | "refused" | "repeat" | "ignored" | "disconnected" | "line_removed";

/**
 * `POST /bitrix24/events`: every event is checked by its portal's application token (constant
 * time) before anything changes, then handled; the answer comes right after the durable write
 * (Bitrix24 does not retry and slows down slow handlers, bitrix24.md §7).
 */
export async function handleB24Event(deps: B24EventDeps, raw: string): Promise<{ event: string; outcomes: B24EventOutcome[] }> {
  const event = parseB24Event(raw);
  const connection = await deps.kit.connection(event.auth.memberId);
  if (!connection) throw new AppError({ code: "unknown_portal", message: "no portal with this member_id installed the app", httpStatus: 404 });
  const expected = deps.kit.applicationToken(connection);
  if (!expected || !applicationTokenMatches(event, expected)) {
    throw new AppError({ code: "unauthorized", message: "auth[application_token] does not match this portal's application token", httpStatus: 401 });
  }
  switch (event.event) {
    case "ONAPPUNINSTALL":
      return { event: event.event, outcomes: [await uninstall(deps, connection)] };
    case "ONIMCONNECTORMESSAGEADD":
      return { event: event.event, outcomes: await operatorReplies(deps, connection, event) };
    case "ONIMCONNECTORSTATUSDELETE":
    case "ONIMCONNECTORLINEDELETE":
      return { event: event.event, outcomes: [await lineGone(deps, connection, event)] };
    default:
      return { event: event.event, outcomes: ["ignored"] };
  }
}

/**
 * The app was removed: API access is revoked, so the tokens go; the branch binding, dialogs and
 * history stay for a reinstall. The application token stays too, so a repeated event still checks.
 */
async function uninstall(deps: B24EventDeps, connection: CrmConnection): Promise<B24EventOutcome> {
  const now = deps.now();
  const changed = await deps.store.transact(async (tx) => {
    const c = await tx.get("crmConnections", connection.id);
    if (!c || c.state === "disconnected") return false;
    const { tokensSealed: _revoked, ...rest } = c;
    await tx.put("crmConnections", { ...rest, state: "disconnected", disconnectedAt: now, updatedAt: now });
    return true;
  });
  if (changed) deps.logger.info({ member: connection.account }, "Bitrix24 app uninstalled: portal disconnected");
  return changed ? "disconnected" : "repeat";
}

/** The admin disabled our connector on a line (or deleted the line): deliveries wait for a reinstall. */
async function lineGone(deps: B24EventDeps, connection: CrmConnection, event: B24Event): Promise<B24EventOutcome> {
  const data = event.data;
  const line = typeof data === "string" || typeof data === "number" ? String(data) : String((data as Record<string, unknown> | undefined)?.line ?? (data as Record<string, unknown> | undefined)?.LINE ?? "");
  if (!line || line !== connection.refs.lineId) return "ignored";
  const now = deps.now();
  await deps.store.transact(async (tx) => {
    const c = await tx.get("crmConnections", connection.id);
    if (!c || c.refs.lineId !== line) return;
    const { lineId: _gone, ...refs } = c.refs;
    await tx.put("crmConnections", { ...c, refs, lastError: { code: "line_disconnected", message: `the connector was switched off on Open Lines line ${line}: open the app to reinstall`, at: now }, updatedAt: now });
  });
  return "line_removed";
}

async function operatorReplies(deps: B24EventDeps, connection: CrmConnection, event: B24Event): Promise<B24EventOutcome[]> {
  const messages = operatorMessages(event);
  const connectorId = connection.refs.connectorId ?? deps.kit.settings.connectorId;
  if (messages.length === 0 || messages[0]!.connector.toLowerCase() !== connectorId) return ["ignored"];
  if (connection.state !== "connected" || !connection.branchId) {
    throw new AppError({ code: "not_bound", message: "this portal is not bound to a branch: open the app and enter the branch key", httpStatus: 409 });
  }
  const outcomes: B24EventOutcome[] = [];
  for (const m of messages) outcomes.push(await queueReply(deps, connection as CrmConnection & { branchId: string }, m));
  return outcomes;
}

/**
 * One operator message: into the outbox (text converted from BBCode, files by link), or — when
 * WhatsApp would refuse it — a failed message whose status becomes a note in the chat.
 */
async function queueReply(deps: B24EventDeps, connection: CrmConnection & { branchId: string }, m: OperatorMessage): Promise<B24EventOutcome> {
  // Welcome and other automatic texts: the connector is registered without system messages.
  if (m.system) return "ignored";
  const now = deps.now();
  const seenId = `b24:msg:${connection.account}:${m.messageId}`;
  const branchId = connection.branchId;
  const crmRefs = { b24ImMessageId: m.messageId, ...(m.imChatId ? { b24ImChatId: m.imChatId } : {}), b24ChatRef: m.chatId, b24Line: m.lineId, b24Connector: m.connector };
  const contents = operatorContents(m);
  try {
    const jobs = await deps.store.transact(async (tx) => {
      if (!(await tx.insertIfAbsent("seenKeys", { id: seenId, at: now }))) return undefined;
      const customer = await customerOf(tx, m, now);
      if (contents.length === 0) throw new AppError({ code: "unsupported_content", message: "the message has neither text nor files", httpStatus: 422 });
      const queued: Job[] = [];
      for (const content of contents) {
        const r = await queueOutbound(tx, { customer, branchId, content, origin: "reply", crmRefs, now });
        queued.push(r.job);
      }
      await rememberChat(tx, dialogIdOf(branchId, customer.id), m, now);
      return queued;
    });
    if (!jobs) return "repeat";
    for (const job of jobs) deps.onQueued(job);
    return "queued";
  } catch (err) {
    if (!(err instanceof AppError) || err.httpStatus !== 422) throw err;
    const recorded = await deps.store.transact(async (tx) => {
      if (!(await tx.insertIfAbsent("seenKeys", { id: seenId, at: now }))) return false;
      const customer = await customerOf(tx, m, now);
      const dialog = await ensureDialog(tx, branchId, customer.id, now);
      await rememberChat(tx, dialog.id, m, now);
      const first: OutboundContent | undefined = contents[0];
      await recordRefusedReply(tx, {
        branchId,
        dialogId: dialog.id,
        customerId: customer.id,
        kind: first?.kind === "media" ? first.mediaType : "text",
        text: first?.kind === "text" ? first.text : first?.kind === "media" ? first.caption : undefined,
        error: { code: err.code, message: err.message },
        crmRefs,
        now,
      });
      return true;
    });
    if (!recorded) return "repeat";
    deps.wake();
    return "refused";
  }
}

/** `chat.id` is the id we gave: the customer's wa_id (or BSUID for customers without a phone). */
async function customerOf(tx: Tx, m: OperatorMessage, now: number): Promise<Customer> {
  const key = chatKeyOf(m.chatId);
  if (key && "waId" in key) return customerByPhone(tx, [key.waId], now);
  const found = key ? (await tx.byIndex("customers", "userId", key.userId))[0] : undefined;
  if (!found) throw new AppError({ code: "unknown_chat", message: `chat ${m.chatId} is not one of our WhatsApp chats`, httpStatus: 404 });
  return found;
}

/** Keeps the portal's chat id on the dialog (the panel and later notes name it). */
async function rememberChat(tx: Tx, dialogId: string, m: OperatorMessage, now: number): Promise<void> {
  if (!m.imChatId) return;
  const dialog = await tx.get("dialogs", dialogId);
  if (!dialog || (dialog.crmRefs?.b24ChatId === m.imChatId && dialog.crmRefs?.b24Line === m.lineId)) return;
  await tx.put("dialogs", { ...dialog, crmRefs: { ...dialog.crmRefs, b24ChatId: m.imChatId, b24Line: m.lineId }, updatedAt: now });
}
