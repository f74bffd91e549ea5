import fc from "fast-check";
import nock from "nock";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signMetaPayload } from "../../backend/src/channels/whatsapp/webhook-signature.js";
import { createLogger } from "../../backend/src/ops/logger.js";
import { startServer, type RunningServer } from "../../backend/src/server.js";
import { LowdbStore } from "../../backend/src/store/lowdb/lowdb.store.js";
import { INDEXES } from "../../backend/src/store/store.port.js";
import { loopbackOnly, nockGraph, openNetwork } from "../builders/graph-nock.js";
import { APP_SECRET, productionEnv, tempDir, waitFor } from "../builders/harness.js";
import { NUMBER } from "../builders/meta-payloads.js";
import { botToken, chatHookSignature, startFakeAmo, widgetToken, type FakeAccount, type FakeAmo } from "../builders/fake-amocrm.js";
import { installForm, phpForm, startFakeBitrix24, type FakeBitrix24, type FakePortal } from "../builders/fake-bitrix24.js";

/**
 * Bad input at volume (fast-check): random and near-valid bodies at every endpoint that takes
 * outside input. Whatever comes in: never a 5xx, the process keeps answering /healthz, refused
 * input stores nothing, and what is stored still parses after a restart. Runs are bounded so the
 * file stays well under a minute on two cores; a failure prints its seed and shrunk input.
 */

const WABA = "102290129340398";
const PUBLIC = "https://branchline.example";
const CLIENT = { clientId: "0b0832f6-d123-4123-9123-e73f236833e1", clientSecret: "fuzz-integration-secret-0123456789" };
const CHANNEL = { channelId: "344a5002-f8ca-454d-af3d-396180102ae1", channelSecret: "fuzz-channel-secret-0d1f8e7c6b5a4938", botId: "bot-fuzz" };
const TEMPLATES = [
  {
    name: "booking_reminder", parameter_format: "POSITIONAL", language: "ru", status: "APPROVED", category: "UTILITY", id: "1001",
    components: [{ type: "BODY", text: "Здравствуйте, {{1}}! Напоминаем о записи на {{2}}.", example: { body_text: [["Анна", "пятницу"]] } }],
  },
];
/** encodeURIComponent that also takes lone surrogates (the fuzzer makes them). */
const enc = (v: string) => encodeURIComponent(v.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, "\ufffd"));
const RUNS = { cheap: 60, medium: 30, crm: 15 };

