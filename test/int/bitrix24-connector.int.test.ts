import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loopbackOnly, nockGraph, openNetwork } from "../builders/graph-nock.js";
import { requestJson } from "../builders/http.js";
import { api, postWebhook, startTestServer, waitFor } from "../builders/harness.js";
import { envelope, messagesValue, textMessage } from "../builders/meta-payloads.js";
import { eventBody, installForm, operatorMessageBody, phpForm, robotBody, startFakeBitrix24, type FakeBitrix24, type FakePortal } from "../builders/fake-bitrix24.js";

type Server = Awaited<ReturnType<typeof startTestServer>>;

const WABA = "102290129340398";
const PHONE_NUMBER_ID = "106540352242922";
const PUBLIC = "https://branchline.example";
const CONNECTOR = "branchline_whatsapp";

/** Template objects as `GET /{WABA_ID}/message_templates` lists them (WhatsApp doc §6.1). */
const TEMPLATES = [
  {
    name: "booking_reminder", parameter_format: "POSITIONAL", language: "ru", status: "APPROVED", category: "UTILITY", id: "1001",
    components: [{ type: "BODY", text: "Здравствуйте, {{1}}! Напоминаем о записи на {{2}}.", example: { body_text: [["Анна", "пятницу"]] } }],
  },
  {
    name: "order_ready", parameter_format: "POSITIONAL", language: "en", status: "APPROVED", category: "UTILITY", id: "1002",
    components: [{ type: "BODY", text: "Hello {{1}}, your order {{2}} is ready.", example: { body_text: [["Ana", "42"]] } }],
  },
];

