import { createHash, createHmac, randomBytes, randomUUID, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A local amoCRM: one HTTP server per account (its domain is `127.0.0.1:<port>`, what amoCRM would
 * send as `referer`) with OAuth and REST v4, plus one amojo (Chats API) server. Payloads follow
 * /work/shared/docs/amocrm.md; the checks are amoCRM's own (client credentials, single-use codes
 * and refresh tokens, Bearer, 7 requests per second, amojo signature/Content-MD5/Date).
 * Written independently of backend/src/crm/amocrm so a shared mistake cannot hide.
 */

/** An integration and its chat channel for the connector and panel tests: the fake and the backend are given the same. */
export const TEST_CLIENT = { clientId: "0b0832f6-d123-4123-9123-e73f236833c1", clientSecret: "integration-secret-of-the-network" };
export const TEST_CHANNEL = { channelId: "344a5002-f8ca-454d-af3d-396180102ac7", channelSecret: "f2d7f8704eff95087ed45b23ba99c0b5aac8278e", botId: "bot-7d1f" };

export interface FakeAmoOptions {
  clientId: string;
  clientSecret: string;
  redirectUri: string;
  channelId: string;
  channelSecret: string;
  /** The channel bot's amoCRM id (`sender.ref_id` of messages we send as the bot). */
  botId?: string;
}

export interface FakeAccount {
  id: number;
  subdomain: string;
  amojoId: string;
  /** `127.0.0.1:<port>`. */
  domain: string;
  /** `http://127.0.0.1:<port>`. */
  baseUrl: string;
  /** A one-time authorization code valid 20 min. */
  issueCode(): string;
  /** Current pair. Refresh tokens are single use and rotate; old access tokens work until {@link expireAccessToken}. */
  readonly accessToken: string;
  readonly refreshToken: string;
  /** Every access token issued so far now gets 401. */
  expireAccessToken(): void;
  /** All tokens and codes dead (after disconnect). */
  revoke(): void;
  addContact(c: { name: string; phone?: string; phones?: string[]; email?: string; firstName?: string; lastName?: string; fields?: Record<string, string> }): number;
  addLead(l: { name: string; contactId?: number; contactIds?: number[]; price?: number; statusId?: number; pipelineId?: number; fields?: Record<string, string> }): number;
  botContinues: Array<{ path: string; body: any }>;
  notes: Array<{ entity: string; body: any }>;
  /** Every REST request; `at` is `performance.now()` at arrival; `status` what the fake answered. */
  requests: Array<{ method: string; path: string; at: number; status?: number; headers?: Record<string, string | string[] | undefined> }>;
  /** Every token request: grant type and outcome. */
  oauthRequests: Array<{ grantType: string; status: number; body: any }>;
  refreshCount: number;
  /** Default 7: the 8th request within any 1-s window gets 429. */
  rateLimitPerSecond: number;
  /** The next `times` REST requests answer `status` (with `Retry-After: retryAfter` seconds if given). */
  failNext(times: number, status: number, opts?: { retryAfter?: number }): void;
}

export interface FakeAmo {
  /** Base URL of the fake amojo host. */
  amojoUrl: string;
  /** The backend's settings for this fake: the integration, its redirect URI and the amojo channel (AMOCRM_*, AMOJO_*). */
  env: Record<string, string>;
  addAccount(a: { id: number; subdomain: string; amojoId?: string }): Promise<FakeAccount>;
  account(id: number): FakeAccount;
  /** amojo side, by amojo account id. */
  connections: Map<string, { scopeId: string; amojoAccountId: string; connected: boolean; title?: string; hookApiVersion?: string }>;
  /** Every accepted new_message (a repeated msgid is answered with the first id and not added again). */
  messages: Array<{ scopeId: string; body: any; amoMsgId: string }>;
  deliveryStatuses: Array<{ scopeId: string; amoMsgId: string; body: any }>;
  /** Requests refused (bad signature, stale Date, bad MD5…). */
  rejected: Array<{ path: string; reason: string }>;
  /** The next `times` amojo requests answer `status`. */
  failAmojo(times: number, status: number): void;
  /**
   * A manager's reply in `scopeId` as amoCRM would post it to our hook: body, its signature and
   * the amoCRM message id (known to delivery_status from now on).
   */
  managerReply(scopeId: string, o?: Omit<ChatHookOptions, "amojoAccountId">): { body: string; signature: string; amoMsgId: string };
  close(): Promise<void>;
}

type Json = Record<string, any>;

const AMOJO_WINDOW_MS = 15 * 60 * 1000;
const CODE_TTL_MS = 20 * 60 * 1000;

function send(res: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}, contentType = "application/json"): void {
  res.statusCode = status;
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  if (body === undefined || status === 204) {
    res.end();
    return;
  }
  res.setHeader("content-type", contentType);
  res.end(typeof body === "string" ? body : JSON.stringify(body));
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function parseJson(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString("utf8"));
  } catch {
    return undefined;
  }
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return (server.address() as AddressInfo).port;
}

