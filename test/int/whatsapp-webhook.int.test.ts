import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, fixture, postWebhook, startReceiver, startTestServer, VERIFY_TOKEN, waitFor } from "../builders/harness.js";
import { textWebhook, envelope, messagesValue, textMessage } from "../builders/meta-payloads.js";

type Server = Awaited<ReturnType<typeof startTestServer>>;

describe("POST/GET /webhooks/whatsapp", () => {
  let s: Server;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;

  beforeAll(async () => {
    s = await startTestServer();
    receiver = await startReceiver([200]);
    const created = await api(s.url, s.adminToken, "POST", "/admin/api/branches", { name: "Art Play", code: "ARTPLAY", crm: "webhook", webhookUrl: receiver.url, isHq: true });
    expect(created.status).toBe(201);
  });
  afterAll(async () => {
    await s.close();
    await receiver.close();
  });

  const storedCounts = () => s.store.read(async (tx) => ({ payloads: (await tx.list("payloads")).length, jobs: (await tx.list("jobs")).length, messages: (await tx.list("messages")).length }));
  const messagesFrom = (waId: string) => receiver.received.filter((h) => h.body.type === "message" && h.body.customer.waId === waId);

  it("answers Meta's verification with the challenge as plain text, and 403 to a wrong token", async () => {
    const ok = await fetch(`${s.url}/webhooks/whatsapp?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=${VERIFY_TOKEN}`);
    expect(ok.status).toBe(200);
    expect(ok.headers.get("content-type")).toMatch(/text\/plain/);
    expect(await ok.text()).toBe("1158201444");
    const bad = await fetch(`${s.url}/webhooks/whatsapp?hub.mode=subscribe&hub.challenge=1&hub.verify_token=nope`);
    expect(bad.status).toBe(403);
  });

  it("refuses a missing or wrong signature with 401 and stores nothing", async () => {
    const before = await storedCounts();
    const body = textWebhook({ from: "79160000001", text: "hi" });
    expect((await postWebhook(s.url, body, { secret: null })).status).toBe(401);
    expect((await postWebhook(s.url, body, { secret: "not-the-secret" })).status).toBe(401);
    const raw = JSON.stringify(body);
    const tampered = await postWebhook(s.url, body, { raw: raw.replace("hi", "ho") + " " });
    expect(tampered.status).toBe(200); // signed by us over the tampered bytes: valid
    expect((await fetch(`${s.url}/webhooks/whatsapp`, { method: "POST", headers: { "x-hub-signature-256": "sha256=" + "0".repeat(64) }, body: raw })).status).toBe(401);
    await waitFor(async () => (await storedCounts()).payloads === before.payloads, "tampered payload to be processed");
  });

  it("answers 400 to a signed body that is not JSON and 413 above 3 MB", async () => {
    expect((await postWebhook(s.url, undefined, { raw: "{not json" })).status).toBe(400);
    const huge = JSON.stringify({ object: "whatsapp_business_account", pad: "x".repeat(3 * 1024 * 1024) });
    expect((await postWebhook(s.url, undefined, { raw: huge })).status).toBe(413);
  });

  it("verifies the signature over the raw bytes, escapes and non-ASCII included", async () => {
    const raw = String.raw`{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},"contacts":[{"profile":{"name":"Sheena Nelson"},"wa_id":"79160000002"}],"messages":[{"from":"79160000002","id":"wamid.RAW1","timestamp":"1749416383","type":"text","text":{"body":"Ol\u00e1 \/ caf\u00e9 @ салон"}}]},"field":"messages"}]}]}`;
    expect((await postWebhook(s.url, undefined, { raw })).status).toBe(200);
    const hook = await waitFor(() => messagesFrom("79160000002")[0], "delivery of the escaped message");
    expect(hook.body.message.text).toBe("Olá / café @ салон");
  });

  it("routes every message of every entry and change in a batched payload", async () => {
    const a = textMessage({ from: "79160000010", text: "first" });
    const b = textMessage({ from: "79160000011", text: "second" });
    const c = textMessage({ from: "79160000012", text: "third" });
    const body = {
      object: "whatsapp_business_account",
      entry: [
        { id: "102290129340398", changes: [{ field: "messages", value: messagesValue([a]) }, { field: "messages", value: messagesValue([b]) }] },
        { id: "102290129340398", changes: [{ field: "messages", value: messagesValue([c]) }] },
      ],
    };
    expect((await postWebhook(s.url, body)).status).toBe(200);
    for (const [wa, text] of [["79160000010", "first"], ["79160000011", "second"], ["79160000012", "third"]] as const) {
      const hook = await waitFor(() => messagesFrom(wa)[0], `delivery for ${wa}`);
      expect(hook.body.message.text).toBe(text);
    }
  });

  it("treats a redelivered payload, and the same message inside another batch, as one message", async () => {
    const m = textMessage({ from: "79160000020", text: "only once" });
    const body = envelope(messagesValue([m]));
    for (let i = 0; i < 3; i++) expect((await postWebhook(s.url, body)).status).toBe(200);
    const other = envelope(messagesValue([m, textMessage({ from: "79160000020", text: "and this" })]));
    expect((await postWebhook(s.url, other)).status).toBe(200);
    await waitFor(() => messagesFrom("79160000020").length >= 2, "both messages");
    await new Promise((r) => setTimeout(r, 300));
    expect(messagesFrom("79160000020").map((h) => h.body.message.text)).toEqual(["only once", "and this"]);
  });

  it("keeps statuses, value-level errors and management fields, and unknown types as unsupported", async () => {
    for (const name of ["template.status-update", "errors.value-level", "user-preferences.stop", "garbage.unknown-type", "unsupported.edit"]) {
      expect((await postWebhook(s.url, undefined, { raw: await fixture(name) })).status).toBe(200);
    }
    const events = await waitFor(async () => {
      const r = await api(s.url, s.adminToken, "GET", "/admin/api/whatsapp-events");
      const fields = new Set<string>(r.body.events.map((e: { field: string }) => e.field));
      return ["message_template_status_update", "errors", "user_preferences"].every((f) => fields.has(f)) && fields;
    }, "management events");
    expect(events.size).toBeGreaterThanOrEqual(3);
    const unsupported = await waitFor(() => receiver.received.filter((h) => h.body.type === "message" && h.body.message.kind === "unsupported").length >= 2 && receiver.received, "unsupported messages delivered");
    expect(unsupported.length).toBeGreaterThan(0);
  });

  it("keys customers by BSUID when Meta sends one, keeping and merging the phone", async () => {
    const meta = { display_phone_number: "15550783881", phone_number_id: "106540352242922" };
    const ts = String(Math.floor(Date.now() / 1000));
    const body = (contact: Record<string, unknown>, msg: Record<string, unknown>) => ({
      object: "whatsapp_business_account",
      entry: [{ id: "102290129340398", changes: [{ field: "messages", value: { messaging_product: "whatsapp", metadata: meta, contacts: [{ profile: { name: "Sheena" }, ...contact }], messages: [{ timestamp: ts, type: "text", ...msg }] } }] }],
    });
    // 1. phone only (before April 2026)
    await postWebhook(s.url, body({ wa_id: "79160000050" }, { from: "79160000050", id: "wamid.B1", text: { body: "one" } }));
    // 2. phone and BSUID: the same customer gains the BSUID
    await postWebhook(s.url, body({ wa_id: "79160000050", user_id: "RU.1234567890" }, { from: "79160000050", from_user_id: "RU.1234567890", id: "wamid.B2", text: { body: "two" } }));
    // 3. BSUID only (username user): still the same customer
    await postWebhook(s.url, body({ user_id: "RU.1234567890", profile: { name: "Sheena", username: "sheena" } }, { from_user_id: "RU.1234567890", id: "wamid.B3", text: { body: "three" } }));
    const hooks = await waitFor(() => {
      const h = receiver.received.filter((x) => x.body.type === "message" && ["one", "two", "three"].includes(x.body.message.text));
      return h.length === 3 && h;
    }, "three messages");
    expect(new Set(hooks.map((h) => h.body.customer.id)).size).toBe(1);
    const c = await api(s.url, s.adminToken, "GET", `/admin/api/customers/${encodeURIComponent(hooks[0]!.body.customer.id)}`);
    expect(c.body.customer).toMatchObject({ waId: "79160000050", userId: "RU.1234567890" });
    expect(new Set(hooks.map((h) => h.body.dialog.id)).size).toBe(1);
  });

  it("stays healthy after a minute's worth of garbage compressed into a burst", async () => {
    const junk = ["", "null", "[]", "5", '"x"', "{", '{"entry":5}', '{"entry":[{"changes":null}]}', '{"entry":[{"changes":[{"field":"messages","value":{"messages":[null,7,{"id":3}]}}]}]}', "\u0000\u0001"];
    const results = await Promise.all(
      Array.from({ length: 300 }, (_, i) => {
        const raw = junk[i % junk.length]!;
        return i % 3 === 0 ? postWebhook(s.url, undefined, { raw, secret: null }) : postWebhook(s.url, undefined, { raw });
      }),
    );
    expect(results.every((r) => r.status < 500)).toBe(true);
    expect((await fetch(`${s.url}/readyz`)).status).toBe(200);
    expect((await postWebhook(s.url, textWebhook({ from: "79160000030", text: "still alive" }))).status).toBe(200);
    await waitFor(() => messagesFrom("79160000030")[0], "a valid message after the garbage");
    const metrics = await (await fetch(`${s.url}/metrics`)).text();
    expect(metrics).toMatch(/branchline_webhooks_received_total\{outcome="bad_signature"\} \d+/);
    expect(metrics).toMatch(/branchline_webhook_ack_seconds_bucket/);
  });
});
