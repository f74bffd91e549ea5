import { createHmac } from "node:crypto";
import { AppError } from "../../errors.js";
import { safeEqual } from "../../security/api-keys.js";

/** Claims of amoCRM's disposable tokens (widget `X-Auth-Token`, Salesbot `widget_request`). @see amocrm.md §1.5, §5.3 */
export interface AmoTokenClaims {
  accountId: string;
  userId?: string;
  subdomain?: string;
  iss: string;
  aud?: string;
  clientUuid?: string;
  entityType?: string;
  entityId?: string;
  botType?: string;
  isAdmin?: boolean;
}

const HMAC = { HS256: "sha256", HS512: "sha512" } as const;
type Alg = keyof typeof HMAC;

const B64URL = /^[A-Za-z0-9_-]+$/;

function invalid(what: string, check: string): AppError {
  return new AppError({ code: "invalid_token", message: `invalid ${what}: ${check}`, httpStatus: 401 });
}

/** `https://host/` and `https://HOST` name the same audience. */
function normalizeOrigin(value: string): string {
  try {
    const u = new URL(value);
    if (u.protocol === "http:" || u.protocol === "https:") return u.origin.toLowerCase();
  } catch {
    // not a URL: compare as given
  }
  return value.replace(/\/+$/, "");
}

