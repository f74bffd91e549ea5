import { z } from "zod";
import { AppError, badRequest, notFound, unauthorized } from "../../errors.js";
import type { OutboundContent } from "../../channels/whatsapp/graph-payload.js";
import { normalizeCrmPhone, waIdCandidates } from "../../domain/phone.js";
import { templateRecordId } from "../../domain/templates.js";
import type { CrmConnection, Customer, Job, TemplateRecord } from "../../domain/types.js";
import { dialogIdOfConversation } from "../../crm/amocrm/amojo-mapping.js";
import { verifyAmojoHookSignature } from "../../crm/amocrm/amojo-signature.js";
import type { AmoKit } from "../../crm/amocrm/amocrm.kit.js";
import { ensureDialog } from "../../inbound/bindings.js";
import { customerByPhone } from "../../inbound/customers.js";
import { recordRefusedReply } from "../refused-reply.js";
import { queueOutbound } from "../../outbound/outbox.js";
import { prepareTemplate } from "../../outbound/template-send.js";
import type { Store, Tx } from "../../store/store.port.js";

/** A chat hook v2 (doc §4.9). Only what we use is declared; the rest passes through. */
const hookSchema = z.object({
  account_id: z.string().min(1),
  message: z
    .object({
      receiver: z.object({ id: z.string().optional(), phone: z.string().optional(), client_id: z.string().optional() }).loose(),
      conversation: z.object({ id: z.string().optional(), client_id: z.string().optional() }).loose(),
      message: z
        .object({
          id: z.string().min(1),
          type: z.string().min(1),
          text: z.string().optional(),
          media: z.string().optional(),
          file_name: z.string().optional(),
          template: z
            .object({
              external_id: z.string().optional(),
              content: z.string().optional(),
              params: z.array(z.object({ key: z.string(), value: z.union([z.string(), z.number()]) }).loose()).optional(),
            })
            .loose()
            .optional(),
        })
        .loose(),
    })
    .loose()
    .optional(),
}).loose();

type Hook = z.infer<typeof hookSchema>;
type HookMessage = NonNullable<Hook["message"]>;

export interface ChatHookDeps {
  kit: AmoKit;
  store: Store;
  now: () => number;
  onQueued(job: Job): void;
  /** Wakes the delivery worker (a refusal goes back to amoCRM as a delivery status). */
  wake(): void;
}

export type ChatHookOutcome = "queued" | "refused" | "repeat" | "ignored";

/**
 * A manager wrote in the lead card: verify the signature over the raw bytes, then turn the message
 * into an outbox entry — or, when WhatsApp would refuse it (window closed, no such template), into
 * a failed message whose status amoCRM shows the manager. Either way it is durable before the 200.
 * @see amocrm.md §4.9
 */
export async function handleChatHook(deps: ChatHookDeps, scopeId: string, raw: Buffer, signature: string | undefined): Promise<ChatHookOutcome> {
  const secret = deps.kit.settings.channelSecret;
  if (!secret) throw new AppError({ code: "amojo_not_configured", message: "AMOJO_CHANNEL_SECRET is not set", httpStatus: 503 });
  if (!verifyAmojoHookSignature(raw, signature, secret)) throw unauthorized("X-Signature does not match the body");
  const connection = (await deps.store.read((tx) => tx.byIndex("crmConnections", "scopeId", scopeId)))[0];
  if (!connection || connection.kind !== "amocrm") throw notFound(`chat scope ${scopeId}`);
  let json: unknown;
  try {
    json = JSON.parse(raw.toString("utf8"));
  } catch {
    throw badRequest("the body is not JSON");
  }
  const parsed = hookSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw badRequest(`${issue.path.join(".")}: ${issue.message}`, issue.path.join("."));
  }
  const hook = parsed.data;
  if (hook.account_id !== connection.refs.amojoId) throw new AppError({ code: "scope_mismatch", message: "account_id does not belong to this chat scope", httpStatus: 403 });
  // Typing and reactions arrive on the same URL; WhatsApp gets neither from a CRM.
  if (!hook.message) return "ignored";
  if (!connection.branchId) throw new AppError({ code: "not_bound", message: "this amoCRM account is not bound to a branch yet", httpStatus: 409 });
  return queueReply(deps, connection as CrmConnection & { branchId: string }, hook.message);
}

