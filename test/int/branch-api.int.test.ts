import nock from "nock";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, postWebhook, startTestServer, waitFor } from "../builders/harness.js";
import { NUMBER, textWebhook, envelope } from "../builders/meta-payloads.js";

type Server = Awaited<ReturnType<typeof startTestServer>>;
const WABA = "102290129340398";

/** Template objects as `GET /{WABA_ID}/message_templates` lists them (doc §6.1). */
const TEMPLATES = [
  {
    name: "booking_reminder", parameter_format: "POSITIONAL", language: "ru", status: "APPROVED", category: "UTILITY", id: "1001",
    components: [{ type: "BODY", text: "Здравствуйте, {{1}}! Напоминаем о записи на {{2}}.", example: { body_text: [["Анна", "пятницу"]] } }],
  },
  {
    name: "seasonal_offer", parameter_format: "NAMED", language: "ru", status: "APPROVED", category: "MARKETING", id: "1002",
    components: [{ type: "BODY", text: "{{first_name}}, скидка для вас!", example: { body_text_named_params: [{ param_name: "first_name", example: "Анна" }] } }],
  },
  { name: "old_promo", parameter_format: "POSITIONAL", language: "ru", status: "PAUSED", category: "MARKETING", id: "1003", components: [{ type: "BODY", text: "Старая акция" }] },
];

