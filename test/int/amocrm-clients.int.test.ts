import { readFileSync } from "node:fs";
import axios from "axios";
import nock from "nock";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAmoApi, type AmoTokenSource } from "../../backend/src/crm/amocrm/amocrm.api.js";
import { exchangeCode, refreshTokens, type AmoOAuthConfig } from "../../backend/src/crm/amocrm/amocrm.oauth.js";
import { amojoRequestHeaders, verifyAmojoHookSignature } from "../../backend/src/crm/amocrm/amojo-signature.js";
import { createAmojoClient, type AmojoMessagePayload } from "../../backend/src/crm/amocrm/amojo.client.js";
import { RequestGate } from "../../backend/src/crm/amocrm/request-gate.js";
import type { OAuthTokens } from "../../backend/src/domain/types.js";
import { appErrorOf } from "../builders/app-error.js";
import { maxInWindow, startFakeAmo, type FakeAccount, type FakeAmo } from "../builders/fake-amocrm.js";

const CLIENT_ID = "0b0832f6-d123-4123-9123-e73f236833c0";
const CLIENT_SECRET = "oZ3u8kQ2vB7nM1xR4tY6wE9pL0aS5dF8gH2jK4lZ7xC1vB3nM6qW9eR2tY5uI8oP";
const REDIRECT_URI = "https://api.example.com/amo/oauth/callback";
const CHANNEL_ID = "344a5002-f8ca-454d-af3d-396180102ac7";
const CHANNEL_SECRET = "f2d7f8704eff95087ed45b23ba99c0b5aac8278e";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const http = axios.create({ proxy: false });
let fake: FakeAmo;
let acc: FakeAccount;
let nextAccountId = 30441700;

/** A fresh account, so one test's requests never count against another's rate window. */
const freshAccount = () => fake.addAccount({ id: nextAccountId++, subdomain: `branch${nextAccountId}` });

const oauthCfg = (over: Partial<AmoOAuthConfig> = {}): AmoOAuthConfig => ({ http, scheme: "http", clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUri: REDIRECT_URI, ...over });

/** The smallest token manager: keeps the pair, refreshes through the real OAuth client. */
function tokenSource(account: FakeAccount) {
  let pair: OAuthTokens = { accessToken: account.accessToken, refreshToken: account.refreshToken, expiresAt: Date.now() + 86_400_000 };
  const rejectedTokens: string[] = [];
  const source: AmoTokenSource = {
    current: async () => pair.accessToken,
    async refreshAfterRejection(rejected) {
      rejectedTokens.push(rejected);
      pair = await refreshTokens(oauthCfg(), account.domain, pair.refreshToken);
      return pair.accessToken;
    },
  };
  return { source, rejectedTokens, pair: () => pair };
}

/** Real time, one gate per test file: amoCRM counts per account, so does the gate. */
const realGate = new RequestGate({ perSecond: 7 });

function api(account: FakeAccount, over: Partial<Parameters<typeof createAmoApi>[0]> = {}) {
  return createAmoApi({ http, scheme: "http", domain: account.domain, tokens: tokenSource(account).source, gate: realGate, clientId: CLIENT_ID, ...over });
}

/** A gate on a clock that only moves when it sleeps: waits are recorded, never spent. */
function fakeClockGate() {
  let clock = 1_700_000_000_000;
  const slept: number[] = [];
  const gate = new RequestGate({
    perSecond: 7,
    now: () => clock,
    sleep: async (ms) => {
      slept.push(ms);
      clock += ms;
    },
  });
  return { gate, slept, now: () => clock };
}

beforeAll(async () => {
  nock.disableNetConnect();
  nock.enableNetConnect(/127\.0\.0\.1|localhost/);
  fake = await startFakeAmo({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUri: REDIRECT_URI, channelId: CHANNEL_ID, channelSecret: CHANNEL_SECRET });
  acc = await fake.addAccount({ id: 30441694, subdomain: "artplay" });
});

afterAll(async () => {
  await fake?.close();
  nock.enableNetConnect();
});

