import { describe, expect, it } from "vitest";
import { contentText, toGraphMessage, toMarkReadPayload, type OutboundContent } from "../../backend/src/channels/whatsapp/graph-payload.js";
import { AppError } from "../../backend/src/errors.js";

const TO = { waId: "16505551234" };
const HEAD = { messaging_product: "whatsapp", recipient_type: "individual", to: "+16505551234" } as const;
const REPLY_TO = "wamid.HBgLMTY0NjcwNDM1OTUVAgASGBQzQUZCMTY0MDc2MUYwNzBDNTY5MAA=";

describe("toGraphMessage", () => {
  it("text with a link preview, reply context and callback data (doc §3.1)", () => {
    const msg = toGraphMessage(TO, { kind: "text", text: "As requested, here's the link: https://www.meta.com/quest/quest-3/", previewUrl: true }, { replyTo: "wamid.ABC", callbackData: "branch-017:outbox-88121" });
    expect(msg).toStrictEqual({
      ...HEAD,
      type: "text",
      text: { preview_url: true, body: "As requested, here's the link: https://www.meta.com/quest/quest-3/" },
      context: { message_id: "wamid.ABC" },
      biz_opaque_callback_data: "branch-017:outbox-88121",
    });
  });

  it("sends to a BSUID when there is no phone", () => {
    expect(toGraphMessage({ userId: "US.13491208655302741918" }, { kind: "text", text: "hi" })).toStrictEqual({
      messaging_product: "whatsapp",
      recipient_type: "individual",
      recipient: "US.13491208655302741918",
      type: "text",
      text: { body: "hi", preview_url: false },
    });
  });

  it("image by id with caption (doc §3.2)", () => {
    expect(toGraphMessage(TO, { kind: "media", mediaType: "image", id: "1479537139650973", caption: "The best succulent ever?" })).toStrictEqual({
      ...HEAD,
      type: "image",
      image: { id: "1479537139650973", caption: "The best succulent ever?" },
    });
  });

  it.each<[OutboundContent, Record<string, unknown>]>([
    [
      { kind: "media", mediaType: "document", link: "https://example.com/invoice-123.pdf", filename: "invoice-123.pdf", caption: "Your invoice" },
      { type: "document", document: { link: "https://example.com/invoice-123.pdf", filename: "invoice-123.pdf", caption: "Your invoice" } },
    ],
    [{ kind: "media", mediaType: "audio", id: "<MEDIA_ID>" }, { type: "audio", audio: { id: "<MEDIA_ID>" } }],
    [{ kind: "media", mediaType: "video", id: "<MEDIA_ID>", caption: "…" }, { type: "video", video: { id: "<MEDIA_ID>", caption: "…" } }],
    [{ kind: "media", mediaType: "sticker", id: "<WEBP_MEDIA_ID>" }, { type: "sticker", sticker: { id: "<WEBP_MEDIA_ID>" } }],
    // no caption on audio/sticker, no filename outside documents, id wins over link
    [{ kind: "media", mediaType: "audio", id: "1", caption: "ignored", filename: "a.ogg" }, { type: "audio", audio: { id: "1" } }],
    [{ kind: "media", mediaType: "sticker", link: "https://x/s.webp", caption: "ignored" }, { type: "sticker", sticker: { link: "https://x/s.webp" } }],
    [{ kind: "media", mediaType: "image", id: "1", link: "https://x/i.png", filename: "i.png" }, { type: "image", image: { id: "1" } }],
  ])("media %#", (content, body) => {
    expect(toGraphMessage(TO, content)).toStrictEqual({ ...HEAD, ...body });
  });

  it("refuses media with neither id nor link", () => {
    expect(() => toGraphMessage(TO, { kind: "media", mediaType: "image" })).toThrow(AppError);
    expect(() => toGraphMessage(TO, { kind: "media", mediaType: "image" })).toThrow(/media id or a link/);
  });

  it("reaction (doc §3.2), dropping the reply context Meta does not allow", () => {
    const content: OutboundContent = { kind: "reaction", messageId: REPLY_TO, emoji: "😀" };
    const expected = { ...HEAD, type: "reaction", reaction: { message_id: REPLY_TO, emoji: "😀" } };
    expect(toGraphMessage(TO, content)).toStrictEqual(expected);
    expect(toGraphMessage(TO, content, { replyTo: "wamid.OTHER" })).toStrictEqual(expected);
  });

  it("removes a reaction with an empty emoji (UNCONFIRMED by Meta)", () => {
    expect(toGraphMessage(TO, { kind: "reaction", messageId: REPLY_TO, emoji: "" })).toStrictEqual({ ...HEAD, type: "reaction", reaction: { message_id: REPLY_TO, emoji: "" } });
  });

  it("template with components already in Graph's shape (doc §3.3)", () => {
    const components = [
      { type: "header", parameters: [{ type: "image", image: { id: "<MEDIA_ID>" } }] },
      {
        type: "body",
        parameters: [
          { type: "text", text: "Jessica" },
          { type: "currency", currency: { fallback_value: "$100.99", code: "USD", amount_1000: 100990 } },
          { type: "date_time", date_time: { fallback_value: "February 25, 2027" } },
        ],
      },
      { type: "button", sub_type: "quick_reply", index: "0", parameters: [{ type: "payload", payload: "confirm:order-123" }] },
      { type: "button", sub_type: "url", index: "1", parameters: [{ type: "text", text: "order-123" }] },
    ];
    expect(toGraphMessage(TO, { kind: "template", name: "order_update", language: "en_US", components })).toStrictEqual({
      ...HEAD,
      type: "template",
      template: { name: "order_update", language: { code: "en_US" }, components },
    });
  });

  it("template without parameters, with reply context and callback data", () => {
    expect(toGraphMessage(TO, { kind: "template", name: "hello_world", language: "en_US", components: [] }, { replyTo: "wamid.IN", callbackData: "b1:o1" })).toStrictEqual({
      ...HEAD,
      type: "template",
      template: { name: "hello_world", language: { code: "en_US" } },
      context: { message_id: "wamid.IN" },
      biz_opaque_callback_data: "b1:o1",
    });
  });

  it("location", () => {
    expect(toGraphMessage(TO, { kind: "location", latitude: 37.44216251868683, longitude: -122.16153582049394, name: "Philz Coffee", address: "101 Forest Ave, Palo Alto, CA 94301" })).toStrictEqual({
      ...HEAD,
      type: "location",
      location: { latitude: 37.44216251868683, longitude: -122.16153582049394, name: "Philz Coffee", address: "101 Forest Ave, Palo Alto, CA 94301" },
    });
    expect(toGraphMessage(TO, { kind: "location", latitude: 55.7558, longitude: 37.6173 })).toStrictEqual({
      ...HEAD,
      type: "location",
      location: { latitude: 55.7558, longitude: 37.6173 },
    });
  });

  it("list and buttons keep their shape (doc §3.2)", () => {
    const sections = [{ title: "North", rows: [{ id: "branch:017", title: "Downtown", description: "Mon–Sat 9–18" }] }];
    expect(toGraphMessage(TO, { kind: "list", body: "Which branch do you want to talk to?", button: "Branches", sections })).toStrictEqual({
      ...HEAD,
      type: "interactive",
      interactive: { type: "list", body: { text: "Which branch do you want to talk to?" }, action: { button: "Branches", sections } },
    });
    expect(toGraphMessage(TO, { kind: "buttons", body: "Hi Pablo!", buttons: [{ id: "change-button", title: "Change" }, { id: "cancel-button", title: "Cancel" }] }, { replyTo: "wamid.Q" })).toStrictEqual({
      ...HEAD,
      type: "interactive",
      context: { message_id: "wamid.Q" },
      interactive: {
        type: "button",
        body: { text: "Hi Pablo!" },
        action: { buttons: [{ type: "reply", reply: { id: "change-button", title: "Change" } }, { type: "reply", reply: { id: "cancel-button", title: "Cancel" } }] },
      },
    });
  });
});

