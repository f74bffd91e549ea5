import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { parseNestedForm } from "../../backend/src/crm/bitrix24/form-body.js";

/**
 * Local stand-ins for Bitrix24 portals and its OAuth server, answering with the payloads of
 * /work/shared/docs/bitrix24.md. Each portal is its own HTTP server (its own "domain" host:port),
 * so several portals can be installed side by side. Everything is recorded for assertions.
 */

export interface FakeCall {
  /** performance.now() when the request arrived. */
  at: number;
  method: string;
  /** The request path as sent (before `//` is merged, as nginx does). */
  path: string;
  params: Record<string, any>;
  /** The `auth` the request carried. */
  token?: string;
  status?: number;
  error?: string;
}

export interface FakeAnswer {
  status: number;
  error: string;
  error_description?: string;
}

export interface OAuthCall {
  at: number;
  httpMethod: string;
  params: Record<string, string>;
  status?: number;
  error?: string;
}

interface AccessGrant {
  portal: FakePortal;
  userId: number;
  expired: boolean;
}
interface RefreshGrant {
  portal: FakePortal;
  userId: number;
  used: boolean;
}

class FakeError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly description: string,
  ) {
    super(`${error}: ${description}`);
  }
}

/** Events the fake knows (`event.bind` with any other name → ERROR_EVENT_NOT_FOUND, as in §7). */
const KNOWN_EVENTS = new Set([
  "ONAPPINSTALL",
  "ONAPPUNINSTALL",
  "ONAPPUPDATE",
  "ONIMCONNECTORMESSAGEADD",
  "ONIMCONNECTORMESSAGEUPDATE",
  "ONIMCONNECTORMESSAGEDELETE",
  "ONIMCONNECTORSTATUSDELETE",
  "ONIMCONNECTORLINEDELETE",
  "ONIMCONNECTORDIALOGSTART",
  "ONIMCONNECTORDIALOGFINISH",
  "ONCRMLEADADD",
  "ONCRMDEALUPDATE",
]);
const PLACEMENT_RE = /^(CRM_(LEAD|DEAL|CONTACT|COMPANY|QUOTE|SMART_INVOICE|ORDER|DYNAMIC_\d+)_DETAIL_(TAB|ACTIVITY)|CONTACT_CENTER|DEFAULT|LEFT_MENU)$/;

export interface PortalOptions {
  memberId?: string;
  /** Leaky bucket of the portal (bitrix24.md §6.3): drain per second and capacity. */
  ratePerSecond?: number;
  burst?: number;
  applicationToken?: string;
}

export interface PortalState {
  events: Array<{ event: string; handler: string; auth_type: number; offline: number }>;
  placements: Array<{ placement: string; handler: string; title: string; description: string; options: unknown; langAll: unknown }>;
  connectors: Map<string, Record<string, any>>;
  /** `${connector}|${line}` → active */
  activations: Map<string, boolean>;
  connectorData: Map<string, unknown>;
  lines: Array<{ ID: string; LINE_NAME: string; ACTIVE: string; PARAMS: Record<string, any> }>;
  robots: Map<string, Record<string, any>>;
  /** Every message given to `imconnector.send.messages`, with the line it went to. */
  inbound: Array<{ connector: string; line: string; message: Record<string, any> }>;
  deliveries: Array<{ kind: "delivery" | "reading"; params: Record<string, any> }>;
  bizprocEvents: Array<Record<string, any>>;
  leads: Map<number, Record<string, any>>;
  contacts: Map<number, Record<string, any>>;
  companies: Map<number, Record<string, any>>;
  deals: Map<number, Record<string, any>>;
  /** Robot `event_token`s issued by {@link robotBody} and not yet answered. */
  eventTokens: Set<string>;
  /** external chat.id → Bitrix24 ids */
  chats: Map<string, { CHAT_ID: string; SESSION_ID: string }>;
  installed: boolean;
}

