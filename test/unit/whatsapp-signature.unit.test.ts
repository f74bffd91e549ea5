import { describe, expect, it } from "vitest";
import { signMetaPayload, verifyMetaSignature } from "../../backend/src/channels/whatsapp/webhook-signature.js";

// Doc §2.3 vector 1 (whatsapp-api-js): only matches after escaping non-ASCII as \uXXXX.
const UNICODE_SECRET = "YOUR_APP_SECRET";
const UNICODE_BODY =
  "Let's pretend this body is equal to the message object and can handle unicode characters like みどりいろ and J'ai mangé des pâtes";
const UNICODE_SIG = "sha256=0363007aabdf1ab579f35936651a460fb5fa1aaf40df98b1264446b72cc96688";

// Doc §2.3 vector 2: `\u00e1` is a literal backslash escape in the wire bytes (String.raw keeps it).
const RAW_SECRET = "test_app_secret";
const RAW_BODY = String.raw`{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},"contacts":[{"profile":{"name":"Sheena Nelson"},"wa_id":"16505551234"}],"messages":[{"from":"16505551234","id":"wamid.TEST1","timestamp":"1749416383","type":"text","text":{"body":"Ol\u00e1, tudo bem?"}}]},"field":"messages"}]}]}`;
const RAW_SIG = "sha256=8169a1289ae23f6779ad62ca862ddd884f7d8ec9637eed63dac5d8aa6d460665";

describe("verifyMetaSignature", () => {
  it("accepts the non-ASCII vector through the escaped-unicode fallback", () => {
    const raw = Buffer.from(UNICODE_BODY, "utf8");
    expect(signMetaPayload(raw, UNICODE_SECRET)).toMatch(/^sha256=5ab50fef/); // raw bytes differ
    expect(verifyMetaSignature(raw, UNICODE_SIG, UNICODE_SECRET)).toBe(true);
  });

  it("accepts the synthetic vector over the raw bytes", () => {
    const raw = Buffer.from(RAW_BODY, "utf8");
    expect(RAW_BODY).toContain("Ol\\u00e1");
    expect(raw.every((b) => b < 0x80)).toBe(true);
    expect(signMetaPayload(raw, RAW_SECRET)).toBe(RAW_SIG);
    expect(verifyMetaSignature(raw, RAW_SIG, RAW_SECRET)).toBe(true);
  });

  it("re-serialised bodies hash differently; the fallback recovers only this simple case", () => {
    const reserialised = Buffer.from(JSON.stringify(JSON.parse(RAW_BODY)), "utf8");
    expect(signMetaPayload(reserialised, RAW_SECRET)).toMatch(/^sha256=a8c59f73/);
    // The escape fallback happens to recover this simple case (doc §2.3): still valid.
    expect(verifyMetaSignature(reserialised, RAW_SIG, RAW_SECRET)).toBe(true);
  });

  it.each([
    ["wrong secret", RAW_BODY, RAW_SIG, "other_secret"],
    ["wrong secret (unicode vector)", UNICODE_BODY, UNICODE_SIG, "YOUR_APP_SECRET_2"],
    ["tampered body", RAW_BODY.replace("tudo bem", "tudo bom"), RAW_SIG, RAW_SECRET],
    ["tampered body (whitespace)", RAW_BODY + "\n", RAW_SIG, RAW_SECRET],
    ["tampered unicode body", UNICODE_BODY.replace("pâtes", "pâtés"), UNICODE_SIG, UNICODE_SECRET],
    ["empty secret", RAW_BODY, signMetaPayload(RAW_BODY, ""), ""],
  ])("rejects %s", (_name, body, header, secret) => {
    expect(verifyMetaSignature(Buffer.from(body, "utf8"), header, secret)).toBe(false);
  });

  const hex = RAW_SIG.slice("sha256=".length);
  it.each<[string, string | undefined]>([
    ["missing", undefined],
    ["empty", ""],
    ["prefix only", "sha256="],
    ["wrong prefix", `sha1=${hex}`],
    ["upper-case prefix", `SHA256=${hex}`],
    ["no prefix", hex],
    ["non-hex", `sha256=${"z".repeat(64)}`],
    ["odd length", `sha256=${hex}0`],
    ["too short", `sha256=${hex.slice(0, 62)}`],
    ["too long", `sha256=${hex}00`],
    ["surrounding space", ` ${RAW_SIG} `],
    ["two values", `${RAW_SIG}, ${RAW_SIG}`],
  ])("rejects a malformed header: %s", (_name, header) => {
    expect(verifyMetaSignature(Buffer.from(RAW_BODY), header, RAW_SECRET)).toBe(false);
  });

  it("never throws on values of the wrong type", () => {
    const raw = Buffer.from(RAW_BODY);
    const bad = [null, 42, {}, ["sha256=" + hex]] as unknown as string[];
    for (const header of bad) expect(verifyMetaSignature(raw, header, RAW_SECRET)).toBe(false);
    expect(verifyMetaSignature(RAW_BODY as unknown as Buffer, RAW_SIG, RAW_SECRET)).toBe(false);
    expect(verifyMetaSignature(raw, RAW_SIG, undefined as unknown as string)).toBe(false);
  });
});

describe("signMetaPayload", () => {
  it("signs strings as UTF-8 and buffers as bytes, identically", () => {
    expect(signMetaPayload(RAW_BODY, RAW_SECRET)).toBe(RAW_SIG);
    expect(signMetaPayload(Buffer.from(UNICODE_BODY), "k")).toBe(signMetaPayload(UNICODE_BODY, "k"));
  });

  it("round-trips with verifyMetaSignature", () => {
    const raw = Buffer.from('{"a":"ção / @ <x>"}', "utf8");
    expect(verifyMetaSignature(raw, signMetaPayload(raw, "s3cret"), "s3cret")).toBe(true);
  });
});