describe("OAuth (§2.3, §2.4)", () => {
  it("exchanges a code once; the second use is refused without echoing the code or secret", async () => {
    const account = await freshAccount();
    const code = account.issueCode();
    const NOW = 1_751_621_727_000;
    const tokens = await exchangeCode(oauthCfg({ now: () => NOW }), account.domain, code);
    expect(tokens).toEqual({ accessToken: account.accessToken, refreshToken: account.refreshToken, expiresAt: NOW + 86_400_000 });
    expect(account.oauthRequests.at(-1)).toMatchObject({ grantType: "authorization_code", status: 200, body: { client_id: CLIENT_ID, redirect_uri: REDIRECT_URI, code } });

    const again = await appErrorOf(exchangeCode(oauthCfg(), account.domain, code));
    expect(again).toMatchObject({ code: "amocrm_oauth_rejected", retryable: false });
    expect(again.message).toContain("Authorization code has been revoked");
    expect(again.message).not.toContain(code);
    expect(again.message).not.toContain(CLIENT_SECRET);
  });

  it("rotates the refresh token; the used one is refused afterwards", async () => {
    const account = await freshAccount();
    const first = await exchangeCode(oauthCfg(), account.domain, account.issueCode());
    const second = await refreshTokens(oauthCfg(), account.domain, first.refreshToken);
    expect(second.refreshToken).not.toBe(first.refreshToken);
    expect(second.accessToken).not.toBe(first.accessToken);
    expect(second.refreshToken).toBe(account.refreshToken);
    expect(account.refreshCount).toBe(1);

    const reused = await appErrorOf(refreshTokens(oauthCfg(), account.domain, first.refreshToken));
    expect(reused).toMatchObject({ code: "amocrm_oauth_rejected", retryable: false });
    expect(reused.message).not.toContain(first.refreshToken);
    // The new pair still works.
    const third = await refreshTokens(oauthCfg(), account.domain, second.refreshToken);
    expect(third.accessToken).toBe(account.accessToken);
    expect(account.refreshCount).toBe(2);
  });

  it("refuses a wrong client secret as a permanent error that does not contain it", async () => {
    const wrong = "wrong-secret-0123456789";
    const err = await appErrorOf(exchangeCode(oauthCfg({ clientSecret: wrong }), acc.domain, acc.issueCode()));
    expect(err).toMatchObject({ code: "amocrm_oauth_rejected", retryable: false });
    expect(err.message).toContain("Client authentication failed");
    expect(err.message).not.toContain(wrong);
  });

  it("refuses a redirect_uri other than the integration's", async () => {
    const err = await appErrorOf(exchangeCode(oauthCfg({ redirectUri: "https://api.example.com/other" }), acc.domain, acc.issueCode()));
    expect(err).toMatchObject({ code: "amocrm_oauth_rejected", retryable: false });
  });

  it("reports an unreachable account as retryable", async () => {
    const err = await appErrorOf(exchangeCode(oauthCfg(), "127.0.0.1:1", "def502"));
    expect(err).toMatchObject({ code: "amocrm_unavailable", retryable: true });
  });

  it("never posts the client secret to a host that is not amoCRM (https)", async () => {
    const err = await appErrorOf(exchangeCode(oauthCfg({ scheme: "https" }), "evil.example", "def502"));
    expect(err).toMatchObject({ code: "amocrm_bad_domain", httpStatus: 400 });
  });
});

