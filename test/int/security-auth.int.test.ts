import { createHmac } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loopbackOnly, openNetwork } from "../builders/graph-nock.js";
import { requestJson } from "../builders/http.js";
import { APP_SECRET, VERIFY_TOKEN, api, postWebhook, startReceiver, startTestServer, waitFor } from "../builders/harness.js";
import { textWebhook } from "../builders/meta-payloads.js";
import { botToken, chatHookBody, chatHookSignature, disconnectQuery, startFakeAmo, widgetToken, type FakeAccount, type FakeAmo, type TokenOptions } from "../builders/fake-amocrm.js";
import { eventBody, installForm, robotBody, startFakeBitrix24, type FakeBitrix24, type FakePortal } from "../builders/fake-bitrix24.js";

/**
 * Authentication at every door from outside: amoCRM's widget and Salesbot JWTs (algorithm,
 * times, audience, client, issuer, signature), Bitrix24's application and access tokens, and the
 * signature of every webhook we receive (Meta, amoCRM chat hook and disconnect, Bitrix24 events
 * and robot) or send (the webhook connector).
 */

type Server = Awaited<ReturnType<typeof startTestServer>>;

const PUBLIC = "https://branchline.example";
const CLIENT = { clientId: "0b0832f6-d123-4123-9123-e73f236833c8", clientSecret: "auth-test-integration-secret-0123456789" };
const CHANNEL = { channelId: "344a5002-f8ca-454d-af3d-396180102ac9", channelSecret: "9d1f8e7c6b5a49382716f5e4d3c2b1a098765432", botId: "bot-auth" };

const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
/** A JWT signed with any algorithm name we choose (what an attacker controls). */
function forge(header: object, claims: object, secret: string, hash: "sha256" | "sha512" | "sha384" = "sha256"): string {
  const h = enc(header);
  const p = enc(claims);
  return `${h}.${p}.${createHmac(hash, secret).update(`${h}.${p}`).digest("base64url")}`;
}
const claimsOf = (token: string) => JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString("utf8")) as Record<string, unknown>;

