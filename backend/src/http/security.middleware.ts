import type { RequestHandler } from "express";

/**
 * The policy of our own pages (inbox, sandbox, console, the amoCRM install page): scripts only
 * from our origin (`/assets/*.js`, no inline script), calls and event streams to our origin only.
 * Styles may be inline: the bundles inject their stylesheet as a `<style>` element. Images may be
 * https links (a CRM's file sent in a dialog) or our signed `/media` links.
 */
export const PAGE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob: https:",
  "media-src 'self' blob: https:",
  "connect-src 'self'",
  "font-src 'self' data:",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

/**
 * Bitrix24 shows these in its iframes: their handlers set a CSP whose `frame-ancestors` names the
 * portal (crm-apps/bitrix24/pages.ts), so neither X-Frame-Options (which cannot name an origin) nor
 * our page CSP may be added to them.
 */
const FRAMED = /^\/bitrix24\/(install|placement|assets)(\/|$)/;

export interface SecurityHeadersOptions {
  /** PUBLIC_URL: Strict-Transport-Security is sent only when it is https. */
  publicUrl: string;
}

const HSTS = "max-age=31536000";

/**
 * Security headers on every response. Handlers may still override (the media router sends its own
 * `sandbox` CSP; the Bitrix24 pages their framing policy), because express's `res.set` replaces.
 */
export function securityHeaders(opts: SecurityHeadersOptions): RequestHandler {
  const https = opts.publicUrl.toLowerCase().startsWith("https://");
  return (req, res, next) => {
    res.set({ "x-content-type-options": "nosniff", "referrer-policy": "no-referrer" });
    if (https) res.set("strict-transport-security", HSTS);
    if (!FRAMED.test(req.path)) res.set({ "x-frame-options": "DENY", "content-security-policy": PAGE_CSP });
    next();
  };
}
