import type { AxiosInstance, AxiosResponse } from "axios";
import { AppError } from "../../errors.js";
import type { RequestGate } from "./request-gate.js";

/** Where the account's access token comes from (the token manager). */
export interface AmoTokenSource {
  /** Access token to use. */
  current(): Promise<string>;
  /** Called once after a 401 with the token that was rejected; returns a fresh one. */
  refreshAfterRejection(rejected: string): Promise<string>;
}

export interface AmoContact {
  id: number;
  name: string;
  firstName?: string;
  lastName?: string;
  phones: string[];
  emails: string[];
  /** Each custom field by name and by `field_code` → its first value. */
  fields: Record<string, string>;
}

export interface AmoLead {
  id: number;
  name: string;
  price?: number;
  statusId?: number;
  pipelineId?: number;
  responsibleUserId?: number;
  mainContactId?: number;
  contactIds: number[];
  fields: Record<string, string>;
}

export interface AmoAccount {
  id: number;
  subdomain: string;
  /** Account id in the Chats API (amojo). */
  amojoId: string;
  name?: string;
}

export interface AmoApi {
  /** @see amocrm.md §3.2 — `GET /api/v4/account?with=amojo_id` */
  account(): Promise<AmoAccount>;
  /**
   * Contacts whose phone has the same digits (a leading 8 of a Russian number counts as 7).
   * @see amocrm.md §3.2 — `GET /api/v4/contacts?query=…` (full-text; results are post-filtered)
   */
  findContactsByPhone(phone: string): Promise<AmoContact[]>;
  /** @see amocrm.md §3.2 — `GET /api/v4/leads/{id}?with=contacts`; undefined when absent. */
  getLead(id: number): Promise<AmoLead | undefined>;
  /** @see amocrm.md §3.2 — `GET /api/v4/contacts/{id}`; undefined when absent. */
  getContact(id: number): Promise<AmoContact | undefined>;
  /**
   * Continues a Salesbot/marketing bot at the `return_url` of its `widget_request`; refuses any URL
   * outside this account's `/api/v4/(salesbot|marketingbot)/{id}/continue/{id}`.
   * @see amocrm.md §5.4
   */
  continueBot(returnUrl: string, body: unknown): Promise<void>;
  /** A `service_message` note signed "Branchline". @see amocrm.md §3.3 */
  addNote(entity: "leads" | "contacts", entityId: number, text: string): Promise<void>;
}

export interface AmoApiOptions {
  http: AxiosInstance;
  scheme: "https" | "http";
  /** The account's API host, e.g. `subdomain.amocrm.ru` (with port for local fakes). */
  domain: string;
  tokens: AmoTokenSource;
  gate: RequestGate;
  /** Sent as `X-Client-UUID` like the official SDK. */
  clientId: string;
  /** Attempts per call while amoCRM answers 429; default 5. */
  maxAttempts?: number;
  /** Accepted for symmetry; waits after a 429 happen inside `gate` (use its `sleep`). */
  sleep?: (ms: number) => Promise<void>;
  /** Per request; default 15 s. */
  timeoutMs?: number;
}

const NOTE_SERVICE = "Branchline";
/** Longest wait we honour from a `Retry-After`. */
const MAX_RETRY_AFTER_MS = 120_000;

type Json = Record<string, unknown>;

const num = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) ? v : undefined);

/** Digits of a phone, with a Russian trunk `8` read as country code `7`. */
export function phoneKey(phone: string): string {
  const d = phone.replace(/\D/g, "");
  return d.length === 11 && d.startsWith("8") ? `7${d.slice(1)}` : d;
}

/** What to search for: the national 10 digits of a Russian number match it written as +7… and 8…. */
function phoneQuery(key: string): string {
  return key.length === 11 && key.startsWith("7") ? key.slice(1) : key;
}

function customFields(raw: unknown, into: { fields: Record<string, string>; phones?: string[]; emails?: string[] }): void {
  if (!Array.isArray(raw)) return;
  for (const f of raw as Json[]) {
    const values = Array.isArray(f?.values) ? (f.values as Json[]) : [];
    const strings = values.map((v) => v?.value).filter((v) => v !== undefined && v !== null && typeof v !== "object").map(String);
    const code = typeof f.field_code === "string" && f.field_code ? f.field_code : undefined;
    if (code === "PHONE" && into.phones) into.phones.push(...strings);
    if (code === "EMAIL" && into.emails) into.emails.push(...strings);
    const first = strings[0];
    if (first === undefined) continue;
    if (typeof f.field_name === "string" && f.field_name) into.fields[f.field_name] = first;
    if (code) into.fields[code] = first;
  }
}

