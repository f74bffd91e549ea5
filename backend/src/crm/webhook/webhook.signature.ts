import { createHmac } from "node:crypto";

/** `X-Signature-256` value for a body sent to a branch webhook (contract: sha256=<hex>). */
export function signBranchWebhook(secret: string, rawBody: string | Buffer): string {
  return `sha256=${createHmac("sha256", secret).update(rawBody).digest("hex")}`;
}
