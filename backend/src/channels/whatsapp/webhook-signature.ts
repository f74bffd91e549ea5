import { createHmac, timingSafeEqual } from "node:crypto";

/**
 * `X-Hub-Signature-256` checks for Meta webhooks.
 * @see https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/create-webhook-endpoint
 */

const PREFIX = "sha256=";
const HEX_DIGEST = /^[0-9a-f]{64}$/;

/** Meta signs an escaped-unicode form of the payload: every UTF-16 unit outside \x00-\x7e as `\uXXXX`. */
const escapeNonAscii = (s: string): string =>
  s.replace(/[^\x00-\x7e]/g, (ch) => "\\u" + ch.charCodeAt(0).toString(16).padStart(4, "0"));

const hmac = (data: Buffer | string, appSecret: string): Buffer =>
  createHmac("sha256", appSecret).update(data).digest();

/**
 * `sha256=<lowercase hex HMAC-SHA256(appSecret, raw)>`, the header value Meta would send.
 * Strings are hashed as UTF-8. Used by the sandbox and by tests.
 */
export function signMetaPayload(raw: Buffer | string, appSecret: string): string {
  return PREFIX + hmac(raw, appSecret).toString("hex");
}

/**
 * True when `header` is a valid `X-Hub-Signature-256` for the raw request bytes.
 *
 * Raw bytes are tried first; if they contain non-ASCII bytes the escaped-unicode form is tried too
 * (doc §2.3 rule 3: Meta signs the escaped form, and whether the wire body is already escaped is
 * unconfirmed). Malformed headers and an empty secret give false; never throws.
 */
export function verifyMetaSignature(raw: Buffer, header: string | undefined, appSecret: string): boolean {
  try {
    // An empty key would let anyone compute a "valid" signature: treat it as misconfiguration.
    if (typeof appSecret !== "string" || appSecret.length === 0) return false;
    if (!Buffer.isBuffer(raw) || typeof header !== "string" || !header.startsWith(PREFIX)) return false;
    const hex = header.slice(PREFIX.length);
    if (!HEX_DIGEST.test(hex)) return false;
    const theirs = Buffer.from(hex, "hex");
    const matches = (data: Buffer | string): boolean => timingSafeEqual(hmac(data, appSecret), theirs);

    if (matches(raw)) return true;
    if (!raw.some((byte) => byte > 0x7f)) return false;
    return matches(escapeNonAscii(raw.toString("utf8")));
  } catch {
    return false;
  }
}