describe("REST v4 (§3)", () => {
  it("reads the account with its amojo_id, with Bearer and X-Client-UUID", async () => {
    expect(await api(acc).account()).toEqual({ id: 30441694, subdomain: "artplay", amojoId: acc.amojoId, name: "Branch artplay" });
    const req = acc.requests.at(-1)!;
    expect(req.path).toBe("/api/v4/account?with=amojo_id");
    expect(req.headers?.authorization).toBe(`Bearer ${acc.accessToken}`);
    expect(req.headers?.["x-client-uuid"]).toBe(CLIENT_ID);
  });

  it("finds contacts by phone whatever the format (+7 916…, 8 916…) and drops partial matches", async () => {
    const account = await freshAccount();
    const ivan = account.addContact({ name: "Ivan Petrov", phone: "+7 (916) 123-45-67", email: "ivan@example.com" });
    const petr = account.addContact({ name: "Petr", phone: "89161234567" });
    account.addContact({ name: "Neighbour", phone: "+7 916 123-45-68" });
    account.addContact({ name: "Longer", phone: "+7 916 123-45-670" });
    const client = api(account);

    for (const phone of ["+7 916 123-45-67", "8 916 123 45 67", "79161234567"]) {
      const found = await client.findContactsByPhone(phone);
      expect(found.map((c) => c.id).sort()).toEqual([ivan, petr].sort());
    }
    const [first] = await client.findContactsByPhone("+79161234567");
    expect(first).toMatchObject({ phones: expect.any(Array), emails: expect.any(Array) });
    const ivanFound = (await client.findContactsByPhone("+79161234567")).find((c) => c.id === ivan)!;
    expect(ivanFound).toMatchObject({ name: "Ivan Petrov", firstName: "Ivan", lastName: "Petrov", phones: ["+7 (916) 123-45-67"], emails: ["ivan@example.com"] });
    expect(await client.findContactsByPhone("+1 555 0100")).toEqual([]);
  });

  it("reads a lead with its contacts and custom fields by name and code; a missing lead is undefined", async () => {
    const account = await freshAccount();
    const contact = account.addContact({ name: "Anna", phone: "+79035550011", fields: { POSITION: "Manager", "Preferred branch": "Art Play" } });
    const lead = account.addLead({ name: "WhatsApp +79035550011", contactId: contact, price: 5000, fields: { "Branch code": "artplay", UTM_SOURCE: "qr" } });
    const client = api(account);

    const got = await client.getLead(lead);
    expect(got).toMatchObject({ id: lead, name: "WhatsApp +79035550011", price: 5000, statusId: 33929752, pipelineId: 3383152, mainContactId: contact, contactIds: [contact] });
    expect(got!.fields).toMatchObject({ "Branch code": "artplay", UTM_SOURCE: "qr" });
    expect(account.requests.at(-1)!.path).toBe(`/api/v4/leads/${lead}?with=contacts`);

    const c = await client.getContact(contact);
    expect(c).toMatchObject({ id: contact, phones: ["+79035550011"], emails: [] });
    expect(c!.fields).toMatchObject({ POSITION: "Manager", "Preferred branch": "Art Play", PHONE: "+79035550011" });

    expect(await client.getLead(999_999_999)).toBeUndefined();
    expect(await client.getContact(999_999_999)).toBeUndefined();
  });

  it("on 401 refreshes once and repeats the request with the new token", async () => {
    const account = await freshAccount();
    const ts = tokenSource(account);
    const old = account.accessToken;
    account.expireAccessToken();
    const client = createAmoApi({ http, scheme: "http", domain: account.domain, tokens: ts.source, gate: realGate, clientId: CLIENT_ID });

    expect((await client.account()).id).toBe(account.id);
    expect(ts.rejectedTokens).toEqual([old]);
    expect(account.refreshCount).toBe(1);
    expect(account.requests.map((r) => r.status)).toEqual([401, 200]);
    expect(account.requests[1]!.headers?.authorization).toBe(`Bearer ${ts.pair().accessToken}`);
  });

  it("a second 401 after the refresh is amocrm_unauthorized (not retryable)", async () => {
    const account = await freshAccount();
    account.expireAccessToken();
    let refreshes = 0;
    const tokens: AmoTokenSource = {
      current: async () => "revoked-token-1",
      refreshAfterRejection: async () => {
        refreshes++;
        return "revoked-token-2";
      },
    };
    const err = await appErrorOf(api(account, { tokens }).account());
    expect(err).toMatchObject({ code: "amocrm_unauthorized", retryable: false, httpStatus: 502 });
    expect(refreshes).toBe(1);
    expect(account.requests.map((r) => r.status)).toEqual([401, 401]);
    expect(err.message).not.toContain("revoked-token");
  });

  it("on 429 with Retry-After pauses the account that long, then succeeds", async () => {
    const account = await freshAccount();
    const contact = account.addContact({ name: "Olga", phone: "+79990001122" });
    const { gate, slept } = fakeClockGate();
    account.failNext(1, 429, { retryAfter: 3 });
    expect((await api(account, { gate }).getContact(contact))?.name).toBe("Olga");
    expect(slept).toEqual([3000]);
    expect(account.requests.map((r) => r.status)).toEqual([429, 200]);
  });

  it("on 429 without Retry-After backs off 1 s, 2 s…", async () => {
    const account = await freshAccount();
    const { gate, slept } = fakeClockGate();
    account.failNext(2, 429);
    expect((await api(account, { gate }).account()).id).toBe(account.id);
    expect(slept).toEqual([1000, 2000]);
  });

  it("gives up after maxAttempts 429s with a retryable amocrm_rate_limited", async () => {
    const account = await freshAccount();
    const { gate, slept } = fakeClockGate();
    account.failNext(5, 429);
    const err = await appErrorOf(api(account, { gate, maxAttempts: 5 }).account());
    expect(err).toMatchObject({ code: "amocrm_rate_limited", retryable: true });
    expect(account.requests).toHaveLength(5);
    expect(slept).toEqual([1000, 2000, 4000, 8000]);
  });

  it("a burst of 30 calls never has 8 requests in one second and gets no 429", async () => {
    const account = await freshAccount();
    const client = api(account);
    const results = await Promise.all(Array.from({ length: 30 }, () => client.account()));
    expect(results.every((r) => r.id === account.id)).toBe(true);
    expect(account.requests).toHaveLength(30);
    expect(account.requests.filter((r) => r.status === 429)).toEqual([]);
    expect(maxInWindow(account.requests.map((r) => r.at), 1000)).toBeLessThanOrEqual(7);
  });

  it("5xx is a retryable amocrm_unavailable, not retried inside", async () => {
    const account = await freshAccount();
    account.failNext(1, 503);
    const err = await appErrorOf(api(account).account());
    expect(err).toMatchObject({ code: "amocrm_unavailable", retryable: true });
    expect(account.requests).toHaveLength(1);
  });

  it("a network failure is a retryable amocrm_unavailable without the token", async () => {
    const tokens: AmoTokenSource = { current: async () => "secret-access-token", refreshAfterRejection: async () => "x" };
    const err = await appErrorOf(createAmoApi({ http, scheme: "http", domain: "127.0.0.1:1", tokens, gate: realGate, clientId: CLIENT_ID }).account());
    expect(err).toMatchObject({ code: "amocrm_unavailable", retryable: true });
    expect(JSON.stringify({ m: err.message, c: String(err.cause ?? "") })).not.toContain("secret-access-token");
  });

  it("adds a service_message note signed Branchline", async () => {
    const account = await freshAccount();
    const lead = account.addLead({ name: "Order 15" });
    await api(account).addNote("leads", lead, "Template order_ready sent");
    expect(account.notes).toEqual([{ entity: "leads", body: [{ entity_id: lead, note_type: "service_message", params: { service: "Branchline", text: "Template order_ready sent" } }] }]);
  });

  it("a refused note is a permanent amocrm_error carrying amoCRM's validation detail", async () => {
    const account = await freshAccount();
    const err = await appErrorOf(api(account).addNote("contacts", 424242, "x"));
    expect(err).toMatchObject({ code: "amocrm_error", retryable: false });
    expect(err.message).toContain("Request validation failed");
    expect(err.message).toContain("entity_id: Entity not found");
  });

  it("continues a bot at its return_url with the account's token", async () => {
    const account = await freshAccount();
    const body = { data: { status: "success", wa_message_id: "wamid.HBgL" }, execute_handlers: [{ handler: "goto", params: { type: "question", step: 1 } }] };
    await api(account).continueBot(`${account.baseUrl}/api/v4/salesbot/3721/continue/88412`, body);
    expect(account.botContinues).toEqual([{ path: "/api/v4/salesbot/3721/continue/88412", body }]);
    expect(account.requests.at(-1)!.headers?.authorization).toBe(`Bearer ${account.accessToken}`);
  });

  it("refuses a return_url outside this account's bot continue endpoint, sending nothing", async () => {
    const account = await freshAccount();
    const other = await freshAccount();
    const client = api(account);
    for (const url of [
      `${other.baseUrl}/api/v4/salesbot/1/continue/2`,
      "http://127.0.0.1:1/api/v4/salesbot/1/continue/2",
      `https://${account.domain}/api/v4/salesbot/1/continue/2`,
      `${account.baseUrl}/api/v4/leads`,
      `${account.baseUrl}/api/v4/salesbot/1/continue/2?x=1`,
      `http://user:pw@${account.domain}/api/v4/salesbot/1/continue/2`,
      "not a url",
    ]) {
      const err = await appErrorOf(client.continueBot(url, {}));
      expect(err).toMatchObject({ code: "bad_return_url", httpStatus: 400 });
    }
    expect(account.requests).toEqual([]);
    expect(other.requests).toEqual([]);
  });
});