describe("branch API: POST/GET /api/v1/messages", () => {
  let s: Server;
  let key: string;
  let otherKey: string;
  const sent: any[] = [];
  const customer = "79161112233";

  beforeAll(async () => {
    nock.disableNetConnect();
    nock.enableNetConnect(/127\.0\.0\.1|localhost/);
    nock("http://graph.test").persist().get(`/v25.0/${WABA}/message_templates`).query(true).reply(200, { data: TEMPLATES, paging: { cursors: { before: "b", after: "a" } } });
    nock("http://graph.test").persist().get(`/v25.0/${WABA}/message_templates`).query((q) => q.after === "a").reply(200, { data: [], paging: {} });
    nock("http://graph.test")
      .persist()
      .post(`/v25.0/${NUMBER.phoneNumberId}/messages`)
      .reply(200, (_u, body) => {
        sent.push(body);
        return { messaging_product: "whatsapp", contacts: [{ input: (body as any).to, wa_id: customer }], messages: [{ id: `wamid.API${sent.length}`, message_status: "accepted" }] };
      });
    s = await startTestServer({ WHATSAPP_WABA_ID: WABA });
    key = (await api(s.url, s.adminToken, "POST", "/admin/api/branches", { name: "Art Play", code: "ARTPLAY", crm: "inbox", isHq: true })).body.apiKey;
    otherKey = (await api(s.url, s.adminToken, "POST", "/admin/api/branches", { name: "Lab", code: "LAB", crm: "inbox" })).body.apiKey;
    await waitFor(async () => (await api(s.url, s.adminToken, "GET", "/admin/api/templates")).body.templates.length === 3, "templates synced");
    await postWebhook(s.url, textWebhook({ from: customer, text: "Добрый день" }));
    await waitFor(async () => (await api(s.url, key, "GET", `/api/v1/window?to=%2B${customer}`)).body.open, "the customer's window");
  });
  afterAll(async () => {
    await s.close();
    nock.cleanAll();
    nock.enableNetConnect();
  });

  const send = (body: unknown, k = key, headers: Record<string, string> = {}) =>
    fetch(`${s.url}/api/v1/messages`, { method: "POST", headers: { authorization: `Bearer ${k}`, "content-type": "application/json", ...headers }, body: typeof body === "string" ? body : JSON.stringify(body) }).then(async (r) => ({ status: r.status, body: await r.json() }));
  const statusOf = (id: string, k = key) => api(s.url, k, "GET", `/api/v1/messages/${id}`);

  it("sends free text inside the window and reports its status", async () => {
    const r = await send({ to: "+7 (916) 111-22-33", text: "Ждём вас в пятницу!" });
    expect(r).toEqual({ status: 202, body: { id: expect.any(String), status: "queued" } });
    const done = await waitFor(async () => {
      const st = await statusOf(r.body.id);
      return st.body.status === "sent" && st.body;
    }, "sent");
    expect(done.wamid).toMatch(/^wamid\.API/);
    expect(sent.find((b) => b.text?.body === "Ждём вас в пятницу!")).toMatchObject({ to: `+${customer}`, type: "text", biz_opaque_callback_data: r.body.id });
  });

  it("hides one branch's messages from another", async () => {
    const r = await send({ to: customer, text: "private" });
    expect((await statusOf(r.body.id, otherKey)).status).toBe(404);
    expect((await statusOf("out_nope")).status).toBe(404);
  });

  it("sends an approved template with its parameters in Graph's shape", async () => {
    const r = await send({ to: "+79991234567", template: { name: "booking_reminder", language: "ru", params: ["Анна", "пятницу"] } });
    expect(r.status).toBe(202);
    const body = await waitFor(() => sent.find((b) => b.type === "template" && b.to === "+79991234567"), "template at Graph");
    expect(body.template).toEqual({ name: "booking_reminder", language: { code: "ru" }, components: [{ type: "body", parameters: [{ type: "text", text: "Анна" }, { type: "text", text: "пятницу" }] }] });
  });

  it.each([
    [{ to: "+79990000001", text: "hi" }, "window_closed", "text"],
    [{ to: "not a phone", text: "hi" }, "invalid_phone", "to"],
    [{ to: customer, text: "x".repeat(4097) }, "text_too_long", "text"],
    [{ to: customer, template: { name: "nope", language: "ru" } }, "template_not_found", "template.name"],
    [{ to: customer, template: { name: "old_promo", language: "ru" } }, "template_not_found", undefined],
    [{ to: customer, template: { name: "booking_reminder", language: "en" } }, "template_not_found", "template.language"],
    [{ to: customer, template: { name: "booking_reminder", language: "ru", params: ["only one"] } }, "template_params", "template.params"],
    [{ to: customer, template: { name: "booking_reminder", language: "ru", params: ["Анна", "line\nbreak"] } }, "template_params", "template.params[1]"],
  ])("refuses %j with 422 %s before calling Graph", async (body, code, field) => {
    const before = sent.length;
    const r = await send(body);
    expect(r.status).toBe(422);
    expect(r.body.error.code).toBe(code);
    if (field) expect(r.body.error.field).toBe(field);
    expect(r.body.error.message.length).toBeGreaterThan(10);
    await new Promise((res) => setTimeout(res, 50));
    expect(sent.length).toBe(before);
  });

  it.each([
    ["{broken", 400],
    [JSON.stringify({ to: customer }), 400],
    [JSON.stringify({ to: customer, text: "a", template: { name: "x", language: "ru" } }), 400],
    [JSON.stringify({ to: customer, text: "a", colour: "red" }), 400],
  ])("refuses the malformed body %s with %i", async (raw, status) => {
    const r = await send(raw);
    expect(r.status).toBe(status);
    expect(r.body.error.message).toBeTruthy();
  });

  it("refuses a bad key with 401", async () => {
    expect((await send({ to: customer, text: "x" }, "bl_wrong")).status).toBe(401);
  });

  it("honours marketing opt-out by stop word, keeps utility messages, and lets the customer back in", async () => {
    await postWebhook(s.url, textWebhook({ from: customer, text: "СТОП" }));
    await waitFor(async () => (await api(s.url, key, "GET", `/api/v1/window?to=${customer}`)).body.optedOutOfMarketing, "opt-out");
    const promo = await send({ to: customer, template: { name: "seasonal_offer", language: "ru", params: { first_name: "Анна" } } });
    expect(promo.status).toBe(422);
    expect(promo.body.error.code).toBe("opted_out");
    const utility = await send({ to: customer, template: { name: "booking_reminder", language: "ru", params: ["Анна", "субботу"] } });
    expect(utility.status).toBe(202);
    await postWebhook(s.url, textWebhook({ from: customer, text: "start" }));
    await waitFor(async () => !(await api(s.url, key, "GET", `/api/v1/window?to=${customer}`)).body.optedOutOfMarketing, "opt-in");
    expect((await send({ to: customer, template: { name: "seasonal_offer", language: "ru", params: { first_name: "Анна" } } })).status).toBe(202);
  });

  it("honours Meta's user_preferences stop and resume", async () => {
    const prefs = (value: string) =>
      ({ object: "whatsapp_business_account", entry: [{ id: WABA, time: 1751247548, changes: [{ field: "user_preferences", value: { messaging_product: "whatsapp", metadata: { display_phone_number: NUMBER.display, phone_number_id: NUMBER.phoneNumberId }, contacts: [{ wa_id: "79995550000", profile: { name: "X" } }], user_preferences: [{ wa_id: "79995550000", detail: "User requested to stop marketing messages", category: "marketing_messages", value, timestamp: 1751247548 }] } }] }] });
    await postWebhook(s.url, prefs("stop"));
    await waitFor(async () => (await send({ to: "79995550000", template: { name: "seasonal_offer", language: "ru", params: ["Анна"] } })).body.error?.code === "opted_out", "opted out by Meta");
    await postWebhook(s.url, prefs("resume"));
    await waitFor(async () => (await send({ to: "79995550000", template: { name: "seasonal_offer", language: "ru", params: ["Анна"] } })).status === 202, "back in");
  });

  it("accepts a request once per Idempotency-Key", async () => {
    const before = sent.length;
    const a = await send({ to: customer, text: "only once please" }, key, { "idempotency-key": "order-42" });
    const b = await send({ to: customer, text: "only once please" }, key, { "idempotency-key": "order-42" });
    expect(b.body.id).toBe(a.body.id);
    await waitFor(() => sent.length > before, "the send");
    await new Promise((r) => setTimeout(r, 200));
    expect(sent.filter((x) => x.text?.body === "only once please")).toHaveLength(1);
  });

  it("holds a branch to its daily quota", async () => {
    const quota = await api(s.url, s.adminToken, "POST", "/admin/api/branches", { name: "Small", code: "SMALL", crm: "inbox", dailyQuota: 2 });
    expect(quota.status).toBe(201);
    const k = quota.body.apiKey;
    expect((await send({ to: customer, text: "1" }, k)).status).toBe(202);
    expect((await send({ to: customer, text: "2" }, k)).status).toBe(202);
    const third = await send({ to: customer, text: "3" }, k);
    expect(third.status).toBe(429);
    expect(third.body.error.code).toBe("quota_exceeded");
    expect((await api(s.url, s.adminToken, "PATCH", `/admin/api/branches/${quota.body.id}`, { dailyQuota: null })).status).toBe(200);
    expect((await send({ to: customer, text: "3" }, k)).status).toBe(202);
  });

  it("reports a failed status with Meta's reason", async () => {
    const r = await send({ to: customer, text: "will fail later" });
    const wamid = await waitFor(async () => (await statusOf(r.body.id)).body.wamid, "wamid");
    await postWebhook(s.url, envelope({ messaging_product: "whatsapp", metadata: { display_phone_number: NUMBER.display, phone_number_id: NUMBER.phoneNumberId }, statuses: [{ id: wamid, status: "failed", timestamp: String(Math.floor(Date.now() / 1000)), recipient_id: customer, errors: [{ code: 131026, title: "Message undeliverable", message: "Message undeliverable", error_data: { details: "Message Undeliverable." } }] }] }));
    const st = await waitFor(async () => {
      const x = (await statusOf(r.body.id)).body;
      return x.status === "failed" && x;
    }, "failed status");
    expect(st.error).toEqual({ code: "131026", message: "Message Undeliverable." });
  });
});