describe("toMarkReadPayload", () => {
  it("marks read (doc §3.2)", () => {
    expect(toMarkReadPayload("wamid.IN1")).toStrictEqual({ messaging_product: "whatsapp", status: "read", message_id: "wamid.IN1" });
  });
  it("adds the typing indicator on request", () => {
    expect(toMarkReadPayload("wamid.IN1", { typing: true })).toStrictEqual({ messaging_product: "whatsapp", status: "read", message_id: "wamid.IN1", typing_indicator: { type: "text" } });
  });
});

describe("contentText", () => {
  it.each<[OutboundContent, string]>([
    [{ kind: "text", text: "Hello" }, "Hello"],
    [{ kind: "list", body: "Choose", button: "Go", sections: [] }, "Choose"],
    [{ kind: "buttons", body: "Confirm?", buttons: [] }, "Confirm?"],
    [{ kind: "media", mediaType: "image", id: "1", caption: "Our new salon" }, "Our new salon"],
    [{ kind: "media", mediaType: "image", id: "1" }, "[image]"],
    [{ kind: "media", mediaType: "document", id: "1", filename: "price.pdf" }, "[document: price.pdf]"],
    [{ kind: "media", mediaType: "audio", id: "1" }, "[audio]"],
    [{ kind: "reaction", messageId: "wamid.X", emoji: "👍" }, "[reaction 👍]"],
    [{ kind: "reaction", messageId: "wamid.X", emoji: "" }, "[reaction removed]"],
    [{ kind: "template", name: "order_update", language: "en_US", components: [] }, "[template order_update]"],
    [{ kind: "template", name: "order_update", language: "en_US", components: [], preview: "Hi Jessica, your order is ready" }, "Hi Jessica, your order is ready"],
    [{ kind: "location", latitude: 55.75, longitude: 37.61, name: "Art Play", address: "Nizhnyaya Syromyatnicheskaya 10" }, "[location Art Play, Nizhnyaya Syromyatnicheskaya 10]"],
    [{ kind: "location", latitude: 55.75, longitude: 37.61 }, "[location 55.75, 37.61]"],
  ])("%j → %s", (content, text) => {
    expect(contentText(content)).toBe(text);
  });
});
