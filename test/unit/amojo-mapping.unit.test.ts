import { describe, expect, it } from "vitest";
import { amojoContent, dialogIdOfConversation, conversationIdOf, inboundExtras, inboundPayload, mirrorPayload } from "../../backend/src/crm/amocrm/amojo-mapping.js";
import type { MessageRecord } from "../../backend/src/domain/types.js";

const T = 1_764_000_000_000;
const msg = (over: Partial<MessageRecord>): MessageRecord => ({ id: "in_1", direction: "in", customerId: "wa:79161234567", wamid: "wamid.X", kind: "text", status: "received", sentAt: T, createdAt: T, updatedAt: T, ...over });
const LINK = "https://bl.example/media/in_1?sig=abc";

describe("WhatsApp messages as amoCRM chat messages", () => {
  it.each([
    ["image", { mimeType: "image/jpeg", caption: "Вот фото", size: 1200 }, { type: "picture", media: LINK, file_name: "image.jpg", file_size: 1200, text: "Вот фото" }],
    ["video", { mimeType: "video/mp4", size: 99 }, { type: "video", media: LINK, file_name: "video.mp4", file_size: 99 }],
    ["document", { mimeType: "application/pdf", filename: "check.pdf", size: 5 }, { type: "file", media: LINK, file_name: "check.pdf", file_size: 5 }],
    ["audio", { mimeType: "audio/ogg; codecs=opus", size: 7 }, { type: "voice", media: LINK, file_name: "audio.ogg", file_size: 7 }],
    ["sticker", { mimeType: "image/webp", size: 3 }, { type: "sticker", media: LINK, file_name: "sticker.webp", file_size: 3 }],
  ])("%s goes by our signed link", (kind, media, expected) => {
    expect(amojoContent(msg({ kind, media: { ...media, status: "stored" } }), {}, LINK)).toEqual(expected);
  });

  it("tells the manager about a file that could not be downloaded", () => {
    const c = amojoContent(msg({ kind: "document", media: { filename: "a.pdf", status: "failed" } }), {});
    expect(c).toEqual({ type: "text", text: "[document: a.pdf — the file could not be downloaded]" });
  });

  it("sends locations, shared contacts and menu replies in their amoCRM form", () => {
    const loc = inboundExtras(JSON.stringify({ content: { kind: "location", latitude: 55.75, longitude: 37.61 } }));
    expect(amojoContent(msg({ kind: "location", text: "Red Square" }), loc)).toEqual({ type: "location", location: { lat: 55.75, lon: 37.61 } });
    const contacts = inboundExtras(JSON.stringify({ content: { kind: "contacts", contacts: [{ formattedName: "Anna", phones: [{ phone: "+7 900 000-00-00" }] }] } }));
    expect(amojoContent(msg({ kind: "contacts" }), contacts)).toEqual({ type: "contact", contact: { name: "Anna", phone: "+7 900 000-00-00" } });
    const reply = inboundExtras(JSON.stringify({ content: { kind: "interactive", id: "branch:ART" } }));
    expect(amojoContent(msg({ kind: "interactive", text: "Art Play" }), reply)).toEqual({ type: "text", text: "Art Play", callback_data: "branch:ART" });
    expect(inboundExtras("not json")).toEqual({});
  });

  it("builds the new_message payload with branch-scoped ids, the phone and the quote", () => {
    const p = inboundPayload({ message: msg({ text: "hi", contextWamid: "wamid.OUT1" }), customer: { id: "wa:79161234567", waId: "79161234567", name: "Ivan" }, dialogId: "br_1:wa:79161234567", content: { type: "text", text: "hi" }, amoChatId: "chat-1", amoClientId: "client-1" });
    expect(p).toEqual({
      timestamp: T / 1000,
      msec_timestamp: T,
      msgid: "wamid.X",
      conversation_id: "bl:br_1:wa:79161234567",
      conversation_ref_id: "chat-1",
      sender: { id: "bl:wa:79161234567", ref_id: "client-1", name: "Ivan", profile: { phone: "+79161234567" }, profile_link: "https://wa.me/79161234567" },
      message: { type: "text", text: "hi" },
      reply_to: { message: { msgid: "wamid.OUT1" } },
      silent: false,
    });
    expect(dialogIdOfConversation(conversationIdOf("br_1:wa:1"))).toBe("br_1:wa:1");
    expect(dialogIdOfConversation("wa:foreign")).toBeUndefined();
  });

  it("mirrors a template sent outside the chat as the channel bot's silent message", () => {
    const p = mirrorPayload({ message: msg({ id: "out_1", direction: "out", text: "Заказ готов", template: { name: "order_ready", language: "ru" } }), customer: { id: "wa:7", waId: "7" }, dialogId: "br_1:wa:7", botId: "bot-1" });
    expect(p).toMatchObject({ msgid: "out_1", silent: true, sender: { ref_id: "bot-1" }, receiver: { id: "bl:wa:7" }, message: { type: "text", text: "[order_ready] Заказ готов" } });
  });
});