function decodeJson(part: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
    return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

const idString = (v: unknown): string | undefined =>
  typeof v === "number" && Number.isFinite(v) ? String(v) : typeof v === "string" && v.length > 0 ? v : undefined;

interface VerifyOpts {
  what: string;
  algs: readonly Alg[];
  clientId: string;
  clientSecret: string;
  audiences: string[];
  leewaySec?: number;
  now?: () => number;
}

/**
 * Signature, algorithm, times (floats allowed: amoCRM sends them), audience, client and account.
 * Hand-written rather than `jsonwebtoken` so the allowed algorithms and the float `exp`/`nbf`
 * handling are explicit.
 */
function verify(token: string | undefined, o: VerifyOpts): AmoTokenClaims {
  if (typeof token !== "string" || token.trim() === "") throw invalid(o.what, "missing token");
  const parts = token.trim().split(".");
  if (parts.length !== 3 || !parts.every((p, i) => B64URL.test(p) || (i === 2 && p === ""))) throw invalid(o.what, "malformed token");
  const [h, p, s] = parts as [string, string, string];
  const header = decodeJson(h);
  const claims = decodeJson(p);
  if (!header || !claims) throw invalid(o.what, "malformed token");
  const alg = header.alg;
  if (typeof alg !== "string" || !(o.algs as readonly string[]).includes(alg)) throw invalid(o.what, `algorithm ${JSON.stringify(alg)} not allowed`);
  if (!o.clientSecret) throw invalid(o.what, "no client secret configured");
  const expected = createHmac(HMAC[alg as Alg], o.clientSecret).update(`${h}.${p}`).digest("base64url");
  if (!safeEqual(s, expected)) throw invalid(o.what, "bad signature");

  const now = (o.now ?? Date.now)() / 1000;
  const leeway = o.leewaySec ?? 60;
  const exp = claims.exp;
  if (typeof exp !== "number" || !Number.isFinite(exp)) throw invalid(o.what, "missing exp");
  if (now > exp + leeway) throw invalid(o.what, "token expired");
  const nbf = claims.nbf;
  if (nbf !== undefined && (typeof nbf !== "number" || !Number.isFinite(nbf))) throw invalid(o.what, "bad nbf");
  if (typeof nbf === "number" && now + leeway < nbf) throw invalid(o.what, "token not yet valid (nbf)");
  const iat = claims.iat;
  if (typeof iat === "number" && now + leeway < iat) throw invalid(o.what, "token issued in the future (iat)");

  const aud = claims.aud;
  const auds = (Array.isArray(aud) ? aud : [aud]).filter((a): a is string => typeof a === "string");
  const wanted = new Set(o.audiences.filter(Boolean).map(normalizeOrigin));
  if (!auds.some((a) => wanted.has(normalizeOrigin(a)))) throw invalid(o.what, "audience (aud) mismatch");

  const clientUuid = claims.client_uuid;
  if (clientUuid !== undefined && clientUuid !== null && (typeof clientUuid !== "string" || !safeEqual(clientUuid, o.clientId))) {
    throw invalid(o.what, "client_uuid is not our integration");
  }
  const accountId = idString(claims.account_id);
  if (!accountId || !/^\d+$/.test(accountId)) throw invalid(o.what, "missing account_id");
  if (typeof claims.iss !== "string" || !claims.iss) throw invalid(o.what, "missing iss");

  const out: AmoTokenClaims = { accountId, iss: claims.iss };
  const userId = idString(claims.user_id);
  if (userId) out.userId = userId;
  if (typeof claims.subdomain === "string") out.subdomain = claims.subdomain;
  if (auds[0] !== undefined) out.aud = auds[0];
  if (typeof clientUuid === "string") out.clientUuid = clientUuid;
  const entityType = idString(claims.entity_type);
  if (entityType) out.entityType = entityType;
  const entityId = idString(claims.entity_id);
  if (entityId) out.entityId = entityId;
  if (typeof claims.bot_type === "string") out.botType = claims.bot_type;
  if (typeof claims.is_admin === "boolean") out.isAdmin = claims.is_admin;
  return out;
}

/**
 * Widget X-Auth-Token: HS256 only, signed with client secret; exp/nbf with leeway (default 60 s,
 * floats allowed); aud must equal `audience` (origin of our Redirect URI); client_uuid (if present)
 * must equal clientId; account_id required. Throws AppError httpStatus 401 code `invalid_token`
 * whose message says which check failed. `iss` is not checked here: compare {@link issuerHost}
 * with the stored account domain.
 * @see amocrm.md §1.5
 */
export function verifyWidgetToken(
  token: string | undefined,
  opts: { clientId: string; clientSecret: string; audience: string; leewaySec?: number; now?: () => number },
): AmoTokenClaims {
  return verify(token, { what: "widget token", algs: ["HS256"], audiences: [opts.audience], ...opts });
}

/**
 * Salesbot widget_request token: HS512 or HS256; aud must be one of `audiences` (our PUBLIC_URL
 * origin and Redirect URI origin); same other checks.
 * @see amocrm.md §5.3
 */
export function verifyBotToken(
  token: string | undefined,
  opts: { clientId: string; clientSecret: string; audiences: string[]; leewaySec?: number; now?: () => number },
): AmoTokenClaims {
  return verify(token, { what: "bot token", algs: ["HS512", "HS256"], ...opts });
}

const one = (v: unknown): string | undefined => (typeof v === "string" ? v : typeof v === "number" ? String(v) : undefined);

/**
 * Disconnect hook: accept client_uuid or client_id; signature = hex HMAC-SHA256(client secret,
 * `${client_uuid}|${account_id}`). Returns the account id or undefined.
 * @see amocrm.md §2.6
 */
export function verifyDisconnect(query: Record<string, unknown>, clientId: string, clientSecret: string): { accountId: string } | undefined {
  const cid = one(query.client_uuid) ?? one(query.client_id);
  const account = one(query.account_id);
  const signature = one(query.signature)?.toLowerCase();
  if (!cid || !account || !signature || !clientSecret || !/^\d{1,20}$/.test(account)) return undefined;
  if (!safeEqual(cid, clientId)) return undefined;
  // The official sample signs the account id as a number: no leading zeros.
  const accountId = account.replace(/^0+(?=\d)/, "");
  const want = createHmac("sha256", clientSecret).update(`${cid}|${accountId}`).digest("hex");
  return safeEqual(signature, want) ? { accountId } : undefined;
}

/** Host (with port) of the `iss` claim, for comparing with the stored account domain. */
export function issuerHost(claims: AmoTokenClaims): string | undefined {
  try {
    const u = new URL(claims.iss);
    if (u.protocol !== "https:" && u.protocol !== "http:") return undefined;
    return u.host.toLowerCase() || undefined;
  } catch {
    return undefined;
  }
}
