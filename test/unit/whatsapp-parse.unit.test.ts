import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  customerKey,
  eventKeyForMessage,
  eventKeyForStatus,
  parseMetaWebhook,
} from "../../backend/src/channels/whatsapp/webhook.parse.js";
import type { InboundMessage, ParsedWebhook } from "../../backend/src/channels/whatsapp/webhook.types.js";

const FIXTURES = fileURLToPath(new URL("../fixtures/whatsapp/", import.meta.url));
const load = (name: string): unknown => JSON.parse(readFileSync(`${FIXTURES}${name}.json`, "utf8"));

const PNID = "106540352242922";
const DISPLAY = "15550783881";
const WABA = "102290129340398";
const WA = "16505551234";
const BSUID = "US.13491208655302741918";
const SHEENA = { waId: WA, name: "Sheena Nelson" };
const ORIGIN = { phoneNumberId: PNID, displayPhoneNumber: DISPLAY, wabaId: WABA };

/** The single message a one-message fixture must yield, with the common envelope checks done. */
function only(p: ParsedWebhook): InboundMessage {
  expect(p.messages).toHaveLength(1);
  expect(p.statuses).toEqual([]);
  const m = p.messages[0]!;
  expect(m).toMatchObject(ORIGIN);
  expect(m.path).toBe("entry[0].changes[0].messages[0]");
  return m;
}