describe("Bitrix24 connector: install, Open Lines, operator replies, robot, card tab API, uninstall", () => {
  let s: Server;
  let world: FakeBitrix24;
  let portal: FakePortal;
  let stranger: FakePortal;
  let branch: { id: string; apiKey: string; code: string; name: string };
  let hq: { id: string; apiKey: string };
  let lineId: string;
  let leadId: number;
  let dealId: number;
  let graph: any[];
  const phone = "79161234567";

  const post = (path: string, body: string, type = "application/x-www-form-urlencoded") => fetch(`${s.url}${path}`, { method: "POST", headers: { "content-type": type }, body });
  const json = async (res: Response) => ({ status: res.status, body: await res.json() });
  /** The installer page's register call. */
  const register = (body: Record<string, unknown>) => requestJson(`${s.url}/bitrix24/register`, { method: "POST", body });
  /** Bitrix24 opens the installer: the form POST, then the page's register call with its AUTH_ID. */
  const install = async (p: FakePortal, key = branch.apiKey) => {
    const form = installForm(p);
    const page = await post(`/bitrix24/install?${form.queryString}`, form.body);
    expect(page.status).toBe(200);
    const reg = await register({ member_id: p.memberId, auth: form.fields.AUTH_ID, branch_key: key });
    return { page, reg, form };
  };
  const tab = async (method: string, path: string, opts: { token?: string | null; member?: string; body?: unknown } = {}) => {
    const token = opts.token === undefined ? portal.issueTokens(3).access_token : opts.token;
    return requestJson(`${s.url}/bitrix24/app${path}`, { method, headers: { ...(token ? { "x-b24-auth": token } : {}), "x-b24-member": opts.member ?? portal.memberId }, body: opts.body });
  };
  const connection = () => s.store.read((tx) => tx.get("crmConnections", `bitrix24:${portal.memberId}`));
  const statusWebhook = (wamid: string, status: string, to = phone) =>
    envelope({ messaging_product: "whatsapp", metadata: { display_phone_number: "15550783881", phone_number_id: PHONE_NUMBER_ID }, statuses: [{ id: wamid, status, timestamp: String(Math.floor(Date.now() / 1000)), recipient_id: to }] });
  const wamidOf = (body: unknown) => `wamid.B24${graph.indexOf(body) + 1}`;

  beforeAll(async () => {
    loopbackOnly();
    graph = nockGraph({ templates: TEMPLATES, wamidPrefix: "B24" }).bodies;
    world = await startFakeBitrix24();
    portal = await world.addPortal();
    stranger = await world.addPortal();
    leadId = portal.addLead({ TITLE: "Photo session", NAME: "Ivan", LAST_NAME: "Petrov", OPPORTUNITY: "2500", PHONE: [{ VALUE: "8 (916) 123-45-67", VALUE_TYPE: "MOBILE" }] });
    const contact = portal.addContact({ NAME: "Maria", LAST_NAME: "Ivanova", PHONE: [{ VALUE: "+7 999 555-00-00", VALUE_TYPE: "WORK" }] });
    dealId = portal.addDeal({ TITLE: "Wedding album", CONTACT_IDS: [contact], OPPORTUNITY: "9000" });
    portal.addContact({ NAME: "Oleg", PHONE: [{ VALUE: "+79110001122", VALUE_TYPE: "MOBILE" }] });
    s = await startTestServer({
      PUBLIC_URL: PUBLIC,
      WHATSAPP_WABA_ID: WABA,
      ...world.env,
    });
    hq = (await api(s.url, s.adminToken, "POST", "/admin/api/branches", { name: "Persona HQ", code: "HQ", crm: "inbox", isHq: true })).body;
    branch = (await api(s.url, s.adminToken, "POST", "/admin/api/branches", { name: "Art Shop", code: "B24SHOP", crm: "bitrix24" })).body;
    await waitFor(async () => (await api(s.url, s.adminToken, "GET", "/admin/api/templates")).body.templates.length === TEMPLATES.length, "templates synced");
  });
  afterAll(async () => {
    await s?.close();
    await world?.close();
    openNetwork();
  });

  it("installs: the installer page keeps the tokens, register binds the branch and registers everything once, also when installed twice", async () => {
    const first = await install(portal);
    expect(first.reg).toMatchObject({ status: 200, body: { branch: { id: branch.id, code: "B24SHOP", name: "Art Shop" } } });
    lineId = first.reg.body.line;
    // The installer page is framed only by the portal: CSP frame-ancestors, no X-Frame-Options.
    expect(first.page.headers.get("content-security-policy")).toContain(`frame-ancestors ${new URL(portal.url).origin}`);
    expect(first.page.headers.get("x-frame-options")).toBeNull();
    expect(await first.page.text()).toContain("/bitrix24/assets/app.js");
    // The installer's refresh token was traded at the OAuth server: Bitrix24 vouched for the portal.
    expect(world.oauthCalls.some((c) => c.params.refresh_token === first.form.tokens.refresh_token && c.status === 200)).toBe(true);
    const sealed = (await connection())!;
    expect(sealed).toMatchObject({ state: "connected", branchId: branch.id, account: portal.memberId, refs: { lineId } });
    expect(JSON.stringify(sealed)).not.toContain(first.form.tokens.refresh_token);
    expect(JSON.stringify(sealed)).not.toContain(portal.applicationToken);

    await install(portal);
    const regs = portal.registrations();
    expect(regs.events).toEqual({
      [`ONIMCONNECTORMESSAGEADD ${PUBLIC}/bitrix24/events`]: 1,
      [`ONIMCONNECTORSTATUSDELETE ${PUBLIC}/bitrix24/events`]: 1,
      [`ONIMCONNECTORLINEDELETE ${PUBLIC}/bitrix24/events`]: 1,
      [`ONAPPUNINSTALL ${PUBLIC}/bitrix24/events`]: 1,
    });
    expect(regs.placements).toEqual({ [`CRM_LEAD_DETAIL_TAB ${PUBLIC}/bitrix24/placement`]: 1, [`CRM_DEAL_DETAIL_TAB ${PUBLIC}/bitrix24/placement`]: 1 });
    expect(regs.connectors).toEqual({ [CONNECTOR]: 1 });
    expect(regs.robots).toEqual({ wa_send_template: 1 });
    expect(regs.activeLines).toEqual({ [`${CONNECTOR}|${lineId}`]: 1 });
    // The connector keeps CRM linking (one chat per client) and the robot offers the approved templates.
    expect(portal.state.connectors.get(CONNECTOR)).toMatchObject({ CHAT_GROUP: false, PLACEMENT_HANDLER: `${PUBLIC}/bitrix24/install` });
    const robot = portal.state.robots.get("wa_send_template")!;
    expect(robot.HANDLER).toBe(`${PUBLIC}/bitrix24/robot`);
    expect(Object.keys(robot.PROPERTIES.template.Options).sort()).toEqual(["booking_reminder|ru", "order_ready|en"]);
    expect(robot.PROPERTIES.vars).toMatchObject({ Type: "string", Multiple: "Y" });
    expect(Object.keys(robot.RETURN_PROPERTIES).sort()).toEqual(["message_id", "status"]);

    // A user who is not an administrator opens the app page: the admin's tokens stay.
    const adminTokens = (await connection())!.tokensSealed;
    const userOpen = installForm(portal, { userId: 5 });
    expect((await post(`/bitrix24/install?${userOpen.queryString}`, userOpen.body)).status).toBe(200);
    expect((await connection())!).toMatchObject({ state: "connected", tokensSealed: adminTokens });
  });

  it("refuses installs and registrations it cannot verify, changing nothing", async () => {
    const before = JSON.stringify(await connection());
    // A token of another portal presented for this one.
    const foreign = installForm(stranger);
    expect((await register({ member_id: portal.memberId, auth: foreign.fields.AUTH_ID, branch_key: branch.apiKey })).body.error.code).toBe("invalid_token");
    // A user who is not an administrator.
    const user = portal.issueTokens(5);
    expect((await post("/bitrix24/register", JSON.stringify({ member_id: portal.memberId, auth: user.access_token, branch_key: branch.apiKey }), "application/json")).status).toBe(403);
    const admin = portal.issueTokens(1);
    expect((await register({ member_id: portal.memberId, auth: admin.access_token, branch_key: hq.apiKey })).body.error.code).toBe("unknown_branch_key");
    expect((await post("/bitrix24/register", JSON.stringify({ member_id: "0123456789abcdef", auth: admin.access_token, branch_key: branch.apiKey }), "application/json")).status).toBe(404);
    expect((await register({ member_id: portal.memberId, auth: admin.access_token })).body.error.field).toBe("branch_key");
    // An installer POST whose refresh token Bitrix24 never issued, or that names another portal.
    const forged = installForm(portal);
    const badRefresh = await post(`/bitrix24/install?${forged.queryString}`, phpForm({ ...forged.fields, REFRESH_ID: "not-a-refresh-token" }));
    expect(badRefresh.status).toBe(401);
    const other = installForm(stranger);
    expect((await post(`/bitrix24/install?${other.queryString}`, phpForm({ ...other.fields, member_id: portal.memberId }))).status).toBe(401);
    expect((await post(`/bitrix24/install?${forged.queryString}`, "member_id=x")).status).toBe(400);
    expect(JSON.stringify(await connection())).toBe(before);
    // An expired token: the portal answers expired_token and the register is refused.
    const late = portal.issueTokens(1);
    portal.expireAccessTokens();
    expect((await post("/bitrix24/register", JSON.stringify({ member_id: portal.memberId, auth: late.access_token, branch_key: branch.apiKey }), "application/json")).status).toBe(401);
    expect(JSON.stringify(await connection())).toBe(before);
  });

  it("delivers a routed customer message to imconnector.send.messages with the phone, and keeps Bitrix24's chat and session", async () => {
    await postWebhook(s.url, envelope(messagesValue([textMessage({ from: phone, text: "Hello B24SHOP, I'd like to book" })], { [phone]: "Ivan Petrov" })));
    const got = await waitFor(() => portal.state.inbound.find((m) => m.message.message.text === "Hello B24SHOP, I'd like to book"), "the message in Open Lines");
    expect(got).toMatchObject({
      connector: CONNECTOR,
      line: lineId,
      message: { user: { id: phone, name: "Ivan", last_name: "Petrov", phone: `+${phone}` }, chat: { id: phone, url: `https://wa.me/${phone}` } },
    });
    expect(got.message.message.id).toMatch(/^wamid\./);
    const bx = portal.state.chats.get(phone)!;
    const dialog = await waitFor(async () => {
      const d = await s.store.read((tx) => tx.get("dialogs", `${branch.id}:wa:${phone}`));
      return d?.crmRefs?.b24ChatId ? d : undefined;
    }, "Bitrix24's ids on the dialog");
    expect(dialog.crmRefs).toMatchObject({ b24ChatId: bx.CHAT_ID, b24SessionId: bx.SESSION_ID, b24Line: lineId, b24Member: portal.memberId });
    expect((await api(s.url, hq.apiKey, "GET", "/inbox/api/dialogs")).body.dialogs).toHaveLength(0);
  });

  it("sends an operator's reply (BBCode → WhatsApp) through the outbox and confirms delivery to Bitrix24", async () => {
    const body = operatorMessageBody(portal, { connector: CONNECTOR, line: lineId, chatId: phone, text: "[b]Klaus Weber:[/b] [br]See you on [i]Friday[/i]", messageId: 86501, imChatId: 1807 });
    const res = await json(await post("/bitrix24/events", body));
    expect(res).toMatchObject({ status: 200, body: { ok: true, event: "ONIMCONNECTORMESSAGEADD", outcomes: ["queued"] } });
    const sent = await waitFor(() => graph.find((b) => b.text?.body?.includes("See you on")), "the reply at Graph");
    expect(sent).toMatchObject({ to: `+${phone}`, text: { body: "*Klaus Weber:*\nSee you on _Friday_" } });
    const delivery = await waitFor(() => portal.state.deliveries.find((d) => d.params.MESSAGES?.[0]?.im?.message_id === 86501), "the delivery confirmation");
    expect(delivery.params).toMatchObject({ CONNECTOR: CONNECTOR, LINE: lineId, MESSAGES: [{ im: { chat_id: 1807, message_id: 86501 }, message: { id: [wamidOf(sent)] }, chat: { id: phone } }] });
    // Bitrix24 does not retry, but a proxy may: the same event again sends nothing more.
    expect((await json(await post("/bitrix24/events", body))).body.outcomes).toEqual(["repeat"]);
    await new Promise((r) => setTimeout(r, 150));
    expect(graph.filter((b) => b.text?.body?.includes("See you on"))).toHaveLength(1);
  });

  it("sends an operator's file by its link", async () => {
    const body = operatorMessageBody(portal, { connector: CONNECTOR, line: lineId, chatId: phone, messageId: 86502, files: [{ name: "price.pdf", downloadLink: "/rest/download.json?token=disk%7Cabc", type: "file", mime: "application/pdf", size: 1200 }] });
    expect((await post("/bitrix24/events", body)).status).toBe(200);
    const sent = await waitFor(() => graph.find((b) => b.type === "document"), "the file at Graph");
    expect(sent.document).toEqual({ link: `${new URL(portal.url).origin}/rest/download.json?token=disk%7Cabc`, filename: "price.pdf" });
  });

  it("refuses events with a wrong application token, an unknown portal or a malformed body, changing nothing", async () => {
    const forged = operatorMessageBody(portal, { connector: CONNECTOR, line: lineId, chatId: phone, text: "forged", messageId: 86599 }, { applicationToken: "0".repeat(32) });
    expect((await post("/bitrix24/events", forged)).status).toBe(401);
    const foreign = operatorMessageBody(stranger, { connector: CONNECTOR, line: lineId, chatId: phone, text: "forged", messageId: 86598 });
    expect((await post("/bitrix24/events", foreign)).status).toBe(404);
    expect((await post("/bitrix24/events", "event=ONIMCONNECTORMESSAGEADD&data[LINE]=1")).status).toBe(400);
    const noChat = eventBody(portal, "ONIMCONNECTORMESSAGEADD", { CONNECTOR: CONNECTOR, LINE: lineId, MESSAGES: [{ im: { chat_id: 1, message_id: 2 }, message: { user_id: 27, text: "forged" } }] });
    expect((await json(await post("/bitrix24/events", noChat))).body.error.field).toBe("data[MESSAGES][0][chat][id]");
    const uninstall = eventBody(portal, "ONAPPUNINSTALL", { LANGUAGE_ID: "en", CLEAN: 0 }, { applicationToken: "f".repeat(32) });
    expect((await post("/bitrix24/events", uninstall)).status).toBe(401);
    await new Promise((r) => setTimeout(r, 150));
    expect(graph.some((b) => b.text?.body === "forged")).toBe(false);
    expect((await connection())!.state).toBe("connected");
  });

  it("shows the operator in the chat why WhatsApp refused: the 24-hour window of a customer who never wrote is closed", async () => {
    const silent = "79990001122";
    const body = operatorMessageBody(portal, { connector: CONNECTOR, line: lineId, chatId: silent, text: "Hello, this is Art Shop", messageId: 86503 });
    expect((await json(await post("/bitrix24/events", body))).body.outcomes).toEqual(["refused"]);
    const notice = await waitFor(() => portal.state.inbound.find((m) => m.message.chat.id === silent), "the refusal in the chat");
    expect(notice.line).toBe(lineId);
    expect(notice.message.message.text).toContain("24-hour window is closed");
    expect(notice.message.message.disable_crm).toBe("Y");
    expect(graph.some((b) => b.to === `+${silent}`)).toBe(false);
    expect(portal.state.deliveries.some((d) => d.params.MESSAGES?.[0]?.im?.message_id === 86503)).toBe(false);
  });

  it("runs the robot: the lead's phone, the chosen template with its variables, then bizproc.event.send with message id and status", async () => {
    const call = robotBody(portal, { documentId: ["crm", "CCrmDocumentLead", `LEAD_${leadId}`], properties: { template: "booking_reminder|ru", phone: "", vars: ["Иван", "пятницу"] } });
    expect((await post("/bitrix24/robot", call.body)).status).toBe(200);
    // Bitrix24 may call the handler again for the same step: still one send.
    expect((await json(await post("/bitrix24/robot", call.body))).body.outcome).toBe("repeat");
    const sent = await waitFor(() => graph.find((b) => b.type === "template" && b.template.name === "booking_reminder"), "the robot's template at Graph");
    expect(sent.to).toBe(`+${phone}`);
    expect(sent.template.components).toEqual([{ type: "body", parameters: [{ type: "text", text: "Иван" }, { type: "text", text: "пятницу" }] }]);
    const answer = await waitFor(() => portal.state.bizprocEvents.find((e) => e.EVENT_TOKEN === call.eventToken), "bizproc.event.send");
    expect(answer.RETURN_VALUES).toEqual({ message_id: expect.stringMatching(/^out_/), status: "sent" });
    const recorded = await api(s.url, branch.apiKey, "GET", `/api/v1/messages/${answer.RETURN_VALUES.message_id}`);
    expect(recorded.body).toMatchObject({ id: answer.RETURN_VALUES.message_id, wamid: wamidOf(sent) });
    await postWebhook(s.url, statusWebhook(wamidOf(sent), "delivered"));
    await new Promise((r) => setTimeout(r, 200));
    expect(portal.state.bizprocEvents.filter((e) => e.EVENT_TOKEN === call.eventToken)).toHaveLength(1);
    expect(graph.filter((b) => b.type === "template" && b.template.name === "booking_reminder")).toHaveLength(1);
  });

  it("runs the robot on a deal with its contact's phone, and answers 'failed' at once for a template WhatsApp does not have", async () => {
    const deal = robotBody(portal, { documentId: ["crm", "CCrmDocumentDeal", `DEAL_${dealId}`], properties: { template: "order_ready|en", vars: { 0: "Maria", 1: String(dealId) } } });
    expect((await post("/bitrix24/robot", deal.body)).status).toBe(200);
    const sent = await waitFor(() => graph.find((b) => b.type === "template" && b.template.name === "order_ready"), "the deal's template");
    expect(sent.to).toBe("+79995550000");
    await waitFor(() => portal.state.bizprocEvents.find((e) => e.EVENT_TOKEN === deal.eventToken && e.RETURN_VALUES.status === "sent"), "the deal's robot answered");

    const missing = robotBody(portal, { documentId: ["crm", "CCrmDocumentLead", `LEAD_${leadId}`], properties: { template: "no_such|ru" } });
    expect((await post("/bitrix24/robot", missing.body)).status).toBe(200);
    const failed = await waitFor(() => portal.state.bizprocEvents.find((e) => e.EVENT_TOKEN === missing.eventToken), "the failed answer");
    expect(failed.RETURN_VALUES).toEqual({ message_id: "", status: "failed" });
    expect(failed.LOG_MESSAGE).toContain("WhatsApp");

    const forged = robotBody(portal, { documentId: ["crm", "CCrmDocumentLead", `LEAD_${leadId}`], properties: { template: "booking_reminder|ru" }, applicationToken: "nope" });
    expect((await post("/bitrix24/robot", forged.body)).status).toBe(401);
    const badDoc = robotBody(portal, { documentId: ["crm", "CCrmDocumentLead", "LEAD_x"], properties: { template: "booking_reminder|ru" } });
    expect((await post("/bitrix24/robot", badDoc.body)).status).toBe(400);
  });

  it("routes a customer the portal's CRM already knows (crm.duplicate.findbycomm) to this branch", async () => {
    const known = "79110001122";
    await postWebhook(s.url, envelope(messagesValue([textMessage({ from: known, text: "Is my album ready?" })], { [known]: "Maria" })));
    await waitFor(() => portal.state.inbound.find((m) => m.message.message.text === "Is my album ready?"), "the message in Open Lines");
    const dialog = await s.store.read((tx) => tx.get("dialogs", `${branch.id}:wa:${known}`));
    expect(dialog?.routing?.rule).toBe("crm_owner");
    expect(portal.callsOf("crm.duplicate.findbycomm").length).toBeGreaterThan(0);
  });

  it("serves the card tab framed by the portal and its API: branch, window, prefilled templates, send", async () => {
    const form = installForm(portal, { placement: "CRM_LEAD_DETAIL_TAB", placementOptions: { ID: String(leadId) } });
    const page = await post(`/bitrix24/placement?${form.queryString}`, form.body);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-security-policy")).toContain(`frame-ancestors ${new URL(portal.url).origin}`);
    expect(page.headers.get("x-frame-options")).toBeNull();

    const ctx = await tab("GET", `/lead/context?lead_id=${leadId}`);
    expect(ctx).toMatchObject({
      status: 200,
      body: { bound: true, branch: { id: branch.id, code: "B24SHOP" }, lead: { id: leadId, name: "Photo session" }, contact: { name: "Ivan Petrov", phone: `+${phone}` }, window: { open: true }, dialog: { routing: { rule: "explicit_code" } } },
    });
    const reminder = ctx.body.templates.find((t: any) => t.name === "booking_reminder");
    expect(reminder.params[0]).toEqual({ key: "1", example: "Анна", prefill: "Ivan" });
    const deal = await tab("GET", `/deal/context?lead_id=${dealId}`);
    expect(deal.body).toMatchObject({ lead: { id: dealId, name: "Wedding album" }, contact: { name: "Maria Ivanova", phone: "+79995550000" } });

    const sent = await tab("POST", "/lead/send", { body: { lead_id: leadId, template: { name: "booking_reminder", language: "ru", params: ["Ivan", "Saturday"] } } });
    expect(sent).toMatchObject({ status: 202, body: { status: "queued" } });
    await waitFor(() => graph.find((b) => b.template?.components?.[0]?.parameters?.[1]?.text === "Saturday"), "the tab's template at Graph");

    expect((await tab("GET", `/lead/context?lead_id=${leadId}`, { token: "forged-token" })).status).toBe(401);
    expect((await tab("GET", `/lead/context?lead_id=${leadId}`, { token: null })).status).toBe(401);
    expect((await tab("GET", `/lead/context?lead_id=${leadId}`, { token: stranger.issueTokens(1).access_token })).status).toBe(401);
    expect((await tab("GET", `/lead/context?lead_id=${leadId}`, { member: stranger.memberId })).status).toBe(404);
    expect((await tab("GET", `/company/context?lead_id=1`)).status).toBe(400);
    expect((await tab("POST", "/lead/send", { body: { lead_id: "abc", template: { name: "x", language: "ru" } } })).body.error.field).toBe("lead_id");
  });

  it("refreshes the portal's expired access token once for concurrent calls, persisting the rotated pair", async () => {
    portal.expireAccessTokens();
    const before = world.oauthCalls.filter((c) => c.params.grant_type === "refresh_token").length;
    const tokenBefore = (await connection())!.tokensSealed;
    const token = portal.issueTokens(3).access_token;
    const results = await Promise.all([1, 2, 3, 4].map(() => tab("GET", `/lead/context?lead_id=${leadId}`, { token })));
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    expect(world.oauthCalls.filter((c) => c.params.grant_type === "refresh_token").length - before).toBe(1);
    expect((await connection())!.tokensSealed).not.toBe(tokenBefore);
  });

  it("marks the portal disconnected on ONAPPUNINSTALL, keeps its branch and data, and a reinstall reconnects it with one of each", async () => {
    const uninstall = eventBody(portal, "ONAPPUNINSTALL", { LANGUAGE_ID: "en", CLEAN: 0 });
    portal.uninstall();
    expect((await json(await post("/bitrix24/events", uninstall))).body.outcomes).toEqual(["disconnected"]);
    expect((await json(await post("/bitrix24/events", uninstall))).body.outcomes).toEqual(["repeat"]);
    const gone = (await connection())!;
    expect(gone).toMatchObject({ state: "disconnected", branchId: branch.id });
    expect(gone.tokensSealed).toBeUndefined();
    expect((await tab("GET", `/lead/context?lead_id=${leadId}`)).status).toBe(409);
    expect(await s.store.read((tx) => tx.get("dialogs", `${branch.id}:wa:${phone}`))).toBeDefined();

    portal.state.installed = true;
    const again = await install(portal);
    expect(again.reg.status).toBe(200);
    expect((await connection())!).toMatchObject({ state: "connected", branchId: branch.id });
    const regs = portal.registrations();
    expect(Object.values(regs.events)).toEqual([1, 1, 1, 1]);
    expect(Object.values(regs.placements)).toEqual([1, 1]);
    expect(regs.activeLines).toEqual({ [`${CONNECTOR}|${lineId}`]: 1 });
    expect((await tab("GET", `/lead/context?lead_id=${leadId}`)).body.bound).toBe(true);
  });
});
