import axios from "axios";
import nock from "nock";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createB24Api, b24ErrorCode, type B24Api, type B24TokenSource } from "../../backend/src/crm/bitrix24/bitrix24.api.js";
import { installFromForm, refreshTokens, type B24Install } from "../../backend/src/crm/bitrix24/bitrix24.oauth.js";
import { parseNestedForm } from "../../backend/src/crm/bitrix24/form-body.js";
import { LeakyBucket } from "../../backend/src/crm/bitrix24/leaky-bucket.js";
import type { OAuthTokens } from "../../backend/src/domain/types.js";
import { bbcodeToWhatsApp } from "../../backend/src/crm/bitrix24/bbcode.js";
import { applicationTokenMatches, operatorMessages, parseB24Event } from "../../backend/src/crm/bitrix24/bitrix24-events.js";
import { AppError } from "../../backend/src/errors.js";
import { appErrorOf } from "../builders/app-error.js";
import { eventBody, installForm, operatorMessageBody, robotBody, startFakeBitrix24, type FakeBitrix24, type FakePortal } from "../builders/fake-bitrix24.js";

let world: FakeBitrix24;

beforeAll(async () => {
  nock.disableNetConnect();
  nock.enableNetConnect(/127\.0\.0\.1|localhost/);
  world = await startFakeBitrix24();
});
afterAll(async () => {
  await world.close();
});

/** Installs the app on a fresh fake portal the way the installer page would read it. */
async function installed(opts: Parameters<FakeBitrix24["addPortal"]>[0] = {}): Promise<{ portal: FakePortal; install: B24Install }> {
  const portal = await world.addPortal(opts);
  const req = installForm(portal);
  return { portal, install: installFromForm(parseNestedForm(req.body), req.query) };
}

/**
 * A token store as the token manager must behave: one refresh at a time, the rotated pair stored
 * before the new access token is handed out, no refresh when the rejected token was already replaced.
 */
function tokenStore(install: B24Install, log: string[] = [], portal?: FakePortal) {
  let stored: OAuthTokens = install.tokens;
  let inflight: Promise<string> | undefined;
  const oauth = { http: axios.create(), clientId: world.clientId, clientSecret: world.clientSecret, oauthUrl: world.oauthUrl };
  const source: B24TokenSource = {
    current: async () => stored.accessToken,
    refreshAfterRejection: (rejected) => {
      if (rejected !== stored.accessToken) return Promise.resolve(stored.accessToken);
      inflight ??= (async () => {
        const fresh = await refreshTokens(oauth, stored.refreshToken);
        stored = { accessToken: fresh.accessToken, refreshToken: fresh.refreshToken, expiresAt: fresh.expiresAt };
        log.push(`persisted ${fresh.accessToken} after ${portal?.calls.length ?? "?"} portal requests`);
        return fresh.accessToken;
      })().finally(() => {
        inflight = undefined;
      });
      return inflight;
    },
  };
  return { source, stored: () => stored, oauth };
}

function api(install: B24Install, tokens: B24TokenSource, over: Partial<Parameters<typeof createB24Api>[0]> = {}): B24Api {
  return createB24Api({
    http: axios.create(),
    clientEndpoint: install.clientEndpoint,
    memberId: install.memberId,
    tokens,
    bucket: new LeakyBucket({ ratePerSecond: 2, burst: 50 }),
    ...over,
  });
}

/** A fake clock that the injected sleep advances: backoffs take no real time. */
function fakeClock() {
  let t = 1_000_000;
  const sleeps: number[] = [];
  return {
    now: () => t,
    sleep: async (ms: number) => {
      sleeps.push(ms);
      t += ms;
    },
    sleeps,
  };
}