// ── generators ──
const anyJson = fc.jsonValue({ maxDepth: 4 });
/** Strings that break parsers: unicode, control characters, huge numbers, prototype keys. */
const nasty = fc.oneof(
  fc.string({ maxLength: 40, unit: "binary" }),
  fc.constantFrom("", " ", "__proto__", "constructor", "toString", "NaN", "1e309", "-0", "\u0000", "\ud800", "+7 (916) 123-45-67", "79161234567", "<script>", "../../etc/passwd", "{{1}}", "%00", "[]"),
);
const scalar = fc.oneof(nasty, fc.integer(), fc.double(), fc.boolean(), fc.constant(null));
const digits = fc.stringMatching(/^\d{5,16}$/);
const phoneish = fc.oneof(digits, nasty, fc.integer().map(String));
/** A Meta `messages` value near the documented schema: every field may be missing, mistyped or odd. */
const metaMessage = fc.record(
  {
    from: phoneish,
    id: fc.oneof(fc.string({ maxLength: 30 }).map((s) => `wamid.${s}`), scalar),
    timestamp: fc.oneof(fc.integer({ min: 0, max: 4_000_000_000 }).map(String), scalar),
    type: fc.oneof(fc.constantFrom("text", "image", "audio", "video", "document", "sticker", "location", "contacts", "interactive", "button", "reaction", "order", "system", "unsupported", "request_welcome"), nasty),
    text: fc.oneof(fc.record({ body: fc.oneof(fc.string({ maxLength: 200 }), scalar) }), scalar),
    image: fc.record({ id: fc.oneof(digits, scalar), mime_type: fc.oneof(fc.constant("image/jpeg"), nasty), sha256: nasty }, { requiredKeys: [] }),
    interactive: fc.record({ type: fc.constantFrom("button_reply", "list_reply", "nfm_reply", "x"), button_reply: fc.record({ id: nasty, title: nasty }), list_reply: anyJson, nfm_reply: fc.record({ response_json: nasty }) }, { requiredKeys: [] }),
    context: fc.record({ id: nasty, from: nasty }, { requiredKeys: [] }),
    referral: fc.record({ source_id: nasty, source_type: nasty }, { requiredKeys: [] }),
    location: anyJson,
    contacts: anyJson,
  },
  { requiredKeys: ["from", "type"] },
);
const metaStatus = fc.record({ id: nasty, status: fc.oneof(fc.constantFrom("sent", "delivered", "read", "failed", "played"), nasty), timestamp: fc.oneof(digits, scalar), recipient_id: phoneish, errors: anyJson, pricing: anyJson }, { requiredKeys: [] });
const metaValue = fc.record(
  {
    messaging_product: fc.oneof(fc.constant("whatsapp"), nasty),
    metadata: fc.oneof(fc.constant({ display_phone_number: NUMBER.display, phone_number_id: NUMBER.phoneNumberId }), anyJson),
    contacts: fc.oneof(fc.array(fc.record({ profile: fc.record({ name: nasty }), wa_id: phoneish, user_id: nasty }, { requiredKeys: [] }), { maxLength: 3 }), scalar),
    messages: fc.oneof(fc.array(metaMessage, { maxLength: 4 }), scalar),
    statuses: fc.oneof(fc.array(metaStatus, { maxLength: 3 }), scalar),
    errors: anyJson,
  },
  { requiredKeys: [] },
);
const metaField = fc.oneof(fc.constantFrom("messages", "message_template_status_update", "phone_number_quality_update", "account_alerts", "user_preferences", "template_category_update"), nasty);
const metaBody = fc.oneof(
  fc.record({ object: fc.oneof(fc.constant("whatsapp_business_account"), nasty), entry: fc.oneof(fc.array(fc.record({ id: fc.oneof(fc.constant(WABA), nasty), changes: fc.oneof(fc.array(fc.record({ field: metaField, value: fc.oneof(metaValue, anyJson) }), { maxLength: 3 }), scalar) }, { requiredKeys: [] }), { maxLength: 3 }), scalar) }, { requiredKeys: [] }),
  anyJson,
);
/** PHP bracket keys to random depth: `a[b][0][]`. */
const bracketKey = fc.tuple(fc.oneof(fc.constantFrom("event", "data", "auth", "code", "document_id", "properties", "event_token", "member_id", "PLACEMENT"), nasty), fc.array(fc.oneof(fc.constant(""), fc.nat(5).map(String), nasty), { maxLength: 6 })).map(([k, path]) => `${k}${path.map((p) => `[${p}]`).join("")}`);
const nestedForm = fc.array(fc.tuple(bracketKey, fc.oneof(nasty, fc.integer().map(String))), { maxLength: 12 }).map((pairs) => pairs.map(([k, v]) => `${enc(k)}=${enc(v)}`).join("&"));