function closeServer(server: Server): Promise<void> {
  return new Promise((r) => {
    server.closeAllConnections();
    server.close(() => r());
  });
}

const sameText = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

/** amoCRM's OAuth problem JSON (League OAuth2 server, as seen from amoCRM). */
const oauthProblem = (status: number, hint: string) => ({
  hint,
  title: status === 401 ? "Unauthorized" : "Некорректный запрос",
  type: "https://developers.amocrm.ru/v3/errors/OAuthProblemJson",
  status,
  detail: status === 401 ? "Client authentication failed" : "В запросе отсутствует ряд параметров или параметры невалидны",
});

const restProblem = (status: number, title: string, detail?: string) => ({
  title,
  type: `https://httpstatus.es/${status}`,
  status,
  ...(detail ? { detail } : {}),
});

const digits = (s: string) => s.replace(/\D/g, "");

/** Custom field ids: a stable id per (entity, name). */
const fieldIds = new Map<string, number>();
function fieldId(key: string): number {
  let id = fieldIds.get(key);
  if (id === undefined) {
    id = 580000 + fieldIds.size * 7;
    fieldIds.set(key, id);
  }
  return id;
}

/**
 * `custom_fields_values` for a `fields` record: an UPPER_CASE key is taken as a `field_code`
 * (system fields like POSITION), any other key as a field name without a code.
 */
function fieldValues(entity: string, fields: Record<string, string> | undefined): Json[] {
  return Object.entries(fields ?? {}).map(([key, value]) => {
    const isCode = /^[A-Z][A-Z0-9_]*$/.test(key);
    return {
      field_id: fieldId(`${entity}:${key}`),
      field_name: isCode ? key.charAt(0) + key.slice(1).toLowerCase() : key,
      field_code: isCode ? key : null,
      field_type: "text",
      values: [{ value }],
    };
  });
}

interface AccountState {
  codes: Map<string, number>;
  access: Set<string>;
  accessToken: string;
  refreshToken: string;
  refreshValid: boolean;
  contacts: Map<number, Json>;
  leads: Map<number, Json>;
  fails: Array<{ status: number; retryAfter?: number }>;
  server: Server;
}

let nextEntityId = 1_000_001;