async function queueReply(deps: ChatHookDeps, connection: CrmConnection & { branchId: string }, hook: HookMessage): Promise<ChatHookOutcome> {
  const now = deps.now();
  const seenId = `amo:msg:${connection.account}:${hook.message.id}`;
  const branchId = connection.branchId;
  try {
    const queued = await deps.store.transact(async (tx) => {
      if (!(await tx.insertIfAbsent("seenKeys", { id: seenId, at: now }))) return undefined;
      const customer = await customerOf(tx, hook, branchId, now);
      const { content, template } = await contentOf(tx, hook.message);
      const result = await queueOutbound(tx, { customer, branchId, content, template, origin: "reply", crmRefs: { amoMsgId: hook.message.id }, now });
      await rememberChat(tx, result.message.dialogId!, hook, now);
      return result;
    });
    if (!queued) return "repeat";
    deps.onQueued(queued.job);
    return "queued";
  } catch (err) {
    if (!(err instanceof AppError) || err.httpStatus !== 422) throw err;
    // WhatsApp would refuse it: the manager sees why in the chat (delivery status -1).
    const recorded = await deps.store.transact(async (tx) => {
      if (!(await tx.insertIfAbsent("seenKeys", { id: seenId, at: now }))) return false;
      const customer = await customerOf(tx, hook, branchId, now);
      const dialog = await ensureDialog(tx, branchId, customer.id, now);
      await rememberChat(tx, dialog.id, hook, now);
      await recordRefusedReply(tx, {
        branchId,
        dialogId: dialog.id,
        customerId: customer.id,
        kind: hook.message.template ? "template" : hook.message.type,
        text: hook.message.text,
        error: { code: err.code, message: err.message },
        crmRefs: { amoMsgId: hook.message.id },
        now,
      });
      return true;
    });
    if (!recorded) return "repeat";
    deps.wake();
    return "refused";
  }
}

/** Our conversation id names the dialog; a chat started with "write first" names only the phone. */
async function customerOf(tx: Tx, hook: HookMessage, branchId: string, now: number): Promise<Customer> {
  const dialogId = dialogIdOfConversation(hook.conversation.client_id);
  if (dialogId) {
    const dialog = await tx.get("dialogs", dialogId);
    if (!dialog || dialog.branchId !== branchId) throw new AppError({ code: "unknown_conversation", message: `conversation ${hook.conversation.client_id} is not one of this branch's dialogs`, httpStatus: 404 });
    const customer = await tx.get("customers", dialog.customerId);
    if (customer) return customer;
  }
  const phone = normalizeCrmPhone(hook.receiver.phone ?? "");
  if (!phone.ok) throw new AppError({ code: "invalid_phone", message: `receiver.phone: ${phone.reason}`, httpStatus: 422, field: "receiver.phone" });
  return customerByPhone(tx, waIdCandidates(phone.e164), now);
}

/** Keeps amoCRM's chat and client ids, so our next inbound message joins the manager's chat. */
async function rememberChat(tx: Tx, dialogId: string, hook: HookMessage, now: number): Promise<void> {
  const chatId = hook.conversation.id;
  const clientId = hook.receiver.id;
  if (!chatId && !clientId) return;
  const dialog = await tx.get("dialogs", dialogId);
  if (!dialog || (dialog.crmRefs?.amoChatId === chatId && dialog.crmRefs?.amoClientId === clientId)) return;
  await tx.put("dialogs", { ...dialog, crmRefs: { ...dialog.crmRefs, ...(chatId ? { amoChatId: chatId } : {}), ...(clientId ? { amoClientId: clientId } : {}) }, updatedAt: now });
}

const MEDIA: Record<string, "image" | "video" | "document" | "audio" | "sticker"> = {
  picture: "image",
  video: "video",
  file: "document",
  voice: "audio",
  audio: "audio",
  sticker: "sticker",
};

async function contentOf(tx: Tx, m: HookMessage["message"]): Promise<{ content: OutboundContent; template?: { name: string; language: string; category: string; params?: unknown } }> {
  if (m.template?.external_id) return templateOf(tx, m.template);
  const mediaType = MEDIA[m.type];
  if (mediaType && m.media) {
    return { content: { kind: "media", mediaType, link: m.media, ...(m.text && mediaType !== "audio" && mediaType !== "sticker" ? { caption: m.text } : {}), ...(mediaType === "document" && m.file_name ? { filename: m.file_name } : {}) } };
  }
  if (m.type === "text" && m.text?.trim()) return { content: { kind: "text", text: m.text } };
  throw new AppError({ code: "unsupported_content", message: `amoCRM message type '${m.type}' cannot be sent to WhatsApp`, httpStatus: 422 });
}

/**
 * A template picked in amoCRM: `external_id` names the WhatsApp template as `name:language`
 * (or `name|language`); its parameters come in order, or by name for NAMED templates.
 */
async function templateOf(tx: Tx, t: NonNullable<HookMessage["message"]["template"]>) {
  const [name, language] = t.external_id!.split(/[:|]/);
  if (!name || !language) throw new AppError({ code: "template_not_found", message: `template external_id '${t.external_id}' is not 'name:language'`, httpStatus: 422, field: "template" });
  const record: TemplateRecord | undefined = await tx.get("templates", templateRecordId(name, language));
  const values = (t.params ?? []).map((p) => ({ key: p.key.replace(/^\{\{\s*|\s*\}\}$/g, ""), value: String(p.value) }));
  const params = record?.parameterFormat === "NAMED" ? Object.fromEntries(values.map((v) => [v.key, v.value])) : values.map((v) => v.value);
  return prepareTemplate(tx, { name, language, params: values.length > 0 ? params : undefined });
}
