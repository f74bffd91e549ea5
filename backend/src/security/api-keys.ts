import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

/** Branch keys: 32 random bytes, shown once, stored as SHA-256 (a 256-bit random key needs no slow hash). */
export function generateApiKey(): { key: string; hash: string; prefix: string } {
  const key = `bl_${randomBytes(32).toString("base64url")}`;
  return { key, hash: hashApiKey(key), prefix: key.slice(0, 10) };
}

export function hashApiKey(key: string): string {
  return createHash("sha256").update(key, "utf8").digest("hex");
}

/** Constant-time comparison of two secrets of any length. */
export function safeEqual(a: string, b: string): boolean {
  const ha = createHash("sha256").update(a).digest();
  const hb = createHash("sha256").update(b).digest();
  return timingSafeEqual(ha, hb) && a.length === b.length;
}

export function randomSecret(bytes = 32): string {
  return randomBytes(bytes).toString("base64url");
}