const cases: Record<string, (p: ParsedWebhook) => void> = {
  "text.basic": (p) => {
    const m = only(p);
    expect(m).toMatchObject({
      wamid: "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=",
      timestamp: 1749416383000,
      kind: "text",
      originalType: "text",
      text: "Does it come in another color?",
      content: { kind: "text", body: "Does it come in another color?" },
      customer: SHEENA,
      unsupported: false,
    });
    expect(m.context).toBeUndefined();
    expect(m.referral).toBeUndefined();
    expect(m.errors).toBeUndefined();
    expect(customerKey(m.customer)).toBe(`wa:${WA}`);
    expect(eventKeyForMessage(m)).toBe(`msg:${m.wamid}`);
  },
  "text.bsuid": (p) => {
    const m = only(p);
    expect(m.customer).toMatchObject({ userId: BSUID, name: "Sheena Nelson", username: "sheena.nelson" });
    expect(m.customer.waId).toBeUndefined();
    expect(customerKey(m.customer)).toBe(BSUID);
    expect(m.text).toBe("Hi, I found you via my username");
  },
  "image.caption": (p) => {
    const m = only(p);
    expect(m).toMatchObject({ kind: "image", text: "Taj Mahal", customer: SHEENA });
    expect(m.content).toMatchObject({
      kind: "image",
      mediaId: "1003383421387256",
      mimeType: "image/jpeg",
      sha256: "SfInY0gGKTsJlUWbwxC1k+FAD0FZHvzwfpvO0zX0GUI=",
      caption: "Taj Mahal",
    });
    expect(m.content).toHaveProperty("url", expect.stringMatching(/^https:\/\/lookaside\.fbsbx\.com\//));
  },
  "image.media-error": (p) => {
    const m = only(p);
    expect(m).toMatchObject({ kind: "image", unsupported: false, content: { mediaId: "1003383421387999" } });
    expect(m.errors).toEqual([expect.objectContaining({ code: 131052, title: "Media download error" })]);
    expect(m.errors![0]!.details).toMatch(/too big/);
  },
  "audio.voice": (p) => {
    const m = only(p);
    expect(m).toMatchObject({ kind: "audio", content: { mediaId: "1146837193658475", voice: true } });
    expect(m.content).toHaveProperty("mimeType", "audio/ogg; codecs=opus");
    expect(m.text).toBeUndefined();
  },
  "video.basic": (p) => {
    const m = only(p);
    expect(m).toMatchObject({ kind: "video", content: { kind: "video", mediaId: "1290365288799384", mimeType: "video/mp4" } });
    expect(m.text).toBeUndefined();
  },
  "document.non-ascii-filename": (p) => {
    const m = only(p);
    expect(m.content).toMatchObject({ kind: "document", filename: "Currículum café.pdf", mediaId: "1672836423526412" });
    expect(m.text).toBe("Currículum café.pdf");
  },
  "sticker.animated": (p) => {
    const m = only(p);
    expect(m.content).toMatchObject({ kind: "sticker", animated: true, mimeType: "image/webp", mediaId: "1908647269898587" });
  },
  "location.basic": (p) => {
    const m = only(p);
    expect(m.content).toEqual({
      kind: "location",
      latitude: 37.44221496582,
      longitude: -122.16165924072,
      name: "Philz Coffee",
      address: "101 Forest Ave, Palo Alto, CA 94301",
      url: "https://philzcoffee.com/",
    });
    expect(m.text).toBe("Philz Coffee\n101 Forest Ave, Palo Alto, CA 94301");
  },
  "contacts.basic": (p) => {
    const m = only(p);
    expect(m.customer).toMatchObject(SHEENA); // sender, not the shared card
    expect(m.content).toMatchObject({
      kind: "contacts",
      contacts: [
        {
          formattedName: "Barbara J. Johnson",
          firstName: "Barbara",
          lastName: "Johnson",
          company: "Social Tsunami",
          phones: [{ phone: "+1 (415) 555-0829", waId: "14125550829", type: "MOBILE" }],
        },
      ],
    });
    expect(m.text).toBe("Barbara J. Johnson");
  },
  "interactive.list-reply": (p) => {
    const m = only(p);
    expect(m.content).toEqual({
      kind: "interactive",
      replyType: "list_reply",
      id: "priority_express",
      title: "Priority Mail Express",
      description: "Next Day to 2 Days",
    });
    expect(m.text).toBe("Priority Mail Express");
    expect(m.context).toMatchObject({
      from: DISPLAY,
      messageId: "wamid.HBgLMTQxMjU1NTA4MjkVAgASGBQzQUNCNjk5RDUwNUZGMUZEM0VBRAA=",
    });
  },
  "interactive.button-reply": (p) => {
    const m = only(p);
    expect(m.content).toMatchObject({ kind: "interactive", replyType: "button_reply", id: "cancel-button", title: "Cancel" });
    expect(m.text).toBe("Cancel");
    expect(m.context?.messageId).toMatch(/^wamid\./);
  },
  "interactive.nfm-reply": (p) => {
    const m = only(p);
    expect(m.content).toMatchObject({
      replyType: "nfm_reply",
      nfm: {
        name: "flow",
        body: "Sent",
        response: { flow_token: "AQAAAAACS5FpgQ_cAAAAAD0QI3s.", rating: "excellent" },
        responseInvalid: false,
      },
    });
    expect(m.text).toBe("Sent");
  },
  "interactive.nfm-invalid-json": (p) => {
    const m = only(p);
    expect(m.content).toMatchObject({
      replyType: "nfm_reply",
      nfm: { name: "flow", responseJson: '{"flow_token":"AQAAAAACS5FpgQ_cAAAAAD0QI3s.","rating":', responseInvalid: true },
    });
    expect((m.content as { nfm?: { response?: unknown } }).nfm?.response).toBeUndefined();
  },
  "button.quick-reply": (p) => {
    const m = only(p);
    expect(m).toMatchObject({ kind: "button", text: "Accept", content: { kind: "button", payload: "accept_123", text: "Accept" } });
    expect(m.context).toMatchObject({ from: DISPLAY, messageId: "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBJURU1QTEFURTAwMQA=" });
  },
  "reaction.basic": (p) => {
    const m = only(p);
    expect(m.content).toEqual({
      kind: "reaction",
      messageId: "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBJPVVRCT1VORDAwMQA=",
      emoji: "👍",
      removed: false,
    });
    expect(m.text).toBe("👍");
  },
  "reaction.removed": (p) => {
    const m = only(p);
    expect(m.content).toMatchObject({ kind: "reaction", emoji: undefined, removed: true });
    expect(m.text).toBeUndefined();
  },
  "order.basic": (p) => {
    const m = only(p);
    expect(m.content).toEqual({
      kind: "order",
      catalogId: "194836987003835",
      text: "Love these!",
      items: [{ productRetailerId: "di9ozbzfi4", quantity: 2, itemPrice: 30, currency: "USD" }],
    });
    expect(m.text).toBe("Love these!");
  },
  "system.changed-number": (p) => {
    const m = only(p);
    expect(m.customer).toMatchObject({ waId: WA });
    expect(m.customer.name).toBeUndefined(); // system messages carry no contacts
    expect(m.content).toMatchObject({
      kind: "system",
      type: "user_changed_number",
      newWaId: "16505550000",
      newUserId: "US.20571143378819304455",
    });
    expect(m.text).toBe("User Sheena Nelson changed from 16505551234 to 16505550000");
  },
  "system.changed-user-id": (p) => {
    const m = only(p);
    expect(customerKey(m.customer)).toBe(BSUID);
    expect(m.content).toMatchObject({
      kind: "system",
      type: "user_changed_user_id",
      newUserId: "US.20571143378819304455",
      previousUserId: BSUID,
    });
  },
  "system.legacy-changed-number": (p) => {
    const m = only(p);
    expect(m.content).toMatchObject({ kind: "system", type: "customer_changed_number", newWaId: "16505550000" });
  },
  "unsupported.edit": (p) => {
    const m = only(p);
    expect(m).toMatchObject({ kind: "unsupported", unsupported: true, originalType: "unsupported" });
    expect(m.content).toMatchObject({ kind: "unsupported", unsupportedType: "edit" });
    expect(m.errors).toEqual([
      expect.objectContaining({ code: 131051, title: "Message type unknown", details: "Message type is currently not supported." }),
    ]);
    expect(m.text).toBeUndefined();
  },
  "unknown.legacy": (p) => {
    const m = only(p);
    expect(m).toMatchObject({ kind: "unsupported", unsupported: true, originalType: "unknown" });
    // Old shape: `details` at the top level of the error.
    expect(m.errors?.[0]).toMatchObject({ code: 131051, details: "Message type is not currently supported" });
  },
  "garbage.unknown-type": (p) => {
    const m = only(p);
    expect(m).toMatchObject({ kind: "unsupported", unsupported: true, originalType: "poll", customer: SHEENA });
    expect(m.content).toMatchObject({ kind: "unsupported", originalType: "poll", errors: [] });
    expect(m.raw).toHaveProperty("poll.question", "Which branch is closest?");
  },
  "request-welcome.basic": (p) => {
    const m = only(p);
    expect(m).toMatchObject({ kind: "request_welcome", content: { kind: "request_welcome" }, unsupported: false });
    expect(m.text).toBeUndefined();
  },
  "text.referral": (p) => {
    const m = only(p);
    expect(m.referral).toMatchObject({
      sourceId: "120226305854810726",
      sourceType: "ad",
      sourceUrl: "https://fb.me/3cr4Wqqkv",
      headline: "Chat with us",
      body: "Summer Succulents are here!",
      mediaType: "image",
      imageUrl: expect.stringMatching(/^https:\/\/scontent/),
      ctwaClid: expect.stringMatching(/^Aff-/),
      welcomeMessageText: "Hi there! Let us know how we can help!",
    });
    expect(m.text).toBe("Can I get more info about this?");
  },
  "text.reply-context": (p) => {
    const m = only(p);
    expect(m.context).toMatchObject({ from: DISPLAY, messageId: "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBJPVVRCT1VORDAwMgA=" });
    expect(m.context?.forwarded).toBeUndefined();
  },
  "text.forwarded": (p) => {
    const m = only(p);
    expect(m.context).toMatchObject({ forwarded: true });
    expect(m.context?.messageId).toBeUndefined();
  },
  "text.product-enquiry": (p) => {
    const m = only(p);
    expect(m.context?.referredProduct).toEqual({ catalogId: "194836987003835", productRetailerId: "di9ozbzfi4" });
  },
  "status.sent": (p) => {
    expect(p.messages).toEqual([]);
    expect(p.statuses).toHaveLength(1);
    const s = p.statuses[0]!;
    expect(s).toMatchObject({
      ...ORIGIN,
      wamid: "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA=",
      status: "sent",
      timestamp: 1750030073000,
      recipientWaId: WA,
      bizOpaqueCallbackData: "branch-017:outbox-88121",
      pricing: { billable: true, pricingModel: "PMP", type: "regular", category: "marketing" },
      conversation: { id: "72b14d6bd5407799e66f64d1b338e567", expiresAt: 1750116480000, originType: "marketing" },
    });
    expect(s.errors).toBeUndefined();
    expect(eventKeyForStatus(s)).toBe(`status:${s.wamid}:sent`);
  },
  "status.failed": (p) => {
    expect(p.statuses).toHaveLength(1);
    const s = p.statuses[0]!;
    expect(s).toMatchObject({ status: "failed", timestamp: 1751142888000, recipientWaId: WA });
    expect(s.pricing).toBeUndefined();
    expect(s.errors).toEqual([
      {
        code: 131049,
        title: "This message was not delivered to maintain healthy ecosystem engagement.",
        message: "This message was not delivered to maintain healthy ecosystem engagement.",
        details: "In order to maintain a healthy ecosystem engagement, the message failed to be delivered.",
        href: "/documentation/business-messaging/whatsapp/support/error-codes",
        raw: expect.any(Object),
      },
    ]);
  },
  "errors.value-level": (p) => {
    expect(p.messages).toEqual([]);
    expect(p.statuses).toEqual([]);
    expect(p.errors).toEqual([
      expect.objectContaining({
        ...ORIGIN,
        code: 130429,
        title: "Rate limit hit",
        details: "Cloud API message throughput has been reached.",
        path: "entry[0].changes[0].errors[0]",
      }),
    ]);
  },
  "batch.multi-entry": (p) => {
    const WABA2 = "102290129340399";
    expect(p.messages.map((m) => [m.kind, m.wabaId, m.phoneNumberId, m.path])).toEqual([
      ["text", WABA, PNID, "entry[0].changes[0].messages[0]"],
      ["image", WABA, PNID, "entry[0].changes[0].messages[1]"],
      ["reaction", WABA2, "106540352242923", "entry[1].changes[0].messages[0]"],
    ]);
    expect(p.statuses.map((s) => [s.status, s.wabaId, s.path])).toEqual([
      ["delivered", WABA, "entry[0].changes[1].statuses[0]"],
      ["sent", WABA2, "entry[1].changes[0].statuses[0]"],
      ["read", WABA2, "entry[1].changes[1].statuses[0]"],
      ["failed", WABA2, "entry[1].changes[1].statuses[1]"],
    ]);
    expect(p.messages[2]!.customer).toMatchObject({ waId: "16505559876", name: "Kai Moreno" });
    expect(p.messages[2]!.text).toBe("❤️");
    // 2026 statuses carry contacts: the BSUID and username are joined onto the recipient.
    expect(p.statuses[0]!.recipient).toMatchObject({ waId: WA, userId: BSUID, username: "sheena.nelson" });
    expect(customerKey(p.statuses[0]!.recipient)).toBe(BSUID);
    expect(p.statuses[1]!.pricing).toMatchObject({ billable: false, type: "free_customer_service" });
    expect(p.statuses[3]!.errors?.[0]?.code).toBe(131047);
    expect(new Set(p.statuses.map(eventKeyForStatus)).size).toBe(4);
  },
  "template.status-update": (p) => {
    expect(p.managementEvents).toEqual([
      expect.objectContaining({
        field: "message_template_status_update",
        wabaId: WABA,
        time: 1751247548000,
        event: "REJECTED",
        templateId: "1689556908129835",
        templateName: "abandoned_cart",
        templateLanguage: "en",
        value: expect.objectContaining({ reason: "INVALID_FORMAT", message_template_category: "MARKETING" }),
      }),
    ]);
  },
  "template.quality-update": (p) => {
    expect(p.managementEvents[0]).toMatchObject({
      field: "message_template_quality_update",
      templateId: "806312974732579",
      templateName: "order_confirmation",
      templateLanguage: "en_US",
      value: { previous_quality_score: "GREEN", new_quality_score: "YELLOW" },
    });
  },
  "template.category-update": (p) => {
    expect(p.managementEvents[0]).toMatchObject({
      field: "template_category_update",
      templateId: "1689556908129836",
      templateName: "appointment_reminder",
      value: { previous_category: "UTILITY", new_category: "MARKETING", correct_category: "MARKETING" },
    });
  },
  "phone.quality-update": (p) => {
    expect(p.managementEvents[0]).toMatchObject({
      field: "phone_number_quality_update",
      wabaId: WABA,
      event: "THROUGHPUT_UPGRADE",
      displayPhoneNumber: DISPLAY,
      value: { max_daily_conversations_per_business: "TIER_10K" },
    });
    expect(p.managementEvents[0]!.templateId).toBeUndefined();
  },
  "account.alerts": (p) => {
    expect(p.managementEvents[0]).toMatchObject({
      field: "account_alerts",
      time: 1751280000000,
      value: { alert_type: "INCREASED_CAPABILITIES_ELIGIBILITY_DEFERRED" },
    });
  },
  "user-preferences.stop": (p) => {
    expect(p.messages).toEqual([]);
    const e = p.managementEvents[0]!;
    expect(e).toMatchObject({ field: "user_preferences", wabaId: WABA, phoneNumberId: PNID });
    expect(e.preferences).toEqual([
      {
        waId: WA,
        userId: undefined,
        category: "marketing_messages",
        value: "stop",
        detail: "User requested to stop marketing messages",
        timestamp: 1751290000000,
        raw: expect.any(Object),
      },
    ]);
  },
};

const fixtureNames = readdirSync(FIXTURES)
  .filter((f) => f.endsWith(".json"))
  .map((f) => f.slice(0, -".json".length))
  .sort();

describe("parseMetaWebhook on recorded fixtures", () => {
  it("has an expectation for every fixture and a fixture for every expectation", () => {
    expect(Object.keys(cases).sort()).toEqual(fixtureNames);
  });

  it.each(fixtureNames)("%s", (name) => {
    const body = load(name);
    const parsed = parseMetaWebhook(body);
    expect(parsed.problems).toEqual([]);
    expect(parsed.object).toBe("whatsapp_business_account");
    const check = cases[name];
    expect(check, `no expectation for ${name}`).toBeDefined();
    check!(parsed);
  });

  it("keeps every raw messages[]/statuses[] element untouched", () => {
    for (const name of fixtureNames) {
      const body = load(name) as { entry: { changes: { value: { messages?: unknown[]; statuses?: unknown[] } }[] }[] };
      const parsed = parseMetaWebhook(body);
      const values = body.entry.flatMap((e) => e.changes.map((c) => c.value));
      expect(parsed.messages.map((m) => m.raw)).toEqual(values.flatMap((v) => v.messages ?? []));
      expect(parsed.statuses.map((s) => s.raw)).toEqual(values.flatMap((v) => v.statuses ?? []));
    }
  });
});

describe("parseMetaWebhook on bad input", () => {
  const envelope = (value: unknown) => ({
    object: "whatsapp_business_account",
    entry: [{ id: "102290129340398", changes: [{ field: "messages", value }] }],
  });
  const meta = { display_phone_number: DISPLAY, phone_number_id: PNID };

  it.each<[string, unknown, RegExp]>([
    ["null", null, /^body: expected an object, got null/],
    ["undefined", undefined, /^body: expected an object, got undefined/],
    ["array", [], /^body: expected an object, got array/],
    ["string", "x", /^body: expected an object, got string/],
    ["number", 42, /^body: expected an object, got number/],
    ["entry: 5", { object: "whatsapp_business_account", entry: 5 }, /^entry: expected an array, got number/],
    ["no entry", { object: "whatsapp_business_account" }, /^entry: missing/],
    ["entry [null]", { object: "whatsapp_business_account", entry: [null] }, /^entry\[0\]: expected an object/],
    [
      "changes: null",
      { object: "whatsapp_business_account", entry: [{ id: WABA, changes: null }] },
      /^entry\[0\]\.changes: missing/,
    ],
    [
      "changes: {}",
      { object: "whatsapp_business_account", entry: [{ id: WABA, changes: {} }] },
      /^entry\[0\]\.changes: expected an array, got object/,
    ],
    [
      "value: 'x'",
      { object: "whatsapp_business_account", entry: [{}, { id: WABA, changes: [{ field: "messages", value: "x" }] }] },
      /^entry\[1\]\.changes\[0\]: value is not an object/,
    ],
    ["no field", { object: "whatsapp_business_account", entry: [{ id: WABA, changes: [{ value: {} }] }] }, /field is missing/],
    ["messages: [null, 7]", envelope({ metadata: meta, messages: [null, 7] }), /messages\[0\]: expected an object, got null/],
    ["messages: 'x'", envelope({ metadata: meta, messages: "x" }), /messages: expected an array, got string/],
    ["statuses: [{}]", envelope({ metadata: meta, statuses: [{}] }), /statuses\[0\]: id missing; skipped/],
    ["message without id", envelope({ metadata: meta, messages: [{ type: "text" }] }), /messages\[0\]: id missing/],
    ["no metadata", envelope({ messages: [{ id: "wamid.X", from: WA, type: "text", timestamp: "1" }] }), /phone_number_id: missing/],
    ["wrong object", { object: "page", entry: [] }, /^object: expected "whatsapp_business_account", got "page"/],
  ])("%s: does not throw and reports a problem", (_name, body, problem) => {
    let parsed: ParsedWebhook | undefined;
    expect(() => {
      parsed = parseMetaWebhook(body);
    }).not.toThrow();
    expect(parsed!.problems).toContainEqual(expect.stringMatching(problem));
  });

  it("reports both bad message elements and still reads good siblings", () => {
    const good = { from: WA, id: "wamid.GOOD", timestamp: "1750000000", type: "text", text: { body: "ok" } };
    const p = parseMetaWebhook(envelope({ metadata: meta, messages: [null, 7, good] }));
    expect(p.problems).toEqual([
      "entry[0].changes[0].messages[0]: expected an object, got null; skipped",
      "entry[0].changes[0].messages[1]: expected an object, got number; skipped",
    ]);
    expect(p.messages.map((m) => m.wamid)).toEqual(["wamid.GOOD"]);
  });

  it("reads the documented shape variations", () => {
    const p = parseMetaWebhook(
      envelope({
        metadata: meta,
        messages: [
          { from: WA, id: "wamid.L", timestamp: "1750000000", type: "location", location: { latitude: "37.5", longitude: "-122.25" } },
          { from: WA, id: "wamid.F", timestamp: "1750000000", type: "text", text: { body: "fw" }, context: { frequently_forwarded: true } },
          { from: WA, id: "wamid.R", timestamp: "1750000000", type: "reaction", reaction: { message_id: "wamid.X", emoji: "" } },
          {
            from: WA,
            id: "wamid.I",
            timestamp: "1750000000",
            type: "system",
            system: { type: "customer_identity_changed", body: "identity changed", identity: "abc" },
          },
          { from: WA, id: "wamid.N", timestamp: "1750000000", type: "interactive", interactive: { type: "nfm_reply", nfm_reply: { name: "address_message" } } },
          { from: WA, id: "wamid.C", timestamp: "1750000000", type: "interactive", interactive: { type: "call_permission_reply", call_permission_reply: { response: "accept" } } },
          { from: WA, id: "wamid.G", timestamp: "1750000000", type: "group", group_id: "120363000000000000" },
        ],
      }),
    );
    const [loc, fwd, react, sys, nfm, call, group] = p.messages;
    expect(loc!.content).toMatchObject({ latitude: 37.5, longitude: -122.25 });
    expect(loc!.text).toBeUndefined();
    expect(fwd!.context).toMatchObject({ frequentlyForwarded: true });
    expect(react!.content).toMatchObject({ emoji: undefined, removed: true });
    expect(sys!.content).toMatchObject({ type: "customer_identity_changed", identity: "abc" });
    expect(nfm!.content).toMatchObject({ nfm: { name: "address_message", response: undefined, responseInvalid: false } });
    expect(call!.content).toMatchObject({ kind: "interactive", replyType: "call_permission_reply" });
    expect(group).toMatchObject({ kind: "unsupported", originalType: "group", groupId: "120363000000000000" });
    expect(p.problems).toEqual([]);
  });

  it("keeps unknown status values and handles unknown management fields", () => {
    const p = parseMetaWebhook({
      object: "whatsapp_business_account",
      entry: [
        {
          id: WABA,
          time: 1751300000,
          changes: [
            { field: "messages", value: { metadata: meta, statuses: [{ id: "wamid.S", status: "deleted", timestamp: "x" }] } },
            { field: "security", value: { event: "PIN_CHANGED", phone_number: DISPLAY } },
          ],
        },
      ],
    });
    expect(p.statuses[0]).toMatchObject({ wamid: "wamid.S", status: "deleted", timestamp: undefined });
    expect(p.problems).toEqual(["entry[0].changes[0].statuses[0].timestamp: missing or not a number"]);
    expect(p.managementEvents[0]).toMatchObject({ field: "security", event: "PIN_CHANGED", time: 1751300000000 });
  });

  it("never throws on arbitrary input", () => {
    fc.assert(
      fc.property(fc.anything(), (body) => {
        const p = parseMetaWebhook(body);
        return Array.isArray(p.problems) && Array.isArray(p.messages);
      }),
    );
    // Arbitrary values dropped into each level of a real envelope.
    const base = load("batch.multi-entry") as Record<string, any>;
    fc.assert(
      fc.property(fc.anything(), fc.constantFrom("entry", "changes", "value", "messages", "statuses", "message", "text"), (junk, where) => {
        const body = structuredClone(base);
        const change = body.entry[0].changes[0];
        if (where === "entry") body.entry[1] = junk;
        if (where === "changes") body.entry[1].changes = junk;
        if (where === "value") change.value = junk;
        if (where === "messages") change.value.messages = junk;
        if (where === "statuses") body.entry[0].changes[1].value.statuses = [junk];
        if (where === "message") change.value.messages[0] = junk;
        if (where === "text") change.value.messages[0].text = junk;
        const p = parseMetaWebhook(body);
        return p.messages.every((m) => typeof m.wamid === "string");
      }),
    );
  });
});

describe("keys", () => {
  it.each([
    [{ waId: WA, userId: BSUID }, BSUID],
    [{ userId: BSUID }, BSUID],
    [{ waId: WA }, `wa:${WA}`],
    [{ waId: WA, userId: "" }, `wa:${WA}`],
    [{}, undefined],
  ])("customerKey(%j) = %s", (c, key) => {
    expect(customerKey(c)).toBe(key);
  });

  it("builds event keys", () => {
    expect(eventKeyForMessage({ wamid: "wamid.A" })).toBe("msg:wamid.A");
    expect(eventKeyForStatus({ wamid: "wamid.A", status: "read" })).toBe("status:wamid.A:read");
  });
});