describe("authentication and signatures at every entry point", () => {
  let s: Server;
  let amo: FakeAmo;
  let acc: FakeAccount;
  let other: FakeAccount;
  let b24: FakeBitrix24;
  let portal: FakePortal;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let hook: { id: string; webhookSecret: string; apiKey: string };
  let leadId: number;

  const opts = (o: Partial<TokenOptions> = {}): TokenOptions => ({ account: acc, ...CLIENT, aud: PUBLIC, ...o });
  const context = (token: string | undefined) => requestJson(`${s.url}/amocrm/widget/context?lead_id=${leadId}`, { headers: token === undefined ? {} : { "x-auth-token": token } });
  const salesbot = async (token: string, n: number) => {
    const body = { token, data: { template: "nope", language: "ru", lead_id: String(leadId) }, return_url: `http://${acc.domain}/api/v4/salesbot/1/continue/${n}` };
    return requestJson(`${s.url}/amocrm/salesbot`, { method: "POST", body });
  };
  const form = (path: string, body: string) => fetch(`${s.url}${path}`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body });

  beforeAll(async () => {
    loopbackOnly();
    amo = await startFakeAmo({ ...CLIENT, redirectUri: `${PUBLIC}/amocrm/oauth`, ...CHANNEL });
    acc = await amo.addAccount({ id: 41000001, subdomain: "authacc" });
    other = await amo.addAccount({ id: 41000002, subdomain: "otheracc" });
    leadId = acc.addLead({ name: "Lead", contactId: acc.addContact({ name: "Ivan", phone: "+79161230000" }) });
    b24 = await startFakeBitrix24();
    portal = await b24.addPortal();
    receiver = await startReceiver([200]);
    s = await startTestServer({
      PUBLIC_URL: PUBLIC,
      ...amo.env,
      ...b24.env,
    });
    const amoBranch = (await api(s.url, s.adminToken, "POST", "/admin/api/branches", { name: "Amo", code: "AMO", crm: "amocrm" })).body;
    const b24Branch = (await api(s.url, s.adminToken, "POST", "/admin/api/branches", { name: "B24", code: "B24", crm: "bitrix24" })).body;
    hook = (await api(s.url, s.adminToken, "POST", "/admin/api/branches", { name: "Hook", code: "HOOK", crm: "webhook", webhookUrl: receiver.url, isHq: true })).body;
    for (const a of [acc, other]) {
      expect((await fetch(`${s.url}/amocrm/oauth?code=${encodeURIComponent(a.issueCode())}&referer=${encodeURIComponent(a.domain)}`)).status).toBe(200);
      await waitFor(() => amo.connections.get(a.amojoId)?.connected, "amoCRM account connected");
    }
    const reg = await fetch(`${s.url}/amocrm/widget/register`, { method: "POST", headers: { "x-auth-token": widgetToken(opts()), "content-type": "application/json" }, body: JSON.stringify({ branch_key: amoBranch.apiKey }) });
    expect(reg.status).toBe(200);
    const f = installForm(portal);
    expect((await form(`/bitrix24/install?${f.queryString}`, f.body)).status).toBe(200);
    const b24reg = await fetch(`${s.url}/bitrix24/register`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ member_id: portal.memberId, auth: f.fields.AUTH_ID, branch_key: b24Branch.apiKey }) });
    expect(b24reg.status).toBe(200);
  });
  afterAll(async () => {
    await s?.close();
    await amo?.close();
    await b24?.close();
    await receiver?.close();
    openNetwork();
  });

  describe("amoCRM widget X-Auth-Token (HS256, client secret)", () => {
    it("accepts a valid token", async () => {
      expect((await context(widgetToken(opts()))).status).toBe(200);
    });

    const now = () => Math.floor(Date.now() / 1000);
    it.each<[string, () => string | undefined]>([
      ["missing", () => undefined],
      ["garbage", () => "not.a.jwt"],
      ["alg none, no signature", () => widgetToken(opts({ alg: "none" }))],
      ["alg none with a signature", () => forge({ typ: "JWT", alg: "none" }, claimsOf(widgetToken(opts())), CLIENT.clientSecret)],
      ["alg NONE in capitals", () => forge({ typ: "JWT", alg: "NONE" }, claimsOf(widgetToken(opts())), CLIENT.clientSecret)],
      ["HS512 (Salesbot's) on the widget", () => widgetToken(opts({ alg: "HS512" }))],
      ["RS256 header over an HMAC signature (algorithm confusion)", () => forge({ typ: "JWT", alg: "RS256" }, claimsOf(widgetToken(opts())), CLIENT.clientSecret)],
      ["HS384", () => forge({ typ: "JWT", alg: "HS384" }, claimsOf(widgetToken(opts())), CLIENT.clientSecret, "sha384")],
      ["signed with another secret", () => widgetToken(opts({ clientSecret: "someone-elses-secret-0000000000" }))],
      ["claims changed after signing", () => {
        const [h, , sig] = widgetToken(opts()).split(".");
        return `${h}.${enc({ ...claimsOf(widgetToken(opts())), account_id: other.id })}.${sig}`;
      }],
      ["expired two hours ago", () => widgetToken(opts({ nowSec: now() - 7200 }))],
      ["expired beyond the leeway", () => widgetToken(opts({ overrides: { exp: now() - 120 } }))],
      ["not valid yet (nbf in an hour)", () => widgetToken(opts({ overrides: { nbf: now() + 3600 } }))],
      ["issued in the future", () => widgetToken(opts({ overrides: { iat: now() + 3600, nbf: undefined } }))],
      ["without exp", () => widgetToken(opts({ overrides: { exp: undefined } }))],
      ["wrong audience", () => widgetToken(opts({ aud: "https://evil.example" }))],
      ["no audience", () => widgetToken(opts({ overrides: { aud: undefined } }))],
      ["foreign client id (another integration)", () => widgetToken(opts({ overrides: { client_uuid: "11111111-2222-4333-8444-555555555555" } }))],
      ["foreign issuer (another account's domain)", () => widgetToken(opts({ overrides: { iss: `http://${other.domain}` } }))],
      ["issuer that is not a URL", () => widgetToken(opts({ overrides: { iss: "amocrm" } }))],
      ["no account id", () => widgetToken(opts({ overrides: { account_id: undefined } }))],
    ])("refuses %s with 401 invalid_token", async (_name, make) => {
      const r = await context(make());
      expect(r.status).toBe(401);
      expect(r.body.error.code).toMatch(/invalid_token|unauthorized/);
      expect(JSON.stringify(r.body)).not.toContain(CLIENT.clientSecret);
    });
  });

  describe("amoCRM Salesbot token (HS512 or HS256)", () => {
    let n = 0;
    it("accepts HS512 and HS256 tokens", async () => {
      expect((await salesbot(botToken(opts()), ++n)).status).toBe(200);
      expect((await salesbot(botToken(opts({ alg: "HS256" })), ++n)).status).toBe(200);
    });
    it.each<[string, () => string]>([
      ["alg none", () => botToken(opts({ alg: "none" }))],
      ["HS384", () => forge({ typ: "JWT", alg: "HS384" }, claimsOf(botToken(opts())), CLIENT.clientSecret, "sha384")],
      ["RS256 header", () => forge({ typ: "JWT", alg: "RS256" }, claimsOf(botToken(opts())), CLIENT.clientSecret)],
      ["another secret", () => botToken(opts({ clientSecret: "someone-elses-secret-0000000000" }))],
      ["expired", () => botToken(opts({ nowSec: Math.floor(Date.now() / 1000) - 7200 }))],
      ["wrong audience", () => botToken(opts({ aud: "https://evil.example" }))],
      ["foreign client id", () => botToken(opts({ overrides: { client_uuid: "11111111-2222-4333-8444-555555555555" } }))],
      ["foreign issuer", () => botToken(opts({ overrides: { iss: `http://${other.domain}` } }))],
    ])("refuses %s with 401 and queues nothing", async (_name, make) => {
      const r = await salesbot(make(), ++n);
      expect(r.status).toBe(401);
    });
  });

  describe("Bitrix24 tokens", () => {
    const tab = (token: string, member = portal.memberId) => fetch(`${s.url}/bitrix24/app/lead/context`, { headers: { "x-b24-auth": token, "x-b24-member": member } });

    it("card tab: the portal's own user token works; forged, foreign and expired ones get 401", async () => {
      expect((await tab(portal.issueTokens(3).access_token)).status).toBe(200);
      expect((await tab("forged-token")).status).toBe(401);
      const stranger = await b24.addPortal();
      expect((await tab(stranger.issueTokens(1).access_token)).status).toBe(401);
      const old = portal.issueTokens(3).access_token;
      portal.expireAccessTokens();
      expect((await tab(old)).status).toBe(401);
      expect((await tab("x".repeat(600))).status).toBe(401);
    });

    it("register: a non-admin user's token is 403, another portal's 401", async () => {
      const reg = (auth: string) => fetch(`${s.url}/bitrix24/register`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ member_id: portal.memberId, auth, branch_key: hook.apiKey }) });
      expect((await reg(portal.issueTokens(5).access_token)).status).toBe(403);
      const stranger = await b24.addPortal();
      expect((await reg(stranger.issueTokens(1).access_token)).status).toBe(401);
    });

    it("events and robot: only the portal's application token is accepted", async () => {
      const ok = eventBody(portal, "ONCRMLEADADD", { FIELDS: { ID: 1 } });
      expect((await form("/bitrix24/events", ok)).status).toBe(200);
      for (const applicationToken of ["0".repeat(32), "", portal.applicationToken.slice(0, -1), `${portal.applicationToken}x`]) {
        expect((await form("/bitrix24/events", eventBody(portal, "ONAPPUNINSTALL", {}, { applicationToken }))).status).toBe(401);
        const robot = robotBody(portal, { documentId: ["crm", "CCrmDocumentLead", "LEAD_1"], properties: { template: "x|ru" }, applicationToken });
        expect((await form("/bitrix24/robot", robot.body)).status).toBe(401);
      }
      // Without auth[application_token] at all.
      expect((await form("/bitrix24/events", `event=ONAPPUNINSTALL&auth[domain]=${portal.domain}&auth[member_id]=${portal.memberId}`)).status).toBe(401);
      expect((await s.store.read((tx) => tx.get("crmConnections", `bitrix24:${portal.memberId}`)))?.state).toBe("connected");
    });
  });

  describe("webhook signatures", () => {
    it("Meta: only a body signed with the app secret is stored", async () => {
      const body = textWebhook({ from: "79160001111", text: "signed?" });
      const raw = JSON.stringify(body);
      expect((await postWebhook(s.url, body, { secret: null })).status).toBe(401);
      expect((await postWebhook(s.url, body, { secret: "not-the-app-secret" })).status).toBe(401);
      const sha1 = `sha1=${createHmac("sha1", APP_SECRET).update(raw).digest("hex")}`;
      const headers = (sig: string) => ({ "content-type": "application/json", "x-hub-signature-256": sig });
      for (const sig of [sha1, "sha256=", "sha256=zz", createHmac("sha256", APP_SECRET).update(raw).digest("hex")]) {
        expect((await fetch(`${s.url}/webhooks/whatsapp`, { method: "POST", headers: headers(sig), body: raw })).status).toBe(401);
      }
      const tampered = raw.replace("signed?", "signed!");
      const sigOfRaw = `sha256=${createHmac("sha256", APP_SECRET).update(raw).digest("hex")}`;
      expect((await fetch(`${s.url}/webhooks/whatsapp`, { method: "POST", headers: headers(sigOfRaw), body: tampered })).status).toBe(401);
      const payloads = await s.store.read((tx) => tx.list("payloads"));
      expect(payloads.some((p) => p.raw.includes("signed"))).toBe(false);
      expect((await postWebhook(s.url, body)).status).toBe(200);
    });

    it("Meta's GET verification answers only the verify token", async () => {
      const q = (token: string) => fetch(`${s.url}/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=${encodeURIComponent(token)}&hub.challenge=1158201444`);
      expect((await q("wrong")).status).toBe(403);
      expect((await q("")).status).toBe(403);
      const ok = await q(VERIFY_TOKEN);
      expect([ok.status, await ok.text()]).toEqual([200, "1158201444"]);
    });

    it("amoCRM chat hook: X-Signature must be the channel secret's HMAC-SHA1 of these bytes", async () => {
      const scope = amo.connections.get(acc.amojoId)!.scopeId;
      const body = chatHookBody({ amojoAccountId: acc.amojoId, phone: "79160002222", text: "forged reply" });
      const post = (sig?: string, b = body) => fetch(`${s.url}/amocrm/chats/${scope}`, { method: "POST", headers: { "content-type": "application/json", ...(sig === undefined ? {} : { "x-signature": sig }) }, body: b });
      expect((await post()).status).toBe(401);
      expect((await post("")).status).toBe(401);
      expect((await post(chatHookSignature(body, "0".repeat(40)))).status).toBe(401);
      expect((await post(createHmac("sha256", CHANNEL.channelSecret).update(body).digest("hex"))).status).toBe(401);
      expect((await post(chatHookSignature(body, CHANNEL.channelSecret), body.replace("forged", "Forged"))).status).toBe(401);
      const seen = await s.store.read((tx) => tx.list("messages"));
      expect(seen.some((m) => m.text?.includes("orged reply"))).toBe(false);
    });

    it("amoCRM disconnect: signed by our client secret for our client id only", async () => {
      const get = (q: string) => fetch(`${s.url}/amocrm/disconnect?${q}`);
      const good = new URLSearchParams(disconnectQuery(other.id, CLIENT.clientId, CLIENT.clientSecret));
      expect((await get(`account_id=${other.id}&client_uuid=${CLIENT.clientId}`)).status).toBe(401);
      expect((await get(disconnectQuery(other.id, CLIENT.clientId, "wrong-secret"))).status).toBe(401);
      expect((await get(disconnectQuery(other.id, "11111111-2222-4333-8444-555555555555", CLIENT.clientSecret))).status).toBe(401);
      const swapped = new URLSearchParams(good);
      swapped.set("account_id", String(acc.id));
      expect((await get(swapped.toString())).status).toBe(401);
      expect((await s.store.read((tx) => tx.get("crmConnections", `amocrm:${acc.id}`)))?.state).not.toBe("disconnected");
      expect((await s.store.read((tx) => tx.get("crmConnections", `amocrm:${other.id}`)))?.state).not.toBe("disconnected");
      expect((await get(good.toString())).status).toBe(200);
      expect((await s.store.read((tx) => tx.get("crmConnections", `amocrm:${other.id}`)))?.state).toBe("disconnected");
    });

    it("the webhook connector signs every event with the branch's current secret", async () => {
      await postWebhook(s.url, textWebhook({ from: "79160003333", text: "to the hook" }));
      const first = await waitFor(() => receiver.received.find((h) => h.body.message?.text === "to the hook"), "the event at the branch's webhook");
      expect(first.signature).toBe(`sha256=${createHmac("sha256", hook.webhookSecret).update(first.raw).digest("hex")}`);
      const rotated = await api(s.url, s.adminToken, "POST", `/admin/api/branches/${hook.id}/rotate-webhook-secret`);
      expect(rotated.status).toBe(200);
      await postWebhook(s.url, textWebhook({ from: "79160003333", text: "after rotation" }));
      const second = await waitFor(() => receiver.received.find((h) => h.body.message?.text === "after rotation"), "the next event");
      expect(second.signature).toBe(`sha256=${createHmac("sha256", rotated.body.webhookSecret).update(second.raw).digest("hex")}`);
      expect(second.signature).not.toBe(`sha256=${createHmac("sha256", hook.webhookSecret).update(second.raw).digest("hex")}`);
    });
  });

  describe("security headers and CORS", () => {
    const FRAMED = ["/bitrix24/placement", "/bitrix24/install"];

    it("every response carries nosniff, no-referrer, HSTS (PUBLIC_URL is https) and, outside the Bitrix24 frames, DENY framing", async () => {
      const probes: Array<[string, RequestInit?]> = [
        ["/healthz"],
        ["/inbox"],
        ["/admin"],
        ["/admin/api/branches"],
        ["/api/v1/templates"],
        ["/no/such/endpoint"],
        ["/webhooks/whatsapp", { method: "POST", body: "{}" }],
        ["/amocrm/widget/context"],
        ["/media/in_x?exp=1&sig=x"],
        ["/assets/inbox.js"],
      ];
      for (const [path, init] of probes) {
        const res = await fetch(`${s.url}${path}`, init);
        const h = res.headers;
        expect({ path, nosniff: h.get("x-content-type-options"), referrer: h.get("referrer-policy"), hsts: h.get("strict-transport-security"), frame: h.get("x-frame-options") }).toEqual({ path, nosniff: "nosniff", referrer: "no-referrer", hsts: expect.stringMatching(/^max-age=\d{7,}/), frame: "DENY" });
        expect(h.get("content-security-policy")).toMatch(/frame-ancestors 'none'|sandbox/);
      }
    });

    it("our pages load only their /assets bundle: no inline script, and the CSP allows exactly that", async () => {
      for (const path of ["/inbox", "/admin"]) {
        const res = await fetch(`${s.url}${path}`);
        const html = await res.text();
        const scripts = [...html.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)];
        expect(scripts.length).toBeGreaterThan(0);
        for (const [, attrs, body] of scripts) {
          expect(attrs).toMatch(/src="\/assets\/[a-z]+\.js"/);
          expect(body!.trim()).toBe("");
        }
        const csp = res.headers.get("content-security-policy")!;
        expect(csp).toContain("script-src 'self'");
        expect(csp).not.toMatch(/script-src[^;]*unsafe/);
        expect(csp).toContain("connect-src 'self'");
        expect(csp).toContain("object-src 'none'");
      }
    });

    it("the Bitrix24 iframe pages keep their own frame-ancestors and get no X-Frame-Options", async () => {
      const f = installForm(portal, { placement: "CRM_LEAD_DETAIL_TAB", placementOptions: { ID: "1" } });
      for (const path of FRAMED) {
        const res = await form(`${path}?${f.queryString}`, f.body);
        expect(res.headers.get("x-frame-options")).toBeNull();
        expect(res.headers.get("content-security-policy")).toContain(`frame-ancestors ${new URL(portal.url).origin}`);
        expect(res.headers.get("x-content-type-options")).toBe("nosniff");
      }
    });

    it("answers CORS only to amoCRM origins on the widget API; no other route answers a foreign origin", async () => {
      const preflight = (path: string, origin: string) =>
        fetch(`${s.url}${path}`, { method: "OPTIONS", headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "authorization, content-type" } });
      const ok = await preflight("/amocrm/widget/send", "https://artplay.amocrm.ru");
      expect(ok.headers.get("access-control-allow-origin")).toBe("https://artplay.amocrm.ru");
      for (const origin of ["https://evil.example", "https://amocrm.ru.evil.example", "https://artplay.amocrm.ru.evil.example", "null", "http://artplay.amocrm.ru"]) {
        expect((await preflight("/amocrm/widget/send", origin)).headers.get("access-control-allow-origin")).toBeNull();
      }
      const routes = ["/api/v1/messages", "/inbox/api/dialogs", "/admin/api/branches", "/admin/api/campaigns", "/bitrix24/app/lead/context", "/bitrix24/register", "/webhooks/whatsapp", "/amocrm/salesbot", "/media/x", "/healthz"];
      for (const path of routes) {
        for (const origin of ["https://evil.example", "https://artplay.amocrm.ru"]) {
          const pre = await preflight(path, origin);
          expect({ path, origin, allow: pre.headers.get("access-control-allow-origin"), creds: pre.headers.get("access-control-allow-credentials") }).toEqual({ path, origin, allow: null, creds: null });
          const get = await fetch(`${s.url}${path}`, { headers: { origin } });
          expect({ path, origin, allow: get.headers.get("access-control-allow-origin") }).toEqual({ path, origin, allow: null });
        }
      }
    });
  });
});

