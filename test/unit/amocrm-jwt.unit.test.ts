import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { issuerHost, verifyBotToken, verifyDisconnect, verifyWidgetToken } from "../../backend/src/crm/amocrm/amocrm.jwt.js";
import { parseAccountDomain } from "../../backend/src/crm/amocrm/amocrm.oauth.js";
import { AppError } from "../../backend/src/errors.js";

// The doc's decoded widget token (§1.5): iat 1594204245, exp 1594206045, aud https://external.integration.io.
const DOC_CLAIMS = JSON.parse(readFileSync(new URL("../fixtures/amocrm/widget-token.payload.json", import.meta.url), "utf8")) as Record<string, unknown>;
const CLIENT_ID = DOC_CLAIMS.client_uuid as string;
const CLIENT_SECRET = "oZ3u8kQ2vB7nM1xR4tY6wE9pL0aS5dF8gH2jK4lZ7xC1vB3nM6qW9eR2tY5uI8oP";
const AUDIENCE = "https://external.integration.io";
const IAT = 1594204245;
const EXP = 1594206045;

const b64 = (o: unknown) => Buffer.from(typeof o === "string" ? o : JSON.stringify(o)).toString("base64url");

/** Signs like amoCRM does (HMAC over `header.payload`, key = client secret). */
function token(claims: Record<string, unknown> = DOC_CLAIMS, alg = "HS256", secret = CLIENT_SECRET): string {
  const h = b64({ typ: "JWT", alg });
  const p = b64(claims);
  if (alg === "none") return `${h}.${p}.`;
  const hash = { HS256: "sha256", HS384: "sha384", HS512: "sha512" }[alg]!;
  return `${h}.${p}.${createHmac(hash, secret).update(`${h}.${p}`).digest("base64url")}`;
}

const at = (epochSec: number) => () => epochSec * 1000;
const widgetOpts = (nowSec = IAT + 10) => ({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, audience: AUDIENCE, now: at(nowSec) });

function rejection(fn: () => unknown): AppError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    const e = err as AppError;
    expect(e.code).toBe("invalid_token");
    expect(e.httpStatus).toBe(401);
    expect(e.message).not.toContain(CLIENT_SECRET);
    return e;
  }
  throw new Error("expected the token to be refused");
}

