import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loopbackOnly, nockGraph, openNetwork } from "../builders/graph-nock.js";
import { requestJson } from "../builders/http.js";
import { api, postWebhook, startTestServer, waitFor } from "../builders/harness.js";
import { textWebhook } from "../builders/meta-payloads.js";

type Server = Awaited<ReturnType<typeof startTestServer>>;
const WABA = "102290129340398";

/** Template objects as `GET /{WABA_ID}/message_templates` lists them (doc §6.1). */
const TEMPLATES = [
  {
    name: "salon_closed", parameter_format: "POSITIONAL", language: "ru", status: "APPROVED", category: "UTILITY", id: "2001",
    components: [{ type: "BODY", text: "Салон {{1}} сейчас закрыт. Ответьте 1, чтобы записаться онлайн.", example: { body_text: [["Art Play"]] } }],
  },
  {
    name: "missed_call_offer", parameter_format: "POSITIONAL", language: "ru", status: "APPROVED", category: "MARKETING", id: "2002",
    components: [{ type: "BODY", text: "Мы пропустили ваш звонок. Дарим скидку 10% на запись!" }],
  },
];

describe("call trigger: POST /api/v1/calls", () => {
  let s: Server;
  let sent: any[];
  const branches: Record<string, { id: string; apiKey: string }> = {};

  beforeAll(async () => {
    loopbackOnly();
    sent = nockGraph({ templates: TEMPLATES, wamidPrefix: "CALL" }).bodies;
    s = await startTestServer({ WHATSAPP_WABA_ID: WABA });
    await waitFor(async () => (await api(s.url, s.adminToken, "GET", "/admin/api/templates")).body.templates.length === 2, "templates synced");
    const trigger = (name: string) => ({ template: "salon_closed", language: "ru", params: [name], cooldownHours: 24, events: ["incoming", "missed"] });
    for (const [code, body] of Object.entries({
      ARTPLAY: { name: "Art Play", crm: "inbox", isHq: true, callTrigger: trigger("Art Play") },
      LAB: { name: "Lab", crm: "inbox", callTrigger: { ...trigger("Lab"), events: ["missed"] } },
      PROMO: { name: "Promo", crm: "inbox", callTrigger: { template: "missed_call_offer", language: "ru" } },
      PLAIN: { name: "Plain", crm: "inbox" },
    })) {
      const r = await api(s.url, s.adminToken, "POST", "/admin/api/branches", { code, ...body });
      expect(r.status).toBe(201);
      branches[code] = { id: r.body.id, apiKey: r.body.apiKey };
    }
  });
  afterAll(async () => {
    await s.close();
    openNetwork();
  });

  const call = (code: string, body: unknown, key = branches[code]!.apiKey) =>
    requestJson(`${s.url}/api/v1/calls`, { method: "POST", headers: { authorization: `Bearer ${key}` }, body }).then((r) => ({ status: r.status, body: r.body }));
  const sentTo = (digits: string) => sent.filter((b) => b.to === `+${digits}`);
  const settle = () => new Promise((r) => setTimeout(r, 300));

  it("sends the branch's template to the caller, reports its status and binds the caller to the branch", async () => {
    const r = await call("ARTPLAY", { caller: "+7 (916) 555-00-01", event: "missed" });
    expect(r).toEqual({ status: 202, body: { id: expect.stringMatching(/^out_/), status: "queued" } });
    const body = await waitFor(() => sentTo("79165550001")[0], "the template at Graph");
    expect(body).toMatchObject({ type: "template", template: { name: "salon_closed", language: { code: "ru" }, components: [{ type: "body", parameters: [{ type: "text", text: "Art Play" }] }] }, biz_opaque_callback_data: r.body.id });
    await waitFor(async () => (await api(s.url, branches.ARTPLAY!.apiKey, "GET", `/api/v1/messages/${r.body.id}`)).body.status === "sent", "sent status");
    const customer = await api(s.url, s.adminToken, "GET", "/admin/api/customers/wa:79165550001");
    expect(customer.body.binding.current).toMatchObject({ branchId: branches.ARTPLAY!.id, rule: "outbound" });
  });

  it("sends a caller who rang a second branch within the cooldown nothing more (skipped with the reason)", async () => {
    const r = await call("LAB", { caller: "89165550001", event: "missed" });
    expect(r.status).toBe(202);
    expect(r.body).toMatchObject({ status: "skipped", reason: "cooldown", retryAfter: expect.any(String) });
    expect(r.body.id).toBeUndefined();
    expect(Date.parse(r.body.retryAfter)).toBeGreaterThan(Date.now() + 23 * 3_600_000);
    // Nothing about the other branch leaks into the answer.
    expect(JSON.stringify(r.body)).not.toMatch(/Art Play|ARTPLAY/);
    await settle();
    expect(sentTo("79165550001")).toHaveLength(1);
    // The same branch again is also inside the cooldown.
    expect((await call("ARTPLAY", { caller: "+79165550001", event: "incoming" })).body.reason).toBe("cooldown");
    const customer = await api(s.url, s.adminToken, "GET", "/admin/api/customers/wa:79165550001");
    expect(customer.body.binding.current.branchId).toBe(branches.ARTPLAY!.id);
  });

  it("sends exactly one message when two branches report the same caller at once", async () => {
    const results = await Promise.all([call("ARTPLAY", { caller: "+79165550002", event: "missed" }), call("LAB", { caller: "+79165550002", event: "missed" }), call("ARTPLAY", { caller: "+79165550002", event: "incoming" })]);
    expect(results.map((r) => r.status)).toEqual([202, 202, 202]);
    expect(results.filter((r) => r.body.status === "queued")).toHaveLength(1);
    expect(results.filter((r) => r.body.status === "skipped").map((r) => r.body.reason)).toEqual(["cooldown", "cooldown"]);
    await waitFor(() => sentTo("79165550002").length > 0, "the one message");
    await settle();
    expect(sentTo("79165550002")).toHaveLength(1);
  });

  it("skips call events the branch did not enable", async () => {
    const r = await call("LAB", { caller: "+79165550003", event: "incoming" });
    expect(r).toEqual({ status: 202, body: { status: "skipped", reason: "event_not_enabled", message: expect.stringContaining("missed") } });
    // Skipping on the event set no cooldown: a missed call still gets the message.
    expect((await call("LAB", { caller: "+79165550003", event: "missed" })).body.status).toBe("queued");
  });

  it("skips an opted-out caller for a marketing trigger, and still sends to others", async () => {
    await postWebhook(s.url, textWebhook({ from: "79165550005", text: "СТОП" }));
    await waitFor(async () => (await api(s.url, branches.PROMO!.apiKey, "GET", "/api/v1/window?to=%2B79165550005")).body.optedOutOfMarketing, "opt-out");
    const skipped = await call("PROMO", { caller: "+79165550005", event: "missed" });
    expect(skipped).toEqual({ status: 202, body: { status: "skipped", reason: "opted_out", message: expect.stringContaining("opted out") } });
    expect((await call("PROMO", { caller: "+79165550004", event: "missed" })).body.status).toBe("queued");
    await waitFor(() => sentTo("79165550004").length === 1, "the offer to the other caller");
    // (The stop word itself may be answered with a service message; no template went.)
    expect(sentTo("79165550005").filter((b) => b.type === "template")).toHaveLength(0);
  });

  it.each([
    ["ARTPLAY", { caller: "not a phone", event: "missed" }, 422, "invalid_phone"],
    ["ARTPLAY", { caller: "+7916", event: "missed" }, 422, "invalid_phone"],
    ["PLAIN", { caller: "+79165550009", event: "missed" }, 422, "trigger_not_configured"],
    ["ARTPLAY", { caller: "+79165550009" }, 400, "invalid_request"],
    ["ARTPLAY", { caller: "+79165550009", event: "answered" }, 400, "invalid_request"],
    ["ARTPLAY", { caller: "+79165550009", event: "missed", colour: "red" }, 400, "invalid_request"],
    ["ARTPLAY", "{broken", 400, "invalid_json"],
  ])("at %s refuses %j with %i %s and sends nothing", async (code, body, status, errorCode) => {
    const before = sent.length;
    const r = await call(code, body);
    expect(r.status).toBe(status);
    expect(r.body.error.code).toBe(errorCode);
    await settle();
    expect(sent.length).toBe(before);
  });

  it("refuses a bad key with 401", async () => {
    expect((await call("ARTPLAY", { caller: "+79165550009", event: "missed" }, "bl_wrong")).status).toBe(401);
  });

  it("checks the trigger's template when a branch is configured, and can switch the trigger off", async () => {
    const bad = await api(s.url, s.adminToken, "PATCH", `/admin/api/branches/${branches.PLAIN!.id}`, { callTrigger: { template: "no_such", language: "ru" } });
    expect(bad.status).toBe(422);
    expect(bad.body.error).toMatchObject({ code: "template_not_found", field: "callTrigger.template" });
    const params = await api(s.url, s.adminToken, "PATCH", `/admin/api/branches/${branches.PLAIN!.id}`, { callTrigger: { template: "salon_closed", language: "ru" } });
    expect(params.status).toBe(422);
    expect(params.body.error.code).toBe("template_params");
    const ok = await api(s.url, s.adminToken, "PATCH", `/admin/api/branches/${branches.PLAIN!.id}`, { callTrigger: { template: "salon_closed", language: "ru", params: ["Plain"] } });
    expect(ok.status).toBe(200);
    expect(ok.body.callTrigger).toEqual({ template: "salon_closed", language: "ru", params: ["Plain"], cooldownHours: 24, events: ["missed"] });
    expect((await call("PLAIN", { caller: "+79165550010", event: "missed" })).body.status).toBe("queued");
    const off = await api(s.url, s.adminToken, "PATCH", `/admin/api/branches/${branches.PLAIN!.id}`, { callTrigger: null });
    expect(off.status).toBe(200);
    expect(off.body.callTrigger).toBeUndefined();
    expect((await call("PLAIN", { caller: "+79165550011", event: "missed" })).body.error.code).toBe("trigger_not_configured");
  });
});
