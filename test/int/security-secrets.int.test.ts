import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { Writable } from "node:stream";
import nock from "nock";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../backend/src/ops/logger.js";
import { SecretBox } from "../../backend/src/security/secret-box.js";
import { startServer, type RunningServer } from "../../backend/src/server.js";
import { loopbackOnly, nockGraph, openNetwork } from "../builders/graph-nock.js";
import { api, postWebhook, productionEnv, startReceiver, tempDir, waitFor } from "../builders/harness.js";
import { envelope, messagesValue, NUMBER, textMessage } from "../builders/meta-payloads.js";
import { botToken, startFakeAmo, widgetToken, type FakeAccount, type FakeAmo } from "../builders/fake-amocrm.js";
import { installForm, operatorMessageBody, startFakeBitrix24, type FakeBitrix24, type FakePortal } from "../builders/fake-bitrix24.js";

/**
 * Secrets at rest and in logs. A scenario touching every kind of secret (branch keys, webhook
 * secret, amoCRM code and token pairs with a refresh, amojo channel secret, Bitrix24 token pairs and
 * application token, Meta's app secret and access token, admin token, SECRET_KEY) runs with
 * LOG_LEVEL=trace; then the store's files (state.json, journal) and every log line are searched for
 * each secret in clear text.
 */

const WABA = "102290129340398";
const PUBLIC = "https://branchline.example";
const SECRETS = {
  appSecret: "meta-app-secret-7c1d9a0e55b2",
  accessToken: "EAAGm0PX4ZCpsBAsecret-graph-token-91f2",
  adminToken: "admin-token-of-the-network-5e8a1c",
  secretKey: "secret-key-for-sealing-at-rest-0123456789abcdef",
  verifyToken: "verify-token-3f6b",
};
const CLIENT = { clientId: "0b0832f6-d123-4123-9123-e73f236833d9", clientSecret: "amocrm-client-secret-3a7f0c9e21" };
const CHANNEL = { channelId: "344a5002-f8ca-454d-af3d-396180102ad0", channelSecret: "amojo-channel-secret-6e2b8f1d04a9c7", botId: "bot-secrets" };
const TEMPLATES = [
  {
    name: "order_ready", parameter_format: "POSITIONAL", language: "ru", status: "APPROVED", category: "UTILITY", id: "1002",
    components: [{ type: "BODY", text: "Заказ {{1}} готов.", example: { body_text: [["42"]] } }],
  },
];

