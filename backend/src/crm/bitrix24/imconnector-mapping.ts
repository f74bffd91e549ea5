import type { MediaType, OutboundContent } from "../../channels/whatsapp/graph-payload.js";
import type { Customer, MessageRecord, TemplateRecord } from "../../domain/types.js";
import { bbcodeToWhatsApp } from "./bbcode.js";
import type { OperatorMessage } from "./bitrix24-events.js";

/**
 * Pure mapping between our records and Bitrix24's Open Lines connector payloads (bitrix24.md §4).
 * One chat per customer in each portal: `user.id = chat.id =` the customer's wa_id (the doc's design
 * for 1:1 connectors), so the portal's CRM tracker matches the client by `user.phone`.
 */

/** Our connector's code: `[a-z0-9_]`, no dots (bitrix24.md §4.2). */
export const DEFAULT_CONNECTOR_ID = "branchline_whatsapp";
/** The robot of the contract (`wa_send_template`). */
export const ROBOT_CODE = "wa_send_template";

const USER_PREFIX = "bsuid-";

/** The external chat (and user) id we give Bitrix24 for a customer. */
export function externalChatId(customer: Pick<Customer, "id" | "waId" | "userId">): string {
  if (customer.waId) return customer.waId;
  return `${USER_PREFIX}${customer.userId ?? customer.id}`;
}

/** Reads an external chat id back: a wa_id, or a BSUID for customers without a phone. */
export function chatKeyOf(chatId: string): { waId: string } | { userId: string } | undefined {
  if (/^\d{6,20}$/.test(chatId)) return { waId: chatId };
  if (chatId.startsWith(USER_PREFIX) && chatId.length > USER_PREFIX.length) return { userId: chatId.slice(USER_PREFIX.length) };
  return undefined;
}