describe("the fake answers in the doc's shapes", () => {
  const docKeys = (name: string) => Object.keys(JSON.parse(readFileSync(new URL(`../fixtures/amocrm/${name}`, import.meta.url), "utf8")) as object).sort();

  it("token response (§2.3), validation error (§3.1), new_message response (§4.6)", async () => {
    const account = await freshAccount();
    const token = await http.post(`${account.baseUrl}/oauth2/access_token`, { client_id: CLIENT_ID, client_secret: CLIENT_SECRET, grant_type: "authorization_code", code: account.issueCode(), redirect_uri: REDIRECT_URI });
    expect(Object.keys(token.data).sort()).toEqual(docKeys("oauth.access-token.200.json"));

    const refused = await http.post(`${account.baseUrl}/api/v4/leads/notes`, [{ entity_id: 1, note_type: "common", params: { text: "x" } }], { headers: { Authorization: `Bearer ${account.accessToken}` }, validateStatus: () => true });
    expect(refused.status).toBe(400);
    expect(Object.keys(refused.data).sort()).toEqual(docKeys("rest-error.validation.json"));

    const { scopeId } = await createAmojoClient({ http, baseUrl: fake.amojoUrl, channelId: CHANNEL_ID, secret: CHANNEL_SECRET }).connect(account.amojoId, "t");
    const body = JSON.stringify({ event_type: "new_message", payload: { timestamp: 1, msec_timestamp: 1000, msgid: "m1", conversation_id: "c1", sender: { id: "u1", name: "U" }, message: { type: "text", text: "hi" }, silent: false } });
    const path = `/v2/origin/custom/${scopeId}`;
    const res = await http.post(fake.amojoUrl + path, body, { headers: amojoRequestHeaders({ secret: CHANNEL_SECRET, method: "POST", path, body, date: new Date() }), transformRequest: [(d: unknown) => d] });
    const doc = JSON.parse(readFileSync(new URL("../fixtures/amocrm/amojo-response.new-message.json", import.meta.url), "utf8")) as { new_message: object };
    expect(Object.keys(res.data.new_message).sort()).toEqual(Object.keys(doc.new_message).sort());
    expect(res.data.new_message).toMatchObject({ ref_id: "m1", receiver_id: null, msgid: expect.stringMatching(UUID) });
  });
});