describe("secrets are sealed at rest and absent from logs", () => {
  let dir: { dir: string; remove(): Promise<void> };
  let s: RunningServer;
  let amo: FakeAmo;
  let acc: FakeAccount;
  let b24: FakeBitrix24;
  let portal: FakePortal;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  const logLines: string[] = [];
  /** Every secret value that existed during the scenario (filled as they appear). */
  const secrets = new Map<string, string>();
  let filesWhileRunning = "";
  let filesAfterStop = "";
  let secretsFileMode = 0;

  const readStoreFiles = async () => {
    const parts: string[] = [];
    for (const name of await readdir(dir.dir)) {
      if (name === "secrets.json" || name === "media") continue;
      const st = await stat(join(dir.dir, name));
      if (st.isFile()) parts.push(`--- ${name}\n${await readFile(join(dir.dir, name), "utf8")}`);
    }
    return parts.join("\n");
  };

  beforeAll(async () => {
    loopbackOnly();
    // One send fails first: added before the fake's interceptors, it answers first.
    nock("http://graph.test").post(`/v25.0/${NUMBER.phoneNumberId}/messages`).once().reply(500, { error: { message: "An unknown error has occurred.", type: "OAuthException", code: 1, fbtrace_id: "AbC" } });
    nockGraph({ templates: TEMPLATES, wamidPrefix: "SEC" });
    amo = await startFakeAmo({ ...CLIENT, redirectUri: `${PUBLIC}/amocrm/oauth`, ...CHANNEL });
    acc = await amo.addAccount({ id: 42000001, subdomain: "secrets" });
    const lead = acc.addLead({ name: "Lead", contactId: acc.addContact({ name: "Ivan", phone: "+79165550101" }) });
    b24 = await startFakeBitrix24();
    portal = await b24.addPortal();
    receiver = await startReceiver([200]);
    dir = await tempDir("branchline-secrets-");
    const sink = new Writable({
      write(chunk, _enc, cb) {
        logLines.push(...String(chunk).split("\n").filter(Boolean));
        cb();
      },
    });
    s = await startServer(
      productionEnv(dir.dir, {
        LOG_LEVEL: "trace",
        PUBLIC_URL: PUBLIC,
        WHATSAPP_WABA_ID: WABA,
        WHATSAPP_ACCESS_TOKEN: SECRETS.accessToken,
        WHATSAPP_APP_SECRET: SECRETS.appSecret,
        WHATSAPP_VERIFY_TOKEN: SECRETS.verifyToken,
        ADMIN_TOKEN: SECRETS.adminToken,
        SECRET_KEY: SECRETS.secretKey,
        ...amo.env,
        ...b24.env,
      }),
      { logger: createLogger("trace", sink) },
    );
    for (const [k, v] of Object.entries(SECRETS)) secrets.set(k, v);
    secrets.set("amoCRM client secret", CLIENT.clientSecret);
    secrets.set("amojo channel secret", CHANNEL.channelSecret);
    secrets.set("Bitrix24 client secret", b24.clientSecret);
    secrets.set("Bitrix24 application token", portal.applicationToken);

    const admin = (method: string, path: string, body?: unknown) => api(s.url, SECRETS.adminToken, method, path, body);
    await waitFor(async () => (await admin("GET", "/admin/api/templates")).body.templates?.length === 1, "templates synced");
    const amoBranch = (await admin("POST", "/admin/api/branches", { name: "Amo", code: "AMO", crm: "amocrm" })).body;
    const b24Branch = (await admin("POST", "/admin/api/branches", { name: "B24", code: "B24", crm: "bitrix24" })).body;
    const hook = (await admin("POST", "/admin/api/branches", { name: "Hook", code: "HOOK", crm: "webhook", webhookUrl: receiver.url, isHq: true })).body;
    secrets.set("amoCRM branch key", amoBranch.apiKey);
    secrets.set("Bitrix24 branch key", b24Branch.apiKey);
    secrets.set("webhook branch key", hook.apiKey);
    secrets.set("webhook secret", hook.webhookSecret);
    const rotated = (await admin("POST", `/admin/api/branches/${hook.id}/rotate-key`)).body;
    secrets.set("rotated branch key", rotated.apiKey);

    // amoCRM: install (code → tokens), bind, a customer's message into the card, a Salesbot step, a refresh.
    const code = acc.issueCode();
    secrets.set("amoCRM authorization code", code);
    expect((await fetch(`${s.url}/amocrm/oauth?code=${encodeURIComponent(code)}&referer=${encodeURIComponent(acc.domain)}`)).status).toBe(200);
    await waitFor(() => amo.connections.get(acc.amojoId)?.connected, "amoCRM connected");
    const widgetJwt = widgetToken({ account: acc, ...CLIENT, aud: PUBLIC });
    const widget = (path: string, init: RequestInit = {}) => fetch(`${s.url}/amocrm/widget${path}`, { ...init, headers: { "x-auth-token": widgetJwt, "content-type": "application/json", ...init.headers } });
    expect((await widget("/register", { method: "POST", body: JSON.stringify({ branch_key: amoBranch.apiKey }) })).status).toBe(200);
    // Error paths log their errors: amojo and the REST API fail once on the way.
    amo.failAmojo(1, 500);
    await postWebhook(s.url, envelope(messagesValue([textMessage({ from: "79165550101", text: "Hello AMO" })])), { secret: SECRETS.appSecret });
    await waitFor(() => amo.messages.find((m) => m.body.payload.message.text === "Hello AMO"), "the message in amoCRM");
    acc.failNext(1, 500);
    expect((await widget(`/context?lead_id=${lead}`)).status).toBeGreaterThanOrEqual(500);
    acc.expireAccessToken();
    expect((await widget(`/context?lead_id=${lead}`)).status).toBe(200);
    const bot = { token: botToken({ account: acc, ...CLIENT, aud: PUBLIC, entityId: lead }), data: { template: "order_ready", language: "ru", params: ["7"], lead_id: String(lead) }, return_url: `http://${acc.domain}/api/v4/salesbot/5/continue/6` };
    expect((await fetch(`${s.url}/amocrm/salesbot`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(bot) })).status).toBe(200);
    await waitFor(() => acc.botContinues.length > 0, "the bot continued");
    secrets.set("amoCRM widget JWT", widgetJwt);
    secrets.set("amoCRM bot JWT", bot.token);

    // Bitrix24: install (refresh token traded), bind, a customer's message, an operator's reply, a refresh.
    const f = installForm(portal);
    secrets.set("Bitrix24 install access token", f.tokens.access_token);
    secrets.set("Bitrix24 install refresh token", f.tokens.refresh_token);
    expect((await fetch(`${s.url}/bitrix24/install?${f.queryString}`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: f.body })).status).toBe(200);
    const reg = await fetch(`${s.url}/bitrix24/register`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ member_id: portal.memberId, auth: f.fields.AUTH_ID, branch_key: b24Branch.apiKey }) });
    expect(reg.status).toBe(200);
    const line = ((await reg.json()) as { line: string }).line;
    await postWebhook(s.url, envelope(messagesValue([textMessage({ from: "79165550202", text: "Hello B24" })])), { secret: SECRETS.appSecret });
    await waitFor(() => portal.state.inbound.find((m) => m.message.message.text === "Hello B24"), "the message in Open Lines");
    portal.expireAccessTokens();
    portal.failNext("imconnector.send.status.delivery", { status: 500, error: "INTERNAL_SERVER_ERROR", error_description: "Internal error" });
    const reply = operatorMessageBody(portal, { connector: "branchline_whatsapp", line, chatId: "79165550202", text: "Hi from B24", messageId: 70001 });
    expect((await fetch(`${s.url}/bitrix24/events`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: reply })).status).toBe(200);
    await waitFor(() => portal.state.deliveries.find((d) => d.params.MESSAGES?.[0]?.im?.message_id === 70001), "the delivery confirmed after a refresh");

    // The webhook connector: a signed event to the branch's URL.
    await postWebhook(s.url, envelope(messagesValue([textMessage({ from: "79165550303", text: "Hello HOOK" })])), { secret: SECRETS.appSecret });
    await waitFor(() => receiver.received.find((h) => h.body.message?.text === "Hello HOOK"), "the event at the webhook");
    // A refused admin call and a refused branch call with wrong credentials are logged too.
    await api(s.url, "wrong-admin-token-123456", "GET", "/admin/api/branches");

    // The sealed values, opened with SECRET_KEY: the live tokens now in the store.
    const box = new SecretBox(SECRETS.secretKey);
    const sealed = await s.store.read(async (tx) => [...(await tx.list("crmConnections")), ...(await tx.list("branches"))]);
    for (const row of sealed as Array<Record<string, any>>) {
      if (row.tokensSealed) {
        const t = JSON.parse(box.open(row.tokensSealed)) as { accessToken: string; refreshToken: string };
        secrets.set(`${row.id} access token`, t.accessToken);
        secrets.set(`${row.id} refresh token`, t.refreshToken);
      }
      for (const [k, v] of Object.entries((row.secretsSealed ?? {}) as Record<string, string>)) secrets.set(`${row.id} ${k}`, box.open(v));
      if (row.webhookSecretSealed) secrets.set(`${row.id} webhook secret (sealed)`, box.open(row.webhookSecretSealed));
    }
    secrets.set("amoCRM current access token", acc.accessToken);
    secrets.set("amoCRM current refresh token", acc.refreshToken);
    filesWhileRunning = await readStoreFiles();
    await s.close();
    filesAfterStop = await readStoreFiles();
    secretsFileMode = (await stat(join(dir.dir, "secrets.json"))).mode & 0o777;
  }, 60_000);

  afterAll(async () => {
    await amo?.close();
    await b24?.close();
    await receiver?.close();
    await dir?.remove();
    openNetwork();
  });

  it("collected the secrets of every kind (the scenario really ran)", () => {
    for (const name of ["amoCRM authorization code", "webhook secret", "Bitrix24 application token"]) expect(secrets.get(name)).toBeTruthy();
    expect([...secrets.keys()].filter((k) => k.endsWith("refresh token")).length).toBeGreaterThanOrEqual(3);
    expect(filesWhileRunning).toContain("crmConnections");
    expect(filesAfterStop.length).toBeGreaterThan(0);
    // The scenario's own log lines are there (the capture works): the amoCRM install and the template sync.
    expect(logLines.some((l) => l.includes("amoCRM authorization code stored"))).toBe(true);
    expect(logLines.some((l) => l.includes("templates synced"))).toBe(true);
    // And error paths with their causes (the injected 500s).
    expect(logLines.filter((l) => l.includes('"err"')).length).toBeGreaterThanOrEqual(2);
  });

  it("the store's files (state.json and journal) hold no secret in clear text", () => {
    const found = [...secrets].filter(([, v]) => v.length >= 8 && (filesWhileRunning.includes(v) || filesAfterStop.includes(v))).map(([k]) => k);
    expect(found).toEqual([]);
  });

  it("no secret appears in any log line at trace level", () => {
    const found = [...secrets].filter(([, v]) => v.length >= 8 && logLines.some((l) => l.includes(v))).map(([k]) => k);
    expect(found).toEqual([]);
  });

  it("generated secrets are kept readable only by the owner", () => {
    expect(secretsFileMode).toBe(0o600);
  });
});