export async function startFakeAmo(opts: FakeAmoOptions): Promise<FakeAmo> {
  const botId = opts.botId ?? randomUUID();
  const accounts = new Map<number, FakeAccount>();
  const byAmojo = new Map<string, FakeAccount>();
  const states = new Map<number, AccountState>();
  const connections: FakeAmo["connections"] = new Map();
  const messages: FakeAmo["messages"] = [];
  const deliveryStatuses: FakeAmo["deliveryStatuses"] = [];
  const rejected: FakeAmo["rejected"] = [];
  const amojoFails: number[] = [];
  /** amoCRM message ids a delivery status may name, by scope. */
  const knownMsgIds = new Map<string, Set<string>>();
  /** msgid (ours) → amoCRM's, per scope: repeats are idempotent. */
  const byOurMsgId = new Map<string, string>();
  /** Stable amoCRM ids for our conversation/user ids, per scope. */
  const amoIds = new Map<string, string>();
  const amoId = (key: string) => {
    let id = amoIds.get(key);
    if (!id) {
      id = randomUUID();
      amoIds.set(key, id);
    }
    return id;
  };
  const known = (scopeId: string) => {
    let s = knownMsgIds.get(scopeId);
    if (!s) {
      s = new Set();
      knownMsgIds.set(scopeId, s);
    }
    return s;
  };

  // ---------------------------------------------------------------- amojo (Chats API)

  function checkAmojoSignature(req: IncomingMessage, raw: Buffer, path: string): string | undefined {
    const h = (name: string) => {
      const v = req.headers[name];
      return typeof v === "string" ? v : undefined;
    };
    const date = h("date");
    const md5 = h("content-md5");
    const contentType = h("content-type");
    const signature = h("x-signature");
    if (!date || !md5 || !contentType || !signature) return "missing Date, Content-MD5, Content-Type or X-Signature";
    if (contentType !== "application/json") return `Content-Type ${contentType}`;
    const when = Date.parse(date);
    if (!Number.isFinite(when)) return "unparseable Date";
    if (Math.abs(Date.now() - when) > AMOJO_WINDOW_MS) return "Date outside 15 minutes";
    const bodyMd5 = createHash("md5").update(raw).digest("hex");
    if (md5.toLowerCase() !== bodyMd5) return "Content-MD5 does not match the body";
    const toSign = [req.method ?? "", md5, contentType, date, path].join("\n");
    const want = createHmac("sha1", opts.channelSecret).update(toSign).digest("hex");
    if (!sameText(signature.toLowerCase(), want)) return "bad X-Signature";
    return undefined;
  }

  const str = (v: unknown): v is string => typeof v === "string" && v.length > 0;
  const int = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v);

  /** Strict typing as amojo does it (§4.2, §4.6). Returns what is wrong, or undefined. */
  function invalidNewMessage(p: Json | undefined): string | undefined {
    if (!p || typeof p !== "object") return "payload required";
    if (!int(p.timestamp)) return "payload.timestamp must be an integer";
    if (!int(p.msec_timestamp)) return "payload.msec_timestamp must be an integer";
    if (!str(p.msgid)) return "payload.msgid required";
    if (!str(p.conversation_id)) return "payload.conversation_id required";
    if (p.silent !== undefined && typeof p.silent !== "boolean") return "payload.silent must be a boolean";
    for (const who of ["sender", "receiver"] as const) {
      const u = p[who];
      if (u === undefined && who === "receiver") continue;
      if (!u || typeof u !== "object" || !str(u.id)) return `payload.${who}.id required`;
      if (!str(u.ref_id) && !str(u.name)) return `payload.${who}.name required`;
      if (u.profile !== undefined && (typeof u.profile !== "object" || u.profile === null)) return `payload.${who}.profile must be an object`;
    }
    if (p.sender.ref_id === botId && !p.receiver) return "payload.receiver required for a bot message";
    if (p.source !== undefined && (!str(p.source?.external_id) || !/^[\x21-\x7e]{1,40}$/.test(p.source.external_id))) return "payload.source.external_id invalid";
    const m = p.message;
    if (!m || typeof m !== "object") return "payload.message required";
    switch (m.type) {
      case "text":
        return str(m.text) ? undefined : "message.text required";
      case "picture":
      case "video":
      case "file":
        return str(m.media) && str(m.file_name) && int(m.file_size) ? undefined : "message.media, file_name, file_size required";
      case "voice":
      case "audio":
      case "sticker":
        return str(m.media) ? undefined : "message.media required";
      case "location":
        return typeof m.location?.lon === "number" && typeof m.location?.lat === "number" ? undefined : "message.location.lon/lat required";
      case "contact":
        return str(m.contact?.name) && str(m.contact?.phone) ? undefined : "message.contact.name/phone required";
      default:
        return `unknown message.type ${JSON.stringify(m.type)}`;
    }
  }

  const scopeConnected = (scopeId: string) => [...connections.values()].some((c) => c.scopeId === scopeId && c.connected);

  async function amojoHandler(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const url = new URL(req.url ?? "/", "http://amojo.local");
    const path = url.pathname;
    const failure = amojoFails.shift();
    if (failure !== undefined) return send(res, failure, { error: `injected failure ${failure}` });
    const bad = checkAmojoSignature(req, raw, path);
    if (bad) {
      rejected.push({ path, reason: bad });
      return send(res, 403, { error: "Forbidden", reason: bad });
    }
    const seg = path.split("/").filter(Boolean);
    if (seg[0] !== "v2" || seg[1] !== "origin" || seg[2] !== "custom" || !seg[3]) return send(res, 404, { error: "Not found" });
    const target = decodeURIComponent(seg[3]);
    const rest = seg.slice(4);
    const body = parseJson(raw) as Json | undefined;
    const method = req.method ?? "";

    if (rest.length === 1 && (rest[0] === "connect" || rest[0] === "disconnect")) {
      if (target !== opts.channelId) return send(res, 404, { error: "channel not found" });
      if (!body || !str(body.account_id)) return send(res, 400, { error: "account_id must be a string" });
      const account = byAmojo.get(body.account_id);
      if (rest[0] === "connect") {
        if (method !== "POST") return send(res, 405, { error: "Method not allowed" });
        if (!account) return send(res, 403, { error: "account is not allowed for this channel" });
        const scopeId = `${opts.channelId}_${body.account_id}`;
        connections.set(body.account_id, {
          scopeId,
          amojoAccountId: body.account_id,
          connected: true,
          ...(typeof body.title === "string" ? { title: body.title } : {}),
          ...(typeof body.hook_api_version === "string" ? { hookApiVersion: body.hook_api_version } : {}),
        });
        return send(res, 200, {
          account_id: body.account_id,
          ...(body.title !== undefined ? { title: body.title } : {}),
          hook_api_version: body.hook_api_version ?? "v1",
          is_time_window_disabled: body.is_time_window_disabled ?? false,
          scope_id: scopeId,
        });
      }
      if (method !== "DELETE" && method !== "POST") return send(res, 405, { error: "Method not allowed" });
      const c = connections.get(body.account_id);
      if (c) c.connected = false;
      return send(res, 200);
    }

    const scopeId = target;
    if (!scopeConnected(scopeId)) return send(res, 404, { error: "scope not found" });

    if (rest.length === 0 && method === "POST") {
      if (!body || body.event_type !== "new_message") return send(res, 400, { error: `unsupported event_type ${JSON.stringify(body?.event_type)}` });
      const problem = invalidNewMessage(body.payload);
      if (problem) return send(res, 400, { error: problem });
      const p = body.payload as Json;
      const dedupeKey = `${scopeId}|${p.msgid}`;
      let amoMsgId = byOurMsgId.get(dedupeKey);
      if (!amoMsgId) {
        amoMsgId = randomUUID();
        byOurMsgId.set(dedupeKey, amoMsgId);
        known(scopeId).add(amoMsgId);
        messages.push({ scopeId, body, amoMsgId });
      }
      return send(res, 200, {
        new_message: {
          conversation_id: p.conversation_ref_id ?? amoId(`${scopeId}|chat|${p.conversation_id}`),
          sender_id: p.sender.ref_id ?? amoId(`${scopeId}|user|${p.sender.id}`),
          receiver_id: p.receiver ? (p.receiver.ref_id ?? amoId(`${scopeId}|user|${p.receiver.id}`)) : null,
          msgid: amoMsgId,
          ref_id: p.msgid,
        },
      });
    }

    if (rest.length === 2 && rest[1] === "delivery_status" && method === "POST") {
      const amoMsgId = decodeURIComponent(rest[0]!);
      if (!known(scopeId).has(amoMsgId)) return send(res, 404, { error: "message not found" });
      const status = body?.delivery_status ?? body?.status_code;
      if (![1, 2, -1].includes(status)) return send(res, 400, { error: "delivery_status must be 1, 2 or -1" });
      if (body?.error_code !== undefined && !int(body.error_code)) return send(res, 400, { error: "error_code must be an integer" });
      deliveryStatuses.push({ scopeId, amoMsgId, body });
      return send(res, 200);
    }
    return send(res, 404, { error: "Not found" });
  }

  const amojoServer = createServer((req, res) => {
    amojoHandler(req, res).catch(() => send(res, 500, { error: "fake amojo crashed" }));
  });
  const amojoPort = await listen(amojoServer);

  // ---------------------------------------------------------------- accounts: OAuth + REST v4

  function issuePair(st: AccountState, accountId: number): Json {
    st.accessToken = `fake-access-${accountId}-${randomBytes(12).toString("hex")}`;
    st.refreshToken = `def50200${randomBytes(24).toString("hex")}`;
    st.refreshValid = true;
    st.access.add(st.accessToken);
    return { token_type: "Bearer", expires_in: 86400, server_time: Math.floor(Date.now() / 1000), access_token: st.accessToken, refresh_token: st.refreshToken };
  }

  function oauth(acc: FakeAccount, st: AccountState, raw: Buffer, res: ServerResponse): void {
    const body = parseJson(raw) as Json | undefined;
    const grantType = typeof body?.grant_type === "string" ? body.grant_type : "";
    const answer = (status: number, payload: Json) => {
      acc.oauthRequests.push({ grantType, status, body });
      send(res, status, payload);
    };
    if (!body || typeof body !== "object") return answer(400, oauthProblem(400, "Request body must be JSON"));
    if (body.client_id !== opts.clientId || body.client_secret !== opts.clientSecret) return answer(401, oauthProblem(401, "Client authentication failed"));
    if (body.redirect_uri !== opts.redirectUri) return answer(400, oauthProblem(400, "Redirect URI does not match the integration"));
    if (grantType === "authorization_code") {
      const code = typeof body.code === "string" ? body.code : "";
      const expires = st.codes.get(code);
      if (expires === undefined) return answer(400, oauthProblem(400, "Authorization code has been revoked"));
      st.codes.delete(code);
      if (Date.now() > expires) return answer(400, oauthProblem(400, "Authorization code has expired"));
      return answer(200, issuePair(st, acc.id));
    }
    if (grantType === "refresh_token") {
      if (!st.refreshValid || typeof body.refresh_token !== "string" || !sameText(body.refresh_token, st.refreshToken)) {
        return answer(400, oauthProblem(400, "Token has been revoked"));
      }
      acc.refreshCount++;
      return answer(200, issuePair(st, acc.id));
    }
    return answer(400, oauthProblem(400, `Unsupported grant_type ${JSON.stringify(grantType)}`));
  }

  function contactJson(acc: FakeAccount, c: Json): Json {
    return { ...c, account_id: acc.id, _links: { self: { href: `${acc.baseUrl}/api/v4/contacts/${c.id}` } } };
  }

  function leadJson(acc: FakeAccount, l: Json, withContacts: boolean): Json {
    const { contactIds, mainContactId, ...rest } = l;
    return {
      ...rest,
      account_id: acc.id,
      _links: { self: { href: `${acc.baseUrl}/api/v4/leads/${l.id}` } },
      _embedded: {
        tags: [],
        companies: [],
        ...(withContacts
          ? {
              contacts: (contactIds as number[]).map((id) => ({
                id,
                is_main: id === mainContactId,
                _links: { self: { href: `${acc.baseUrl}/api/v4/contacts/${id}` } },
              })),
            }
          : {}),
      },
    };
  }

  function rest(acc: FakeAccount, st: AccountState, req: IncomingMessage, raw: Buffer, res: ServerResponse): void {
    const url = new URL(req.url ?? "/", acc.baseUrl);
    const entry: FakeAccount["requests"][number] = { method: req.method ?? "", path: url.pathname + url.search, at: performance.now(), headers: req.headers };
    acc.requests.push(entry);
    const answer = (status: number, body?: unknown, headers: Record<string, string> = {}, type = "application/hal+json") => {
      entry.status = status;
      send(res, status, body, headers, type);
    };

    const fail = st.fails.shift();
    if (fail) {
      const headers: Record<string, string> = fail.retryAfter !== undefined ? { "retry-after": String(fail.retryAfter) } : {};
      if (fail.status === 429) return answer(429, "Too Many Requests", headers, "text/plain");
      return answer(fail.status, restProblem(fail.status, fail.status >= 500 ? "Internal Server Error" : "Error"), headers, "application/problem+json");
    }
    // Sliding one-second window over the requests it let through.
    const recent = acc.requests.filter((r) => r !== entry && r.status !== 429 && r.at > entry.at - 1000).length;
    if (recent >= acc.rateLimitPerSecond) return answer(429, "Too Many Requests", {}, "text/plain");

    const auth = req.headers.authorization ?? "";
    const token = auth.startsWith("Bearer ") ? auth.slice(7) : "";
    if (!token || !st.access.has(token)) return answer(401, restProblem(401, "Unauthorized", "Unauthorized"), {}, "application/problem+json");

    const method = req.method;
    const p = url.pathname;
    const withParam = (url.searchParams.get("with") ?? "").split(",");
    let m: RegExpExecArray | null;

    if (method === "GET" && p === "/api/v4/account") {
      return answer(200, {
        id: acc.id,
        name: `Branch ${acc.subdomain}`,
        subdomain: acc.subdomain,
        created_at: 1585840134,
        created_by: 3460222,
        updated_at: 1589472711,
        updated_by: 3460222,
        current_user_id: 3460222,
        country: "RU",
        currency: "RUB",
        currency_symbol: "₽",
        customers_mode: "disabled",
        is_unsorted_on: true,
        mobile_feature_version: 0,
        is_loss_reason_enabled: true,
        is_helpbot_enabled: false,
        is_technical_account: false,
        contact_name_display_order: 1,
        ...(withParam.includes("amojo_id") ? { amojo_id: acc.amojoId } : {}),
        _links: { self: { href: `${acc.baseUrl}/api/v4/account` } },
      });
    }
    if (method === "GET" && p === "/api/v4/contacts") {
      const q = (url.searchParams.get("query") ?? "").trim();
      const qd = digits(q);
      const found = [...st.contacts.values()].filter((c) => {
        if (!q) return true;
        const values: string[] = (c.custom_fields_values ?? []).flatMap((f: Json) => f.values.map((v: Json) => String(v.value)));
        if (qd && values.some((v) => digits(v).includes(qd))) return true;
        return String(c.name).toLowerCase().includes(q.toLowerCase()) || values.some((v) => v.toLowerCase().includes(q.toLowerCase()));
      });
      const limit = Math.min(Number(url.searchParams.get("limit") ?? 50) || 50, 250);
      const page = Math.max(1, Number(url.searchParams.get("page") ?? 1) || 1);
      const slice = found.slice((page - 1) * limit, page * limit);
      if (slice.length === 0) return answer(204);
      return answer(200, { _page: page, _links: { self: { href: `${acc.baseUrl}${url.pathname}${url.search}` } }, _embedded: { contacts: slice.map((c) => contactJson(acc, c)) } });
    }
    if (method === "GET" && (m = /^\/api\/v4\/contacts\/(\d+)$/.exec(p))) {
      const c = st.contacts.get(Number(m[1]));
      return c ? answer(200, contactJson(acc, c)) : answer(204);
    }
    if (method === "GET" && (m = /^\/api\/v4\/leads\/(\d+)$/.exec(p))) {
      const l = st.leads.get(Number(m[1]));
      return l ? answer(200, leadJson(acc, l, withParam.includes("contacts"))) : answer(204);
    }
    if (method === "POST" && (m = /^\/api\/v4\/(leads|contacts|companies|customers)(?:\/(\d+))?\/notes$/.exec(p))) {
      const body = parseJson(raw);
      if (!Array.isArray(body) || body.length === 0) return answer(400, restProblem(400, "Bad Request", "Request body must be a non-empty array"), {}, "application/problem+json");
      const errors: Json[] = [];
      body.forEach((n: Json, i) => {
        const entityId = m![2] ? Number(m![2]) : n?.entity_id;
        const exists = m![1] === "leads" ? st.leads.has(entityId) : m![1] === "contacts" ? st.contacts.has(entityId) : true;
        if (!Number.isInteger(entityId) || !exists) errors.push({ request_id: String(i), errors: [{ code: "NotFound", path: "entity_id", detail: "Entity not found" }] });
        else if (typeof n.note_type !== "string") errors.push({ request_id: String(i), errors: [{ code: "NotBlank", path: "note_type", detail: "This value should not be blank." }] });
      });
      if (errors.length) return answer(400, { "validation-errors": errors, ...restProblem(400, "Bad Request", "Request validation failed") }, {}, "application/problem+json");
      acc.notes.push({ entity: m[1]!, body });
      return answer(200, {
        _links: { self: { href: `${acc.baseUrl}${p}` } },
        _embedded: { notes: body.map((n: Json, i: number) => ({ id: nextEntityId++, entity_id: m![2] ? Number(m![2]) : n.entity_id, request_id: String(i), _links: { self: { href: `${acc.baseUrl}${p}` } } })) },
      });
    }
    if (method === "POST" && /^\/api\/v4\/(salesbot|marketingbot)\/\d+\/continue\/[A-Za-z0-9_-]+$/.test(p)) {
      const body = parseJson(raw);
      if (body === undefined || typeof body !== "object") return answer(400, restProblem(400, "Bad Request", "Body must be JSON"), {}, "application/problem+json");
      acc.botContinues.push({ path: p, body });
      return answer(202);
    }
    return answer(404, restProblem(404, "Not Found"), {}, "application/problem+json");
  }

  async function addAccount(a: { id: number; subdomain: string; amojoId?: string }): Promise<FakeAccount> {
    if (accounts.has(a.id)) throw new Error(`fake amoCRM: account ${a.id} exists`);
    // Filled in below, once the server listens and the account object exists.
    const st = { codes: new Map(), access: new Set(), contacts: new Map(), leads: new Map(), fails: [], refreshValid: false, accessToken: "", refreshToken: "" } as unknown as AccountState;
    let acc!: FakeAccount;
    const server = createServer((req, res) => {
      readBody(req)
        .then((raw) => {
          const path = (req.url ?? "").split("?")[0];
          if (path === "/oauth2/access_token" && req.method === "POST") return oauth(acc, st, raw, res);
          if (path?.startsWith("/api/v4/")) return rest(acc, st, req, raw, res);
          return send(res, 404, restProblem(404, "Not Found"), {}, "application/problem+json");
        })
        .catch(() => send(res, 500, restProblem(500, "fake amoCRM crashed")));
    });
    st.server = server;
    const port = await listen(server);
    const domain = `127.0.0.1:${port}`;
    acc = {
      id: a.id,
      subdomain: a.subdomain,
      amojoId: a.amojoId ?? randomUUID(),
      domain,
      baseUrl: `http://${domain}`,
      issueCode() {
        const code = `def50200${randomBytes(32).toString("hex")}`;
        st.codes.set(code, Date.now() + CODE_TTL_MS);
        return code;
      },
      get accessToken() {
        return st.accessToken;
      },
      get refreshToken() {
        return st.refreshToken;
      },
      expireAccessToken() {
        st.access.clear();
      },
      revoke() {
        st.access.clear();
        st.codes.clear();
        st.refreshValid = false;
      },
      addContact(c) {
        const id = nextEntityId++;
        const phones = [...(c.phone ? [c.phone] : []), ...(c.phones ?? [])];
        const cf: Json[] = [];
        if (phones.length) cf.push({ field_id: fieldId("contacts:PHONE"), field_name: "Телефон", field_code: "PHONE", field_type: "multitext", values: phones.map((value) => ({ value, enum_id: 129885, enum_code: "WORK" })) });
        if (c.email) cf.push({ field_id: fieldId("contacts:EMAIL"), field_name: "Email", field_code: "EMAIL", field_type: "multitext", values: [{ value: c.email, enum_id: 129897, enum_code: "WORK" }] });
        cf.push(...fieldValues("contacts", c.fields));
        st.contacts.set(id, {
          id,
          name: c.name,
          first_name: c.firstName ?? c.name.split(" ")[0] ?? "",
          last_name: c.lastName ?? c.name.split(" ").slice(1).join(" "),
          responsible_user_id: 3460222,
          group_id: 0,
          created_by: 0,
          updated_by: 0,
          created_at: Math.floor(Date.now() / 1000),
          updated_at: Math.floor(Date.now() / 1000),
          closest_task_at: null,
          is_deleted: false,
          is_unsorted: false,
          custom_fields_values: cf.length ? cf : null,
          _embedded: { tags: [], companies: [] },
        });
        return id;
      },
      addLead(l) {
        const id = nextEntityId++;
        const contactIds = [...(l.contactId !== undefined ? [l.contactId] : []), ...(l.contactIds ?? [])];
        const cf = fieldValues("leads", l.fields);
        st.leads.set(id, {
          id,
          name: l.name,
          price: l.price ?? 0,
          responsible_user_id: 3460222,
          group_id: 0,
          status_id: l.statusId ?? 33929752,
          pipeline_id: l.pipelineId ?? 3383152,
          loss_reason_id: null,
          created_by: 0,
          updated_by: 0,
          created_at: Math.floor(Date.now() / 1000),
          updated_at: Math.floor(Date.now() / 1000),
          closed_at: null,
          closest_task_at: null,
          is_deleted: false,
          custom_fields_values: cf.length ? cf : null,
          score: null,
          labor_cost: null,
          contactIds,
          mainContactId: contactIds[0],
        });
        return id;
      },
      botContinues: [],
      notes: [],
      requests: [],
      oauthRequests: [],
      refreshCount: 0,
      rateLimitPerSecond: 7,
      failNext(times, status, o) {
        for (let i = 0; i < times; i++) st.fails.push({ status, ...(o?.retryAfter !== undefined ? { retryAfter: o.retryAfter } : {}) });
      },
    };
    // An installed account: it starts with a valid pair, as after a code exchange.
    issuePair(st, acc.id);
    accounts.set(a.id, acc);
    byAmojo.set(acc.amojoId, acc);
    states.set(a.id, st);
    return acc;
  }

  const amojoUrl = `http://127.0.0.1:${amojoPort}`;
  return {
    amojoUrl,
    env: {
      AMOCRM_CLIENT_ID: opts.clientId,
      AMOCRM_CLIENT_SECRET: opts.clientSecret,
      AMOCRM_REDIRECT_URI: opts.redirectUri,
      AMOCRM_SCHEME: "http",
      AMOJO_URL: amojoUrl,
      AMOJO_CHANNEL_ID: opts.channelId,
      AMOJO_CHANNEL_SECRET: opts.channelSecret,
      AMOJO_BOT_ID: botId,
    },
    addAccount,
    account(id) {
      const acc = accounts.get(id);
      if (!acc) throw new Error(`fake amoCRM: no account ${id}`);
      return acc;
    },
    connections,
    messages,
    deliveryStatuses,
    rejected,
    failAmojo(times, status) {
      for (let i = 0; i < times; i++) amojoFails.push(status);
    },
    managerReply(scopeId, o = {}) {
      const conn = [...connections.values()].find((c) => c.scopeId === scopeId);
      if (!conn) throw new Error(`fake amoCRM: no connection with scope ${scopeId}`);
      const amoMsgId = o.messageId ?? randomUUID();
      known(scopeId).add(amoMsgId);
      const body = chatHookBody({ ...o, amojoAccountId: conn.amojoAccountId, messageId: amoMsgId });
      return { body, signature: chatHookSignature(body, opts.channelSecret), amoMsgId };
    },
    async close() {
      await Promise.all([closeServer(amojoServer), ...[...states.values()].map((s) => closeServer(s.server))]);
    },
  };
}

