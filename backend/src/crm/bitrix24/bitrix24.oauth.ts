import type { AxiosInstance, AxiosResponse } from "axios";
import type { OAuthTokens } from "../../domain/types.js";
import { AppError } from "../../errors.js";
import type { B24Event } from "./bitrix24-events.js";

/** One portal's installation: who it is, where to call it, and the installing admin's tokens. */
export interface B24Install {
  /** Stable portal id; key tenants by it (domains can be renamed). */
  memberId: string;
  /** `portal.bitrix24.com` (host, maybe with a port). */
  domain: string;
  /** `https://portal.bitrix24.com/rest/` */
  clientEndpoint: string;
  /** `https://oauth.bitrix.info/rest/` as Bitrix24 sent it (informational: see {@link isTrustedOAuthServer}). */
  serverEndpoint: string;
  /** Compared with every event's `auth[application_token]`. */
  applicationToken?: string;
  tokens: OAuthTokens;
  scope?: string;
  /** `F` free, `D` demo, `T` trial, `P` paid, `L` local. */
  status?: string;
}

export const DEFAULT_OAUTH_URL = "https://oauth.bitrix.info";
const DEFAULT_SERVER_ENDPOINT = `${DEFAULT_OAUTH_URL}/rest/`;

/**
 * Reads the installer page POST (bitrix24.md §1.3): `AUTH_ID`, `REFRESH_ID`, `AUTH_EXPIRES`,
 * `member_id`, `APPLICATION_TOKEN`, `SERVER_ENDPOINT`, `APPLICATION_SCOPE`, `status` in the form body,
 * `DOMAIN` and `PROTOCOL` (0 = http, 1 = https) in the query. There is no client endpoint in it:
 * it is `${protocol}://${DOMAIN}/rest/`. AppError 400 `bad_install` names a missing field.
 *
 * Nothing here is authenticated: the route must check `AUTH_ID` against the portal (`app.info` or
 * `profile` at the client endpoint) before storing anything (bitrix24.md §1.5).
 */
export function installFromForm(body: Record<string, unknown>, query: Record<string, unknown>, now: number = Date.now()): B24Install {
  const memberId = field(body, "member_id");
  const accessToken = field(body, "AUTH_ID");
  const refreshToken = field(body, "REFRESH_ID");
  const rawDomain = field(query, "DOMAIN");
  const domain = parseDomain(rawDomain);
  if (!domain) throw new AppError({ code: "bad_install", message: `DOMAIN is not a host name: ${JSON.stringify(rawDomain.slice(0, 100))}`, httpStatus: 400, field: "DOMAIN" });
  const protocol = text(query.PROTOCOL) === "0" ? "http" : "https";
  const expiresIn = seconds(body.AUTH_EXPIRES) ?? 3600;
  return {
    memberId,
    domain,
    clientEndpoint: `${protocol}://${domain}/rest/`,
    serverEndpoint: text(body.SERVER_ENDPOINT) ?? DEFAULT_SERVER_ENDPOINT,
    applicationToken: text(body.APPLICATION_TOKEN),
    tokens: { accessToken, refreshToken, expiresAt: now + expiresIn * 1000 },
    scope: text(body.APPLICATION_SCOPE),
    status: text(body.status),
  };
}

/**
 * The same from `ONAPPINSTALL` (the only event with a refresh token; it may arrive late, so it
 * refreshes what the installer page stored rather than being the only source). AppError 400
 * `bad_install` names a missing `auth[…]` field.
 * @see bitrix24.md §1.4
 */
export function installFromEvent(event: B24Event, now: number = Date.now()): B24Install {
  const a = event.auth;
  const need = (v: string | undefined, name: string): string => {
    if (!v) throw new AppError({ code: "bad_install", message: `ONAPPINSTALL without auth[${name}]`, httpStatus: 400, field: `auth[${name}]` });
    return v;
  };
  const domain = parseDomain(a.domain);
  if (!domain) throw new AppError({ code: "bad_install", message: "ONAPPINSTALL auth[domain] is not a host name", httpStatus: 400, field: "auth[domain]" });
  return {
    memberId: a.memberId,
    domain,
    clientEndpoint: a.clientEndpoint ?? `https://${domain}/rest/`,
    serverEndpoint: a.serverEndpoint ?? DEFAULT_SERVER_ENDPOINT,
    applicationToken: a.applicationToken,
    tokens: {
      accessToken: need(a.accessToken, "access_token"),
      refreshToken: need(a.refreshToken, "refresh_token"),
      expiresAt: now + (a.expiresIn ?? 3600) * 1000,
    },
    scope: a.scope,
    status: a.status,
  };
}

/**
 * Whether a `server_endpoint` from a Bitrix24 payload may receive our client secret: HTTPS on one of
 * the OAuth hosts Bitrix24 is known to use (`oauth.bitrix.info` in the docs, `oauth.bitrix24.tech` in
 * the SDK). Payloads are not authenticated, so an unknown host gets nothing (bitrix24.md §1.6, §10.4).
 */
export function isTrustedOAuthServer(serverEndpoint: string): boolean {
  try {
    const u = new URL(serverEndpoint);
    return u.protocol === "https:" && (u.hostname === "oauth.bitrix.info" || u.hostname === "oauth.bitrix24.tech") && u.port === "";
  } catch {
    return false;
  }
}

export interface B24OAuthConfig {
  http: AxiosInstance;
  clientId: string;
  clientSecret: string;
  /** OAuth server base without `/oauth/token/`; default `https://oauth.bitrix.info` (tests: the local fake). */
  oauthUrl?: string;
  now?: () => number;
  /** Per request; default 15 s. */
  timeoutMs?: number;
}

