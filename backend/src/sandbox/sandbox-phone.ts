import { randomUUID } from "node:crypto";
import type { AxiosInstance } from "axios";
import { AppError } from "../errors.js";
import { signMetaPayload } from "../channels/whatsapp/webhook-signature.js";
import type { GraphMessage, OutboundContent } from "../channels/whatsapp/graph-payload.js";
import type { MessageRecord } from "../domain/types.js";
import type { EventBus } from "../events/event-bus.js";
import type { WhatsAppSender } from "../outbound/sender.port.js";
import type { Store } from "../store/store.port.js";

/** Identifiers the sandbox pretends Meta gave us (the doc's example number). */
export const SANDBOX_NUMBER = { phoneNumberId: "106540352242922", displayPhoneNumber: "15550783881", wabaId: "102290129340398" };

export type CustomerReply = { type: "button_reply" | "list_reply"; id: string; title: string };

export interface SandboxPhoneDeps {
  store: Store;
  bus: EventBus;
  http: AxiosInstance;
  appSecret: string;
  /** Base URL this process listens on; the phone posts to our own webhook like Meta does. */
  selfUrl: () => string;
  now: () => number;
}

/**
 * The simulated customer phone of sandbox mode. What a customer types becomes a Meta-shaped,
 * signed webhook POST to /webhooks/whatsapp; what we send arrives here instead of at Meta, and the
 * phone answers with `sent`, `delivered` and (while the chat is open) `read` statuses, again as
 * signed webhooks. Everything in between is the production path.
 */
export class SandboxPhone implements WhatsAppSender {
  private readonly watching = new Map<string, number>();

  constructor(private readonly deps: SandboxPhoneDeps) {}

  /** WhatsAppSender: the business sends to a sandbox customer. */
  async send(message: GraphMessage): Promise<{ wamid: string }> {
    const phone = (message.to ?? "").replace(/\D/g, "");
    if (!phone) throw new AppError({ code: "graph_131030", message: "sandbox phone needs a phone number recipient", retryable: false });
    const wamid = `wamid.SANDBOX.${randomUUID()}`;
    const ourId = message.biz_opaque_callback_data;
    this.deps.bus.emit("phone.message", { phone, message: { id: ourId ?? wamid, from: "business", ...describeGraphMessage(message), status: "sent", createdAt: this.deps.now() } });
    setTimeout(() => {
      const statuses = ["sent", "delivered", ...(this.isWatching(phone) ? ["read"] : [])];
      void this.postWebhook(statusPayload(phone, wamid, ourId, statuses, this.deps.now())).catch(() => undefined);
    }, 20).unref();
    return { wamid };
  }

  /** The customer types a message or taps a reply. Returns the wamid Meta would have given it. */
  async sendFromCustomer(phone: string, input: { name?: string; text?: string; reply?: CustomerReply; contextId?: string }): Promise<string> {
    const wamid = `wamid.SANDBOX.${randomUUID()}`;
    const contextWamid = input.contextId ? await this.wamidOf(input.contextId) : undefined;
    const message: Record<string, unknown> = { from: phone, id: wamid, timestamp: String(Math.floor(this.deps.now() / 1000)) };
    if (input.reply) {
      message.type = "interactive";
      message.interactive = { type: input.reply.type, [input.reply.type]: { id: input.reply.id, title: input.reply.title } };
    } else {
      message.type = "text";
      message.text = { body: input.text ?? "" };
    }
    if (contextWamid) message.context = { from: SANDBOX_NUMBER.displayPhoneNumber, id: contextWamid };
    const name = input.name || (await this.knownName(phone)) || `Customer ${phone.slice(-4)}`;
    const value = {
      messaging_product: "whatsapp",
      metadata: metadata(),
      contacts: [{ profile: { name }, wa_id: phone }],
      messages: [message],
    };
    this.deps.bus.emit("phone.message", { phone, message: { id: wamid, from: "customer", text: input.reply?.title ?? input.text, createdAt: this.deps.now() } });
    await this.postWebhook(envelope(value));
    return wamid;
  }

  /** The phone's chat screen is open: business messages are `read` as they arrive. */
  watch(phone: string): () => void {
    this.watching.set(phone, (this.watching.get(phone) ?? 0) + 1);
    return () => {
      const n = (this.watching.get(phone) ?? 1) - 1;
      if (n <= 0) this.watching.delete(phone);
      else this.watching.set(phone, n);
    };
  }

