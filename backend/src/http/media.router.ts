import { safeEqual } from "../security/api-keys.js";
import { createHmac } from "node:crypto";
import { join } from "node:path";
import { Router, type Response } from "express";
import type { MediaRecord } from "../inbound/media.worker.js";
import type { Store } from "../store/store.port.js";

export interface MediaRouterDeps {
  store: Store;
  /** DATA_DIR: files are read from `<dataDir>/media`. */
  dataDir: string;
  /** HMAC key of the signed URLs (at least 32 random bytes; not a Meta or CRM secret). */
  secret: string;
  now: () => number;
}

/** Files the media worker writes: `<sha256 hex>.<ext>` — anything else is never served. */
const STORED_FILE = /^[0-9a-f]{64}\.[a-z0-9]{1,8}$/;
const EXP = /^\d{1,12}$/;

function signature(secret: string, messageId: string, exp: string): string {
  return createHmac("sha256", secret).update(`${messageId}.${exp}`).digest("base64url");
}

/**
 * A link to an inbound message's stored media that works without credentials until `expiresAt`
 * (epoch **milliseconds**, like every time in the code base; the URL carries whole seconds).
 * `${publicUrl}/media/${messageId}?exp=<unix s>&sig=<base64url HMAC-SHA256(secret, messageId.exp)>`.
 */
export function signMediaUrl(publicUrl: string, secret: string, messageId: string, expiresAt: number): string {
  const exp = String(Math.floor(expiresAt / 1000));
  const base = publicUrl.replace(/\/+$/, "");
  return `${base}/media/${encodeURIComponent(messageId)}?exp=${exp}&sig=${signature(secret, messageId, exp)}`;
}

function verify(secret: string, messageId: string, exp: string, sig: string): boolean {
  return safeEqual(sig, signature(secret, messageId, exp));
}

/** `attachment; filename="Curriculum cafe.pdf"; filename*=UTF-8''Curr%C3%ADculum%20caf%C3%A9.pdf` (RFC 6266 / 5987). */
export function contentDisposition(type: "inline" | "attachment", filename: string | undefined): string {
  // eslint-disable-next-line no-control-regex
  const clean = filename?.replace(/[\u0000-\u001f\u007f/\\]/g, "_").trim();
  if (!clean) return type;
  const ascii = clean
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .replace(/[^\x20-\x7e]/g, "_")
    .replace(/["%]/g, "_");
  const encoded = encodeURIComponent(clean).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return ascii === clean ? `${type}; filename="${ascii}"` : `${type}; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}

function refuse(res: Response, status: number, code: string, message: string): void {
  res.status(status).set("cache-control", "no-store").json({ error: { code, message } });
}

/**
 * `GET /media/:messageId?exp&sig` — stored inbound media through a signed, expiring URL (for CRMs
 * and the inbox, which cannot send our credentials). 403 bad signature, 410 expired, 404 not stored.
 * The file is streamed (ranges and conditional requests included), never buffered.
 */
export function mediaRouter(deps: MediaRouterDeps): Router {
  const router = Router();
  const mediaDir = join(deps.dataDir, "media");

  router.get("/media/:messageId", async (req, res, next) => {
    try {
      const messageId = req.params.messageId;
      const exp = typeof req.query.exp === "string" ? req.query.exp : "";
      const sig = typeof req.query.sig === "string" ? req.query.sig : "";
      if (!EXP.test(exp) || !sig || !verify(deps.secret, messageId, exp, sig)) {
        refuse(res, 403, "forbidden", "missing or invalid signature");
        return;
      }
      const remaining = Number(exp) - Math.floor(deps.now() / 1000);
      if (remaining <= 0) {
        refuse(res, 410, "expired", "this media link has expired");
        return;
      }
      const message = await deps.store.read((tx) => tx.get("messages", messageId));
      const media = message?.media as MediaRecord | undefined;
      if (!media?.file || media.status !== "stored" || !STORED_FILE.test(media.file)) {
        refuse(res, 404, "not_found", "no stored media for this message");
        return;
      }
      const mimeType = media.mimeType?.trim() || "application/octet-stream";
      const inline = /^image\//i.test(mimeType);
      res.set({
        "content-type": mimeType,
        "content-disposition": contentDisposition(inline ? "inline" : "attachment", media.filename),
        "cache-control": `private, max-age=${remaining}`,
        "x-content-type-options": "nosniff",
        "content-security-policy": "sandbox",
      });
      res.sendFile(join(mediaDir, media.file), { cacheControl: false, dotfiles: "deny" }, (err) => {
        if (!err) return;
        if (!res.headersSent) {
          res.removeHeader("content-disposition");
          refuse(res, 404, "not_found", "stored media file is missing");
        }
      });
    } catch (err) {
      next(err);
    }
  });

  return router;
}