describe("Bitrix24 REST through B24OAuth against the fake portal", () => {
  it("calls /rest/<method> with the stored token in the body and returns `result`", async () => {
    const { portal, install } = await installed();
    const { source } = tokenStore(install);
    const profile = await api(install, source).call<{ ID: string; ADMIN: boolean }>("profile");
    expect(profile).toMatchObject({ ID: "1", ADMIN: true });
    const [call] = portal.calls;
    expect(call).toMatchObject({ method: "profile", status: 200, token: install.tokens.accessToken });
    expect(call!.path).toBe("/rest/profile");
  });

  it("on expired_token refreshes once, persists the rotated pair, then retries with the new token", async () => {
    const log: string[] = [];
    const { portal, install } = await installed();
    const store = tokenStore(install, log, portal);
    const b24 = api(install, store.source);
    await b24.call("profile");
    portal.expireAccessTokens();

    const info = await b24.call<{ INSTALLED: boolean }>("app.info");

    expect(info.INSTALLED).toBe(true);
    const fresh = store.stored();
    expect(fresh.accessToken).not.toBe(install.tokens.accessToken);
    expect(fresh.refreshToken).not.toBe(install.tokens.refreshToken);
    expect(portal.calls.map((c) => [c.method, c.status, c.error])).toEqual([
      ["profile", 200, undefined],
      ["app.info", 401, "expired_token"],
      ["app.info", 200, undefined],
    ]);
    // Stored after the rejected request and before the retry reached the portal.
    expect(log).toEqual([`persisted ${fresh.accessToken} after 2 portal requests`]);
    expect(portal.calls[2]!.token).toBe(fresh.accessToken);
    // The refresh went to the OAuth server as a form POST: no secret in a URL.
    const oauthCall = world.oauthCalls.at(-1)!;
    expect(oauthCall).toMatchObject({ httpMethod: "POST", status: 200, params: { grant_type: "refresh_token", client_id: world.clientId, refresh_token: install.tokens.refreshToken } });
    // Rotation: the old refresh token is dead now.
    const reuse = await appErrorOf(refreshTokens(store.oauth, install.tokens.refreshToken));
    expect(reuse).toMatchObject({ code: "bitrix24_oauth_rejected", retryable: false, details: { error: "invalid_grant" } });
    expect(reuse.message).not.toContain(install.tokens.refreshToken);
    expect(reuse.message).not.toContain(world.clientSecret);
  });

  it("coalesces concurrent rejections into one refresh, and a second client takes the stored token without a 401", async () => {
    const { portal, install } = await installed();
    const store = tokenStore(install, [], portal);
    const a = api(install, store.source);
    const b = api(install, store.source);
    await Promise.all([a.call("profile"), b.call("profile")]);
    portal.expireAccessTokens();
    const before = world.oauthCalls.length;

    await Promise.all(Array.from({ length: 5 }, () => a.call("profile")));
    expect(world.oauthCalls.length - before).toBe(1);

    const seen = portal.calls.length;
    await b.call("profile");
    expect(portal.calls.slice(seen).map((c) => [c.status, c.token])).toEqual([[200, store.stored().accessToken]]);
    expect(world.oauthCalls.length - before).toBe(1);
  });

  it("surfaces the token source's failure when the grant is gone (app uninstalled)", async () => {
    const { portal, install } = await installed();
    const { source } = tokenStore(install);
    const b24 = api(install, source);
    portal.uninstall();
    const err = await appErrorOf(b24.call("profile"));
    expect(err).toMatchObject({ code: "bitrix24_oauth_rejected", retryable: false });
    expect(portal.calls.map((c) => c.error)).toEqual(["invalid_token"]);
  });

  it("backs off on QUERY_LIMIT_EXCEEDED and succeeds, waiting longer each time (injected clock)", async () => {
    const { portal, install } = await installed();
    const { source } = tokenStore(install);
    const lead = portal.addLead({ TITLE: "WhatsApp: Ana", PHONE: [{ VALUE: "+15551234567", VALUE_TYPE: "MOBILE" }] });
    portal.failNext("crm.lead.get", { status: 503, error: "QUERY_LIMIT_EXCEEDED", error_description: "Too many requests" }, 2);
    const clock = fakeClock();
    const b24 = api(install, source, { sleep: clock.sleep, bucket: new LeakyBucket({ ratePerSecond: 2, burst: 50, now: clock.now, sleep: clock.sleep }) });

    const got = await b24.call<{ ID: string; TITLE: string }>("crm.lead.get", { id: lead });

    expect(got).toMatchObject({ ID: String(lead), TITLE: "WhatsApp: Ana" });
    expect(portal.callsOf("crm.lead.get").map((c) => c.status)).toEqual([503, 503, 200]);
    expect(clock.sleeps.length).toBeGreaterThanOrEqual(2);
    expect(clock.sleeps[1]!).toBeGreaterThan(clock.sleeps[0]!);
  });

  it("gives up after maxAttempts with a retryable bitrix24_error", async () => {
    const { portal, install } = await installed();
    const { source } = tokenStore(install);
    portal.failNext("profile", { status: 503, error: "QUERY_LIMIT_EXCEEDED", error_description: "Too many requests" }, 10);
    const clock = fakeClock();
    const b24 = api(install, source, { maxAttempts: 3, sleep: clock.sleep, bucket: new LeakyBucket({ ratePerSecond: 2, burst: 50, now: clock.now, sleep: clock.sleep }) });
    const err = await appErrorOf(b24.call("profile"));
    expect(err).toMatchObject({ code: "bitrix24_error", retryable: true, details: { error: "QUERY_LIMIT_EXCEEDED", error_description: "Too many requests", status: 503 } });
    expect(portal.callsOf("profile")).toHaveLength(3);
  });

  it.each([
    [500, "INTERNAL_SERVER_ERROR", true],
    [500, "PORTAL_DELETED", false],
    [403, "insufficient_scope", false],
    [403, "WRONG_AUTH_TYPE", false],
    [429, "OPERATION_TIME_LIMIT", true],
    [400, "ERROR_ARGUMENT", false],
  ])("maps HTTP %i %s to bitrix24_error, retryable=%s, without the token in the message", async (status, error, retryable) => {
    const { portal, install } = await installed();
    const { source } = tokenStore(install);
    portal.failNext("imconnector.status", { status, error, error_description: `failed with ${error}` });
    const err = await appErrorOf(api(install, source).call("imconnector.status", { CONNECTOR: "acme_whatsapp", LINE: 1 }));
    expect(err).toMatchObject({ code: "bitrix24_error", retryable, details: { method: "imconnector.status", error, error_description: `failed with ${error}`, status } });
    expect(b24ErrorCode(err)).toBe(error);
    expect(err.message).toContain(error);
    expect(err.message).not.toContain(install.tokens.accessToken);
    expect(portal.callsOf("imconnector.status")).toHaveLength(1);
  });

  it("maps a network failure to a retryable error", async () => {
    const { install } = await installed();
    const { source } = tokenStore(install);
    const dead = createB24Api({ clientEndpoint: "http://127.0.0.1:1/rest/", memberId: install.memberId, tokens: source, bucket: new LeakyBucket({ ratePerSecond: 2, burst: 50 }) });
    const err = await appErrorOf(dead.call("profile"));
    expect(err).toMatchObject({ code: "bitrix24_error", retryable: true, details: { status: 0 } });
  });

  it("keeps the fake within its leaky bucket for 120 concurrent calls", async () => {
    const rate = 40;
    const burst = 50;
    const { portal, install } = await installed({ ratePerSecond: rate, burst });
    const { source } = tokenStore(install);
    const b24 = api(install, source, { bucket: new LeakyBucket({ ratePerSecond: rate, burst }), maxAttempts: 1 });
    await b24.call("profile");

    // 120 calls in flight together. They are started one event-loop turn apart because the fake shares
    // our event loop: started in one turn, our own CPU work for all 120 would hold back the fake's
    // arrival timestamps and squeeze them together (a remote portal's clock would not be affected).
    const pending: Array<Promise<unknown>> = [];
    for (let i = 0; i < 120; i++) {
      pending.push(b24.call<{ ID: string }>("profile").catch((err: unknown) => err));
      await new Promise((r) => setImmediate(r));
    }
    const results = await Promise.all(pending);

    expect(results.filter((r) => (r as { ID?: string }).ID !== "1")).toEqual([]);
    expect(portal.calls.filter((c) => c.status !== 200)).toEqual([]);
    const times = portal.calls.map((c) => c.at).sort((x, y) => x - y);
    expect(times).toHaveLength(121);
    // Leaky-bucket envelope: any run of requests fits the burst plus what drained meanwhile.
    let worst = -Infinity;
    for (let i = 0; i < times.length; i++) {
      for (let j = i; j < times.length; j++) worst = Math.max(worst, j - i + 1 - (burst + (rate * (times[j]! - times[i]!)) / 1000));
    }
    expect(worst).toBeLessThanOrEqual(1e-6);
  });

  it("without the bucket the same burst is refused by the fake (the check above can fail)", async () => {
    const { portal, install } = await installed({ ratePerSecond: 25, burst: 50 });
    const { source } = tokenStore(install);
    const b24 = api(install, source, { bucket: new LeakyBucket({ ratePerSecond: 1e6, burst: 1e6 }), maxAttempts: 1 });
    const settled = await Promise.allSettled(Array.from({ length: 120 }, () => b24.call("profile")));
    const refused = settled.filter((s) => s.status === "rejected").map((s) => b24ErrorCode((s as PromiseRejectedResult).reason));
    expect(refused.length).toBeGreaterThan(0);
    expect(new Set(refused)).toEqual(new Set(["QUERY_LIMIT_EXCEEDED"]));
    expect(portal.calls.filter((c) => c.status === 503).length).toBe(refused.length);
  });

  it("runs a batch in one request with halt=0 and surfaces the failing command", async () => {
    const { portal, install } = await installed();
    const { source } = tokenStore(install);
    const lead = portal.addLead({ TITLE: "Lead 1", PHONE: [{ VALUE: "+15551234567", VALUE_TYPE: "MOBILE" }] });

    const out = await api(install, source).batch({
      lead: ["crm.lead.get", { id: lead }],
      missing: ["crm.lead.get", { id: 999_999 }],
      dup: ["crm.duplicate.findbycomm", { type: "PHONE", values: ["+15551234567"] }],
      robots: ["bizproc.robot.list"],
    });

    expect(portal.callsOf("batch")).toHaveLength(1);
    expect(String(portal.callsOf("batch")[0]!.params.halt)).toBe("0");
    expect(portal.commands.filter((c) => c.viaBatch).map((c) => c.method)).toEqual(["crm.lead.get", "crm.lead.get", "crm.duplicate.findbycomm", "bizproc.robot.list"]);
    expect(out.lead).toMatchObject({ ID: String(lead), TITLE: "Lead 1" });
    expect(out.dup).toEqual({ LEAD: [lead] });
    expect(out.robots).toEqual([]);
    expect(out.missing).toBeInstanceOf(AppError);
    expect(out.missing).toMatchObject({ code: "bitrix24_error", details: { method: "crm.lead.get", error: "ERROR_ENTITY_NOT_FOUND", error_description: "Not found" } });
  });

  it("refuses a batch over 50 commands before sending anything", async () => {
    const { portal, install } = await installed();
    const { source } = tokenStore(install);
    const calls = Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`c${i}`, ["profile"] as [string]]));
    expect(await appErrorOf(api(install, source).batch(calls))).toMatchObject({ code: "bitrix24_batch_too_large" });
    expect(portal.calls).toHaveLength(0);
  });

  it("findByPhone finds leads and contacts whatever the stored format, and copes with result: []", async () => {
    const { portal, install } = await installed();
    const { source } = tokenStore(install);
    const lead = portal.addLead({ TITLE: "L", PHONE: [{ VALUE: "+15551234567", VALUE_TYPE: "MOBILE" }] });
    const contact = portal.addContact({ NAME: "Ana", PHONE: [{ VALUE: "15551234567", VALUE_TYPE: "WORK" }] });
    portal.addContact({ NAME: "Other", PHONE: [{ VALUE: "+15559990000", VALUE_TYPE: "WORK" }] });
    const b24 = api(install, source);

    expect(await b24.findByPhone("+1 555 123-4567")).toEqual({ leadIds: [lead], contactIds: [contact], companyIds: [] });
    expect(await b24.findByPhone("+4915100000000")).toEqual({ leadIds: [], contactIds: [], companyIds: [] });
    const sent = portal.callsOf("crm.duplicate.findbycomm")[0]!.params;
    expect(sent.type).toBe("PHONE");
    expect(sent.entity_type).toBeUndefined();
  });

  describe("sendMessages", () => {
    const message = (i: number) => ({
      user: { id: `1555000${String(i).padStart(4, "0")}`, name: "Ana", phone: `+1555000${String(i).padStart(4, "0")}` },
      message: { id: `wamid.TEST${i}`, date: 1773265993, text: `Hola ${i}` },
      chat: { id: `1555000${String(i).padStart(4, "0")}`, name: "WhatsApp Ana" },
    });

    async function lineReady() {
      const { portal, install } = await installed();
      const { source } = tokenStore(install);
      const b24 = api(install, source, { messagesPerCall: 20 });
      const reg = await b24.call<{ result: boolean }>("imconnector.register", {
        ID: "acme_whatsapp",
        NAME: "WhatsApp",
        ICON: { DATA_IMAGE: "data:image/svg+xml,%3Csvg%3E%3C/svg%3E" },
        PLACEMENT_HANDLER: "https://app.example.com/bitrix24/placement",
      });
      expect(reg.result).toBe(true);
      await b24.call("imconnector.activate", { CONNECTOR: "acme_whatsapp", LINE: 1, ACTIVE: "1" });
      return { portal, b24 };
    }

    it("sends in chunks, in order, and returns every item with its Bitrix24 chat", async () => {
      const { portal, b24 } = await lineReady();
      const items = await b24.sendMessages("acme_whatsapp", "1", Array.from({ length: 45 }, (_, i) => message(i)));
      expect(portal.callsOf("imconnector.send.messages").map((c) => (c.params.MESSAGES as unknown[]).length)).toEqual([20, 20, 5]);
      expect(items).toHaveLength(45);
      expect(items.every((x) => x.SUCCESS === true && typeof x.session?.CHAT_ID === "string")).toBe(true);
      expect(portal.state.inbound.map((x) => x.message.message.id)).toEqual(Array.from({ length: 45 }, (_, i) => `wamid.TEST${i}`));
    });

    it("reports what was accepted when a later chunk fails", async () => {
      const { portal, b24 } = await lineReady();
      portal.failNext("imconnector.send.messages", { status: 400, error: "NOT_ACTIVE_LINE", error_description: "The line is not active" });
      const first = await appErrorOf(b24.sendMessages("acme_whatsapp", "1", [message(1)]));
      expect(first).toMatchObject({ code: "bitrix24_error", retryable: false, details: { error: "NOT_ACTIVE_LINE" } });

      // The second chunk fails, the first went through.
      portal.failNext("imconnector.send.messages", { status: 500, error: "INTERNAL_SERVER_ERROR", error_description: "boom" }, 1, 1);
      const run = b24.sendMessages("acme_whatsapp", "1", Array.from({ length: 30 }, (_, i) => message(i)));
      const err = await appErrorOf(run);
      expect(err).toMatchObject({ code: "bitrix24_error", retryable: true, details: { error: "INTERNAL_SERVER_ERROR" } });
      expect((err.details as { accepted: unknown[] }).accepted).toHaveLength(20);
      expect(err.message).toContain("after 20 messages were accepted");
    });
  });
});