function toContact(c: Json): AmoContact {
  const out: AmoContact = { id: Number(c.id), name: typeof c.name === "string" ? c.name : "", phones: [], emails: [], fields: {} };
  if (typeof c.first_name === "string" && c.first_name) out.firstName = c.first_name;
  if (typeof c.last_name === "string" && c.last_name) out.lastName = c.last_name;
  customFields(c.custom_fields_values, out);
  return out;
}

function toLead(l: Json): AmoLead {
  const out: AmoLead = { id: Number(l.id), name: typeof l.name === "string" ? l.name : "", contactIds: [], fields: {} };
  const price = num(l.price);
  if (price !== undefined) out.price = price;
  const statusId = num(l.status_id);
  if (statusId !== undefined) out.statusId = statusId;
  const pipelineId = num(l.pipeline_id);
  if (pipelineId !== undefined) out.pipelineId = pipelineId;
  const responsible = num(l.responsible_user_id);
  if (responsible !== undefined) out.responsibleUserId = responsible;
  const contacts = (l._embedded as Json | undefined)?.contacts;
  if (Array.isArray(contacts)) {
    for (const c of contacts as Json[]) {
      const id = num(c?.id);
      if (id === undefined) continue;
      out.contactIds.push(id);
      if (c.is_main === true) out.mainContactId = id;
    }
  }
  customFields(l.custom_fields_values, out);
  return out;
}

/** `detail` plus each validation error of an amoCRM problem+json answer. @see amocrm.md §3.1 */
function problem(data: unknown): string {
  if (data === undefined || data === null || data === "") return "";
  if (typeof data !== "object") return String(data).replace(/\s+/g, " ").slice(0, 200);
  const o = data as Json;
  const parts: string[] = [];
  if (typeof o.detail === "string") parts.push(o.detail);
  else if (typeof o.title === "string") parts.push(o.title);
  const ve = o["validation-errors"];
  if (Array.isArray(ve)) {
    for (const item of ve as Json[]) {
      for (const e of Array.isArray(item?.errors) ? (item.errors as Json[]) : []) {
        parts.push(`${String(e.path ?? "?")}: ${String(e.detail ?? e.code ?? "invalid")}`);
      }
    }
  }
  return parts.join("; ").slice(0, 500);
}

function retryAfterMs(value: unknown, now: number): number | undefined {
  if (typeof value !== "string" || !value.trim()) return undefined;
  const secs = Number(value.trim());
  if (Number.isFinite(secs) && secs >= 0) return Math.min(secs * 1000, MAX_RETRY_AFTER_MS);
  const at = Date.parse(value);
  return Number.isFinite(at) ? Math.min(Math.max(0, at - now), MAX_RETRY_AFTER_MS) : undefined;
}