describe("widget token (X-Auth-Token, §1.5)", () => {
  it("accepts the doc's token signed HS256 and maps its claims", () => {
    expect(verifyWidgetToken(token(), widgetOpts())).toEqual({
      accountId: "12345678",
      userId: "87654321",
      subdomain: "subdomain",
      iss: "https://subdomain.amocrm.ru",
      aud: AUDIENCE,
      clientUuid: CLIENT_ID,
    });
  });

  it("accepts is_admin and an aud written with a trailing slash", () => {
    const claims = verifyWidgetToken(token({ ...DOC_CLAIMS, aud: `${AUDIENCE}/`, is_admin: true }), widgetOpts());
    expect(claims.isAdmin).toBe(true);
  });

  it.each([
    ["alg none", () => token(DOC_CLAIMS, "none"), /algorithm "none" not allowed/],
    ["HS512 where only HS256 is allowed", () => token(DOC_CLAIMS, "HS512"), /algorithm "HS512" not allowed/],
    ["a wrong secret", () => token(DOC_CLAIMS, "HS256", "another-secret"), /bad signature/],
    ["a changed payload", () => {
      const [h, , s] = token().split(".");
      return `${h}.${b64({ ...DOC_CLAIMS, account_id: 99999999 })}.${s}`;
    }, /bad signature/],
    ["a wrong aud", () => token({ ...DOC_CLAIMS, aud: "https://evil.example" }), /aud/],
    ["no aud", () => token({ ...DOC_CLAIMS, aud: undefined }), /aud/],
    ["a foreign client_uuid", () => token({ ...DOC_CLAIMS, client_uuid: "11111111-2222-4333-8444-555555555555" }), /client_uuid/],
    ["no account_id", () => token({ ...DOC_CLAIMS, account_id: undefined }), /account_id/],
    ["no exp", () => token({ ...DOC_CLAIMS, exp: undefined }), /exp/],
    ["no iss", () => token({ ...DOC_CLAIMS, iss: undefined }), /iss/],
  ])("refuses %s", (_name, make, why) => {
    expect(rejection(() => verifyWidgetToken(make(), widgetOpts())).message).toMatch(why);
  });

  it.each([
    ["undefined", undefined, /missing token/],
    ["empty", "", /missing token/],
    ["one part", "abc", /malformed/],
    ["two parts", "abc.def", /malformed/],
    ["four parts", `${token()}.x`, /malformed/],
    ["a header that is not JSON", `${b64("not json")}.${b64(DOC_CLAIMS)}.c2ln`, /malformed/],
    ["a payload that is a JSON array", `${b64({ alg: "HS256" })}.${b64([1, 2])}.c2ln`, /malformed/],
    ["characters outside base64url", `${b64({ alg: "HS256" })}.${b64(DOC_CLAIMS)}.ab+/cd==`, /malformed/],
  ])("refuses a malformed token: %s", (_name, t, why) => {
    expect(rejection(() => verifyWidgetToken(t, widgetOpts())).message).toMatch(why);
  });

  it("refuses a token expired beyond the 60 s leeway and accepts one within it", () => {
    expect(rejection(() => verifyWidgetToken(token(), widgetOpts(EXP + 61))).message).toMatch(/expired/);
    expect(verifyWidgetToken(token(), widgetOpts(EXP + 59)).accountId).toBe("12345678");
  });

  it("honours a custom leeway", () => {
    expect(() => verifyWidgetToken(token(), { ...widgetOpts(EXP + 5), leewaySec: 0 })).toThrow(/expired/);
  });

  it("handles float exp, iat and nbf", () => {
    const floats = { ...DOC_CLAIMS, iat: IAT + 0.25, nbf: IAT + 0.25, exp: EXP + 0.75 };
    expect(verifyWidgetToken(token(floats), widgetOpts(EXP + 60.5)).accountId).toBe("12345678");
    expect(rejection(() => verifyWidgetToken(token(floats), widgetOpts(EXP + 61))).message).toMatch(/expired/);
  });

  it("refuses a token whose nbf is beyond the leeway in the future", () => {
    const t = token({ ...DOC_CLAIMS, nbf: IAT + 600, iat: IAT });
    expect(rejection(() => verifyWidgetToken(t, widgetOpts(IAT))).message).toMatch(/nbf/);
    expect(verifyWidgetToken(t, widgetOpts(IAT + 550)).accountId).toBe("12345678");
  });

  it("accepts a numeric-string account_id and no client_uuid", () => {
    const c = verifyWidgetToken(token({ ...DOC_CLAIMS, account_id: "12345678", client_uuid: undefined }), widgetOpts());
    expect(c.accountId).toBe("12345678");
    expect(c.clientUuid).toBeUndefined();
  });
});

describe("Salesbot token (widget_request, §5.3)", () => {
  const PUBLIC = "https://api.example.com";
  const REDIRECT_ORIGIN = "https://auth.example.com";
  const botClaims = { ...DOC_CLAIMS, aud: PUBLIC, entity_type: "2", entity_id: 15926745, bot_type: "salesbot" };
  const botOpts = (nowSec = IAT + 10) => ({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, audiences: [PUBLIC, REDIRECT_ORIGIN], now: at(nowSec) });

  it("accepts HS512 and maps entity and bot type", () => {
    expect(verifyBotToken(token(botClaims, "HS512"), botOpts())).toMatchObject({ accountId: "12345678", entityType: "2", entityId: "15926745", botType: "salesbot", aud: PUBLIC });
  });

  it("accepts HS256 and an aud equal to the Redirect URI origin", () => {
    expect(verifyBotToken(token({ ...botClaims, aud: REDIRECT_ORIGIN }, "HS256"), botOpts()).accountId).toBe("12345678");
  });

  it.each([
    ["alg none", token(botClaims, "none"), /algorithm/],
    ["HS384", token(botClaims, "HS384"), /algorithm/],
    ["an aud outside the list", token({ ...botClaims, aud: "https://evil.example" }, "HS512"), /aud/],
    ["a wrong secret", token(botClaims, "HS512", "nope"), /signature/],
    ["a foreign client_uuid", token({ ...botClaims, client_uuid: "someone-else" }, "HS512"), /client_uuid/],
  ])("refuses %s", (_name, t, why) => {
    expect(rejection(() => verifyBotToken(t, botOpts())).message).toMatch(why);
  });

  it("refuses an expired bot token", () => {
    expect(rejection(() => verifyBotToken(token(botClaims, "HS512"), botOpts(EXP + 120))).message).toMatch(/expired/);
  });
});