export interface FakePortal {
  memberId: string;
  /** `127.0.0.1:PORT`: what Bitrix24 puts in `DOMAIN` / `auth[domain]`. */
  domain: string;
  url: string;
  clientEndpoint: string;
  /** The OAuth server as payloads name it (`server_endpoint`). */
  serverEndpoint: string;
  applicationToken: string;
  /** Every HTTP request, in arrival order. */
  calls: FakeCall[];
  /** Every method executed, batch sub-commands included. */
  commands: Array<{ method: string; params: Record<string, any>; viaBatch: boolean }>;
  state: PortalState;
  /** Issues a fresh token pair for a user (1 = the admin). */
  issueTokens(userId?: number): { access_token: string; refresh_token: string; expires_in: number; expires: number };
  /** Every access token issued so far now answers 401 expired_token. */
  expireAccessTokens(): void;
  /** After `skip` more requests for `method` (`*` = any), the next `times` get this error instead. */
  failNext(method: string, answer: FakeAnswer, times?: number, skip?: number): void;
  addLead(fields: Record<string, any>): number;
  addContact(fields: Record<string, any>): number;
  addCompany(fields: Record<string, any>): number;
  addDeal(fields: Record<string, any>): number;
  /** App deleted: handlers, placements and connectors go (bitrix24.md §1.4); tokens stop working. */
  uninstall(): void;
  /** Calls of one method (HTTP requests only). */
  callsOf(method: string): FakeCall[];
  /**
   * What the app has registered, counted per key, for "exactly one of each" checks after repeated
   * installs: `events["ONIMCONNECTORMESSAGEADD handler"]`, `placements["CRM_DEAL_DETAIL_TAB handler"]`,
   * `connectors[id]`, `robots[code]`, `activeLines["connector|line"]`.
   */
  registrations(): { events: Record<string, number>; placements: Record<string, number>; connectors: Record<string, number>; robots: Record<string, number>; activeLines: Record<string, number> };
}

export interface FakeBitrix24 {
  /** OAuth server base (`/oauth/token/` below it). */
  oauthUrl: string;
  /** What payloads carry as `server_endpoint`. */
  serverEndpoint: string;
  clientId: string;
  clientSecret: string;
  /** The backend's settings for this fake (BITRIX24_*). */
  env: Record<string, string>;
  portals: FakePortal[];
  oauthCalls: OAuthCall[];
  addPortal(opts?: PortalOptions): Promise<FakePortal>;
  /** The next OAuth request gets this answer (status + body). */
  failOAuthNext(answer: { status: number; body: unknown }): void;
  close(): Promise<void>;
}

const token = (n = 16) => randomBytes(n).toString("hex");

