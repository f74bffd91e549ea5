import type { AxiosInstance, AxiosResponse } from "axios";
import type { OAuthTokens } from "../../domain/types.js";
import { AppError } from "../../errors.js";

export interface AmoOAuthConfig {
  http: AxiosInstance;
  scheme: "https" | "http";
  clientId: string;
  clientSecret: string;
  /** Must equal the integration's Redirect URI exactly. */
  redirectUri: string;
  now?: () => number;
  /**
   * Which account domains may receive our client secret. The domain comes from the unauthenticated
   * `referer` of the OAuth callback, so without this check anyone could make us post the secret to
   * their host. Default: {@link isAmoCrmDomain} for `https`; anything for `http` (local fakes only).
   */
  allowDomain?: (domain: string) => boolean;
  /** Per request; default 15 s. */
  timeoutMs?: number;
}

/** Base domains of the ru and global platforms (amocrm.md §2.2, §4.2). */
const AMO_BASE_DOMAINS = ["amocrm.ru", "amocrm.com", "kommo.com"];

/** True for `{subdomain}.amocrm.ru`, `.amocrm.com`, `.kommo.com` (any depth, no port). */
export function isAmoCrmDomain(domain: string): boolean {
  const host = parseAccountDomain(domain);
  if (!host || host.includes(":")) return false;
  return AMO_BASE_DOMAINS.some((base) => host.endsWith(`.${base}`) && !host.startsWith("www."));
}

const LABEL = "[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?";
const HOST_RE = new RegExp(`^${LABEL}(?:\\.${LABEL})*(?::(\\d{1,5}))?$`);

/**
 * Checks a `referer` host from amoCRM: a hostname with optional :port, no path/scheme/userinfo.
 * Returns it lower-cased or undefined.
 */
export function parseAccountDomain(referer: unknown): string | undefined {
  if (typeof referer !== "string") return undefined;
  const host = referer.trim().toLowerCase();
  if (host.length === 0 || host.length > 260) return undefined;
  const m = HOST_RE.exec(host);
  if (!m) return undefined;
  if (m[1] !== undefined) {
    const port = Number(m[1]);
    if (port < 1 || port > 65535) return undefined;
  }
  return host;
}

/**
 * Exchanges an authorization code (valid 20 minutes, single use) for a token pair.
 * @see amocrm.md §2.3 — `POST https://{referer}/oauth2/access_token`
 */
export function exchangeCode(cfg: AmoOAuthConfig, domain: string, code: string): Promise<OAuthTokens> {
  return tokenRequest(cfg, domain, { grant_type: "authorization_code", code }, [code]);
}

/**
 * Gets a new pair; the old refresh token dies at once, so persist the result before using it.
 * @see amocrm.md §2.4
 */
export function refreshTokens(cfg: AmoOAuthConfig, domain: string, refreshToken: string): Promise<OAuthTokens> {
  return tokenRequest(cfg, domain, { grant_type: "refresh_token", refresh_token: refreshToken }, [refreshToken]);
}

async function tokenRequest(cfg: AmoOAuthConfig, domain: string, grant: Record<string, string>, secrets: string[]): Promise<OAuthTokens> {
  const host = parseAccountDomain(domain);
  const allowed = cfg.allowDomain ?? ((d: string) => cfg.scheme === "http" || isAmoCrmDomain(d));
  if (!host || !allowed(host)) {
    throw new AppError({ code: "amocrm_bad_domain", message: `not an amoCRM account domain: ${JSON.stringify(String(domain).slice(0, 100))}`, httpStatus: 400, field: "referer" });
  }
  const now = cfg.now ?? Date.now;
  const url = `${cfg.scheme}://${host}/oauth2/access_token`;
  const what = `amoCRM OAuth ${grant.grant_type} at ${host}`;
  const hide = [cfg.clientSecret, ...secrets];
  let res: AxiosResponse<unknown>;
  try {
    res = await cfg.http.request({
      url,
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      data: { client_id: cfg.clientId, client_secret: cfg.clientSecret, redirect_uri: cfg.redirectUri, ...grant },
      validateStatus: () => true,
      timeout: cfg.timeoutMs ?? 15_000,
      maxRedirects: 0,
    });
  } catch (err) {
    // The error object holds the request body (our secret): keep only its code as the cause.
    const code = (err as { code?: unknown })?.code;
    throw new AppError({ code: "amocrm_unavailable", message: `${what} failed: no answer (${typeof code === "string" ? code : "network error"})`, httpStatus: 502, retryable: true });
  }
  const data = res.data;
  if (res.status === 200) {
    const d = (data ?? {}) as Record<string, unknown>;
    const expiresIn = Number(d.expires_in);
    if (typeof d.access_token !== "string" || !d.access_token || typeof d.refresh_token !== "string" || !d.refresh_token || !Number.isFinite(expiresIn)) {
      throw new AppError({ code: "amocrm_oauth_error", message: `${what}: answer without access_token/refresh_token/expires_in`, httpStatus: 502, retryable: false });
    }
    return { accessToken: d.access_token, refreshToken: d.refresh_token, expiresAt: now() + expiresIn * 1000 };
  }
  const why = redact(explain(data), hide);
  const message = `${what} failed: HTTP ${res.status}${why ? ` (${why})` : ""}`;
  if (res.status === 400 || res.status === 401 || res.status === 403) {
    throw new AppError({ code: "amocrm_oauth_rejected", message, httpStatus: 502, retryable: false, details: { status: res.status } });
  }
  const retryable = res.status >= 500 || res.status === 429;
  throw new AppError({ code: retryable ? "amocrm_unavailable" : "amocrm_oauth_error", message, httpStatus: 502, retryable, details: { status: res.status } });
}

/** amoCRM's OAuth errors carry `hint` and/or `detail` (and `title`). */
function explain(data: unknown): string {
  if (!data || typeof data !== "object") return "";
  const o = data as Record<string, unknown>;
  const parts = [o.hint, o.detail].filter((v): v is string => typeof v === "string" && v.length > 0);
  if (parts.length === 0 && typeof o.title === "string") parts.push(o.title);
  return parts.join("; ").replace(/\s+/g, " ").slice(0, 300);
}

function redact(text: string, secrets: string[]): string {
  let out = text;
  for (const s of secrets) if (s) out = out.split(s).join("[redacted]");
  return out;
}