// ---------------------------------------------------------------- helpers playing amoCRM's side

/** What amoCRM puts in a chat hook's `X-Signature`: lowercase hex HMAC-SHA1(channel secret, raw body). */
export function chatHookSignature(rawBody: string, channelSecret: string): string {
  return createHmac("sha1", channelSecret).update(rawBody, "utf8").digest("hex");
}

/** PHP `json_encode` output: `\/` for slashes, `\uXXXX` for everything outside ASCII. */
export function phpJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/\//g, "\\/")
    .replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

function signJwt(header: Json, claims: Json, secret: string): string {
  const enc = (o: Json) => Buffer.from(JSON.stringify(o), "utf8").toString("base64url");
  const h = enc(header);
  const p = enc(claims);
  const alg = header.alg as string;
  if (alg === "none") return `${h}.${p}.`;
  const hash = alg === "HS512" ? "sha512" : alg === "HS384" ? "sha384" : "sha256";
  return `${h}.${p}.${createHmac(hash, secret).update(`${h}.${p}`).digest("base64url")}`;
}

export interface TokenOptions {
  account: FakeAccount;
  clientId: string;
  clientSecret: string;
  aud: string;
  userId?: number;
  expiresInSec?: number;
  alg?: "HS256" | "HS512" | "none";
  /** Replace or add claims; a key set to `undefined` is removed. Times here are taken as given. */
  overrides?: Record<string, unknown>;
  /** Epoch seconds used for iat/nbf; default now. */
  nowSec?: number;
}

