import { randomUUID } from "node:crypto";

/** Meta webhook bodies shaped exactly as the WhatsApp Cloud API doc shows them (§2.4, §2.5, §2.7). */
export const NUMBER = { phoneNumberId: "106540352242922", display: "15550783881", waba: "102290129340398" };

export interface TextMessageSpec {
  from: string;
  text: string;
  name?: string;
  wamid?: string;
  timestamp?: number;
  context?: { id: string };
}

export function textMessage(spec: TextMessageSpec) {
  return {
    from: spec.from,
    id: spec.wamid ?? `wamid.TEST.${randomUUID()}`,
    timestamp: String(spec.timestamp ?? Math.floor(Date.now() / 1000)),
    type: "text",
    text: { body: spec.text },
    ...(spec.context ? { context: { from: NUMBER.display, id: spec.context.id } } : {}),
  };
}

export function messagesValue(messages: ReturnType<typeof textMessage>[], names: Record<string, string> = {}) {
  const senders = [...new Set(messages.map((m) => m.from))];
  return {
    messaging_product: "whatsapp",
    metadata: { display_phone_number: NUMBER.display, phone_number_id: NUMBER.phoneNumberId },
    contacts: senders.map((wa) => ({ profile: { name: names[wa] ?? `Customer ${wa.slice(-4)}` }, wa_id: wa })),
    messages,
  };
}

export function envelope(...values: unknown[]) {
  return {
    object: "whatsapp_business_account",
    entry: [{ id: NUMBER.waba, changes: values.map((value) => ({ value, field: "messages" })) }],
  };
}

export const textWebhook = (...specs: TextMessageSpec[]) => envelope(messagesValue(specs.map(textMessage)));