describe("RequestGate", () => {
  it("starts at most 7 per second per key, in arrival order, other keys unaffected", async () => {
    const { gate, now } = fakeClockGate();
    const starts: Array<{ i: number; at: number }> = [];
    await Promise.all([
      ...Array.from({ length: 20 }, (_, i) =>
        gate.take("a").then((answered) => {
          starts.push({ i, at: now() });
          answered();
        }),
      ),
      gate.take("b").then((answered) => {
        starts.push({ i: -1, at: now() });
        answered();
      }),
    ]);
    const a = starts.filter((s) => s.i >= 0);
    expect(a.map((s) => s.i)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(maxInWindow(a.map((s) => s.at), 1000)).toBeLessThanOrEqual(7);
    expect(starts.find((s) => s.i === -1)!.at).toBe(a[0]!.at);
  });

  it("holds each slot until a second after its answer: a slow answer delays the next start", async () => {
    const { gate, now } = fakeClockGate();
    const t0 = now();
    const first = await Promise.all(Array.from({ length: 7 }, () => gate.take("a")));
    let eighthAt: number | undefined;
    const eighth = gate.take("a").then((answered) => {
      eighthAt = now();
      answered();
    });
    await new Promise((r) => setImmediate(r));
    expect(eighthAt).toBeUndefined(); // all seven in flight: no slot, however long we wait
    first[0]!(); // answered at t0: its slot frees a second later
    await eighth;
    expect(eighthAt! - t0).toBeGreaterThanOrEqual(1000);
    first.slice(1).forEach((answered) => answered());
  });

  it("holds a paused key until the pause ends", async () => {
    const { gate, now } = fakeClockGate();
    const t0 = now();
    gate.pause("a", 5000);
    (await gate.take("a"))();
    expect(now() - t0).toBeGreaterThanOrEqual(5000);
    const t1 = now();
    (await gate.take("b"))();
    expect(now()).toBe(t1);
  });
});

describe("amojo Chats API (§4)", () => {
  const amojo = (over: Partial<Parameters<typeof createAmojoClient>[0]> = {}) => createAmojoClient({ http, baseUrl: fake.amojoUrl, channelId: CHANNEL_ID, secret: CHANNEL_SECRET, ...over });

  const payload = (msgid: string): AmojoMessagePayload => ({
    timestamp: 1639604761,
    msec_timestamp: 1639604761694,
    msgid,
    conversation_id: "wa:artplay:79151112233",
    sender: { id: "wa:79151112233", name: "Иван / Ivan", avatar: "https://example.com/a/b.png", profile: { phone: "+79151112233" }, profile_link: "https://wa.me/79151112233" },
    message: { type: "text", text: "Здравствуйте! Запись на 18:00?" },
    source: { external_id: "main" },
    silent: false,
  });

  it("connects the account (hook v2), sends a message and reports delivery; every request passes the signature check", async () => {
    const account = await freshAccount();
    const client = amojo();
    const rejectedBefore = fake.rejected.length;

    const { scopeId } = await client.connect(account.amojoId, "WA Franchise");
    expect(scopeId).toBe(`${CHANNEL_ID}_${account.amojoId}`);
    expect(fake.connections.get(account.amojoId)).toMatchObject({ scopeId, connected: true, hookApiVersion: "v2", title: "WA Franchise" });

    const sent = await client.sendMessage(scopeId, payload("wamid.HBgLNzkxNTEx01"));
    expect(sent.msgid).toMatch(UUID);
    expect(sent.conversationId).toEqual(expect.any(String));
    const accepted = fake.messages.at(-1)!;
    expect(accepted).toEqual({ scopeId, amoMsgId: sent.msgid, body: { event_type: "new_message", payload: payload("wamid.HBgLNzkxNTEx01") } });

    // Same msgid again: amoCRM's id comes back, nothing new is created.
    const count = fake.messages.length;
    expect((await client.sendMessage(scopeId, payload("wamid.HBgLNzkxNTEx01"))).msgid).toBe(sent.msgid);
    expect(fake.messages).toHaveLength(count);

    // A manager replies in the card: the hook verifies; we report that WhatsApp refused it.
    const reply = fake.managerReply(scopeId, { conversationId: "wa:artplay:79151112233", text: "Да, ждём вас / see you" });
    expect(verifyAmojoHookSignature(Buffer.from(reply.body), reply.signature, CHANNEL_SECRET)).toBe(true);
    await client.deliveryStatus(scopeId, reply.amoMsgId, { status: -1, errorCode: 905, error: "Template required outside 24h window" });
    expect(fake.deliveryStatuses.at(-1)).toEqual({
      scopeId,
      amoMsgId: reply.amoMsgId,
      body: { msgid: reply.amoMsgId, delivery_status: -1, status_code: -1, error_code: 905, error: "Template required outside 24h window" },
    });
    await client.deliveryStatus(scopeId, reply.amoMsgId, { status: 2 });
    expect(fake.deliveryStatuses.at(-1)!.body).toEqual({ msgid: reply.amoMsgId, delivery_status: 2, status_code: 2 });

    expect(fake.rejected.slice(rejectedBefore)).toEqual([]);

    await client.disconnect(account.amojoId);
    expect(fake.connections.get(account.amojoId)!.connected).toBe(false);
    const after = await appErrorOf(client.sendMessage(scopeId, payload("wamid.after")));
    expect(after).toMatchObject({ code: "amojo_error", retryable: false });
  });

  it("a delivery status for an unknown message is a permanent error (404)", async () => {
    const account = await freshAccount();
    const client = amojo();
    const { scopeId } = await client.connect(account.amojoId, "WA Franchise");
    const err = await appErrorOf(client.deliveryStatus(scopeId, "079e44fb-fc22-476b-9e8a-421b688ec53b", { status: 1 }));
    expect(err).toMatchObject({ code: "amojo_error", retryable: false, httpStatus: 502 });
    expect(err.message).toContain("HTTP 404");
    expect(err.message).toContain("/delivery_status");
  });

  it("a wrong channel secret is refused (403) with a non-retryable error that names no secret", async () => {
    const account = await freshAccount();
    const before = fake.rejected.length;
    const err = await appErrorOf(amojo({ secret: "0000000000000000000000000000000000000000" }).connect(account.amojoId, "WA Franchise"));
    expect(err).toMatchObject({ code: "amojo_error", retryable: false });
    expect(err.message).toContain("POST");
    expect(err.message).toContain(`/v2/origin/custom/${CHANNEL_ID}/connect`);
    expect(err.message).toContain("HTTP 403");
    expect(err.message).not.toContain(CHANNEL_SECRET);
    expect(fake.rejected.slice(before)).toEqual([{ path: `/v2/origin/custom/${CHANNEL_ID}/connect`, reason: "bad X-Signature" }]);
    expect(fake.connections.has(account.amojoId)).toBe(false);
  });

  it("a Date older than 15 minutes is refused", async () => {
    const account = await freshAccount();
    const before = fake.rejected.length;
    const err = await appErrorOf(amojo({ now: () => Date.now() - 16 * 60_000 }).connect(account.amojoId, "WA Franchise"));
    expect(err).toMatchObject({ code: "amojo_error", retryable: false });
    expect(fake.rejected.slice(before).map((r) => r.reason)).toEqual(["Date outside 15 minutes"]);
  });

  it("connect only works for the channel amoCRM issued", async () => {
    const account = await freshAccount();
    const err = await appErrorOf(amojo({ channelId: "11111111-2222-4333-8444-555555555555" }).connect(account.amojoId, "WA Franchise"));
    expect(err).toMatchObject({ code: "amojo_error", retryable: false });
    expect(err.message).toContain("HTTP 404");
  });

  it.each([
    [503, true],
    [429, true],
    [400, false],
  ])("HTTP %i from amojo is retryable: %s", async (status, retryable) => {
    const account = await freshAccount();
    const client = amojo();
    const { scopeId } = await client.connect(account.amojoId, "WA Franchise");
    fake.failAmojo(1, status);
    const err = await appErrorOf(client.sendMessage(scopeId, payload(`wamid.fail${status}`)));
    expect(err).toMatchObject({ code: "amojo_error", retryable, httpStatus: 502 });
    expect(err.message).toContain(`HTTP ${status}`);
  });

  it("a message amojo's strict typing refuses is a permanent error", async () => {
    const account = await freshAccount();
    const client = amojo();
    const { scopeId } = await client.connect(account.amojoId, "WA Franchise");
    const bad = { ...payload("wamid.bad"), timestamp: 1639604761.5 };
    const err = await appErrorOf(client.sendMessage(scopeId, bad));
    expect(err).toMatchObject({ code: "amojo_error", retryable: false });
    expect(err.message).toContain("timestamp");
  });

  it("an unreachable amojo is retryable", async () => {
    const err = await appErrorOf(amojo({ baseUrl: "http://127.0.0.1:1" }).connect("x", "y"));
    expect(err).toMatchObject({ code: "amojo_error", retryable: true });
  });
});