describe("what the fake portal posts to us, read by our parsers", () => {
  it("an operator reply event carries the portal's application token and BBCode text", async () => {
    const { portal } = await installed();
    const event = parseB24Event(operatorMessageBody(portal, { connector: "acme_whatsapp", line: 1, chatId: "15551234567", text: "[b]Klaus:[/b][br]Ready &quot;today&quot;" }));
    expect(applicationTokenMatches(event, portal.applicationToken)).toBe(true);
    expect(applicationTokenMatches(event, "another-portal-token")).toBe(false);
    const [m] = operatorMessages(event);
    expect(m).toMatchObject({ connector: "acme_whatsapp", lineId: "1", chatId: "15551234567", imChatId: "1807", messageId: "86497", userId: "27", system: false });
    expect(bbcodeToWhatsApp(m!.text!)).toBe('*Klaus:*\nReady "today"');
  });

  it("ONAPPUNINSTALL carries no tokens; ONAPPINSTALL a refresh token the OAuth server accepts", async () => {
    const { portal } = await installed();
    const un = parseB24Event(eventBody(portal, "OnAppUninstall", { LANGUAGE_ID: "en", CLEAN: 0 }));
    expect(un.auth).toMatchObject({ memberId: portal.memberId, domain: portal.domain, applicationToken: portal.applicationToken });
    expect(un.auth.accessToken).toBeUndefined();
    const inst = parseB24Event(eventBody(portal, "ONAPPINSTALL", { VERSION: "1", ACTIVE: "Y", INSTALLED: "Y", LANGUAGE_ID: "en" }));
    const fresh = await refreshTokens({ http: axios.create(), clientId: world.clientId, clientSecret: world.clientSecret, oauthUrl: world.oauthUrl }, inst.auth.refreshToken!);
    expect(fresh).toMatchObject({ memberId: portal.memberId, clientEndpoint: portal.clientEndpoint });
  });

  it("a robot call's event_token answers bizproc.event.send exactly once", async () => {
    const { portal, install } = await installed();
    const { source } = tokenStore(install);
    const robot = robotBody(portal, { documentId: ["crm", "CCrmDocumentDeal", "DEAL_123"], properties: { template: "order_ready|es", phone: "", vars: ["Ana", "#4711"] } });
    const body = parseNestedForm(robot.body);
    expect(body).toMatchObject({ code: "wa_send_template", document_type: ["crm", "CCrmDocumentDeal", "DEAL"], properties: { vars: ["Ana", "#4711"] }, auth: { member_id: portal.memberId } });
    const b24 = api(install, source);
    const send = () => b24.call("bizproc.event.send", { EVENT_TOKEN: body.event_token, RETURN_VALUES: { message_id: "wamid.X", status: "sent" } });
    expect(await send()).toBe(true);
    expect(b24ErrorCode(await appErrorOf(send()))).toBe("ACCESS_DENIED");
    expect(portal.state.bizprocEvents).toHaveLength(1);
  });

  it("refuses duplicate registrations the way the doc says, so installers can count them", async () => {
    const { portal, install } = await installed();
    const { source } = tokenStore(install);
    const b24 = api(install, source);
    const bind = () => b24.call("event.bind", { event: "OnImConnectorMessageAdd", handler: "https://app.example.com/bitrix24/events" });
    expect(await bind()).toBe(true);
    expect(b24ErrorCode(await appErrorOf(bind()))).toBe("ERROR_CORE");
    const robot = { CODE: "wa_send_template", HANDLER: "https://app.example.com/bitrix24/robot", NAME: { en: "Send WhatsApp template" } };
    expect(await b24.call("bizproc.robot.add", robot)).toBe(true);
    expect(b24ErrorCode(await appErrorOf(b24.call("bizproc.robot.add", robot)))).toBe("ERROR_ACTIVITY_ALREADY_INSTALLED");
    expect(await b24.call("imconnector.register", { ID: "acme_whatsapp", NAME: "WhatsApp" })).toEqual({ result: false, error: "ICON_REQUIRED", error_description: "Icon is required" });
    expect(portal.state.events).toEqual([{ event: "ONIMCONNECTORMESSAGEADD", handler: "https://app.example.com/bitrix24/events", auth_type: 0, offline: 0 }]);
    expect(portal.registrations()).toEqual({
      events: { "ONIMCONNECTORMESSAGEADD https://app.example.com/bitrix24/events": 1 },
      placements: {},
      connectors: {},
      robots: { wa_send_template: 1 },
      activeLines: {},
    });
  });
});

