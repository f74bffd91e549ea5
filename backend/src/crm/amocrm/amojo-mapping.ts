import type { Customer, MessageRecord } from "../../domain/types.js";
import type { AmojoMessage, AmojoMessagePayload, AmojoUser } from "./amojo.client.js";

/**
 * Our ids in amoCRM's chat: the conversation is the dialog (branch + customer), so one customer
 * writing to two branches over time is two chats in two accounts that never collide (doc §8).
 */
export const conversationIdOf = (dialogId: string) => `bl:${dialogId}`;
export const dialogIdOfConversation = (conversationId: string | undefined) =>
  conversationId?.startsWith("bl:") ? conversationId.slice(3) : undefined;
export const clientIdOf = (customerId: string) => `bl:${customerId}`;

/** The customer as amoCRM's sender profile: the phone lands in the new contact. */
export function clientUser(customer: Pick<Customer, "id" | "waId" | "name" | "username">, amoClientId?: string): AmojoUser {
  const phone = customer.waId ? `+${customer.waId}` : undefined;
  return {
    id: clientIdOf(customer.id),
    ...(amoClientId ? { ref_id: amoClientId } : {}),
    name: customer.name || customer.username || phone || "WhatsApp",
    ...(phone ? { profile: { phone }, profile_link: `https://wa.me/${customer.waId}` } : {}),
  };
}

interface InboundExtras {
  location?: { latitude?: number; longitude?: number; name?: string; address?: string };
  contacts?: Array<{ formattedName?: string; phones: Array<{ phone?: string; waId?: string }> }>;
  interactiveId?: string;
}

/** Reads what the chat needs from the normalised inbound message we kept whole. */
export function inboundExtras(inboundJson: string | undefined): InboundExtras {
  if (!inboundJson) return {};
  try {
    const content = (JSON.parse(inboundJson) as { content?: Record<string, unknown> }).content ?? {};
    if (content.kind === "location") return { location: content as InboundExtras["location"] };
    if (content.kind === "contacts") return { contacts: content.contacts as InboundExtras["contacts"] };
    if (content.kind === "interactive" && typeof content.id === "string") return { interactiveId: content.id };
    if (content.kind === "button" && typeof content.payload === "string") return { interactiveId: content.payload };
  } catch {
    // kept as text below
  }
  return {};
}

const PICTURE = new Set(["image"]);

/** One WhatsApp message as amoCRM chat content; media goes by our signed, expiring link. */
export function amojoContent(message: MessageRecord, extras: InboundExtras, mediaLink?: string): AmojoMessage & { callback_data?: string } {
  const text = message.text ?? "";
  const media = message.media;
  if (media && mediaLink) {
    const fileName = media.filename || `${message.kind}${extensionOf(media.mimeType)}`;
    const size = media.size ?? 0;
    if (PICTURE.has(message.kind)) return { type: "picture", media: mediaLink, file_name: fileName, file_size: size, ...(media.caption ? { text: media.caption } : {}) };
    if (message.kind === "video") return { type: "video", media: mediaLink, file_name: fileName, file_size: size, ...(media.caption ? { text: media.caption } : {}) };
    if (message.kind === "document") return { type: "file", media: mediaLink, file_name: fileName, file_size: size, ...(media.caption ? { text: media.caption } : {}) };
    if (message.kind === "audio") return { type: "voice", media: mediaLink, file_name: fileName, file_size: size };
    if (message.kind === "sticker") return { type: "sticker", media: mediaLink, file_name: fileName, file_size: size };
  }
  if (media && !mediaLink) {
    // The file could not be downloaded: the manager still learns a file was sent.
    return { type: "text", text: `[${message.kind}${media.filename ? `: ${media.filename}` : ""} — the file could not be downloaded]${media.caption ? `\n${media.caption}` : ""}` };
  }
  const loc = extras.location;
  if (message.kind === "location" && typeof loc?.latitude === "number" && typeof loc.longitude === "number") {
    return { type: "location", location: { lat: loc.latitude, lon: loc.longitude } };
  }
  const shared = extras.contacts?.[0];
  const sharedPhone = shared?.phones.find((p) => p.phone || p.waId);
  if (message.kind === "contacts" && shared && sharedPhone) {
    return { type: "contact", contact: { name: shared.formattedName ?? sharedPhone.phone ?? "", phone: sharedPhone.phone ?? `+${sharedPhone.waId}` } };
  }
  const body = text || `[${message.kind}]`;
  // A menu or button reply keeps its id, so an amoCRM Salesbot can branch on it.
  return extras.interactiveId ? { type: "text", text: body, callback_data: extras.interactiveId } : { type: "text", text: body };
}

function extensionOf(mime: string | undefined): string {
  const sub = mime?.split("/")[1]?.split(";")[0];
  if (!sub) return "";
  const map: Record<string, string> = { jpeg: ".jpg", png: ".png", webp: ".webp", mp4: ".mp4", ogg: ".ogg", mpeg: ".mp3", pdf: ".pdf", "3gpp": ".3gp", aac: ".aac", amr: ".amr" };
  return map[sub] ?? "";
}

/** The inbound `new_message` event body (client → amoCRM). */
export function inboundPayload(opts: {
  message: MessageRecord;
  customer: Pick<Customer, "id" | "waId" | "name" | "username">;
  dialogId: string;
  content: AmojoMessage;
  /** amoCRM's chat and client ids, known when a manager started the chat with "write first". */
  amoChatId?: string;
  amoClientId?: string;
}): AmojoMessagePayload {
  const ms = opts.message.sentAt;
  return {
    timestamp: Math.floor(ms / 1000),
    msec_timestamp: ms,
    msgid: opts.message.wamid ?? opts.message.id,
    conversation_id: conversationIdOf(opts.dialogId),
    ...(opts.amoChatId ? { conversation_ref_id: opts.amoChatId } : {}),
    sender: clientUser(opts.customer, opts.amoClientId),
    message: opts.content,
    ...(opts.message.contextWamid ? { reply_to: { message: { msgid: opts.message.contextWamid } } } : {}),
    silent: false,
  };
}

/** A message the branch sent outside the chat (Salesbot, panel, API): shown in the chat as the bot's. */
export function mirrorPayload(opts: { message: MessageRecord; customer: Pick<Customer, "id" | "waId" | "name" | "username">; dialogId: string; botId: string; amoChatId?: string; amoClientId?: string }): AmojoMessagePayload {
  const ms = opts.message.sentAt;
  const label = opts.message.template ? `[${opts.message.template.name}] ` : "";
  return {
    timestamp: Math.floor(ms / 1000),
    msec_timestamp: ms,
    msgid: opts.message.id,
    conversation_id: conversationIdOf(opts.dialogId),
    ...(opts.amoChatId ? { conversation_ref_id: opts.amoChatId } : {}),
    sender: { id: `bl:bot`, ref_id: opts.botId, name: "Branchline" },
    receiver: clientUser(opts.customer, opts.amoClientId),
    message: { type: "text", text: `${label}${opts.message.text ?? ""}`.trim() || "[template]" },
    silent: true,
  };
}