export async function startFakeBitrix24(opts: { clientId?: string; clientSecret?: string } = {}): Promise<FakeBitrix24> {
  const clientId = opts.clientId ?? "app.573ad8a0346747.09223434";
  const clientSecret = opts.clientSecret ?? "fake-client-secret-" + token(8);
  const access = new Map<string, AccessGrant>();
  const refresh = new Map<string, RefreshGrant>();
  const servers: Server[] = [];
  const portals: FakePortal[] = [];
  const oauthCalls: OAuthCall[] = [];
  const oauthScript: Array<{ status: number; body: unknown }> = [];

  const issue = (portal: FakePortal, userId: number) => {
    const a = token();
    const r = token();
    access.set(a, { portal, userId, expired: false });
    refresh.set(r, { portal, userId, used: false });
    return { access_token: a, refresh_token: r, expires_in: 3600, expires: Math.floor(Date.now() / 1000) + 3600 };
  };

  // ---- OAuth server (bitrix24.md §1.6) ----
  const oauth = await listen(async (req, res) => {
    const raw = await readBody(req);
    const url = new URL(req.url ?? "/", "http://x");
    const params: Record<string, string> = {};
    for (const [k, v] of url.searchParams) params[k] = v;
    for (const [k, v] of new URLSearchParams(raw)) params[k] = v;
    const call: OAuthCall = { at: performance.now(), httpMethod: req.method ?? "", params };
    oauthCalls.push(call);
    const send = (status: number, body: unknown) => {
      call.status = status;
      if (body && typeof body === "object" && "error" in body) call.error = String((body as { error: unknown }).error);
      json(res, status, body);
    };
    if (url.pathname.replace(/\/+$/, "") !== "/oauth/token") return send(404, { error: "NOT_FOUND", error_description: "unknown path" });
    const scripted = oauthScript.shift();
    if (scripted) return send(scripted.status, scripted.body);
    if (params.client_id !== clientId || params.client_secret !== clientSecret) {
      return send(401, { error: "invalid_client", error_description: "Invalid client" });
    }
    if (params.grant_type !== "refresh_token") return send(400, { error: "invalid_request", error_description: "Unsupported grant_type" });
    const grant = params.refresh_token ? refresh.get(params.refresh_token) : undefined;
    if (!grant || grant.used || !grant.portal.state.installed) return send(400, { error: "invalid_grant", error_description: "Invalid grant" });
    // Rotation: the refresh token is single-use (bitrix24.md §1.6, §10.3).
    grant.used = true;
    const p = grant.portal;
    const pair = issue(p, grant.userId);
    send(200, {
      ...pair,
      client_endpoint: p.clientEndpoint,
      domain: new URL(oauth.url).host,
      member_id: p.memberId,
      scope: "crm,imopenlines,imconnector,placement,bizproc,user_brief",
      server_endpoint: `${oauth.url}/rest/`,
      status: "F",
      user_id: grant.userId,
    });
  });
  servers.push(oauth.server);

  async function addPortal(po: PortalOptions = {}): Promise<FakePortal> {
    const rate = po.ratePerSecond ?? 2;
    const burst = po.burst ?? 50;
    let level = 0;
    let levelAt = performance.now();
    const scripted: Array<{ method: string; answer: FakeAnswer; left: number; skip: number }> = [];
    const ids = { crm: 100, line: 0, chat: 1800, session: 300, msg: 86000 };
    const state: PortalState = {
      events: [],
      placements: [],
      connectors: new Map(),
      activations: new Map(),
      connectorData: new Map(),
      lines: [],
      robots: new Map(),
      inbound: [],
      deliveries: [],
      bizprocEvents: [],
      leads: new Map(),
      contacts: new Map(),
      companies: new Map(),
      deals: new Map(),
      eventTokens: new Set(),
      chats: new Map(),
      installed: true,
    };
    // One Open Channel exists in a fresh portal.
    state.lines.push({ ID: String(++ids.line), LINE_NAME: "Open Channel", ACTIVE: "Y", PARAMS: {} });

    const admit = (t: number): boolean => {
      level = Math.max(0, level - ((t - levelAt) * rate) / 1000);
      levelAt = t;
      if (level + 1 > burst) return false;
      level += 1;
      return true;
    };

    const methods: Record<string, (p: Record<string, any>, userId: number) => unknown> = {
      profile: (_p, userId) => ({ ID: String(userId), ADMIN: userId === 1, NAME: userId === 1 ? "Admin" : "User", LAST_NAME: "", PERSONAL_GENDER: "", TIME_ZONE: "" }),
      "app.info": () => ({
        ID: 5,
        CODE: "branchline.whatsapp",
        VERSION: 1,
        STATUS: "F",
        INSTALLED: state.installed,
        PAYMENT_EXPIRED: "N",
        DAYS: null,
        LANGUAGE_ID: "en",
        LICENSE: "en_ent10000",
        LICENSE_TYPE: "ent10000",
        LICENSE_FAMILY: "ent",
      }),
      "event.bind": (p) => {
        const event = String(p.event ?? p.EVENT ?? "").toUpperCase();
        const handler = String(p.handler ?? p.HANDLER ?? "");
        if (!KNOWN_EVENTS.has(event)) throw new FakeError(400, "ERROR_EVENT_NOT_FOUND", "Event not found");
        if (!handler) throw new FakeError(400, "ERROR_ARGUMENT", "Argument 'handler' is null or empty");
        if (state.events.some((e) => e.event === event && e.handler === handler)) throw new FakeError(400, "ERROR_CORE", "Handler already binded");
        state.events.push({ event, handler, auth_type: Number(p.auth_type ?? 0), offline: 0 });
        return true;
      },
      "event.get": () => state.events.map((e) => ({ ...e })),
      "event.unbind": (p) => {
        const event = String(p.event ?? "").toUpperCase();
        const handler = p.handler === undefined ? undefined : String(p.handler);
        const before = state.events.length;
        state.events = state.events.filter((e) => !(e.event === event && (handler === undefined || e.handler === handler)));
        return { count: before - state.events.length };
      },
      "placement.bind": (p) => {
        const placement = String(p.PLACEMENT ?? "");
        const handler = String(p.HANDLER ?? "");
        if (!PLACEMENT_RE.test(placement)) throw new FakeError(400, "ERROR_PLACEMENT_NOT_FOUND", "Placement not found");
        if (!handler) throw new FakeError(400, "ERROR_ARGUMENT", "Argument 'HANDLER' is null or empty");
        if (state.placements.some((x) => x.placement === placement && x.handler === handler)) {
          throw new FakeError(400, "ERROR_CORE", "Unable to set placement handler: Handler already binded");
        }
        state.placements.push({ placement, handler, title: String(p.TITLE ?? ""), description: String(p.DESCRIPTION ?? ""), options: p.OPTIONS ?? [], langAll: p.LANG_ALL ?? {} });
        return true;
      },
      "placement.get": () => state.placements.map((x) => ({ ...x })),
      "placement.unbind": (p) => {
        const before = state.placements.length;
        state.placements = state.placements.filter((x) => !(x.placement === p.PLACEMENT && (p.HANDLER === undefined || x.handler === p.HANDLER)));
        return { count: before - state.placements.length };
      },
      // Failure is HTTP 200 with result.result=false (bitrix24.md §4.2).
      "imconnector.register": (p) => {
        const fail = (error: string, description: string) => ({ result: false, error, error_description: description });
        if (!p.ID) return fail("CONNECTOR_ID_REQUIRED", "Connector ID is required");
        if (!p.NAME) return fail("NAME_REQUIRED", "Name is required");
        if (!p.ICON?.DATA_IMAGE) return fail("ICON_REQUIRED", "Icon is required");
        if (!p.PLACEMENT_HANDLER) return fail("NO_PLACEMENT_HANDLER", "Placement handler is required");
        const id = String(p.ID).toLowerCase();
        if (!/^[a-z0-9_]+$/.test(id)) return fail("GENERAL_CONNECTOR_REGISTRATION_ERROR", "Invalid connector ID");
        state.connectors.set(id, { ...p, ID: id });
        return { result: true };
      },
      "imconnector.activate": (p) => {
        const { connector, line } = connectorLine(p);
        state.activations.set(`${connector}|${line}`, String(p.ACTIVE ?? "1") === "1");
        return true;
      },
      "imconnector.connector.data.set": (p) => {
        const { connector, line } = connectorLine(p);
        state.connectorData.set(`${connector}|${line}`, p.DATA);
        return true;
      },
      "imconnector.status": (p) => {
        const { connector, line } = connectorLine(p);
        const active = state.activations.get(`${connector}|${line}`) === true;
        return { LINE: Number(line), CONNECTOR: connector, ERROR: false, CONFIGURED: active, STATUS: active && state.connectorData.has(`${connector}|${line}`) };
      },
      "imconnector.send.messages": (p) => {
        const { connector, line } = connectorLine(p);
        if (state.activations.get(`${connector}|${line}`) !== true) throw new FakeError(400, "NOT_ACTIVE_LINE", "The line is not active");
        const messages = asList(p.MESSAGES);
        if (messages.length === 0) throw new FakeError(400, "ERROR_ARGUMENT", "Argument 'MESSAGES' is null or empty");
        const RESULT = messages.map((m: any) => {
          const errors: string[] = [];
          if (!m?.user?.id) errors.push("user.id is required");
          if (!m?.chat?.id) errors.push("chat.id is required");
          if (!m?.message?.text && asList(m?.message?.files).length === 0) errors.push("message text or files are required");
          if (errors.length > 0) return { SUCCESS: false, ERRORS: errors };
          state.inbound.push({ connector, line, message: m });
          const chatId = String(m.chat.id);
          let chat = state.chats.get(chatId);
          if (!chat) {
            chat = { CHAT_ID: String(++ids.chat), SESSION_ID: String(++ids.session) };
            state.chats.set(chatId, chat);
          }
          return {
            user: String(580 + state.chats.size),
            message: { id: m.message?.id, date: {}, text: m.message?.text ?? "", files: asList(m.message?.files) },
            chat: { id: chatId, name: m.chat?.name ?? "", description: "" },
            extra: {},
            SUCCESS: true,
            session: { ID: chat.SESSION_ID, CHAT_ID: chat.CHAT_ID },
          };
        });
        return { SUCCESS: true, DATA: { RESULT } };
      },
      "imconnector.send.status.delivery": (p) => {
        connectorLine(p);
        state.deliveries.push({ kind: "delivery", params: p });
        return { SUCCESS: true, DATA: [] };
      },
      "imconnector.send.status.reading": (p) => {
        connectorLine(p);
        state.deliveries.push({ kind: "reading", params: p });
        return { SUCCESS: true, DATA: [] };
      },
      "imopenlines.config.list.get": () => state.lines.map(({ ID, LINE_NAME, ACTIVE }) => ({ ID, LINE_NAME, ACTIVE })),
      "imopenlines.config.add": (p) => {
        const params = (p.PARAMS ?? {}) as Record<string, any>;
        const id = String(++ids.line);
        state.lines.push({ ID: id, LINE_NAME: String(params.LINE_NAME ?? `Open Channel ${id}`), ACTIVE: String(params.ACTIVE ?? "Y"), PARAMS: params });
        return Number(id);
      },
      "crm.duplicate.findbycomm": (p) => {
        const type = String(p.type ?? "").toUpperCase();
        const values = asList(p.values).map(String);
        if (type !== "PHONE" && type !== "EMAIL") throw new FakeError(400, "ERROR_ARGUMENT", "Parameter 'type' is invalid");
        if (values.length === 0 || values.length > 20) throw new FakeError(400, "ERROR_ARGUMENT", "Parameter 'values' must contain 1 to 20 items");
        const only = p.entity_type ? String(p.entity_type).toUpperCase() : undefined;
        const out: Record<string, number[]> = {};
        const scan = (name: string, map: Map<number, Record<string, any>>) => {
          if (only && only !== name) return;
          // Exact match on the stored value: the doc does not promise more (§6, UNCONFIRMED).
          const hits = [...map].filter(([, e]) => asList(e[type]).some((f: any) => values.includes(String(f?.VALUE)))).map(([id]) => id);
          if (hits.length > 0) out[name] = hits;
        };
        scan("LEAD", state.leads);
        scan("CONTACT", state.contacts);
        scan("COMPANY", state.companies);
        // Nothing found is an empty ARRAY, not an object (§6).
        return Object.keys(out).length > 0 ? out : [];
      },
      "crm.lead.get": (p) => entity(state.leads, p.id ?? p.ID),
      "crm.deal.get": (p) => entity(state.deals, p.id ?? p.ID),
      "crm.contact.get": (p) => entity(state.contacts, p.id ?? p.ID),
      "crm.deal.contact.items.get": (p) => {
        const deal = entity(state.deals, p.id ?? p.ID) as Record<string, any>;
        return asList(deal.CONTACT_IDS).map((id: unknown, i: number) => ({ CONTACT_ID: Number(id), SORT: (i + 1) * 10, ROLE_ID: 0, IS_PRIMARY: i === 0 ? "Y" : "N" }));
      },
      "bizproc.robot.add": (p) => {
        const code = String(p.CODE ?? "");
        if (!code || !/^[a-zA-Z0-9._-]+$/.test(code)) throw new FakeError(400, "ERROR_ACTIVITY_VALIDATION_FAILURE", "Wrong activity code!");
        if (!p.HANDLER) throw new FakeError(400, "ERROR_WRONG_HANDLER_URL", "Wrong handler URL!");
        if (!p.NAME) throw new FakeError(400, "ERROR_ACTIVITY_VALIDATION_FAILURE", "Empty activity NAME!");
        if (state.robots.has(code)) throw new FakeError(400, "ERROR_ACTIVITY_ALREADY_INSTALLED", "Activity or Robot already installed!");
        state.robots.set(code, { ...p });
        return true;
      },
      "bizproc.robot.update": (p) => {
        const code = String(p.CODE ?? "");
        const robot = state.robots.get(code);
        if (!robot) throw new FakeError(400, "ERROR_ACTIVITY_NOT_FOUND", "Activity or Robot not found!");
        state.robots.set(code, { ...robot, ...(p.FIELDS ?? {}) });
        return true;
      },
      "bizproc.robot.list": () => [...state.robots.keys()],
      "bizproc.robot.delete": (p) => {
        if (!state.robots.delete(String(p.CODE ?? ""))) throw new FakeError(400, "ERROR_ACTIVITY_NOT_FOUND", "Activity or Robot not found!");
        return true;
      },
      "bizproc.event.send": (p) => {
        const eventToken = String(p.EVENT_TOKEN ?? p.event_token ?? "");
        if (!state.eventTokens.delete(eventToken)) throw new FakeError(403, "ACCESS_DENIED", "Access denied!");
        state.bizprocEvents.push(p);
        return true;
      },
    };

    function connectorLine(p: Record<string, any>): { connector: string; line: string } {
      if (!p.CONNECTOR) throw new FakeError(400, "ERROR_ARGUMENT", "Argument 'CONNECTOR' is null or empty");
      if (p.LINE === undefined || p.LINE === "" || String(p.LINE) === "0") throw new FakeError(400, "ERROR_ARGUMENT", "Argument 'LINE' is null or empty");
      const connector = String(p.CONNECTOR).toLowerCase();
      if (!state.connectors.has(connector)) throw new FakeError(400, "ERROR_ARGUMENT", "Connector is not registered");
      return { connector, line: String(p.LINE) };
    }

    function entity(map: Map<number, Record<string, any>>, id: unknown): unknown {
      const n = Number(id);
      if (!Number.isInteger(n) || n <= 0) throw new FakeError(400, "ERROR_ARGUMENT", "ID is not defined or invalid.");
      const e = map.get(n);
      if (!e) throw new FakeError(400, "ERROR_ENTITY_NOT_FOUND", "Not found");
      return { ID: String(n), ...e };
    }

    function execute(method: string, params: Record<string, any>, userId: number, viaBatch: boolean): unknown {
      portal.commands.push({ method, params, viaBatch });
      const fn = methods[method];
      if (!fn) throw new FakeError(404, "ERROR_METHOD_NOT_FOUND", "Method not found!");
      return fn(params, userId);
    }

    function runBatch(params: Record<string, any>, userId: number) {
      const cmd = params.cmd;
      const entries: Array<[string, string]> = Array.isArray(cmd) ? cmd.map((c, i) => [String(i), String(c)]) : Object.entries(cmd ?? {}).map(([k, v]) => [k, String(v)]);
      if (entries.length > 50) throw new FakeError(400, "ERROR_BATCH_LENGTH_EXCEEDED", "Max batch length exceeded");
      const halt = String(params.halt ?? "0") === "1";
      const result: Record<string, unknown> = {};
      const errors: Record<string, unknown> = {};
      const times: Record<string, unknown> = {};
      for (const [key, row] of entries) {
        const q = row.indexOf("?");
        const method = (q < 0 ? row : row.slice(0, q)).toLowerCase();
        if (method === "batch") throw new FakeError(405, "ERROR_BATCH_METHOD_NOT_ALLOWED", "Method is not allowed for batch usage");
        const sub = q < 0 ? {} : parseNestedForm(row.slice(q + 1));
        try {
          result[key] = execute(method, sub, userId, true);
          times[key] = timeBlock();
        } catch (err) {
          if (!(err instanceof FakeError)) throw err;
          errors[key] = { error: err.error, error_description: err.description };
          if (halt) break;
        }
      }
      // PHP sends an empty map as [] (bitrix24.md §6.1 shapes).
      const phpMap = (o: Record<string, unknown>) => (Object.keys(o).length > 0 ? o : []);
      return { result: phpMap(result), result_error: phpMap(errors), result_total: [], result_next: [], result_time: phpMap(times) };
    }

    const server = await listen(async (req, res) => {
      // Arrival time and the limit are taken before the body is read, as a front proxy would.
      const at = performance.now();
      const admitted = admit(at);
      const raw = await readBody(req);
      const url = new URL(req.url ?? "/", "http://x");
      const path = url.pathname.replace(/\/{2,}/g, "/");
      const query = parseNestedForm(url.search.slice(1));
      let params: Record<string, any>;
      const type = String(req.headers["content-type"] ?? "");
      try {
        params = type.includes("json") ? (raw ? JSON.parse(raw) : {}) : parseNestedForm(raw);
      } catch {
        return json(res, 400, { error: "INVALID_REQUEST", error_description: "Malformed request body" });
      }
      const auth = typeof params.auth === "string" ? params.auth : typeof query.auth === "string" ? query.auth : undefined;
      delete params.auth;
      const m = /^\/rest\/([a-z0-9_.]+?)(?:\.json)?$/i.exec(path);
      const method = m ? m[1]!.toLowerCase() : path;
      const call: FakeCall = { at, method, path: url.pathname, params, token: auth };
      portal.calls.push(call);
      const reply = (status: number, body: Record<string, unknown>) => {
        call.status = status;
        if (typeof body.error === "string") call.error = body.error;
        json(res, status, body);
      };
      // Every HTTP request counts against the bucket (§6.3).
      if (!admitted) return reply(503, { error: "QUERY_LIMIT_EXCEEDED", error_description: "Too many requests" });
      if (!m) return reply(404, { error: "ERROR_METHOD_NOT_FOUND", error_description: "Method not found!" });
      const s = scripted.find((x) => x.left > 0 && (x.method === method || x.method === "*"));
      if (s && s.skip > 0) s.skip--;
      else if (s) {
        s.left--;
        return reply(s.answer.status, { error: s.answer.error, error_description: s.answer.error_description ?? "" });
      }
      if (!auth) return reply(401, { error: "NO_AUTH_FOUND", error_description: "Wrong authorization data" });
      const grant = access.get(auth);
      if (!grant || grant.portal !== portal || !state.installed) return reply(401, { error: "invalid_token", error_description: "The access token provided is invalid." });
      if (grant.expired) return reply(401, { error: "expired_token", error_description: "The access token provided has expired." });
      try {
        const result = method === "batch" ? (portal.commands.push({ method, params, viaBatch: false }), runBatch(params, grant.userId)) : execute(method, params, grant.userId, false);
        reply(200, { result, time: timeBlock() });
      } catch (err) {
        if (!(err instanceof FakeError)) {
          return reply(500, { error: "INTERNAL_SERVER_ERROR", error_description: String((err as Error)?.message ?? err) });
        }
        reply(err.status, { error: err.error, error_description: err.description });
      }
    });
    servers.push(server.server);

    const host = new URL(server.url).host;
    const addTo = (map: Map<number, Record<string, any>>) => (fields: Record<string, any>) => {
      const id = ++ids.crm;
      map.set(id, { ...fields });
      return id;
    };
    const portal: FakePortal = {
      memberId: po.memberId ?? token(16),
      domain: host,
      url: server.url,
      clientEndpoint: `${server.url}/rest/`,
      serverEndpoint: `${oauth.url}/rest/`,
      applicationToken: po.applicationToken ?? token(16),
      calls: [],
      commands: [],
      state,
      issueTokens: (userId = 1) => issue(portal, userId),
      expireAccessTokens: () => {
        for (const g of access.values()) if (g.portal === portal) g.expired = true;
      },
      failNext: (method, answer, times = 1, skip = 0) => {
        scripted.push({ method, answer, left: times, skip });
      },
      addLead: addTo(state.leads),
      addContact: addTo(state.contacts),
      addCompany: addTo(state.companies),
      addDeal: addTo(state.deals),
      uninstall: () => {
        state.installed = false;
        state.events = [];
        state.placements = [];
        state.connectors.clear();
        state.activations.clear();
      },
      callsOf: (method) => portal.calls.filter((c) => c.method === method),
      registrations: () => {
        const count = (keys: string[]) => keys.reduce<Record<string, number>>((acc, k) => ((acc[k] = (acc[k] ?? 0) + 1), acc), {});
        return {
          events: count(state.events.map((e) => `${e.event} ${e.handler}`)),
          placements: count(state.placements.map((p) => `${p.placement} ${p.handler}`)),
          connectors: count([...state.connectors.keys()]),
          robots: count([...state.robots.keys()]),
          activeLines: count([...state.activations].filter(([, on]) => on).map(([k]) => k)),
        };
      },
    };
    portals.push(portal);
    return portal;
  }

  return {
    oauthUrl: oauth.url,
    serverEndpoint: `${oauth.url}/rest/`,
    clientId,
    clientSecret,
    env: { BITRIX24_CLIENT_ID: clientId, BITRIX24_CLIENT_SECRET: clientSecret, BITRIX24_OAUTH_URL: oauth.url },
    portals,
    oauthCalls,
    addPortal,
    failOAuthNext: (answer) => {
      oauthScript.push(answer);
    },
    close: async () => {
      await Promise.all(
        servers.map(
          (s) =>
            new Promise<void>((r) => {
              s.closeAllConnections();
              s.close(() => r());
            }),
        ),
      );
    },
  };
}