  private isWatching(phone: string): boolean {
    return (this.watching.get(phone) ?? 0) > 0;
  }

  /** Marks every business message to this phone as read (the customer opened the chat). */
  async markRead(phone: string, messages: MessageRecord[]): Promise<void> {
    const unread = messages.filter((m) => m.direction === "out" && m.wamid && (m.status === "sent" || m.status === "delivered"));
    if (unread.length === 0) return;
    const statuses = unread.map((m) => statusObject(phone, m.wamid!, m.id, "read", this.deps.now()));
    await this.postWebhook(envelope({ messaging_product: "whatsapp", metadata: metadata(), statuses }));
  }

  private knownName(phone: string): Promise<string | undefined> {
    return this.deps.store.read(async (tx) => (await tx.byIndex("customers", "waId", phone))[0]?.name);
  }

  private async wamidOf(messageId: string): Promise<string | undefined> {
    if (messageId.startsWith("wamid.")) return messageId;
    return this.deps.store.read(async (tx) => (await tx.get("messages", messageId))?.wamid);
  }

  private async postWebhook(body: unknown): Promise<void> {
    const raw = JSON.stringify(body);
    const res = await this.deps.http.post(`${this.deps.selfUrl()}/webhooks/whatsapp`, raw, {
      headers: { "content-type": "application/json", "x-hub-signature-256": signMetaPayload(raw, this.deps.appSecret) },
      validateStatus: () => true,
      transformRequest: (d: unknown) => d,
    });
    if (res.status !== 200) throw new AppError({ code: "sandbox_webhook_failed", message: `our webhook answered ${res.status}`, httpStatus: 502, retryable: true });
  }
}

/** What the phone shows of a business message. */
export function describeGraphMessage(m: GraphMessage): { text?: string; interactive?: unknown } {
  if (m.type === "text") return { text: (m.text as { body: string }).body };
  const i = m.interactive as { type: string; body: { text: string }; action: { button?: string; sections?: unknown; buttons?: Array<{ reply: { id: string; title: string } }> } } | undefined;
  if (!i) return { text: `[${m.type}]` };
  if (i.type === "list") return { text: i.body.text, interactive: { type: "list", body: i.body.text, button: i.action.button, sections: i.action.sections } };
  return { text: i.body.text, interactive: { type: "button", body: i.body.text, buttons: (i.action.buttons ?? []).map((b) => b.reply) } };
}

/** A stored message as the phone shows it (ids: ours for business messages, wamids for the customer's). */
export function phoneMessage(m: MessageRecord) {
  const content = m.outbound as OutboundContent | undefined;
  const interactive =
    content?.kind === "list"
      ? { type: "list", body: content.body, button: content.button, sections: content.sections }
      : content?.kind === "buttons"
        ? { type: "button", body: content.body, buttons: content.buttons }
        : undefined;
  return {
    id: m.direction === "in" ? (m.wamid ?? m.id) : m.id,
    from: m.direction === "in" ? "customer" : "business",
    text: m.text,
    interactive,
    status: m.direction === "out" ? m.status : undefined,
    createdAt: m.createdAt,
  };
}

const metadata = () => ({ display_phone_number: SANDBOX_NUMBER.displayPhoneNumber, phone_number_id: SANDBOX_NUMBER.phoneNumberId });

function envelope(value: unknown) {
  return { object: "whatsapp_business_account", entry: [{ id: SANDBOX_NUMBER.wabaId, changes: [{ value, field: "messages" }] }] };
}

function statusObject(phone: string, wamid: string, ourId: string | undefined, status: string, now: number) {
  return {
    id: wamid,
    status,
    timestamp: String(Math.floor(now / 1000)),
    recipient_id: phone,
    ...(ourId ? { biz_opaque_callback_data: ourId } : {}),
    ...(status === "sent" ? { pricing: { billable: false, pricing_model: "PMP", type: "free_customer_service", category: "service" } } : {}),
  };
}

function statusPayload(phone: string, wamid: string, ourId: string | undefined, statuses: string[], now: number) {
  return envelope({ messaging_product: "whatsapp", metadata: metadata(), statuses: statuses.map((s) => statusObject(phone, wamid, ourId, s, now)) });
}