describe("disconnect hook (§2.6)", () => {
  const ACCOUNT = 30441694;
  const sig = (cid: string, account: number | string, secret = CLIENT_SECRET) => createHmac("sha256", secret).update(`${cid}|${account}`).digest("hex");

  it("accepts the doc's client_uuid parameter", () => {
    expect(verifyDisconnect({ account_id: String(ACCOUNT), client_uuid: CLIENT_ID, signature: sig(CLIENT_ID, ACCOUNT) }, CLIENT_ID, CLIENT_SECRET)).toEqual({ accountId: String(ACCOUNT) });
  });

  it("accepts the client_id parameter name", () => {
    expect(verifyDisconnect({ account_id: String(ACCOUNT), client_id: CLIENT_ID, signature: sig(CLIENT_ID, ACCOUNT) }, CLIENT_ID, CLIENT_SECRET)).toEqual({ accountId: String(ACCOUNT) });
  });

  it.each([
    ["a wrong signature", { account_id: String(ACCOUNT), client_uuid: CLIENT_ID, signature: sig(CLIENT_ID, ACCOUNT, "other-secret") }],
    ["a signature for another account", { account_id: "30441695", client_uuid: CLIENT_ID, signature: sig(CLIENT_ID, ACCOUNT) }],
    ["a foreign client id (correctly signed)", { account_id: String(ACCOUNT), client_uuid: "foreign-client", signature: sig("foreign-client", ACCOUNT) }],
    ["no signature", { account_id: String(ACCOUNT), client_uuid: CLIENT_ID }],
    ["no account id", { client_uuid: CLIENT_ID, signature: sig(CLIENT_ID, "") }],
    ["repeated parameters", { account_id: [String(ACCOUNT)], client_uuid: CLIENT_ID, signature: sig(CLIENT_ID, ACCOUNT) }],
  ])("refuses %s", (_name, query) => {
    expect(verifyDisconnect(query, CLIENT_ID, CLIENT_SECRET)).toBeUndefined();
  });
});

describe("issuer host and account domain", () => {
  it.each([
    ["https://subdomain.amocrm.ru", "subdomain.amocrm.ru"],
    ["https://Branch.Kommo.com/", "branch.kommo.com"],
    ["http://127.0.0.1:41234", "127.0.0.1:41234"],
    ["not a url", undefined],
    ["ftp://subdomain.amocrm.ru", undefined],
  ])("issuerHost(%s) = %s", (iss, host) => {
    expect(issuerHost({ accountId: "1", iss })).toBe(host);
  });

  it.each([
    ["subdomain.amocrm.ru", "subdomain.amocrm.ru"],
    ["Branch.Kommo.COM", "branch.kommo.com"],
    ["127.0.0.1:41234", "127.0.0.1:41234"],
    ["https://subdomain.amocrm.ru", undefined],
    ["subdomain.amocrm.ru/path", undefined],
    ["user@subdomain.amocrm.ru", undefined],
    ["evil.example#.amocrm.ru", undefined],
    ["subdomain.amocrm.ru:99999", undefined],
    ["-bad.amocrm.ru", undefined],
    ["", undefined],
    [["subdomain.amocrm.ru"], undefined],
    [undefined, undefined],
  ])("parseAccountDomain(%j) = %s", (referer, domain) => {
    expect(parseAccountDomain(referer)).toBe(domain);
  });
});