describe("fuzz: no 5xx, no crash, no stored garbage", () => {
  let dir: { dir: string; remove(): Promise<void> };
  let s: RunningServer;
  let amo: FakeAmo;
  let acc: FakeAccount;
  let b24: FakeBitrix24;
  let portal: FakePortal;
  let key: string;
  let branchId: string;
  let amoKey: string;
  let leadId: number;
  const ADMIN = "fuzz-admin-token-0123456789";
  const statuses: number[] = [];

  /** Sends, records the status, and fails the property on a 5xx. */
  async function call(path: string, init: RequestInit & { headers?: Record<string, string> } = {}): Promise<{ status: number; text: string }> {
    const res = await fetch(`${s.url}${path}`, init);
    const text = await res.text();
    statuses.push(res.status);
    if (res.status >= 500) throw new Error(`${init.method ?? "GET"} ${path} answered ${res.status}: ${text.slice(0, 300)}`);
    return { status: res.status, text };
  }
  const json = (method: string, path: string, body: unknown, headers: Record<string, string> = {}) =>
    call(path, { method, headers: { "content-type": "application/json", ...headers }, body: typeof body === "string" ? body : JSON.stringify(body) });
  const admin = (method: string, path: string, body?: unknown) => (body === undefined ? call(path, { method, headers: { authorization: `Bearer ${ADMIN}` } }) : json(method, path, body, { authorization: `Bearer ${ADMIN}` }));
  const branch = (method: string, path: string, body?: unknown) => (body === undefined ? call(path, { method, headers: { authorization: `Bearer ${key}` } }) : json(method, path, body, { authorization: `Bearer ${key}` }));
  const branchIds = async () => JSON.parse((await admin("GET", "/admin/api/branches")).text).map((b: { id: string }) => b.id).sort() as string[];

  beforeAll(async () => {
    loopbackOnly();
    nockGraph({ templates: TEMPLATES, wamidPrefix: "FUZZ" });
    // Media lookups of random ids: Meta says it does not know them.
    nock("http://graph.test").persist().get(/\/v25\.0\/.*/).reply(404, { error: { message: "Unsupported get request.", type: "GraphMethodException", code: 100, error_subcode: 33 } });
    amo = await startFakeAmo({ ...CLIENT, redirectUri: `${PUBLIC}/amocrm/oauth`, ...CHANNEL });
    acc = await amo.addAccount({ id: 43000001, subdomain: "fuzz" });
    leadId = acc.addLead({ name: "Lead", contactId: acc.addContact({ name: "Ivan", phone: "+79161239999" }) });
    b24 = await startFakeBitrix24();
    portal = await b24.addPortal();
    dir = await tempDir("branchline-fuzz-");
    s = await startServer(
      productionEnv(dir.dir, {
        PUBLIC_URL: PUBLIC,
        ADMIN_TOKEN: ADMIN,
        ADMIN_RATE_LIMIT: "1000000",
        WHATSAPP_WABA_ID: WABA,
        ...amo.env,
        ...b24.env,
      }),
      { logger: createLogger("silent") },
    );
    await waitFor(async () => JSON.parse((await admin("GET", "/admin/api/templates")).text).templates.length === 1, "templates synced");
    const created = JSON.parse((await admin("POST", "/admin/api/branches", { name: "Fuzz HQ", code: "FUZZHQ", crm: "inbox", isHq: true })).text);
    key = created.apiKey;
    branchId = created.id;
    amoKey = JSON.parse((await admin("POST", "/admin/api/branches", { name: "Fuzz amo", code: "FUZZAMO", crm: "amocrm" })).text).apiKey;
    const b24Key = JSON.parse((await admin("POST", "/admin/api/branches", { name: "Fuzz b24", code: "FUZZB24", crm: "bitrix24" })).text).apiKey;
    expect((await fetch(`${s.url}/amocrm/oauth?code=${encodeURIComponent(acc.issueCode())}&referer=${encodeURIComponent(acc.domain)}`)).status).toBe(200);
    await waitFor(() => amo.connections.get(acc.amojoId)?.connected, "amoCRM connected");
    expect((await json("POST", "/amocrm/widget/register", { branch_key: amoKey }, { "x-auth-token": widgetToken({ account: acc, ...CLIENT, aud: PUBLIC }) })).status).toBe(200);
    const f = installForm(portal);
    expect((await call(`/bitrix24/install?${f.queryString}`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: f.body })).status).toBe(200);
    expect((await json("POST", "/bitrix24/register", { member_id: portal.memberId, auth: f.fields.AUTH_ID, branch_key: b24Key })).status).toBe(200);
  }, 30_000);

  afterAll(async () => {
    await s?.close().catch(() => undefined);
    await amo?.close();
    await b24?.close();
    await dir?.remove();
    openNetwork();
  });

  it("Meta webhook: signed near-schema JSON and signed garbage are stored or refused, never a 5xx; unsigned ones are refused", async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(metaBody.map((b) => JSON.stringify(b)), fc.string({ maxLength: 300, unit: "binary" })), async (raw) => {
        const signed = await call("/webhooks/whatsapp", { method: "POST", headers: { "content-type": "application/json", "x-hub-signature-256": signMetaPayload(raw, APP_SECRET) }, body: raw });
        expect([200, 400]).toContain(signed.status);
        const unsigned = await call("/webhooks/whatsapp", { method: "POST", headers: { "content-type": "application/json", "x-hub-signature-256": `sha256=${"0".repeat(64)}` }, body: raw });
        expect(unsigned.status).toBe(401);
      }),
      { numRuns: RUNS.cheap },
    );
    // The inbound worker works through all of it: no job left running, no crash.
    await waitFor(async () => (await s.store.read((tx) => tx.countByIndex("jobs", "queueState", "inbound|pending"))) === 0, "inbound jobs drained", 20_000);
    expect((await call("/healthz")).status).toBe(200);
  });

  it("amoCRM chat hook: signed random bodies are refused or handled, never a 5xx", async () => {
    const scope = amo.connections.get(acc.amojoId)!.scopeId;
    const nearHook = fc.record(
      {
        account_id: fc.oneof(fc.constant(acc.amojoId), nasty),
        time: scalar,
        message: fc.oneof(
          fc.record({
            receiver: fc.record({ id: nasty, phone: phoneish, client_id: nasty }, { requiredKeys: [] }),
            conversation: fc.record({ id: nasty, client_id: fc.oneof(fc.constant(`bl:${branchId}:wa:79161239999`), nasty) }, { requiredKeys: [] }),
            message: fc.record({ id: nasty, type: fc.oneof(fc.constantFrom("text", "picture", "file", "voice"), nasty), text: fc.oneof(fc.string({ maxLength: 100 }), scalar), media: nasty, file_name: nasty, template: anyJson }, { requiredKeys: [] }),
          }, { requiredKeys: [] }),
          anyJson,
        ),
      },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(fc.oneof(nearHook.map((b) => JSON.stringify(b)), fc.string({ maxLength: 200 })), async (raw) => {
        const r = await call(`/amocrm/chats/${scope}`, { method: "POST", headers: { "content-type": "application/json", "x-signature": chatHookSignature(raw, CHANNEL.channelSecret) }, body: raw });
        expect([200, 400, 403, 404, 409, 422]).toContain(r.status);
      }),
      { numRuns: RUNS.medium },
    );
  });

  it("amoCRM Salesbot: random JSON and form bodies, with or without a valid token, never a 5xx", async () => {
    const token = () => botToken({ account: acc, ...CLIENT, aud: PUBLIC, entityId: leadId });
    await fc.assert(
      fc.asyncProperty(fc.boolean(), anyJson, nestedForm, fc.boolean(), async (asJson, data, formBody, withToken) => {
        if (asJson) {
          const body = withToken ? { token: token(), data, return_url: `http://${acc.domain}/api/v4/salesbot/1/continue/${Math.random().toString(36).slice(2)}` } : data;
          const r = await json("POST", "/amocrm/salesbot", body);
          expect([200, 400, 401, 409]).toContain(r.status);
        } else {
          const r = await call("/amocrm/salesbot", { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: withToken ? `token=${token()}&${formBody}` : formBody });
          expect([200, 400, 401, 409]).toContain(r.status);
        }
      }),
      { numRuns: RUNS.medium },
    );
  });

  it("amoCRM widget API with a valid token: random bodies and lead ids, never a 5xx", async () => {
    const t = () => ({ "x-auth-token": widgetToken({ account: acc, ...CLIENT, aud: PUBLIC }) });
    const widgetBody = fc.oneof(
      anyJson,
      fc.record({ lead_id: fc.oneof(fc.integer(), nasty), template: fc.oneof(fc.record({ name: fc.oneof(fc.constant("booking_reminder"), nasty), language: fc.oneof(fc.constant("ru"), nasty), params: anyJson }, { requiredKeys: [] }), scalar), branch_id: nasty, branch_key: nasty }, { requiredKeys: [] }),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom("/send", "/transfer", "/register", "/context"), widgetBody, fc.oneof(fc.integer().map(String), nasty), async (path, body, lead) => {
        const r = path === "/context" ? await call(`/amocrm/widget/context?lead_id=${enc(lead)}`, { headers: t() }) : await json("POST", `/amocrm/widget${path}`, body, t());
        expect(r.status).toBeLessThan(500);
      }),
      { numRuns: RUNS.crm },
    );
    // The account is still bound to its branch: no random register moved it.
    const ctx = JSON.parse((await call("/amocrm/widget/context", { headers: t() })).text);
    expect(ctx).toMatchObject({ bound: true, branch: { code: "FUZZAMO" } });
  });

  it("Bitrix24 events, robot, placement and install: random nested forms, never a 5xx", async () => {
    const authed = (formBody: string) => `${formBody}&${phpForm({ auth: { domain: portal.domain, member_id: portal.memberId, application_token: portal.applicationToken } })}`;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom("/bitrix24/events", "/bitrix24/robot", "/bitrix24/placement", "/bitrix24/install"), nestedForm, fc.boolean(), async (path, formBody, withAuth) => {
        const r = await call(path, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: withAuth ? authed(formBody) : formBody });
        expect(r.status).toBeLessThan(500);
      }),
      { numRuns: RUNS.medium },
    );
    expect((await s.store.read((tx) => tx.get("crmConnections", `bitrix24:${portal.memberId}`)))?.state).toBe("connected");
  });

  it("branch API and inbox API: random bodies and parameters, never a 5xx", async () => {
    const send = fc.record({ to: phoneish, text: fc.oneof(fc.string({ maxLength: 50 }), scalar), template: fc.oneof(fc.record({ name: fc.oneof(fc.constant("booking_reminder"), nasty), language: fc.oneof(fc.constant("ru"), nasty), params: anyJson, header: anyJson, buttons: anyJson }, { requiredKeys: [] }), scalar), replyTo: scalar, priority: scalar }, { requiredKeys: [] });
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("messages", "window", "calls", "handover", "flow", "status", "inbox-reply", "inbox-read", "inbox-messages"),
        fc.oneof(send, anyJson),
        nasty,
        async (what, body, param) => {
          const p = enc(param);
          const r =
            what === "messages" ? await branch("POST", "/api/v1/messages", body)
            : what === "window" ? await branch("GET", `/api/v1/window?to=${p}`)
            : what === "calls" ? await branch("POST", "/api/v1/calls", body)
            : what === "handover" ? await branch("POST", "/api/v1/handover", body)
            : what === "flow" ? await branch("POST", `/api/v1/flows/${p || "x"}/start`, body)
            : what === "status" ? await branch("GET", `/api/v1/messages/${p || "x"}`)
            : what === "inbox-reply" ? await branch("POST", `/inbox/api/dialogs/${p || "x"}/messages`, body)
            : what === "inbox-read" ? await branch("POST", `/inbox/api/dialogs/${p || "x"}/read`)
            : await branch("GET", `/inbox/api/dialogs/${p || "x"}/messages`);
          expect(r.status).toBeLessThan(500);
        },
      ),
      { numRuns: RUNS.cheap },
    );
  });

  it("admin API: refused creates store nothing; routing test, campaigns and flows take any body without a 5xx", async () => {
    const before = await branchIds();
    const created: string[] = [];
    const branchBody = fc.oneof(
      anyJson,
      fc.record({ name: fc.oneof(fc.string({ maxLength: 120 }), scalar), code: fc.oneof(fc.stringMatching(/^[A-Z0-9_-]{1,34}$/), nasty), crm: fc.oneof(fc.constantFrom("inbox", "webhook", "amocrm", "bitrix24"), nasty), webhookUrl: fc.oneof(fc.webUrl(), nasty), keywords: anyJson, isHq: scalar, menuOrder: scalar, dailyQuota: scalar, callTrigger: anyJson }, { requiredKeys: [] }),
    );
    await fc.assert(
      fc.asyncProperty(branchBody, async (body) => {
        const r = await admin("POST", "/admin/api/branches", body);
        expect([201, 400, 409, 422]).toContain(r.status);
        if (r.status === 201) created.push(JSON.parse(r.text).id);
      }),
      { numRuns: RUNS.cheap },
    );
    expect(await branchIds()).toEqual([...before, ...created].sort());

    const flowsBefore = JSON.parse((await admin("GET", "/admin/api/flows")).text).flows.length;
    let flowsCreated = 0;
    const campaignsBefore = JSON.parse((await admin("GET", "/admin/api/campaigns")).text).campaigns.length;
    let campaignsCreated = 0;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom("routing", "preview", "campaign", "flow", "check", "patch-branch", "settings"), anyJson, nasty, async (what, body, param) => {
        const r =
          what === "routing" ? await admin("POST", "/admin/api/routing/test", body)
          : what === "preview" ? await admin("POST", "/admin/api/campaigns/preview", body)
          : what === "campaign" ? await admin("POST", "/admin/api/campaigns", body)
          : what === "flow" ? await admin("POST", "/admin/api/flows", typeof body === "object" && body !== null && !Array.isArray(body) ? { id: param, ...body } : body)
          : what === "check" ? await admin("POST", "/admin/api/flows/check", body)
          : what === "patch-branch" ? await admin("PATCH", `/admin/api/branches/${branchId}`, body)
          : await admin("PATCH", "/admin/api/settings/routing", body);
        expect(r.status).toBeLessThan(500);
        if (what === "flow" && r.status === 201) flowsCreated++;
        if (what === "campaign" && r.status === 201) campaignsCreated++;
      }),
      { numRuns: RUNS.cheap },
    );
    expect(JSON.parse((await admin("GET", "/admin/api/flows")).text).flows.length).toBe(flowsBefore + flowsCreated);
    expect(JSON.parse((await admin("GET", "/admin/api/campaigns")).text).campaigns.length).toBe(campaignsBefore + campaignsCreated);
    // The branch patched at random still works with its key.
    expect((await branch("GET", "/inbox/api/me")).status).toBe(200);
  });

  it("after all of it: the process answers, nothing answered 5xx, and the stored state reopens and parses", async () => {
    expect((await call("/healthz")).status).toBe(200);
    expect((await call("/readyz")).status).toBe(200);
    expect(statuses.filter((st) => st >= 500)).toEqual([]);
    expect(statuses.length).toBeGreaterThan(300);
    const liveBranches = (await branchIds()).length;
    await s.close();
    const reopened = await LowdbStore.open({ dir: dir.dir });
    try {
      const counts = await reopened.read(async (tx) => {
        const out: Record<string, number> = {};
        for (const table of Object.keys(INDEXES) as Array<keyof typeof INDEXES>) {
          const rows = (await tx.list(table)) as unknown as Array<Record<string, unknown>>;
          for (const row of rows) expect(typeof row.id === "string" && row.id.length > 0, `${table} row without an id: ${JSON.stringify(row).slice(0, 200)}`).toBe(true);
          out[table] = rows.length;
        }
        const messages = (await tx.list("messages")) as unknown as Array<Record<string, unknown>>;
        for (const m of messages) {
          expect(["in", "out"]).toContain(m.direction);
          expect(typeof m.createdAt).toBe("number");
        }
        const branches = (await tx.list("branches")) as unknown as Array<Record<string, unknown>>;
        for (const b of branches) expect(typeof b.name === "string" && typeof b.code === "string" && typeof b.keyHash === "string").toBe(true);
        return out;
      });
      // What the API listed before the stop is what the files hold.
      expect(counts.branches).toBe(liveBranches);
    } finally {
      await reopened.close();
    }
  });
});
