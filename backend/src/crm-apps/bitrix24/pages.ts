/**
 * The pages Bitrix24 shows in its iframes (installer, card tab). Each is a shell for the one
 * bundle `dist/widget/bitrix24/app.js` (widget/src/hosts/bitrix24), which talks to the portal
 * through the SDK's `B24Frame` and to us with the frame's access token.
 */

/** What the bundle reads from `#branchline-b24-config`. Never secrets: the frame supplies the token. */
export interface B24PageConfig {
  mode: "install" | "placement" | "error";
  /** Our routes' prefix, e.g. `/bitrix24` (same origin as the page). */
  api: string;
  lang: string;
  /** install: the branch the portal is bound to now. */
  branch?: { name: string; code: string };
  /** placement: what the form POST said (the frame's own data wins). */
  placement?: string;
  entityId?: number;
  /** error: the text to show. */
  message?: string;
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** JSON inside a <script> element: `<` escaped so no `</script>` can close it. */
const embed = (v: unknown) => JSON.stringify(v).replace(/</g, "\\u003c").replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029");

export function b24Page(config: B24PageConfig, assetVersion: string): string {
  const title = config.mode === "install" ? "Branchline WhatsApp — setup" : "WhatsApp";
  return `<!doctype html>
<html lang="${esc(config.lang)}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
</head>
<body style="margin:0;padding:12px;background:#fff">
<div id="branchline-b24">${config.mode === "error" ? `<p role="alert">${esc(config.message ?? "")}</p>` : ""}</div>
<script type="application/json" id="branchline-b24-config">${embed(config)}</script>
<script src="${esc(config.api)}/assets/app.js?v=${encodeURIComponent(assetVersion)}"></script>
</body>
</html>`;
}

/**
 * Framed only by the portal (and configured origins): `frame-ancestors` instead of X-Frame-Options,
 * which cannot name an origin (bitrix24.md §3.5). Scripts and calls stay on our origin.
 */
export function pageSecurityHeaders(frameOrigins: readonly string[]): Record<string, string> {
  const ancestors = frameOrigins.length ? frameOrigins.join(" ") : "'none'";
  return {
    "content-security-policy": `default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors ${ancestors}`,
    "cache-control": "no-store",
  };
}