// ---------------------------------------------------------------------------------------------
// What Bitrix24 POSTs to us (form-encoded, PHP http_build_query style)
// ---------------------------------------------------------------------------------------------

/** PHP `http_build_query`: nested keys as `a[b][0]`, brackets and values percent-encoded, spaces as `+`. */
export function phpForm(obj: Record<string, unknown>): string {
  const pairs: string[] = [];
  const enc = (s: string) => encodeURIComponent(s).replace(/%20/g, "+");
  const walk = (prefix: string, v: unknown) => {
    if (v === null || v === undefined) return;
    if (typeof v === "object") {
      const entries = Array.isArray(v) ? v.map((x, i) => [String(i), x] as const) : Object.entries(v as Record<string, unknown>);
      for (const [k, x] of entries) walk(`${prefix}[${k}]`, x);
      return;
    }
    pairs.push(`${enc(prefix)}=${enc(typeof v === "boolean" ? (v ? "1" : "0") : String(v))}`);
  };
  for (const [k, v] of Object.entries(obj)) walk(k, v);
  return pairs.join("&");
}

/**
 * The installer page request exactly as Bitrix24 sends it (bitrix24.md §1.3): `DOMAIN`, `PROTOCOL`,
 * `LANG`, `APP_SID` in the query; tokens, `member_id`, `APPLICATION_TOKEN` in the form body.
 * Tokens are issued for the admin (user 1) and are valid at the fake.
 */