/** REST v4 for one account: rate gate, Bearer with one refresh on 401, 429 back-off. */
export function createAmoApi(opts: AmoApiOptions): AmoApi {
  const domain = opts.domain.toLowerCase();
  const base = `${opts.scheme}://${domain}`;
  const maxAttempts = Math.max(1, opts.maxAttempts ?? 5);

  async function call(method: "GET" | "POST" | "PATCH", path: string, body?: unknown): Promise<{ status: number; data: unknown }> {
    const what = `amoCRM ${method} ${path.split("?")[0]} at ${domain}`;
    let token = await opts.tokens.current();
    let refreshed = false;
    let limited = 0;
    for (;;) {
      const answered = await opts.gate.take(domain);
      let res: AxiosResponse<string>;
      try {
        res = await opts.http.request<string>({
          url: base + path,
          method,
          headers: {
            Authorization: `Bearer ${token}`,
            "X-Client-UUID": opts.clientId,
            Accept: "application/hal+json, application/json",
            ...(body === undefined ? {} : { "Content-Type": "application/json" }),
          },
          ...(body === undefined ? {} : { data: JSON.stringify(body) }),
          transformRequest: [(d: unknown) => d],
          transformResponse: [(d: unknown) => d],
          responseType: "text",
          validateStatus: () => true,
          timeout: opts.timeoutMs ?? 15_000,
          maxRedirects: 0,
        });
      } catch (err) {
        // The axios error holds the request headers (our token): keep only its code.
        const code = (err as { code?: unknown })?.code;
        throw new AppError({ code: "amocrm_unavailable", message: `${what} failed: no answer (${typeof code === "string" ? code : "network error"})`, httpStatus: 502, retryable: true });
      } finally {
        answered();
      }
      const text = typeof res.data === "string" ? res.data : "";
      let data: unknown = "";
      if (text) {
        try {
          data = JSON.parse(text);
        } catch {
          data = text; // 429 and gateway pages may be plain text or HTML
        }
      }
      const status = res.status;
      if (status >= 200 && status < 300) return { status, data };
      if (status === 401) {
        if (refreshed) throw new AppError({ code: "amocrm_unauthorized", message: `${what} failed: HTTP 401 after a token refresh (access revoked?)`, httpStatus: 502, retryable: false, details: { status } });
        refreshed = true;
        token = await opts.tokens.refreshAfterRejection(token);
        continue;
      }
      if (status === 429) {
        limited++;
        if (limited >= maxAttempts) throw new AppError({ code: "amocrm_rate_limited", message: `${what} failed: HTTP 429 ${limited} times`, httpStatus: 502, retryable: true, details: { status } });
        const wait = retryAfterMs(res.headers?.["retry-after"], Date.now()) ?? 1000 * 2 ** (limited - 1);
        opts.gate.pause(domain, wait);
        continue;
      }
      const why = problem(data);
      const message = `${what} failed: HTTP ${status}${why ? ` (${why})` : ""}`;
      if (status >= 500) throw new AppError({ code: "amocrm_unavailable", message, httpStatus: 502, retryable: true, details: { status } });
      throw new AppError({ code: "amocrm_error", message, httpStatus: 502, retryable: false, details: { status, problem: typeof data === "object" ? data : undefined } });
    }
  }

  /** GET that treats "nothing there" (204, 404) as undefined. */
  async function getOptional(path: string): Promise<Json | undefined> {
    try {
      const { status, data } = await call("GET", path);
      if (status === 204 || !data || typeof data !== "object") return undefined;
      return data as Json;
    } catch (err) {
      if (err instanceof AppError && err.code === "amocrm_error" && (err.details as { status?: number } | undefined)?.status === 404) return undefined;
      throw err;
    }
  }

  const continuePath = /^\/api\/v4\/(salesbot|marketingbot)\/\d+\/continue\/[A-Za-z0-9_-]+$/;

  return {
    async account() {
      const { data } = await call("GET", "/api/v4/account?with=amojo_id");
      const a = (data ?? {}) as Json;
      const id = num(a.id);
      if (id === undefined || typeof a.subdomain !== "string" || typeof a.amojo_id !== "string" || !a.amojo_id) {
        throw new AppError({ code: "amocrm_error", message: `amoCRM account at ${domain} answered without id/subdomain/amojo_id`, httpStatus: 502, retryable: false });
      }
      return { id, subdomain: a.subdomain, amojoId: a.amojo_id, ...(typeof a.name === "string" ? { name: a.name } : {}) };
    },

    async findContactsByPhone(phone) {
      const key = phoneKey(phone);
      if (key.length < 5) return [];
      const { status, data } = await call("GET", `/api/v4/contacts?query=${encodeURIComponent(phoneQuery(key))}&limit=50`);
      if (status === 204) return [];
      const list = ((data as Json | undefined)?._embedded as Json | undefined)?.contacts;
      if (!Array.isArray(list)) return [];
      return (list as Json[]).map(toContact).filter((c) => c.phones.some((p) => phoneKey(p) === key));
    },

    async getLead(id) {
      const l = await getOptional(`/api/v4/leads/${encodeURIComponent(String(id))}?with=contacts`);
      return l ? toLead(l) : undefined;
    },

    async getContact(id) {
      const c = await getOptional(`/api/v4/contacts/${encodeURIComponent(String(id))}`);
      return c ? toContact(c) : undefined;
    },

    async continueBot(returnUrl, body) {
      let u: URL | undefined;
      try {
        u = new URL(returnUrl);
      } catch {
        u = undefined;
      }
      // The URL arrives in a request body: only this account's continue endpoint gets our Bearer token.
      if (!u || u.protocol !== `${opts.scheme}:` || u.host.toLowerCase() !== domain || u.username || u.password || u.search || u.hash || !continuePath.test(u.pathname)) {
        throw new AppError({ code: "bad_return_url", message: "return_url is not a bot continue URL of this amoCRM account", httpStatus: 400, field: "return_url" });
      }
      await call("POST", u.pathname, body ?? {});
    },

    async addNote(entity, entityId, text) {
      await call("POST", `/api/v4/${entity}/notes`, [{ entity_id: entityId, note_type: "service_message", params: { service: NOTE_SERVICE, text } }]);
    },
  };
}