/** Bitrix24 accepts letters, spaces, `-` and `'` in names, 25 characters each (bitrix24.md §4.4). */
export function nameParts(raw: string | undefined): { name: string; last_name?: string } {
  const clean = (raw ?? "")
    .normalize("NFC")
    .replace(/[^\p{L}\p{M}\s'-]/gu, " ")
    .replace(/\s+/g, " ")
    .trim();
  if (!clean) return { name: "WhatsApp" };
  const [first, ...rest] = clean.split(" ");
  const last = rest.join(" ").slice(0, 25).trim();
  return { name: first!.slice(0, 25), ...(last ? { last_name: last } : {}) };
}

interface Extras {
  location?: { latitude?: number; longitude?: number; name?: string; address?: string };
  contacts?: Array<{ formattedName?: string; phones: Array<{ phone?: string; waId?: string }> }>;
}

function extrasOf(inboundJson: string | undefined): Extras {
  if (!inboundJson) return {};
  try {
    const content = (JSON.parse(inboundJson) as { content?: Record<string, unknown> }).content ?? {};
    if (content.kind === "location") return { location: content as Extras["location"] };
    if (content.kind === "contacts") return { contacts: content.contacts as Extras["contacts"] };
  } catch {
    // shown as its text below
  }
  return {};
}

/** The text a customer's message shows in the Open Lines chat. */
export function inboundText(message: MessageRecord, inboundJson?: string): string | undefined {
  const ex = extrasOf(inboundJson);
  const loc = ex.location;
  if (message.kind === "location" && typeof loc?.latitude === "number" && typeof loc.longitude === "number") {
    const label = [loc.name, loc.address].filter(Boolean).join(", ");
    return `${label ? `${label}[br]` : ""}https://maps.google.com/?q=${loc.latitude},${loc.longitude}`;
  }
  const shared = ex.contacts?.[0];
  if (message.kind === "contacts" && shared) {
    const phones = shared.phones.map((p) => p.phone ?? (p.waId ? `+${p.waId}` : "")).filter(Boolean);
    return `${shared.formattedName ?? ""} ${phones.join(", ")}`.trim() || "[contact]";
  }
  const text = message.media?.caption ?? message.text;
  return text || undefined;
}

/** One item of `imconnector.send.messages` for a routed WhatsApp message; media by our signed link. */
export function inboundItem(opts: {
  message: MessageRecord;
  customer: Pick<Customer, "id" | "waId" | "userId" | "name" | "username">;
  inboundJson?: string;
}): Record<string, unknown> {
  const { message, customer } = opts;
  const chatId = externalChatId(customer);
  const phone = customer.waId ? `+${customer.waId}` : undefined;
  const media = message.media;
  let text = inboundText(message, opts.inboundJson);
  const files: Array<{ url: string; name: string }> = [];
  if (media && media.status === "stored" && media.url) {
    files.push({ url: media.url, name: media.filename || `${message.kind}${extensionOf(media.mimeType)}` });
  } else if (media) {
    // The file never arrived: the operator still learns that one was sent.
    text = `[${message.kind}${media.filename ? `: ${media.filename}` : ""} — the file could not be downloaded]${text ? `[br]${text}` : ""}`;
  }
  if (!text && files.length === 0) text = `[${message.kind}]`;
  return {
    user: {
      id: chatId,
      ...nameParts(customer.name || customer.username),
      ...(phone ? { phone, skip_phone_validate: "Y" } : {}),
    },
    message: {
      id: message.wamid ?? message.id,
      date: Math.floor(message.sentAt / 1000),
      ...(text ? { text } : {}),
      ...(files.length ? { files } : {}),
    },
    chat: {
      id: chatId,
      name: `WhatsApp ${customer.name || phone || ""}`.trim(),
      ...(customer.waId ? { url: `https://wa.me/${customer.waId}` } : {}),
    },
  };
}

/**
 * A note to the operator inside the customer's chat (a refusal: the 24-hour window closed…).
 * Bitrix24 documents no "failed" delivery status for connectors, so it arrives as a chat message
 * with the CRM tracker off (bitrix24.md §4.5, §10.9).
 */
export function operatorNoticeItem(opts: { chatId: string; noticeId: string; text: string; at: number }): Record<string, unknown> {
  return {
    user: { id: opts.chatId, name: "WhatsApp" },
    message: { id: opts.noticeId, date: Math.floor(opts.at / 1000), text: `[b]⚠ WhatsApp:[/b] ${opts.text}`, disable_crm: "Y" },
    chat: { id: opts.chatId },
  };
}

/** `imconnector.send.status.delivery` item for an operator's message WhatsApp accepted. */
export function deliveryItem(opts: { imChatId?: string; imMessageId: string; chatId: string; externalId: string; at: number }): Record<string, unknown> {
  return {
    im: { chat_id: Number(opts.imChatId ?? 0) || opts.imChatId, message_id: Number(opts.imMessageId) || opts.imMessageId },
    message: { id: [opts.externalId], date: Math.floor(opts.at / 1000) },
    chat: { id: opts.chatId },
  };
}

const MIME_KIND: Array<[RegExp, MediaType]> = [
  [/^image\/(jpe?g|png)$/i, "image"],
  [/^image\/webp$/i, "sticker"],
  [/^video\//i, "video"],
  [/^audio\//i, "audio"],
];
const NAME_KIND: Array<[RegExp, MediaType]> = [
  [/\.(jpe?g|png)$/i, "image"],
  [/\.(mp4|3gp)$/i, "video"],
  [/\.(ogg|opus|mp3|m4a|aac|amr)$/i, "audio"],
];

/** What an operator's reply becomes on WhatsApp: the text (BBCode → WhatsApp), then each file by link. */
export function operatorContents(m: Pick<OperatorMessage, "text" | "files">): OutboundContent[] {
  const text = m.text ? bbcodeToWhatsApp(m.text).trim() : "";
  const files = m.files.map((f): OutboundContent => {
    const kind = MIME_KIND.find(([re]) => re.test(f.type ?? ""))?.[1] ?? NAME_KIND.find(([re]) => re.test(f.name))?.[1] ?? "document";
    // WhatsApp shows webp images only as stickers; anything else image-like goes as a document.
    const mediaType: MediaType = kind === "sticker" && !/\.webp$/i.test(f.name) ? "document" : kind;
    return { kind: "media", mediaType, link: f.link, ...(mediaType === "document" ? { filename: f.name } : {}) };
  });
  // One file with a short text: the text rides along as its caption (image, video, document only).
  const only = files.length === 1 ? (files[0] as Extract<OutboundContent, { kind: "media" }>) : undefined;
  if (only && text && text.length <= 1024 && only.mediaType !== "audio" && only.mediaType !== "sticker") return [{ ...only, caption: text }];
  return [...(text ? [{ kind: "text" as const, text }] : []), ...files];
}

/** `"name|language"`, the robot's option keys (contract). */
export const templateOptionKey = (t: Pick<TemplateRecord, "name" | "language">) => `${t.name}|${t.language}`;

export function parseTemplateOption(value: string): { name: string; language: string } | undefined {
  const [name, language, ...rest] = value.trim().split("|");
  if (!name || !language || rest.length > 0) return undefined;
  return { name, language };
}

/** The robot's settings: the approved templates as a select, the phone, the parameters in order. */
export function robotProperties(templates: readonly TemplateRecord[]): Record<string, unknown> {
  const approved = templates.filter((t) => t.status === "APPROVED").sort((a, b) => templateOptionKey(a).localeCompare(templateOptionKey(b)));
  const options: Record<string, string> = {};
  for (const t of approved) options[templateOptionKey(t)] = `${t.name} (${t.language})`;
  return {
    template: { Name: { en: "Approved template", ru: "Одобренный шаблон" }, Type: "select", Required: "Y", Multiple: "N", Options: options },
    phone: { Name: { en: "Phone (empty = the client's phone)", ru: "Телефон (пусто = телефон клиента)" }, Type: "string", Required: "N", Multiple: "N" },
    vars: { Name: { en: "Template parameters {{1}}…{{n}}", ru: "Параметры шаблона {{1}}…{{n}}" }, Type: "string", Required: "N", Multiple: "Y" },
  };
}

/** `bizproc.robot.add` fields of the contract's robot (bitrix24.md §5.1); `CODE` added by the caller. */
export function robotFields(handler: string, templates: readonly TemplateRecord[]): Record<string, unknown> {
  return {
    HANDLER: handler,
    AUTH_USER_ID: 1,
    USE_SUBSCRIPTION: "Y",
    NAME: { en: "Send WhatsApp template", ru: "Отправить шаблон WhatsApp" },
    DESCRIPTION: { en: "Sends an approved WhatsApp template through the network's number", ru: "Отправляет одобренный шаблон WhatsApp с номера сети" },
    FILTER: { INCLUDE: [["crm", "CCrmDocumentDeal"], ["crm", "CCrmDocumentLead"]] },
    PROPERTIES: robotProperties(templates),
    RETURN_PROPERTIES: {
      message_id: { Name: { en: "Message id", ru: "ID сообщения" }, Type: "string" },
      status: { Name: { en: "Status (sent or failed)", ru: "Статус (sent или failed)" }, Type: "string" },
    },
  };
}

/** `document_id[2]` of a robot call: `LEAD_123`, `DEAL_45` (bitrix24.md §5.2). */
export function parseDocumentId(raw: unknown): { entity: "lead" | "deal" | "contact" | "company"; id: number } | undefined {
  const m = typeof raw === "string" ? /^(LEAD|DEAL|CONTACT|COMPANY)_(\d+)$/i.exec(raw.trim()) : null;
  if (!m) return undefined;
  const id = Number(m[2]);
  return Number.isSafeInteger(id) && id > 0 ? { entity: m[1]!.toLowerCase() as "lead" | "deal" | "contact" | "company", id } : undefined;
}

function extensionOf(mime: string | undefined): string {
  const sub = mime?.split("/")[1]?.split(";")[0];
  const map: Record<string, string> = { jpeg: ".jpg", png: ".png", webp: ".webp", mp4: ".mp4", ogg: ".ogg", mpeg: ".mp3", pdf: ".pdf", "3gpp": ".3gp", aac: ".aac", amr: ".amr" };
  return (sub && map[sub]) ?? "";
}