describe("LeakyBucket (injected clock)", () => {
  it("lets the burst through, then one request per drain interval, per key", async () => {
    const clock = fakeClock();
    const bucket = new LeakyBucket({ ratePerSecond: 2, burst: 4, marginMs: 500, now: clock.now, sleep: clock.sleep });
    await Promise.all(Array.from({ length: 5 }, () => bucket.take("portal-a")));
    // 3 at once (burst 4 minus 1 slot of margin), then one every 500 ms.
    expect(clock.sleeps).toEqual([500, 500]);
    // Another portal is not held up by the first.
    const before = clock.now();
    await bucket.take("portal-b");
    expect(clock.now()).toBe(before);
  });

  it("pause holds the key and restarts at the drain rate", async () => {
    const clock = fakeClock();
    const bucket = new LeakyBucket({ ratePerSecond: 2, burst: 3, marginMs: 0, now: clock.now, sleep: clock.sleep });
    await bucket.take("p");
    bucket.pause("p", 2000);
    const t0 = clock.now();
    await bucket.take("p");
    await bucket.take("p");
    // After the pause the bucket counts as full minus what drained during it (2 s × 2/s = 4 → empty).
    expect(clock.now() - t0).toBe(2000);
    bucket.pause("p", 0);
    const t1 = clock.now();
    await bucket.take("p");
    expect(clock.now() - t1).toBe(500);
  });
});