export function installForm(portal: FakePortal, opts: { userId?: number; placement?: string; placementOptions?: Record<string, unknown> } = {}) {
  const pair = portal.issueTokens(opts.userId ?? 1);
  const query = { DOMAIN: portal.domain, PROTOCOL: "0", LANG: "en", APP_SID: token(16) };
  const fields: Record<string, string> = {
    AUTH_ID: pair.access_token,
    AUTH_EXPIRES: String(pair.expires_in),
    REFRESH_ID: pair.refresh_token,
    SERVER_ENDPOINT: portal.serverEndpoint,
    APPLICATION_TOKEN: portal.applicationToken,
    APPLICATION_SCOPE: "crm,imopenlines,imconnector,placement,bizproc,user_brief",
    member_id: portal.memberId,
    status: "F",
    PLACEMENT: opts.placement ?? "DEFAULT",
  };
  if (opts.placementOptions) fields.PLACEMENT_OPTIONS = JSON.stringify(opts.placementOptions);
  return {
    query,
    queryString: new URLSearchParams(query).toString(),
    fields,
    body: phpForm(fields),
    tokens: pair,
  };
}

/**
 * An event POST (bitrix24.md §1.4, §4.5, §7): `event`, `event_handler_id`, `data`, `ts`, `auth[…]`.
 * `ONAPPINSTALL` carries a fresh token pair, `ONAPPUNINSTALL` no tokens; others the triggering
 * user's access token (`withTokens: false` for robot/workflow-triggered events).
 */
