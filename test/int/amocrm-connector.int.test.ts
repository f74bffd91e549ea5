import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loopbackOnly, nockGraph, openNetwork } from "../builders/graph-nock.js";
import { requestJson } from "../builders/http.js";
import { api, postWebhook, startTestServer, waitFor } from "../builders/harness.js";
import { envelope, messagesValue, NUMBER, textMessage, textWebhook } from "../builders/meta-payloads.js";
import { botToken, chatHookBody, chatHookSignature, disconnectQuery, startFakeAmo, TEST_CHANNEL as CHANNEL, TEST_CLIENT as CLIENT, widgetToken, type FakeAccount, type FakeAmo } from "../builders/fake-amocrm.js";

type Server = Awaited<ReturnType<typeof startTestServer>>;

const WABA = "102290129340398";
const REDIRECT = "https://branchline.example/amocrm/oauth";
const AUD = "https://branchline.example";

/** Template objects as `GET /{WABA_ID}/message_templates` lists them (WhatsApp doc §6.1). */
const TEMPLATES = [
  {
    name: "booking_reminder", parameter_format: "POSITIONAL", language: "ru", status: "APPROVED", category: "UTILITY", id: "1001",
    components: [{ type: "BODY", text: "Здравствуйте, {{1}}! Напоминаем о записи на {{2}}.", example: { body_text: [["Анна", "пятницу"]] } }],
  },
  {
    name: "order_ready", parameter_format: "NAMED", language: "ru", status: "APPROVED", category: "UTILITY", id: "1002",
    components: [{ type: "BODY", text: "{{customer_name}}, заказ {{order_id}} готов.", example: { body_text_named_params: [{ param_name: "customer_name", example: "Анна" }, { param_name: "order_id", example: "42" }] } }],
  },
];

