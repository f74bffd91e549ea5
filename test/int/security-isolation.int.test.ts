import { createHash } from "node:crypto";
import nock from "nock";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loopbackOnly, nockGraph, openNetwork } from "../builders/graph-nock.js";
import { api, postWebhook, startTestServer, waitFor } from "../builders/harness.js";
import { envelope, messagesValue, NUMBER, textMessage } from "../builders/meta-payloads.js";
import { chatHookBody, chatHookSignature, startFakeAmo, widgetToken, type FakeAccount, type FakeAmo } from "../builders/fake-amocrm.js";
import { installForm, operatorMessageBody, robotBody, startFakeBitrix24, type FakeBitrix24, type FakePortal } from "../builders/fake-bitrix24.js";

/**
 * Tenant isolation: branch A's credentials (branch key, amoCRM account, Bitrix24 portal) against
 * branch B's resources — message ids, dialog ids, media, customers bound to B, B's leads — over every
 * branch-facing endpoint. Every attempt is refused, answers nothing of B's that the request did not
 * already name, and leaves B's records as they were.
 */

type Server = Awaited<ReturnType<typeof startTestServer>>;

const WABA = "102290129340398";
const PUBLIC = "https://branchline.example";
const CLIENT = { clientId: "0b0832f6-d123-4123-9123-e73f236833c7", clientSecret: "isolation-integration-secret-0123456789" };
const CHANNEL = { channelId: "344a5002-f8ca-454d-af3d-396180102ac8", channelSecret: "0d1f8e7c6b5a49382716f5e4d3c2b1a098765432", botId: "bot-iso" };
const CONNECTOR = "branchline_whatsapp";

const TEMPLATES = [
  {
    name: "booking_reminder", parameter_format: "POSITIONAL", language: "ru", status: "APPROVED", category: "UTILITY", id: "1001",
    components: [{ type: "BODY", text: "Здравствуйте, {{1}}! Напоминаем о записи на {{2}}.", example: { body_text: [["Анна", "пятницу"]] } }],
  },
  {
    name: "salon_closed", parameter_format: "POSITIONAL", language: "ru", status: "APPROVED", category: "UTILITY", id: "1002",
    components: [{ type: "BODY", text: "Мы перезвоним! {{1}}", example: { body_text: [["Art Play"]] } }],
  },
];

/** Phones: A's customer, B's customer, amoCRM B's customer, Bitrix24 B's customer. */
const P = { a: "79160000001", b: "79160000002", amoB: "79160000003", b24B: "79160000004" };
const IMAGE = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(1024, 3), Buffer.from([0xff, 0xd9])]);
const IMAGE_SHA = createHash("sha256").update(IMAGE).digest("base64");
const MEDIA_IDS = { a: "7000000000000001", b: "7000000000000002" };

interface Br {
  id: string;
  apiKey: string;
  code: string;
  name: string;
}