export function eventBody(
  portal: FakePortal,
  event: string,
  data: unknown,
  opts: { applicationToken?: string; userId?: number; withTokens?: boolean; handlerId?: number } = {},
): string {
  const name = event.toUpperCase();
  const base = {
    domain: portal.domain,
    server_endpoint: portal.serverEndpoint,
    client_endpoint: portal.clientEndpoint,
    member_id: portal.memberId,
    application_token: opts.applicationToken ?? portal.applicationToken,
  };
  let auth: Record<string, unknown> = base;
  if (name !== "ONAPPUNINSTALL" && opts.withTokens !== false) {
    const pair = portal.issueTokens(opts.userId ?? 1);
    auth = {
      access_token: pair.access_token,
      expires: pair.expires,
      expires_in: pair.expires_in,
      scope: "imconnector,imopenlines",
      ...base,
      status: "F",
      user_id: opts.userId ?? 1,
      ...(name === "ONAPPINSTALL" ? { refresh_token: pair.refresh_token } : {}),
    };
  }
  return phpForm({ event: name, event_handler_id: opts.handlerId ?? 555, data, ts: Math.floor(Date.now() / 1000), auth });
}

/** `ONIMCONNECTORMESSAGEADD` for one operator reply (bitrix24.md §4.5). */
export function operatorMessageBody(
  portal: FakePortal,
  m: { connector: string; line: string | number; chatId: string; text?: string; userId?: number; imChatId?: number; messageId?: number; files?: Array<Record<string, unknown>> },
  opts: { applicationToken?: string } = {},
): string {
  return eventBody(
    portal,
    "ONIMCONNECTORMESSAGEADD",
    {
      CONNECTOR: m.connector,
      LINE: m.line,
      MESSAGES: [
        {
          im: { chat_id: m.imChatId ?? 1807, message_id: m.messageId ?? 86497 },
          message: { user_id: m.userId ?? 27, text: m.text ?? "", ...(m.files ? { files: m.files } : {}) },
          chat: { id: m.chatId },
        },
      ],
    },
    { ...opts, userId: m.userId ?? 27 },
  );
}

