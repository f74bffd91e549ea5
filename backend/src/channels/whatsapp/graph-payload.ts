/**
 * What we ask the Cloud API to send, in its own JSON shape (POST /{phone_number_id}/messages).
 * @see https://developers.facebook.com/documentation/business-messaging/whatsapp/messages/send-messages
 */
export type OutboundContent =
  | { kind: "text"; text: string; previewUrl?: boolean }
  | { kind: "list"; body: string; button: string; sections: Array<{ title: string; rows: Array<{ id: string; title: string; description?: string }> }> }
  | { kind: "buttons"; body: string; buttons: Array<{ id: string; title: string }> };

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

export function toGraphMessage(to: Recipient, content: OutboundContent, opts: { callbackData?: string; replyTo?: string } = {}): GraphMessage {
  const base: GraphMessage = {
    messaging_product: "whatsapp",
    recipient_type: "individual",
    // A phone wins when both are known (Meta: "if both, `to` wins"); BSUID for username-only users.
    ...(to.waId ? { to: `+${to.waId}` } : { recipient: to.userId }),
    type: "text",
    ...(opts.callbackData ? { biz_opaque_callback_data: opts.callbackData } : {}),
    ...(opts.replyTo ? { context: { message_id: opts.replyTo } } : {}),
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
  }
}

/** The text a person reads in that message (for inboxes and logs at debug). */
export function contentText(content: OutboundContent): string {
  return content.kind === "text" ? content.text : content.body;
}