function claimsFor(o: TokenOptions, extra: Json): Json {
  const iat = o.nowSec ?? Math.floor(Date.now() / 1000);
  const claims: Json = {
    iss: `http://${o.account.domain}`,
    aud: o.aud,
    jti: randomUUID(),
    iat,
    nbf: iat,
    exp: iat + (o.expiresInSec ?? 1800),
    account_id: o.account.id,
    ...(o.userId !== undefined ? { user_id: o.userId } : {}),
    subdomain: o.account.subdomain,
    client_uuid: o.clientId,
    ...extra,
  };
  for (const [k, v] of Object.entries(o.overrides ?? {})) {
    if (v === undefined) delete claims[k];
    else claims[k] = v;
  }
  return claims;
}

/** A widget `X-Auth-Token` (§1.5): HS256 by default, `iss` = `http://{domain}`. */
export function widgetToken(o: TokenOptions): string {
  const alg = o.alg ?? "HS256";
  return signJwt({ typ: "JWT", alg }, claimsFor(o, { user_id: o.userId ?? 87654321 }), o.clientSecret);
}

/** A Salesbot `widget_request` token (§5.3): HS512 by default, with entity and bot type. */
export function botToken(o: TokenOptions & { entityId?: number | string; entityType?: string; botType?: "salesbot" | "marketingbot" }): string {
  const alg = o.alg ?? "HS512";
  const extra: Json = { entity_type: o.entityType ?? "2", entity_id: o.entityId ?? 15926745, bot_type: o.botType ?? "salesbot" };
  return signJwt({ typ: "JWT", alg }, claimsFor(o, extra), o.clientSecret);
}