/**
 * The robot handler POST (bitrix24.md §5.2). The `event_token` is registered at the portal, so a
 * later `bizproc.event.send` with it succeeds once.
 */
export function robotBody(
  portal: FakePortal,
  r: {
    code?: string;
    documentId: [string, string, string];
    documentType?: [string, string, string];
    properties: Record<string, unknown>;
    useSubscription?: "Y" | "N";
    applicationToken?: string;
    userId?: number;
  },
): { body: string; eventToken: string } {
  const eventToken = `${token(6)}.${token(4)}|A${Math.floor(Math.random() * 1e5)}_${token(4)}|${token(12)}`;
  portal.state.eventTokens.add(eventToken);
  const pair = portal.issueTokens(r.userId ?? 1);
  const type = r.documentType ?? [r.documentId[0], r.documentId[1], r.documentId[2].replace(/_\d+$/, "")];
  const body = phpForm({
    workflow_id: `${token(6)}.${token(4)}`,
    code: r.code ?? "wa_send_template",
    document_id: r.documentId,
    document_type: type,
    event_token: eventToken,
    properties: r.properties,
    use_subscription: r.useSubscription ?? "Y",
    timeout_duration: 0,
    ts: Math.floor(Date.now() / 1000),
    auth: {
      access_token: pair.access_token,
      expires: pair.expires,
      expires_in: pair.expires_in,
      scope: "crm,bizproc",
      domain: portal.domain,
      server_endpoint: portal.serverEndpoint,
      status: "F",
      client_endpoint: portal.clientEndpoint,
      member_id: portal.memberId,
      user_id: r.userId ?? 1,
      application_token: r.applicationToken ?? portal.applicationToken,
    },
  });
  return { body, eventToken };
}

// ---------------------------------------------------------------------------------------------

function asList(v: unknown): any[] {
  if (Array.isArray(v)) return v;
  if (v && typeof v === "object") return Object.values(v);
  return [];
}

function timeBlock() {
  const now = Date.now() / 1000;
  return {
    start: now,
    finish: now + 0.001,
    duration: 0.001,
    processing: 0.0005,
    date_start: new Date().toISOString(),
    date_finish: new Date().toISOString(),
    operating_reset_at: Math.floor(now) + 600,
    operating: 0,
  };
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.statusCode = status;
  res.setHeader("content-type", "application/json; charset=utf-8");
  res.end(JSON.stringify(body));
}

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => Promise<void>): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    handler(req, res).catch((err) => {
      if (!res.headersSent) json(res, 500, { error: "INTERNAL_SERVER_ERROR", error_description: String(err?.message ?? err) });
      else res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://127.0.0.1:${port}` };
}