/** Codes the OAuth server answers with that no retry will fix (bitrix24.md §1.6). */
const REJECTIONS = new Set(["invalid_request", "invalid_client", "invalid_grant", "insufficient_scope", "invalid_scope", "payment_required", "unauthorized_client"]);

/**
 * Trades a refresh token for a new pair. The old refresh token dies (rotation): persist the result
 * before using the new access token. POSTed form-encoded, as the SDK does, so the client secret and
 * the refresh token never sit in a URL (the docs' GET form would put them in access logs).
 *
 * AppError `bitrix24_oauth_rejected` (not retryable: the grant is gone, an admin must reopen the app)
 * or `bitrix24_unavailable` (retryable: network, 5xx).
 * @see bitrix24.md §1.6
 */
export async function refreshTokens(cfg: B24OAuthConfig, refreshToken: string): Promise<OAuthTokens & { clientEndpoint?: string; memberId?: string }> {
  const now = cfg.now ?? Date.now;
  const base = (cfg.oauthUrl ?? DEFAULT_OAUTH_URL).replace(/\/+$/, "").replace(/\/rest$/, "");
  const host = safeHost(base);
  const what = `Bitrix24 OAuth refresh at ${host}`;
  const hide = [cfg.clientSecret, refreshToken];
  let res: AxiosResponse<unknown>;
  try {
    res = await cfg.http.request({
      url: `${base}/oauth/token/`,
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" },
      data: new URLSearchParams({ grant_type: "refresh_token", client_id: cfg.clientId, client_secret: cfg.clientSecret, refresh_token: refreshToken }).toString(),
      validateStatus: () => true,
      timeout: cfg.timeoutMs ?? 15_000,
      maxRedirects: 0,
    });
  } catch (err) {
    // The axios error carries the request body (our secret): keep only its code.
    const code = (err as { code?: unknown })?.code;
    throw new AppError({ code: "bitrix24_unavailable", message: `${what} failed: no answer (${typeof code === "string" ? code : "network error"})`, httpStatus: 502, retryable: true });
  }
  const d = (res.data && typeof res.data === "object" ? res.data : {}) as Record<string, unknown>;
  // The OAuth server has been seen answering errors with HTTP 200 (the SDK checks `error` first).
  const error = typeof d.error === "string" && d.error ? d.error : undefined;
  if (res.status === 200 && !error) {
    const expiresIn = Number(d.expires_in ?? 3600);
    if (typeof d.access_token !== "string" || !d.access_token || typeof d.refresh_token !== "string" || !d.refresh_token || !Number.isFinite(expiresIn)) {
      throw new AppError({ code: "bitrix24_oauth_error", message: `${what}: answer without access_token/refresh_token`, httpStatus: 502, retryable: false });
    }
    return {
      accessToken: d.access_token,
      refreshToken: d.refresh_token,
      expiresAt: now() + expiresIn * 1000,
      clientEndpoint: typeof d.client_endpoint === "string" ? d.client_endpoint : undefined,
      memberId: typeof d.member_id === "string" ? d.member_id : undefined,
    };
  }
  const description = typeof d.error_description === "string" ? d.error_description : "";
  const why = redact([error, description].filter(Boolean).join(": ").replace(/\s+/g, " ").slice(0, 300), hide);
  const message = `${what} failed: HTTP ${res.status}${why ? ` (${why})` : ""}`;
  const details = { status: res.status, error, error_description: redact(description, hide) || undefined };
  if ((error && REJECTIONS.has(error.toLowerCase())) || (!error && res.status >= 400 && res.status < 500 && res.status !== 429)) {
    throw new AppError({ code: "bitrix24_oauth_rejected", message, httpStatus: 502, retryable: false, details });
  }
  const retryable = res.status >= 500 || res.status === 429;
  throw new AppError({ code: retryable ? "bitrix24_unavailable" : "bitrix24_oauth_error", message, httpStatus: 502, retryable, details });
}

const LABEL = "[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?";
const HOST_RE = new RegExp(`^${LABEL}(?:\\.${LABEL})*(?::(\\d{1,5}))?$`);

/** `portal.bitrix24.com` or `host:port`, lower-cased; a scheme is tolerated and dropped. */
export function parseDomain(raw: unknown): string | undefined {
  if (typeof raw !== "string") return undefined;
  const host = raw.trim().toLowerCase().replace(/^https?:\/\//, "").replace(/\/+$/, "");
  if (!host || host.length > 260) return undefined;
  const m = HOST_RE.exec(host);
  if (!m) return undefined;
  if (m[1] !== undefined && (Number(m[1]) < 1 || Number(m[1]) > 65535)) return undefined;
  return host;
}

function field(src: Record<string, unknown>, name: string): string {
  const v = text(src[name]);
  if (!v) throw new AppError({ code: "bad_install", message: `installer request without ${name}`, httpStatus: 400, field: name });
  return v;
}

function text(v: unknown): string | undefined {
  if (typeof v === "string") return v.length > 0 ? v : undefined;
  if (Array.isArray(v)) return text(v[v.length - 1]);
  return undefined;
}

function seconds(v: unknown): number | undefined {
  const s = text(v);
  if (s === undefined) return undefined;
  const n = Number(s);
  return Number.isFinite(n) && n > 0 ? n : undefined;
}

function safeHost(base: string): string {
  try {
    return new URL(base).host;
  } catch {
    return "the OAuth server";
  }
}

function redact(s: string, secrets: string[]): string {
  let out = s;
  for (const x of secrets) if (x) out = out.split(x).join("[redacted]");
  return out;
}
