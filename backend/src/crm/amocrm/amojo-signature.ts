import { createHash, createHmac } from "node:crypto";
import { safeEqual } from "../../security/api-keys.js";

export const AMOJO_CONTENT_TYPE = "application/json";

/** RFC 2822 date as in the amojo docs (`Wed, 15 Dec 2021 23:12:55 +0000`); the `GMT` form is unconfirmed. */
export function amojoDate(date: Date): string {
  return date.toUTCString().replace(/GMT$/, "+0000");
}

export function md5Hex(body: string | Buffer): string {
  return createHash("md5").update(body).digest("hex");
}

/**
 * `X-Signature` of an amojo request: lowercase hex HMAC-SHA1 over
 * `METHOD\nContent-MD5\nContent-Type\nDate\npath` (header values exactly as sent, path without query).
 * @see amocrm.md §4.3
 */
export function amojoRequestSignature(secret: string, parts: { method: string; md5: string; contentType: string; date: string; path: string }): string {
  const toSign = [parts.method.toUpperCase(), parts.md5, parts.contentType, parts.date, parts.path].join("\n");
  return createHmac("sha1", secret).update(toSign, "utf8").digest("hex");
}

/**
 * Headers for a request to amojo: Date (RFC 2822 with +0000), Content-Type application/json,
 * Content-MD5 (hex md5 of body), X-Signature (hex HMAC-SHA1 over METHOD\nmd5\ncontent-type\ndate\npath).
 * `body` must be the exact string that is sent (empty for GET).
 */
export function amojoRequestHeaders(opts: { secret: string; method: string; path: string; body: string; date: Date }): Record<string, string> {
  const date = amojoDate(opts.date);
  const md5 = md5Hex(Buffer.from(opts.body, "utf8"));
  const path = opts.path.split("?")[0] ?? "";
  return {
    Date: date,
    "Content-Type": AMOJO_CONTENT_TYPE,
    "Content-MD5": md5,
    "X-Signature": amojoRequestSignature(opts.secret, { method: opts.method, md5, contentType: AMOJO_CONTENT_TYPE, date, path }),
  };
}

/** Lowercase hex HMAC-SHA1(channel secret, raw body): what amoCRM puts in a chat hook's `X-Signature`. */
export function amojoHookSignature(raw: Buffer | string, secret: string): string {
  return createHmac("sha1", secret).update(raw).digest("hex");
}

/**
 * Chat hook check: X-Signature = hex HMAC-SHA1(channel secret, raw body); case-insensitive,
 * constant time. Also accepts the body with one trailing `\n` trimmed (a proxy or amoCRM itself may
 * append one; a known PHP client hashes the trimmed body).
 * @see amocrm.md §4.9
 */
export function verifyAmojoHookSignature(raw: Buffer, signature: string | undefined, secret: string): boolean {
  if (typeof signature !== "string" || !secret) return false;
  const got = signature.trim().toLowerCase();
  if (!/^[0-9a-f]{40}$/.test(got)) return false;
  if (safeEqual(got, amojoHookSignature(raw, secret))) return true;
  if (raw.length > 0 && raw[raw.length - 1] === 0x0a) return safeEqual(got, amojoHookSignature(raw.subarray(0, raw.length - 1), secret));
  return false;
}