describe("the admin rate limit (ADMIN_RATE_LIMIT per client IP)", () => {
  let s: Server;
  beforeAll(async () => {
    // One trusted proxy: the tests play clients behind it with X-Forwarded-For.
    s = await startTestServer({ ADMIN_RATE_LIMIT: "30", SANDBOX: "on", TRUST_PROXY: "1" });
  });
  afterAll(async () => {
    await s?.close();
  });
  const admin = (token: string, ip: string) => fetch(`${s.url}/admin/api/branches`, { headers: { authorization: `Bearer ${token}`, "x-forwarded-for": ip } });

  it("over http (sandbox) the pages get their CSP and no HSTS", async () => {
    const res = await fetch(`${s.url}/sandbox`);
    expect(res.status).toBe(200);
    expect(res.headers.get("strict-transport-security")).toBeNull();
    expect(res.headers.get("content-security-policy")).toContain("script-src 'self'");
    expect(await res.text()).toContain('src="/assets/sandbox.js"');
  });

  it("limits wrong admin tokens hard: after 5 failures even the right token waits, with Retry-After; other addresses are not affected", async () => {
    const ip = "203.0.113.7";
    for (let i = 0; i < 5; i++) expect((await admin(`wrong-token-${i}-0123456789`, ip)).status).toBe(401);
    const blocked = await admin(s.adminToken, ip);
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(((await blocked.json()) as any).error.code).toBe("rate_limited");
    expect((await admin(`wrong-token-x-0123456789`, ip)).status).toBe(429);
    expect((await admin(s.adminToken, "203.0.113.8")).status).toBe(200);
    // Requests without any token are not guesses: they do not use up the failure budget.
    for (let i = 0; i < 8; i++) expect((await fetch(`${s.url}/admin/api/branches`, { headers: { "x-forwarded-for": "203.0.113.9" } })).status).toBe(401);
    expect((await admin(s.adminToken, "203.0.113.9")).status).toBe(200);
  });

  it("limits all admin requests to ADMIN_RATE_LIMIT a minute per address, and nothing else", async () => {
    const ip = "198.51.100.4";
    const codes: number[] = [];
    for (let i = 0; i < 35; i++) codes.push((await admin(s.adminToken, ip)).status);
    expect(codes.filter((c) => c === 200).length).toBeGreaterThanOrEqual(30);
    expect(codes.at(-1)).toBe(429);
    expect(codes.slice(0, 30).every((c) => c === 200)).toBe(true);
    // The branch API, the webhook and health are not the admin API.
    expect((await fetch(`${s.url}/healthz`, { headers: { "x-forwarded-for": ip } })).status).toBe(200);
    expect((await fetch(`${s.url}/api/v1/templates`, { headers: { authorization: `Bearer ${s.demoBranches[0]!.apiKey}`, "x-forwarded-for": ip } })).status).toBe(200);
  });
});

describe("the client address without a trusted proxy (TRUST_PROXY=0, the default)", () => {
  it("ignores X-Forwarded-For, so a client cannot pick a fresh address to escape the limit", async () => {
    const s = await startTestServer({ ADMIN_RATE_LIMIT: "30", SANDBOX: "on" });
    try {
      const codes: number[] = [];
      for (let i = 0; i < 7; i++) {
        const res = await fetch(`${s.url}/admin/api/branches`, { headers: { authorization: `Bearer wrong-token-${i}-0123456789`, "x-forwarded-for": `192.0.2.${i}` } });
        codes.push(res.status);
      }
      expect(codes.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
      expect(codes.slice(5)).toEqual([429, 429]);
    } finally {
      await s.close();
    }
  });
});