describe("tenant isolation: branch A's credentials against branch B's resources", () => {
  let s: Server;
  let amo: FakeAmo;
  let b24: FakeBitrix24;
  let accA: FakeAccount;
  let accB: FakeAccount;
  let portA: FakePortal;
  let portB: FakePortal;
  let A: Br, B: Br, amoA: Br, amoB: Br, b24A: Br, b24B: Br;
  let leadOfAmoB: number;
  let leadOfB24B: number;
  let graph: any[];
  const ids = {} as { bOut: string; bIn: string; bDialog: string; bImage: string; aImageLink: string; amoBDialog: string; b24BDialog: string };

  const dialogId = (branch: Br, phone: string) => `${branch.id}:wa:${phone}`;
  const widget = (method: string, path: string, body: unknown, token: string) =>
    fetch(`${s.url}/amocrm/widget${path}`, { method, headers: { "x-auth-token": token, ...(body === undefined ? {} : { "content-type": "application/json" }) }, body: body === undefined ? undefined : JSON.stringify(body) });
  const amoToken = (acc: FakeAccount, overrides?: Record<string, unknown>) => widgetToken({ account: acc, ...CLIENT, aud: PUBLIC, overrides });
  const form = (path: string, body: string) => fetch(`${s.url}${path}`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body });
  const tab = (method: string, path: string, member: FakePortal, token: string, body?: unknown) =>
    fetch(`${s.url}/bitrix24/app${path}`, { method, headers: { "x-b24-auth": token, "x-b24-member": member.memberId, ...(body === undefined ? {} : { "content-type": "application/json" }) }, body: body === undefined ? undefined : JSON.stringify(body) });
  const customerWrites = (phone: string, text: string, name: string) => postWebhook(s.url, envelope(messagesValue([textMessage({ from: phone, text })], { [phone]: name })));
  const customerSendsImage = (phone: string, mediaId: string) =>
    postWebhook(
      s.url,
      envelope({
        messaging_product: "whatsapp",
        metadata: { display_phone_number: NUMBER.display, phone_number_id: NUMBER.phoneNumberId },
        contacts: [{ profile: { name: "Customer" }, wa_id: phone }],
        messages: [{ from: phone, id: `wamid.IMG${mediaId}`, timestamp: String(Math.floor(Date.now() / 1000)), type: "image", image: { mime_type: "image/jpeg", sha256: IMAGE_SHA, id: mediaId } }],
      }),
    );

  /** Everything of B's that a leak would show: ids, names, phones, texts. */
  const markers = () => [B.id, B.name, P.b, "bravo-secret-text", amoB.id, amoB.name, P.amoB, "Boris Bravo", "Bravo lead", b24B.id, b24B.name, P.b24B, "Bella Bravo", "B24 bravo lead", ids.bOut, ids.bIn];

  /** B's records: unchanged by anything A tries. */
  async function snapshotOfB(): Promise<string> {
    return s.store.read(async (tx) => {
      const out: unknown[] = [];
      for (const d of [ids.bDialog, ids.amoBDialog, ids.b24BDialog]) {
        const dialog = await tx.get("dialogs", d);
        out.push(dialog, await tx.byIndex("messages", "dialogId", d));
        if (dialog) out.push(await tx.get("bindings", dialog.customerId));
      }
      out.push(await tx.byIndex("handovers", "branchId", B.id), await tx.get("crmConnections", `amocrm:${accB.id}`), await tx.get("crmConnections", `bitrix24:${portB.memberId}`));
      for (const br of [B, amoB, b24B]) out.push(await tx.get("branches", br.id));
      return JSON.stringify(out);
    });
  }

  beforeAll(async () => {
    loopbackOnly();
    graph = nockGraph({ templates: TEMPLATES, wamidPrefix: "ISO" }).bodies;
    for (const id of Object.values(MEDIA_IDS)) {
      nock("http://graph.test")
        .persist()
        .get(`/v25.0/${id}`)
        .query(true)
        .reply(200, { messaging_product: "whatsapp", url: `http://lookaside.test/whatsapp_business/attachments/?mid=${id}`, mime_type: "image/jpeg", sha256: IMAGE_SHA, file_size: String(IMAGE.length), id });
    }
    nock("http://lookaside.test").persist().get("/whatsapp_business/attachments/").query(true).reply(200, IMAGE, { "content-type": "image/jpeg" });

    amo = await startFakeAmo({ ...CLIENT, redirectUri: `${PUBLIC}/amocrm/oauth`, ...CHANNEL });
    accA = await amo.addAccount({ id: 40000001, subdomain: "alpha" });
    accB = await amo.addAccount({ id: 40000002, subdomain: "bravo" });
    leadOfAmoB = accB.addLead({ name: "Bravo lead", contactId: accB.addContact({ name: "Boris Bravo", phone: `+${P.amoB}` }) });
    accA.addLead({ name: "Alpha lead", contactId: accA.addContact({ name: "Anna Alpha", phone: `+${P.a}` }) });

    b24 = await startFakeBitrix24();
    portA = await b24.addPortal();
    portB = await b24.addPortal();
    portA.addLead({ TITLE: "Alpha deal", NAME: "Anna", PHONE: [{ VALUE: `+${P.a}`, VALUE_TYPE: "MOBILE" }] });
    // Ids in B's portal beyond any in A's: a lead id of B names nothing in A's portal.
    for (let i = 0; i < 5; i++) portB.addCompany({ TITLE: `filler ${i}` });
    leadOfB24B = portB.addLead({ TITLE: "B24 bravo lead", NAME: "Bella", LAST_NAME: "Bravo", PHONE: [{ VALUE: `+${P.b24B}`, VALUE_TYPE: "MOBILE" }] });

    s = await startTestServer({
      PUBLIC_URL: PUBLIC,
      WHATSAPP_WABA_ID: WABA,
      ...amo.env,
      ...b24.env,
    });
    const create = async (name: string, code: string, crm: string, extra: Record<string, unknown> = {}): Promise<Br> => {
      const res = await api(s.url, s.adminToken, "POST", "/admin/api/branches", { name, code, crm, ...extra });
      expect(res.status).toBe(201);
      return res.body;
    };
    const trigger = (name: string) => ({ callTrigger: { template: "salon_closed", language: "ru", params: [name], cooldownHours: 24 } });
    await waitFor(async () => (await api(s.url, s.adminToken, "GET", "/admin/api/templates")).body.templates.length === TEMPLATES.length, "templates synced");
    A = await create("Alpha Salon", "ALPHA", "inbox", { isHq: true, ...trigger("Alpha") });
    B = await create("Bravo Salon", "BRAVO", "inbox", trigger("Bravo"));
    amoA = await create("Alpha amo", "AMOA", "amocrm");
    amoB = await create("Bravo amo", "AMOB", "amocrm");
    b24A = await create("Alpha b24", "B24A", "bitrix24");
    b24B = await create("Bravo b24", "B24B", "bitrix24");

    // amoCRM: both accounts install and bind to their branch.
    for (const [acc, br] of [[accA, amoA], [accB, amoB]] as const) {
      expect((await fetch(`${s.url}/amocrm/oauth?code=${encodeURIComponent(acc.issueCode())}&referer=${encodeURIComponent(acc.domain)}&from_widget=1`)).status).toBe(200);
      await waitFor(() => amo.connections.get(acc.amojoId)?.connected, `account ${acc.id} connected`);
      expect((await widget("POST", "/register", { branch_key: br.apiKey }, amoToken(acc))).status).toBe(200);
    }
    // Bitrix24: both portals install and bind to their branch.
    for (const [portal, br] of [[portA, b24A], [portB, b24B]] as const) {
      const f = installForm(portal);
      expect((await form(`/bitrix24/install?${f.queryString}`, f.body)).status).toBe(200);
      const reg = await fetch(`${s.url}/bitrix24/register`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ member_id: portal.memberId, auth: f.fields.AUTH_ID, branch_key: br.apiKey }) });
      expect(reg.status).toBe(200);
    }

    // Customers write; each is routed by the branch code in the text.
    await customerWrites(P.a, "Hi ALPHA", "Anna Alpha");
    await customerWrites(P.b, "Hi BRAVO bravo-secret-text", "Bob Bravo");
    await customerWrites(P.amoB, "Hi AMOB", "Boris Bravo");
    await customerWrites(P.b24B, "Hi B24B", "Bella Bravo");
    await customerSendsImage(P.a, MEDIA_IDS.a);
    await customerSendsImage(P.b, MEDIA_IDS.b);
    ids.bDialog = dialogId(B, P.b);
    ids.amoBDialog = dialogId(amoB, P.amoB);
    ids.b24BDialog = dialogId(b24B, P.b24B);
    const inboxOf = (br: Br, d: string) => api(s.url, br.apiKey, "GET", `/inbox/api/dialogs/${encodeURIComponent(d)}/messages`);
    const aImage = await waitFor(async () => (await inboxOf(A, dialogId(A, P.a))).body.messages?.find((m: any) => m.kind === "image" && m.media?.url), "A's image stored");
    ids.aImageLink = aImage.media.url;
    const bMessages = await waitFor(async () => {
      const m = (await inboxOf(B, ids.bDialog)).body.messages;
      return m?.some((x: any) => x.kind === "image" && x.media?.url) && m;
    }, "B's image stored");
    ids.bIn = bMessages.find((m: any) => m.kind === "text").id;
    ids.bImage = bMessages.find((m: any) => m.kind === "image").id;
    const out = await api(s.url, B.apiKey, "POST", "/api/v1/messages", { to: `+${P.b}`, text: "Bravo reply bravo-secret-text" });
    expect(out.status).toBe(202);
    ids.bOut = out.body.id;
    await waitFor(async () => (await api(s.url, B.apiKey, "GET", `/api/v1/messages/${ids.bOut}`)).body.status === "sent", "B's reply sent");
    await waitFor(() => amo.messages.find((m) => m.body.payload.message.text === "Hi AMOB"), "amoCRM B got its customer");
    await waitFor(() => portB.state.inbound.find((m) => m.message.message.text === "Hi B24B"), "Bitrix24 B got its customer");
    // Deliveries settle (amoCRM chat ids, Bitrix24 session ids land on the dialogs).
    await waitFor(async () => (await s.store.read((tx) => tx.get("dialogs", ids.b24BDialog)))?.crmRefs?.b24ChatId, "Bitrix24 ids on B's dialog");
    await new Promise((r) => setTimeout(r, 300));
  });

  afterAll(async () => {
    await s?.close();
    await amo?.close();
    await b24?.close();
    openNetwork();
  });

  interface Attempt {
    area: string;
    what: string;
    allowed: number[];
    run(): Promise<{ res: Response; request: string }>;
  }

  const withKey = (key: string, method: string, path: string, body?: unknown) => async () => ({
    res: await fetch(`${s.url}${path}`, { method, headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { "content-type": "application/json" }) }, body: body === undefined ? undefined : JSON.stringify(body) }),
    request: `${path} ${JSON.stringify(body ?? "")}`,
  });
  const raw = (request: string, send: () => Promise<Response>) => async () => ({ res: await send(), request });

  /** The matrix. Built lazily: ids exist only after beforeAll. */
  const matrix = (): Attempt[] => {
    const bD = encodeURIComponent(ids.bDialog);
    const aLink = new URL(ids.aImageLink, s.url);
    const amoHook = (body: string) => raw(body, () => fetch(`${s.url}/amocrm/chats/${amo.connections.get(accA.amojoId)!.scopeId}`, { method: "POST", headers: { "content-type": "application/json", "x-signature": chatHookSignature(body, CHANNEL.channelSecret) }, body }));
    const convOfB = chatHookBody({ amojoAccountId: accA.amojoId, conversationId: `bl:${ids.amoBDialog}`, phone: P.amoB, text: "from A into B's conversation" });
    const accountOfB = chatHookBody({ amojoAccountId: accB.amojoId, conversationId: `bl:${ids.amoBDialog}`, phone: P.amoB, text: "B's account id in A's scope" });
    const tokA = () => portA.issueTokens(3).access_token;
    return [
      { area: "branch API", what: "GET B's outbound message", allowed: [404], run: withKey(A.apiKey, "GET", `/api/v1/messages/${ids.bOut}`) },
      { area: "branch API", what: "GET B's inbound message", allowed: [404], run: withKey(A.apiKey, "GET", `/api/v1/messages/${ids.bIn}`) },
      { area: "handover", what: "hand over B's customer", allowed: [404], run: withKey(A.apiKey, "POST", "/api/v1/handover", { phone: `+${P.b}`, reason: "steal" }) },
      { area: "handover", what: "admin handover of B's dialog with a branch key", allowed: [401], run: withKey(A.apiKey, "POST", `/admin/api/dialogs/${bD}/handover`, {}) },
      { area: "admin", what: "list branches with a branch key", allowed: [401], run: withKey(A.apiKey, "GET", "/admin/api/branches") },
      { area: "admin", what: "read B's customer with a branch key", allowed: [401], run: withKey(A.apiKey, "GET", `/admin/api/customers/wa:${P.b}`) },
      { area: "admin", what: "rotate B's key with a branch key", allowed: [401], run: withKey(A.apiKey, "POST", `/admin/api/branches/${B.id}/rotate-key`) },
      { area: "flows", what: "flow definitions and runs with a branch key", allowed: [401], run: withKey(A.apiKey, "GET", "/admin/api/flows") },
      { area: "handover", what: "list handovers with a branch key", allowed: [401], run: withKey(A.apiKey, "GET", `/admin/api/handovers?branchId=${B.id}`) },
      { area: "inbox API", what: "read B's dialog", allowed: [404], run: withKey(A.apiKey, "GET", `/inbox/api/dialogs/${bD}/messages`) },
      { area: "inbox API", what: "reply in B's dialog", allowed: [404], run: withKey(A.apiKey, "POST", `/inbox/api/dialogs/${bD}/messages`, { text: "hijack" }) },
      { area: "inbox API", what: "mark B's dialog read", allowed: [404], run: withKey(A.apiKey, "POST", `/inbox/api/dialogs/${bD}/read`) },
      { area: "inbox API", what: "list dialogs (only A's)", allowed: [200], run: withKey(A.apiKey, "GET", "/inbox/api/dialogs") },
      { area: "inbox API", what: "amoCRM branch's key lists only its dialogs", allowed: [200], run: withKey(amoA.apiKey, "GET", "/inbox/api/dialogs") },
      { area: "media", what: "A's signature on B's media id", allowed: [403], run: raw(aLink.search, () => fetch(`${s.url}/media/${ids.bImage}${aLink.search}`)) },
      { area: "media", what: "B's media with A's branch key, unsigned", allowed: [403], run: withKey(A.apiKey, "GET", `/media/${ids.bImage}`) },
      { area: "amoCRM widget", what: "context of B's lead with A's token", allowed: [404], run: raw(`lead ${leadOfAmoB}`, () => widget("GET", `/context?lead_id=${leadOfAmoB}`, undefined, amoToken(accA))) },
      { area: "amoCRM widget", what: "send to B's lead with A's token", allowed: [404], run: raw(`lead ${leadOfAmoB}`, () => widget("POST", "/send", { lead_id: leadOfAmoB, template: { name: "booking_reminder", language: "ru", params: ["x", "y"] } }, amoToken(accA))) },
      { area: "amoCRM widget", what: "transfer B's lead with A's token", allowed: [404], run: raw(`lead ${leadOfAmoB} ${amoA.id}`, () => widget("POST", "/transfer", { lead_id: leadOfAmoB, branch_id: amoA.id }, amoToken(accA))) },
      { area: "amoCRM widget", what: "A's token claiming B's account id", allowed: [401], run: raw(`lead ${leadOfAmoB}`, () => widget("GET", `/context?lead_id=${leadOfAmoB}`, undefined, amoToken(accA, { account_id: accB.id }))) },
      { area: "amoCRM chat hook", what: "A's scope writing into B's conversation", allowed: [404], run: amoHook(convOfB) },
      { area: "amoCRM chat hook", what: "B's account id in A's scope", allowed: [403], run: amoHook(accountOfB) },
      { area: "Bitrix24 card tab", what: "A's portal reads B's lead", allowed: [404], run: raw(`lead ${leadOfB24B}`, () => tab("GET", `/lead/context?lead_id=${leadOfB24B}`, portA, tokA())) },
      { area: "Bitrix24 card tab", what: "A's portal sends to B's lead", allowed: [404], run: raw(`lead ${leadOfB24B}`, () => tab("POST", "/lead/send", portA, tokA(), { lead_id: leadOfB24B, template: { name: "booking_reminder", language: "ru", params: ["x", "y"] } })) },
      { area: "Bitrix24 card tab", what: "A's portal transfers B's lead", allowed: [404], run: raw(`lead ${leadOfB24B} ${b24A.id}`, () => tab("POST", "/lead/transfer", portA, tokA(), { lead_id: leadOfB24B, branch_id: b24A.id })) },
      { area: "Bitrix24 card tab", what: "A's token presented as B's portal", allowed: [401], run: raw(`${portB.memberId} lead ${leadOfB24B}`, () => tab("GET", `/lead/context?lead_id=${leadOfB24B}`, portB, tokA())) },
      { area: "Bitrix24 events", what: "B's member id with A's application token", allowed: [401], run: raw(P.b24B, () => form("/bitrix24/events", operatorMessageBody(portB, { connector: CONNECTOR, line: "1", chatId: P.b24B, text: "forged into B", messageId: 99001 }, { applicationToken: portA.applicationToken }))) },
      { area: "Bitrix24 robot", what: "B's member id with A's application token", allowed: [401], run: raw(`${leadOfB24B}`, () => form("/bitrix24/robot", robotBody(portB, { documentId: ["crm", "CCrmDocumentLead", `LEAD_${leadOfB24B}`], properties: { template: "booking_reminder|ru", vars: ["x", "y"] }, applicationToken: portA.applicationToken }).body)) },
    ];
  };

  it("refuses every attempt of A on B's resources, answers nothing of B's and changes nothing of B's", async () => {
    const before = await snapshotOfB();
    const graphBefore = graph.filter((b) => [P.b, P.amoB, P.b24B].some((p) => b.to === `+${p}`)).length;
    const rows: string[] = [];
    const attempts = matrix();
    for (const attempt of attempts) {
      const { res, request } = await attempt.run();
      const text = await res.text();
      const leaked = markers().filter((m) => m && text.includes(m) && !request.includes(m));
      rows.push(`${attempt.area} | ${attempt.what} | ${res.status}${leaked.length ? ` | LEAKED ${leaked.join(", ")}` : ""}`);
      expect({ what: attempt.what, status: res.status, leaked }).toEqual({ what: attempt.what, status: expect.toSatisfy((st: number) => attempt.allowed.includes(st)), leaked: [] });
    }
    expect(rows).toHaveLength(attempts.length);
    // Let anything that was (wrongly) queued run, then compare.
    await new Promise((r) => setTimeout(r, 400));
    expect(await snapshotOfB()).toBe(before);
    expect(graph.filter((b) => [P.b, P.amoB, P.b24B].some((p) => b.to === `+${p}`)).length).toBe(graphBefore);
    expect(amo.messages.some((m) => /from A into|B's account id/.test(m.body.payload?.message?.text ?? ""))).toBe(false);
  });

  it("A's inbox stream carries none of B's events", async () => {
    const ctrl = new AbortController();
    const res = await fetch(`${s.url}/inbox/api/stream`, { headers: { authorization: `Bearer ${A.apiKey}` }, signal: ctrl.signal });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    let seen = "";
    const reading = (async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        seen += Buffer.from(value).toString("utf8");
        if (seen.includes("alpha-after-bravo")) return;
      }
    })();
    await customerWrites(P.b, "BRAVO again bravo-secret-text", "Bob Bravo");
    await waitFor(async () => (await api(s.url, B.apiKey, "GET", `/inbox/api/dialogs/${encodeURIComponent(ids.bDialog)}/messages`)).body.messages.some((m: any) => m.text === "BRAVO again bravo-secret-text"), "B got its message");
    await customerWrites(P.a, "alpha-after-bravo", "Anna Alpha");
    await Promise.race([reading, new Promise((_, rej) => setTimeout(() => rej(new Error("A's own message never arrived on its stream")), 10_000))]);
    ctrl.abort();
    expect(seen).toContain("alpha-after-bravo");
    for (const m of [P.b, "bravo-secret-text", B.id]) expect(seen).not.toContain(m);
  });

  it("the window and call endpoints, shared by design, say nothing about which branch the customer is with", async () => {
    const win = await api(s.url, A.apiKey, "GET", `/api/v1/window?to=%2B${P.b}`);
    expect(win.status).toBe(200);
    expect(Object.keys(win.body).sort()).toEqual(["closesAt", "open", "openedAt", "optedOutOfMarketing", "to"]);
    // B's trigger answers a caller; A's trigger for the same caller is held by the network-wide cooldown without naming B.
    const caller = "+79160000009";
    expect((await api(s.url, B.apiKey, "POST", "/api/v1/calls", { caller, event: "missed" })).body.status).toBe("queued");
    const second = await api(s.url, A.apiKey, "POST", "/api/v1/calls", { caller, event: "missed" });
    expect(second.body).toMatchObject({ status: "skipped", reason: "cooldown" });
    const text = JSON.stringify(second.body);
    for (const m of [B.id, B.code, B.name, "Bravo"]) expect(text).not.toContain(m);
  });

  it("by design a branch may write to any customer (the window is the number's): B's dialog and inbox stay untouched", async () => {
    const before = await s.store.read(async (tx) => JSON.stringify([await tx.get("dialogs", ids.bDialog), await tx.byIndex("messages", "dialogId", ids.bDialog)]));
    const sent = await api(s.url, A.apiKey, "POST", "/api/v1/messages", { to: `+${P.b}`, text: "Alpha writes too" });
    expect(sent.status).toBe(202);
    expect(Object.keys(sent.body).sort()).toEqual(["id", "status"]);
    const started = await api(s.url, s.adminToken, "POST", "/admin/api/flows/examples/nps", {});
    expect(started.status).toBe(201);
    const run = await api(s.url, A.apiKey, "POST", "/api/v1/flows/nps/start", { phone: `+${P.b}` });
    expect(run.status).toBe(201);
    expect(run.body.branchId).toBe(A.id);
    for (const m of [B.id, "bravo-secret-text"]) expect(JSON.stringify(run.body)).not.toContain(m);
    await waitFor(() => graph.find((b) => b.text?.body === "Alpha writes too"), "A's message sent");
    const after = await s.store.read(async (tx) => JSON.stringify([await tx.get("dialogs", ids.bDialog), await tx.byIndex("messages", "dialogId", ids.bDialog)]));
    expect(after).toBe(before);
    const bInbox = await api(s.url, B.apiKey, "GET", `/inbox/api/dialogs/${encodeURIComponent(ids.bDialog)}/messages`);
    expect(JSON.stringify(bInbox.body)).not.toContain("Alpha writes too");
  });
});
