import { badRequest } from "../../errors.js";

export type MediaType = "image" | "audio" | "video" | "document" | "sticker";

/**
 * What we ask the Cloud API to send, in its own JSON shape (POST /{phone_number_id}/messages).
 * @see https://developers.facebook.com/documentation/business-messaging/whatsapp/messages/send-messages
 */
export type OutboundContent =
  | { kind: "text"; text: string; previewUrl?: boolean }
  | { kind: "list"; body: string; button: string; sections: Array<{ title: string; rows: Array<{ id: string; title: string; description?: string }> }> }
  | { kind: "buttons"; body: string; buttons: Array<{ id: string; title: string }> }
  /**
   * By uploaded media `id` (recommended) or hosted `link`; when both are given the id wins.
   * `caption` is sent for image, video and document only; `filename` for documents only.
   * @see https://developers.facebook.com/documentation/business-messaging/whatsapp/messages/image-messages
   */
  | { kind: "media"; mediaType: MediaType; id?: string; link?: string; caption?: string; filename?: string }
  /**
   * Only to messages we received; `emoji: ""` removes our reaction (UNCONFIRMED by Meta).
   * @see https://developers.facebook.com/documentation/business-messaging/whatsapp/messages/reaction-messages
   */
  | { kind: "reaction"; messageId: string; emoji: string }
  /**
   * `components` are already in Graph's send shape (built from the template definition elsewhere);
   * `preview` is the rendered text people read in inboxes, if the builder has it.
   * @see https://developers.facebook.com/documentation/business-messaging/whatsapp/templates/overview
   */
  | { kind: "template"; name: string; language: string; components: unknown[]; preview?: string }
  /** @see https://developers.facebook.com/documentation/business-messaging/whatsapp/messages/location-messages */
  | { kind: "location"; latitude: number; longitude: number; name?: string; address?: string };

export interface Recipient {
  waId?: string;
  userId?: string;
}

export interface GraphMessage {
  messaging_product: "whatsapp";
  recipient_type: "individual";
  to?: string;
  recipient?: string;
  type: string;
  biz_opaque_callback_data?: string;
  context?: { message_id: string };
  [body: string]: unknown;
}

/** Body of POST /{phone_number_id}/messages that marks an inbound message (and earlier ones) read. */
export interface MarkReadPayload {
  messaging_product: "whatsapp";
  status: "read";
  message_id: string;
  typing_indicator?: { type: "text" };
}

/**
 * Builds the Graph send body. `opts.replyTo` quotes a message (`context.message_id`) — except for
 * reactions, where Meta does not allow a context, so it is dropped. `opts.callbackData` becomes
 * `biz_opaque_callback_data`, echoed back in status webhooks.
 */
export function toGraphMessage(to: Recipient, content: OutboundContent, opts: { callbackData?: string; replyTo?: string } = {}): GraphMessage {
  const replyTo = content.kind === "reaction" ? undefined : opts.replyTo;
  const base: GraphMessage = {
    messaging_product: "whatsapp",
    recipient_type: "individual",
    // A phone wins when both are known (Meta: "if both, `to` wins"); BSUID for username-only users.
    ...(to.waId ? { to: `+${to.waId}` } : { recipient: to.userId }),
    type: "text",
    ...(opts.callbackData ? { biz_opaque_callback_data: opts.callbackData } : {}),
    ...(replyTo ? { context: { message_id: replyTo } } : {}),
  };
  switch (content.kind) {
    case "text":
      return { ...base, type: "text", text: { body: content.text, preview_url: content.previewUrl ?? false } };
    case "list":
      return {
        ...base,
        type: "interactive",
        interactive: { type: "list", body: { text: content.body }, action: { button: content.button, sections: content.sections } },
      };
    case "buttons":
      return {
        ...base,
        type: "interactive",
        interactive: {
          type: "button",
          body: { text: content.body },
          action: { buttons: content.buttons.map((b) => ({ type: "reply", reply: { id: b.id, title: b.title } })) },
        },
      };
    case "media":
      return { ...base, type: content.mediaType, [content.mediaType]: mediaObject(content) };
    case "reaction":
      return { ...base, type: "reaction", reaction: { message_id: content.messageId, emoji: content.emoji } };
    case "template":
      return {
        ...base,
        type: "template",
        template: {
          name: content.name,
          language: { code: content.language },
          ...(content.components.length > 0 ? { components: content.components } : {}),
        },
      };
    case "location":
      return {
        ...base,
        type: "location",
        location: {
          latitude: content.latitude,
          longitude: content.longitude,
          ...(content.name ? { name: content.name } : {}),
          ...(content.address ? { address: content.address } : {}),
        },
      };
  }
}

/** `{messaging_product, status: "read", message_id}`; `typing` adds the typing indicator (dismissed on reply or after 25 s). */
export function toMarkReadPayload(wamid: string, opts: { typing?: boolean } = {}): MarkReadPayload {
  return {
    messaging_product: "whatsapp",
    status: "read",
    message_id: wamid,
    ...(opts.typing ? { typing_indicator: { type: "text" as const } } : {}),
  };
}

/** The text a person reads in that message (for inboxes and logs at debug). */
export function contentText(content: OutboundContent): string {
  switch (content.kind) {
    case "text":
      return content.text;
    case "list":
    case "buttons":
      return content.body;
    case "media": {
      if (content.caption) return content.caption;
      const name = content.mediaType === "document" && content.filename ? `: ${content.filename}` : "";
      return `[${content.mediaType}${name}]`;
    }
    case "reaction":
      return content.emoji ? `[reaction ${content.emoji}]` : "[reaction removed]";
    case "template":
      return content.preview ?? `[template ${content.name}]`;
    case "location": {
      const label = [content.name, content.address].filter(Boolean).join(", ");
      return `[location ${label || `${content.latitude}, ${content.longitude}`}]`;
    }
  }
}

function mediaObject(content: Extract<OutboundContent, { kind: "media" }>): Record<string, string> {
  const source: Record<string, string> | undefined = content.id ? { id: content.id } : content.link ? { link: content.link } : undefined;
  if (!source) throw badRequest(`a ${content.mediaType} needs an uploaded media id or a link`, "media", "invalid_media");
  const captioned = content.mediaType === "image" || content.mediaType === "video" || content.mediaType === "document";
  return {
    ...source,
    ...(content.mediaType === "document" && content.filename ? { filename: content.filename } : {}),
    ...(captioned && content.caption ? { caption: content.caption } : {}),
  };
}