/** Query string of the disconnect hook (§2.6), with the doc's `client_uuid` name (or `client_id`). */
export function disconnectQuery(accountId: number, clientId: string, clientSecret: string, paramName: "client_uuid" | "client_id" = "client_uuid"): string {
  const signature = createHmac("sha256", clientSecret).update(`${clientId}|${accountId}`).digest("hex");
  return new URLSearchParams({ account_id: String(accountId), [paramName]: clientId, signature }).toString();
}

export interface ChatHookOptions {
  /** amojo id of the account (`account_id` of the hook). */
  amojoAccountId: string;
  /** Our conversation id (`conversation.client_id`); omit for a "Write first" chat. */
  conversationId?: string;
  /** amoCRM's chat id (`conversation.id`). */
  conversationRefId?: string;
  /** Our id of the client (`receiver.client_id`); omitted for "Write first" when undefined and no conversationId. */
  clientId?: string;
  /** amoCRM's id of the client (`receiver.id`). */
  receiverRefId?: string;
  phone?: string;
  email?: string;
  /** amojo user id of the manager. */
  managerId?: string;
  /** amoCRM's message id. */
  messageId?: string;
  kind?: "text" | "file" | "template";
  text?: string;
  /** For `file`: the amojo type (file, picture, video, voice, audio, sticker) and the attachment. */
  fileType?: "file" | "picture" | "video" | "voice" | "audio" | "sticker";
  media?: string;
  fileName?: string;
  fileSize?: number;
  template?: { id: number; externalId: string; content: string; params: Array<{ key: string; value: string }> };
  sourceExternalId?: string;
  /** Epoch ms; default now. */
  at?: number;
  /** `php` (default) escapes like json_encode; `plain` is JSON.stringify. */
  encoding?: "php" | "plain";
}