describe("amoCRM connector: install, chats in the lead card, manager replies, Salesbot, panel API", () => {
  let s: Server;
  let amo: FakeAmo;
  let acc: FakeAccount;
  let other: FakeAccount;
  let leadId: number;
  let branch: { id: string; apiKey: string; code: string };
  let hq: { id: string; apiKey: string };
  let graph: any[];
  const phone = "79161234567";

  const token = (a = acc, o: Partial<Parameters<typeof widgetToken>[0]> = {}) => widgetToken({ account: a, ...CLIENT, aud: AUD, ...o });
  const widget = (method: string, path: string, body?: unknown, t: string | null = token(), headers: Record<string, string> = {}) =>
    requestJson(`${s.url}/amocrm/widget${path}`, { method, headers: { ...(t ? { "x-auth-token": t } : {}), ...headers }, body });
  const hook = (scopeId: string, body: string, signature: string) =>
    fetch(`${s.url}/amocrm/chats/${scopeId}`, { method: "POST", headers: { "content-type": "application/json", "x-signature": signature }, body });
  const scopeOf = (a: FakeAccount) => amo.connections.get(a.amojoId)?.scopeId ?? "";
  const install = async (a: FakeAccount) => {
    const res = await fetch(`${s.url}/amocrm/oauth?code=${encodeURIComponent(a.issueCode())}&referer=${encodeURIComponent(a.domain)}&from_widget=1&platform=1`);
    expect(res.status).toBe(200);
    await waitFor(() => amo.connections.get(a.amojoId)?.connected, `the chat channel connected for account ${a.id}`);
  };
  const statusWebhook = (wamid: string, status: string) =>
    envelope({ messaging_product: "whatsapp", metadata: { display_phone_number: NUMBER.display, phone_number_id: NUMBER.phoneNumberId }, statuses: [{ id: wamid, status, timestamp: String(Math.floor(Date.now() / 1000)), recipient_id: phone }] });

  beforeAll(async () => {
    loopbackOnly();
    graph = nockGraph({ templates: TEMPLATES, wamidPrefix: "AMO" }).bodies;
    amo = await startFakeAmo({ ...CLIENT, redirectUri: REDIRECT, ...CHANNEL });
    acc = await amo.addAccount({ id: 30441694, subdomain: "artplay" });
    other = await amo.addAccount({ id: 30441695, subdomain: "citymall" });
    const contact = acc.addContact({ name: "Иван Петров", firstName: "Иван", phone: "8 (916) 123-45-67" });
    leadId = acc.addLead({ name: "Фотосессия", contactId: contact, price: 2500 });
    s = await startTestServer({
      WHATSAPP_WABA_ID: WABA,
      ...amo.env,
    });
    hq = (await api(s.url, s.adminToken, "POST", "/admin/api/branches", { name: "Persona HQ", code: "HQ", crm: "inbox", isHq: true })).body;
    branch = (await api(s.url, s.adminToken, "POST", "/admin/api/branches", { name: "Art Play", code: "ARTPLAY", crm: "amocrm" })).body;
    await waitFor(async () => (await api(s.url, s.adminToken, "GET", "/admin/api/templates")).body.templates.length === 2, "templates synced");
  });
  afterAll(async () => {
    await s?.close();
    await amo?.close();
    openNetwork();
  });

  it("installs through the Redirect URI: exchanges the code, reads amojo_id and connects the chat channel", async () => {
    await install(acc);
    expect(scopeOf(acc)).toBe(`${CHANNEL.channelId}_${acc.amojoId}`);
    expect(acc.oauthRequests.map((r) => [r.grantType, r.status])).toEqual([["authorization_code", 200]]);
    expect(amo.rejected).toEqual([]);
  });

  it("refuses a bad Redirect URI call and changes nothing", async () => {
    const res = await fetch(`${s.url}/amocrm/oauth?code=abc&referer=${encodeURIComponent("evil.example/path")}`);
    expect(res.status).toBe(400);
    expect((await res.json()).error.field).toBe("referer");
  });

  it("binds the account to the branch by the key the widget posts, checking amoCRM's token", async () => {
    expect((await widget("POST", "/register", { branch_key: branch.apiKey }, null)).status).toBe(401);
    const forged = await widget("POST", "/register", { branch_key: branch.apiKey }, widgetToken({ account: acc, ...CLIENT, clientSecret: "not-the-secret", aud: AUD }));
    expect(forged.status).toBe(401);
    const expired = await widget("POST", "/register", { branch_key: branch.apiKey }, token(acc, { nowSec: Math.floor(Date.now() / 1000) - 7200 }));
    expect(expired).toMatchObject({ status: 401, body: { error: { code: "invalid_token" } } });
    const wrongAud = await widget("POST", "/register", { branch_key: branch.apiKey }, token(acc, { aud: "https://elsewhere.example" }));
    expect(wrongAud.status).toBe(401);
    // A token from another account's domain claiming this account id: the issuer must match.
    const foreignIss = await widget("POST", "/register", { branch_key: branch.apiKey }, token(acc, { overrides: { iss: `http://${other.domain}` } }));
    expect(foreignIss.status).toBe(401);
    expect((await widget("POST", "/register", { branch_key: hq.apiKey })).body.error.code).toBe("unknown_branch_key");
    expect((await widget("POST", "/register", { branch_key: "nope" })).status).toBe(403);
    expect((await widget("POST", "/register", { branch_key: "" })).status).toBe(400);
    expect((await widget("POST", "/register", { branch_key: branch.apiKey }, token(other))).body.error.code).toBe("not_installed");
    const ok = await widget("POST", "/register", { branch_key: branch.apiKey });
    expect(ok).toMatchObject({ status: 200, body: { branch: { id: branch.id, code: "ARTPLAY", name: "Art Play" } } });
  });

  it("routes a customer the account already knows (CRM ownership) into the lead card as a signed new_message", async () => {
    await postWebhook(s.url, envelope(messagesValue([textMessage({ from: phone, text: "Здравствуйте! Хочу записаться" })], { [phone]: "Ivan" })));
    const got = await waitFor(() => amo.messages.find((m) => m.body.payload.message.text === "Здравствуйте! Хочу записаться"), "the message in amoCRM");
    expect(got.scopeId).toBe(scopeOf(acc));
    expect(got.body).toMatchObject({
      event_type: "new_message",
      payload: {
        conversation_id: `bl:${branch.id}:wa:${phone}`,
        sender: { id: `bl:wa:${phone}`, name: "Ivan", profile: { phone: `+${phone}` } },
        message: { type: "text" },
        silent: false,
      },
    });
    expect(got.body.payload.msgid).toMatch(/^wamid\./);
    expect(amo.rejected).toEqual([]);
    const inHq = await api(s.url, hq.apiKey, "GET", "/inbox/api/dialogs");
    expect(inHq.body.dialogs).toHaveLength(0);
  });

  it("sends a manager's reply through the outbox and reports delivered and read back to amoCRM", async () => {
    const conversation = `bl:${branch.id}:wa:${phone}`;
    const reply = amo.managerReply(scopeOf(acc), { conversationId: conversation, text: "Ждём вас в пятницу", phone });
    const res = await hook(scopeOf(acc), reply.body, reply.signature);
    expect(res.status).toBe(200);
    const sent = await waitFor(() => graph.find((b) => b.text?.body === "Ждём вас в пятницу"), "the reply sent to WhatsApp");
    expect(sent.to).toBe(`+${phone}`);
    // amoCRM does not retry, but a proxy may: the same hook twice sends once.
    expect((await hook(scopeOf(acc), reply.body, reply.signature)).status).toBe(200);
    const wamid = `wamid.AMO${graph.indexOf(sent) + 1}`;
    await postWebhook(s.url, statusWebhook(wamid, "delivered"));
    await postWebhook(s.url, statusWebhook(wamid, "read"));
    await waitFor(() => amo.deliveryStatuses.filter((d) => d.amoMsgId === reply.amoMsgId).length >= 2, "delivered and read in amoCRM");
    const codes = amo.deliveryStatuses.filter((d) => d.amoMsgId === reply.amoMsgId).map((d) => d.body.delivery_status ?? d.body.status_code);
    expect(codes).toEqual([1, 2]);
    expect(graph.filter((b) => b.text?.body === "Ждём вас в пятницу")).toHaveLength(1);
  });

  it("refuses hooks with a wrong signature, an unknown scope or a malformed body, changing nothing", async () => {
    const reply = amo.managerReply(scopeOf(acc), { conversationId: `bl:${branch.id}:wa:${phone}`, text: "forged", phone });
    expect((await hook(scopeOf(acc), reply.body, "0".repeat(40))).status).toBe(401);
    expect((await hook(scopeOf(acc), reply.body.replace("forged", "forgeD"), reply.signature)).status).toBe(401);
    const unknown = chatHookBody({ amojoAccountId: acc.amojoId, conversationId: `bl:${branch.id}:wa:${phone}`, text: "forged", phone });
    expect((await hook("nope_scope", unknown, chatHookSignature(unknown, CHANNEL.channelSecret))).status).toBe(404);
    const { createHmac } = await import("node:crypto");
    const junk = '{"account_id":';
    expect((await hook(scopeOf(acc), junk, createHmac("sha1", CHANNEL.channelSecret).update(junk).digest("hex"))).status).toBe(400);
    await new Promise((r) => setTimeout(r, 200));
    expect(graph.some((b) => b.text?.body === "forged")).toBe(false);
  });

  it("tells the manager why WhatsApp would refuse: a 'write first' chat to a customer whose window is closed", async () => {
    const stranger = "79990001122";
    const reply = amo.managerReply(scopeOf(acc), { text: "Здравствуйте, это Art Play", phone: stranger, conversationRefId: "amo-chat-1", receiverRefId: "amo-client-1" });
    expect((await hook(scopeOf(acc), reply.body, reply.signature)).status).toBe(200);
    const status = await waitFor(() => amo.deliveryStatuses.find((d) => d.amoMsgId === reply.amoMsgId), "an error status in amoCRM");
    expect(status.body).toMatchObject({ error_code: 905 });
    expect(status.body.delivery_status ?? status.body.status_code).toBe(-1);
    expect(status.body.error).toMatch(/24/);
    expect(graph.some((b) => b.to === `+${stranger}`)).toBe(false);
  });

  it("sends a template picked in amoCRM with its parameters", async () => {
    const reply = amo.managerReply(scopeOf(acc), {
      conversationId: `bl:${branch.id}:wa:${phone}`,
      phone,
      kind: "template",
      template: { id: 7103, externalId: "booking_reminder:ru", content: "Здравствуйте, {{contact.name}}! Напоминаем о записи на {{lead.cf.1}}.", params: [{ key: "{{contact.name}}", value: "Иван" }, { key: "{{lead.cf.1}}", value: "пятницу" }] },
    });
    expect((await hook(scopeOf(acc), reply.body, reply.signature)).status).toBe(200);
    const sent = await waitFor(() => graph.find((b) => b.type === "template" && b.template.name === "booking_reminder" && b.to === `+${phone}`), "the template sent");
    expect(sent.template.components).toEqual([{ type: "body", parameters: [{ type: "text", text: "Иван" }, { type: "text", text: "пятницу" }] }]);
  });

  it("sends a manager's file by its link, with the file name", async () => {
    const reply = amo.managerReply(scopeOf(acc), { conversationId: `bl:${branch.id}:wa:${phone}`, phone, kind: "file", fileType: "file", media: "https://amojo.amocrm.ru/attachments/2a1c6f0e/price.pdf", fileName: "price.pdf" });
    expect((await hook(scopeOf(acc), reply.body, reply.signature)).status).toBe(200);
    const sent = await waitFor(() => graph.find((b) => b.type === "document"), "the file sent to WhatsApp");
    expect(sent.document).toEqual({ link: "https://amojo.amocrm.ru/attachments/2a1c6f0e/price.pdf", filename: "price.pdf" });
    const picture = amo.managerReply(scopeOf(acc), { conversationId: `bl:${branch.id}:wa:${phone}`, phone, kind: "file", fileType: "picture", media: "https://amojo.amocrm.ru/attachments/77/photo.jpg", fileName: "photo.jpg" });
    expect((await hook(scopeOf(acc), picture.body, picture.signature)).status).toBe(200);
    const image = await waitFor(() => graph.find((b) => b.type === "image"), "the picture sent to WhatsApp");
    expect(image.image.link).toBe("https://amojo.amocrm.ru/attachments/77/photo.jpg");
  });

  it("runs the Salesbot step: acknowledges, sends the template to the lead's contact and continues the bot", async () => {
    const returnUrl = `http://${acc.domain}/api/v4/salesbot/321/continue/654`;
    const data = { template: "order_ready", language: "ru", params: { customer_name: "Иван", order_id: String(leadId) }, lead_id: String(leadId), contact_id: "{{contact.id}}" };
    const bad = await fetch(`${s.url}/amocrm/salesbot`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ token: "x.y.z", data, return_url: returnUrl }) });
    expect(bad.status).toBe(401);
    const body = { token: botToken({ account: acc, ...CLIENT, aud: AUD, entityId: leadId }), data, return_url: returnUrl };
    const res = await fetch(`${s.url}/amocrm/salesbot`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    expect(res.status).toBe(200);
    // amoCRM fires the same request again when it did not hear back in time: still one send.
    expect((await fetch(`${s.url}/amocrm/salesbot`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) })).status).toBe(200);
    const sent = await waitFor(() => graph.find((b) => b.type === "template" && b.template.name === "order_ready"), "the Salesbot template sent");
    expect(sent.to).toBe(`+${phone}`);
    const cont = await waitFor(() => acc.botContinues.find((c) => c.path.endsWith("/salesbot/321/continue/654")), "the bot continued");
    expect(cont.body.data).toMatchObject({ status: "success", message_id: expect.stringMatching(/^out_/) });
    expect(graph.filter((b) => b.type === "template" && b.template.name === "order_ready")).toHaveLength(1);
    // The template also appears in the lead card's chat, as the channel bot's message.
    const mirrored = await waitFor(() => amo.messages.find((m) => m.body.payload.msgid === cont.body.data.message_id), "the template shown in the chat");
    expect(mirrored.body.payload).toMatchObject({ silent: true, sender: { ref_id: CHANNEL.botId }, receiver: { id: `bl:wa:${phone}` } });
  });

  it("accepts a form-encoded Salesbot request and leaves by the fail exit when the template does not exist", async () => {
    const returnUrl = `http://${acc.domain}/api/v4/salesbot/321/continue/655`;
    const form = new URLSearchParams({
      token: botToken({ account: acc, ...CLIENT, aud: AUD, entityId: leadId }),
      "data[template]": "no_such_template",
      "data[language]": "ru",
      "data[lead_id]": String(leadId),
      return_url: returnUrl,
    });
    const res = await fetch(`${s.url}/amocrm/salesbot`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: form.toString() });
    expect(res.status).toBe(200);
    const cont = await waitFor(() => acc.botContinues.find((c) => c.path.endsWith("/continue/655")), "the bot continued");
    expect(cont.body.data.status).toBe("fail");
    expect(cont.body.data.error).toEqual(expect.any(String));
  });

  it("gives the lead-card panel its branch, routing reason, window, prefilled templates and statuses", async () => {
    const ctx = await widget("GET", `/context?lead_id=${leadId}`);
    expect(ctx.status).toBe(200);
    expect(ctx.body).toMatchObject({
      bound: true,
      branch: { id: branch.id, code: "ARTPLAY" },
      lead: { id: leadId, name: "Фотосессия" },
      contact: { name: "Иван Петров", phone: `+${phone}` },
      dialog: { routing: { rule: "crm_owner" } },
      window: { open: true },
      branches: [{ id: hq.id, code: "HQ", name: "Persona HQ" }],
    });
    expect(ctx.body.window.closesAt - ctx.body.window.lastInboundAt).toBe(24 * 3600 * 1000);
    const reminder = ctx.body.templates.find((t: any) => t.name === "booking_reminder");
    expect(reminder.params).toEqual([
      { key: "1", example: "Анна", prefill: "Иван" },
      { key: "2", example: "пятницу" },
    ]);
    const order = ctx.body.templates.find((t: any) => t.name === "order_ready");
    expect(order.params).toEqual([
      { key: "customer_name", example: "Анна", prefill: "Иван" },
      { key: "order_id", example: "42", prefill: String(leadId) },
    ]);
    expect(ctx.body.statuses.map((m: any) => m.text)).toContain("Ждём вас в пятницу");
    const unbound = await install(other).then(() => widget("GET", `/context?lead_id=1`, undefined, token(other)));
    expect(unbound.body).toEqual({ bound: false });
  });

  it("sends a template from the panel and refuses bad input with the field named", async () => {
    const before = graph.length;
    const sent = await widget("POST", "/send", { lead_id: leadId, template: { name: "booking_reminder", language: "ru", params: ["Иван", "субботу"] } });
    expect(sent).toMatchObject({ status: 202, body: { id: expect.any(String), status: "queued" } });
    await waitFor(() => graph.slice(before).find((b) => b.template?.components?.[0]?.parameters?.[1]?.text === "субботу"), "the panel's template sent");
    const missing = await widget("POST", "/send", { lead_id: leadId, template: { name: "booking_reminder", language: "ru", params: ["Иван"] } });
    expect(missing).toMatchObject({ status: 422, body: { error: { code: "template_params" } } });
    expect((await widget("POST", "/send", { lead_id: "abc", template: { name: "x", language: "ru" } })).body.error.field).toBe("lead_id");
    expect((await widget("POST", "/send", { lead_id: 999999, template: { name: "booking_reminder", language: "ru", params: ["a", "b"] } })).status).toBe(404);
  });

  it("lets only amoCRM origins call the widget API from the browser", async () => {
    const pre = await widget("OPTIONS", "/context", undefined, null, { origin: "https://artplay.amocrm.ru", "access-control-request-method": "GET", "access-control-request-headers": "x-auth-token" });
    expect(pre.status).toBe(204);
    expect(pre.headers.get("access-control-allow-origin")).toBe("https://artplay.amocrm.ru");
    expect(pre.headers.get("access-control-allow-headers")).toMatch(/X-Auth-Token/i);
    const foreign = await widget("OPTIONS", "/context", undefined, null, { origin: "https://evil.example" });
    expect(foreign.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("refreshes an expired access token once, even for concurrent calls, and keeps working", async () => {
    const refreshesBefore = acc.refreshCount;
    acc.expireAccessToken();
    const results = await Promise.all([1, 2, 3, 4].map(() => widget("GET", `/context?lead_id=${leadId}`)));
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    expect(acc.refreshCount - refreshesBefore).toBe(1);
  });

  it("transfers the customer to another branch from the panel: the next message goes there", async () => {
    const bad = await widget("POST", "/transfer", { lead_id: leadId, branch_id: branch.id });
    expect(bad).toMatchObject({ status: 422, body: { error: { code: "same_branch" } } });
    const moved = await widget("POST", "/transfer", { lead_id: leadId, branch_id: hq.id });
    expect(moved).toMatchObject({ status: 200, body: { branch: { id: hq.id } } });
    await postWebhook(s.url, textWebhook({ from: phone, text: "А можно в центральный?" }));
    const dialogs = await waitFor(async () => {
      const d = (await api(s.url, hq.apiKey, "GET", "/inbox/api/dialogs")).body.dialogs;
      return d.length > 0 && d;
    }, "the dialog in HQ's inbox");
    expect(dialogs[0].routing).toMatchObject({ rule: "transfer" });
  });

  it("marks the account disconnected by the signed disconnect hook and reconnects it on reinstall", async () => {
    expect((await fetch(`${s.url}/amocrm/disconnect?account_id=${acc.id}&client_uuid=${CLIENT.clientId}&signature=${"0".repeat(64)}`)).status).toBe(401);
    const res = await fetch(`${s.url}/amocrm/disconnect?${disconnectQuery(acc.id, CLIENT.clientId, CLIENT.clientSecret)}`);
    expect(res.status).toBe(200);
    expect((await widget("GET", `/context?lead_id=${leadId}`)).body).toEqual({ bound: false });
    amo.connections.get(acc.amojoId)!.connected = false;
    acc.revoke();
    await install(acc);
    const ctx = await widget("GET", `/context?lead_id=${leadId}`);
    expect(ctx.body).toMatchObject({ bound: true, branch: { id: branch.id } });
  });
});
