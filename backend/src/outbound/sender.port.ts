import type { GraphMessage } from "../channels/whatsapp/graph-payload.js";

/** Hands one message to WhatsApp (Meta's Cloud API, or the sandbox phone). Returns Meta's wamid. */
export interface WhatsAppSender {
  send(message: GraphMessage): Promise<{ wamid: string }>;
}