/** A manager-reply hook v2 body in the doc's shape and key order (§4.9). */
export function chatHookBody(o: ChatHookOptions): string {
  const at = o.at ?? Date.now();
  const kind = o.kind ?? "text";
  const phone = o.phone ?? "79161234567";
  const clientId = o.clientId ?? (o.conversationId !== undefined ? `wa:${phone}` : undefined);
  const inner: Json = {
    id: o.messageId ?? randomUUID(),
    type: kind === "file" ? (o.fileType ?? "file") : "text",
    text: o.text ?? (kind === "file" ? "" : kind === "template" ? (o.template?.content ?? "Order 15926745 is ready") : "Your order is ready"),
    tag: "",
    media: kind === "file" ? (o.media ?? "https://amojo.amocrm.ru/attachments/2a1c6f0e/invoice.pdf") : "",
    thumbnail: "",
    file_name: kind === "file" ? (o.fileName ?? "invoice.pdf") : "",
    file_size: kind === "file" ? (o.fileSize ?? 48213) : 0,
  };
  if (kind === "template") {
    const t = o.template ?? { id: 7103, externalId: "order_ready:ru", content: "Order {{lead.id}} is ready", params: [{ key: "{{lead.id}}", value: "15926745" }] };
    inner.markup = { mode: "inline", buttons: [[{ text: "OK" }]] };
    inner.template = { id: t.id, external_id: t.externalId, content: t.content, params: t.params };
  }
  const hook = {
    account_id: o.amojoAccountId,
    time: Math.floor(at / 1000),
    message: {
      receiver: { id: o.receiverRefId ?? randomUUID(), phone, email: o.email ?? "", ...(clientId !== undefined ? { client_id: clientId } : {}) },
      sender: { id: o.managerId ?? "76fc2bea-902f-425c-9a3d-dcdac4766090" },
      conversation: { id: o.conversationRefId ?? randomUUID(), ...(o.conversationId !== undefined ? { client_id: o.conversationId } : {}) },
      source: { external_id: o.sourceExternalId ?? "main" },
      timestamp: Math.floor(at / 1000),
      msec_timestamp: at,
      message: inner,
    },
  };
  return o.encoding === "plain" ? JSON.stringify(hook) : phpJson(hook);
}

export { maxInWindow } from "./fake-graph.js";
