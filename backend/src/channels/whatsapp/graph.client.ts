import type { AxiosInstance, AxiosRequestConfig, AxiosResponse } from "axios";
import { AppError } from "../../errors.js";
import type { WhatsAppSender } from "../../outbound/sender.port.js";
import { classifyGraphError, humanError, normalizeGraphError, type ErrorClass, type GraphError } from "./graph-errors.js";
import { toMarkReadPayload, type GraphMessage } from "./graph-payload.js";
import { postJson } from "./json-post.js";

export interface GraphClientOptions {
  http: AxiosInstance;
  /** Base URL including the version, e.g. `https://graph.facebook.com/v25.0`. */
  graphUrl: string;
  phoneNumberId: string;
  /** Needed for template management only. */
  wabaId?: string;
  accessToken: string;
  /** Per request; default 20 s. */
  timeoutMs?: number;
}

export interface SendResult {
  wamid: string;
  /** WhatsApp's canonical id for the recipient (may differ from what we sent: Brazil, Mexico). */
  waId?: string;
  /** Template pacing: `accepted`, `held_for_quality_assessment`, `paused`. */
  messageStatus?: string;
}

export interface MediaInfo {
  /** Valid for 5 minutes; download with the bearer token. */
  url: string;
  mimeType?: string;
  sha256?: string;
  fileSize?: number;
}

/** A template object exactly as Graph returns it (fields requested in {@link TEMPLATE_FIELDS}). */
export type RawTemplate = Record<string, unknown>;

export const TEMPLATE_FIELDS = "name,status,category,language,components,parameter_format,quality_score,rejected_reason";

export interface GraphClient {
  /**
   * Sends one message. Success means *accepted*, not delivered. Throws {@link GraphCallError};
   * `unknownOutcome` when the request may have reached Meta (no idempotency key: reconcile, do not blindly resend).
   * @see https://developers.facebook.com/documentation/business-messaging/whatsapp/messages/send-messages
   */
  send(message: GraphMessage): Promise<SendResult>;
  /**
   * Marks an inbound message (and all earlier ones) as read; `typing` also shows the typing indicator.
   * @see https://developers.facebook.com/documentation/business-messaging/whatsapp/messages/mark-message-as-read
   */
  markRead(wamid: string, opts?: { typing?: boolean }): Promise<void>;
  /**
   * Uploads a file for sending (kept 30 days); returns the media id.
   * @see https://developers.facebook.com/documentation/business-messaging/whatsapp/business-phone-numbers/media
   */
  uploadMedia(data: Buffer, mimeType: string, filename: string): Promise<string>;
  /**
   * Resolves a media id to a download URL (valid 5 minutes).
   * @see https://developers.facebook.com/documentation/business-messaging/whatsapp/business-phone-numbers/media
   */
  getMediaUrl(mediaId: string): Promise<MediaInfo>;
  /**
   * Downloads a media URL with the bearer token. An expired URL (HTTP 404/401) throws
   * `media_url_expired`: get a fresh one with {@link getMediaUrl} and try again.
   * @see https://developers.facebook.com/documentation/business-messaging/whatsapp/business-phone-numbers/media
   */
  downloadMedia(url: string): Promise<{ data: Buffer; mimeType?: string }>;
  /**
   * Every template of the WABA, page after page (`paging.next`, else `paging.cursors.after`).
   * @see https://developers.facebook.com/documentation/business-messaging/whatsapp/templates/template-management
   */
  listTemplates(): AsyncIterable<RawTemplate>;
}

/**
 * A failed Graph call. `graph` is what Meta said (never the access token), `errorClass` what to do
 * about it. `retryable` only for transient and pair-rate failures. `unknownOutcome`: the request
 * was written and then the connection timed out or broke — Meta may have accepted it.
 */
export class GraphCallError extends AppError {
  readonly graph: GraphError;
  readonly errorClass: ErrorClass;
  readonly unknownOutcome: boolean;

  constructor(opts: { graph: GraphError; errorClass: ErrorClass; unknownOutcome?: boolean; code?: string; retryable?: boolean; message?: string }) {
    const { graph, errorClass } = opts;
    const unknownOutcome = opts.unknownOutcome ?? false;
    const base = opts.message ?? humanError(graph, errorClass, "en");
    super({
      code: opts.code ?? graphErrorCode(graph),
      message: unknownOutcome ? `${base} It is not known whether WhatsApp accepted the message.` : base,
      httpStatus: httpStatusFor(errorClass),
      retryable: opts.retryable ?? (errorClass.kind === "transient" || errorClass.kind === "pair_rate"),
      details: { graph, errorClass, ...(unknownOutcome ? { unknownOutcome } : {}) },
    });
    this.name = "GraphCallError";
    this.graph = graph;
    this.errorClass = errorClass;
    this.unknownOutcome = unknownOutcome;
  }

  /** The same failure for a branch manager, in their language. */
  human(lang: "en" | "ru"): string {
    return humanError(this.graph, this.errorClass, lang);
  }
}

/** `graph_<code>`, `graph_network` without an HTTP answer, `graph_http_<status>` for an answer without a code. */
export function graphErrorCode(graph: GraphError): string {
  if (graph.code !== undefined) return `graph_${graph.code}`;
  if (graph.network) return "graph_network";
  return graph.httpStatus !== undefined ? `graph_http_${graph.httpStatus}` : "graph_unknown";
}

function httpStatusFor(cls: ErrorClass): number {
  switch (cls.kind) {
    case "transient":
    case "pair_rate":
      return 503;
    case "account_alarm":
      return 502;
    default:
      return 422;
  }
}

/** Transport errors raised before anything was sent: the outcome is known (not sent). */
const NOT_SENT_CODES = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ENETUNREACH",
  "EHOSTUNREACH",
  "ERR_INVALID_URL",
  "ERR_INVALID_CHAR",
  "CERT_HAS_EXPIRED",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

const MAX_TEMPLATE_PAGES = 1000;

/**
 * The Cloud API over an injected axios instance. The token goes in the `Authorization` header
 * only; errors carry Meta's answer (with any echo of the token redacted) and never the request
 * config, so logging them is safe.
 */
export function createGraphClient(opts: GraphClientOptions): GraphClient {
  const { http, graphUrl, phoneNumberId, wabaId, accessToken } = opts;
  const base = graphUrl.replace(/\/+$/, "");
  const timeout = opts.timeoutMs ?? 20_000;
  const auth = { authorization: `Bearer ${accessToken}` };

  const redact = (s: string | undefined): string | undefined => (s && accessToken ? s.split(accessToken).join("[redacted]") : s);
  const clean = (g: GraphError): GraphError => {
    const out: GraphError = { ...g, message: redact(g.message) ?? g.message };
    if (g.details !== undefined) out.details = redact(g.details);
    if (g.title !== undefined) out.title = redact(g.title);
    return out;
  };

  const failure = (graph: GraphError, extra: { unknownOutcome?: boolean } = {}) => {
    const g = clean(graph);
    return new GraphCallError({ graph: g, errorClass: classifyGraphError(g), ...extra });
  };

  /**
   * One HTTP call. Transport failures become GraphCallError; for `mayHaveSent` calls a timeout or
   * reset after the request left is flagged as unknown outcome. HTTP answers are returned as they are.
   */
  async function call<T = unknown>(config: AxiosRequestConfig, mayHaveSent: boolean): Promise<AxiosResponse<T>> {
    try {
      return await http.request<T>({
        timeout,
        validateStatus: () => true,
        ...config,
        headers: { ...auth, ...(config.headers as Record<string, string> | undefined) },
      });
    } catch (err) {
      throw transportFailure(err, mayHaveSent);
    }
  }

  /** The send path: the same error handling as `call`, on the lean JSON client (see json-post.ts). */
  async function post(url: string, body: unknown): Promise<{ status: number; data: unknown }> {
    try {
      return await postJson(url, body, auth, timeout);
    } catch (err) {
      throw transportFailure(err, true);
    }
  }

  /** No HTTP answer. Unknown outcome when the request may have reached Meta (not for refused connections). */
  function transportFailure(err: unknown, mayHaveSent: boolean): GraphCallError {
    const code = errorCode(err);
    return failure(normalizeGraphError(undefined, undefined, transportSummary(err)), { unknownOutcome: mayHaveSent && !(code && NOT_SENT_CODES.has(code)) });
  }

  const ok = (status: number) => status >= 200 && status < 300;

  function fail(res: { status: number; data: unknown }): never {
    throw failure(normalizeGraphError(res.status, res.data));
  }

  async function getJson(url: string, params?: Record<string, string>): Promise<Record<string, unknown>> {
    const res = await call<unknown>({ method: "GET", url, ...(params ? { params } : {}) }, false);
    if (!ok(res.status)) fail(res);
    const data = asRecord(res.data);
    if (!data) throw failure(normalizeGraphError(res.status, res.data), {});
    return data;
  }

  return {
    async send(message) {
      const res = await post(`${base}/${phoneNumberId}/messages`, message);
      if (!ok(res.status)) fail(res);
      const data = asRecord(res.data);
      const first = asRecord(arr(data?.messages)[0]);
      const wamid = typeof first?.id === "string" ? first.id : undefined;
      if (!wamid) {
        // Meta said 200 but we cannot read a wamid: it probably accepted the message.
        throw failure(
          { message: "Graph API answered 200 without a message id", httpStatus: res.status, network: false, ...excerpt(res.data) },
          { unknownOutcome: true },
        );
      }
      const contact = asRecord(arr(data?.contacts)[0]);
      return {
        wamid,
        ...(typeof contact?.wa_id === "string" ? { waId: contact.wa_id } : {}),
        ...(typeof first?.message_status === "string" ? { messageStatus: first.message_status } : {}),
      };
    },

    async markRead(wamid, o = {}) {
      const res = await call({ method: "POST", url: `${base}/${phoneNumberId}/messages`, data: toMarkReadPayload(wamid, o), maxRedirects: 0 }, false);
      if (!ok(res.status)) fail(res);
    },

    async uploadMedia(data, mimeType, filename) {
      const form = new FormData();
      form.append("messaging_product", "whatsapp");
      form.append("type", mimeType);
      form.append("file", new Blob([new Uint8Array(data)], { type: mimeType }), filename);
      const res = await call<unknown>({ method: "POST", url: `${base}/${phoneNumberId}/media`, data: form, maxRedirects: 0 }, false);
      if (!ok(res.status)) fail(res);
      const id = asRecord(res.data)?.id;
      if (typeof id !== "string" && typeof id !== "number") {
        throw failure({ message: "Graph API answered the upload without a media id", httpStatus: res.status, network: false, ...excerpt(res.data) });
      }
      return String(id);
    },

    async getMediaUrl(mediaId) {
      const data = await getJson(`${base}/${encodeURIComponent(mediaId)}`);
      if (typeof data.url !== "string") {
        throw failure({ message: "Graph API answered the media lookup without a URL", httpStatus: 200, network: false, ...excerpt(data) });
      }
      return {
        url: data.url,
        // Left out when Meta does not say: the caller falls back to what the webhook said.
        ...(typeof data.mime_type === "string" ? { mimeType: data.mime_type } : {}),
        ...(typeof data.sha256 === "string" && data.sha256 ? { sha256: data.sha256 } : {}),
        ...(Number(data.file_size) > 0 ? { fileSize: Number(data.file_size) } : {}),
      };
    },

    async downloadMedia(url) {
      const res = await call<unknown>({ method: "GET", url, responseType: "arraybuffer" }, false);
      if (res.status === 404 || res.status === 401) {
        const graph = clean(normalizeGraphError(res.status, res.data));
        throw new GraphCallError({
          graph,
          errorClass: { kind: "transient" },
          code: "media_url_expired",
          message: "The media download link has expired; fetch a fresh one and try again.",
        });
      }
      if (!ok(res.status)) fail(res);
      const header = res.headers["content-type"];
      const mimeType = typeof header === "string" ? header.split(";")[0]?.trim() || undefined : undefined;
      return { data: toBuffer(res.data), ...(mimeType ? { mimeType } : {}) };
    },

    listTemplates(): AsyncIterable<RawTemplate> {
      return {
        async *[Symbol.asyncIterator]() {
          if (!wabaId) throw new AppError({ code: "config_missing", message: "WABA id is not configured: template listing needs it", httpStatus: 500 });
          const first = `${base}/${wabaId}/message_templates`;
          const params: Record<string, string> = { fields: TEMPLATE_FIELDS, limit: "100" };
          let next: { url: string; params?: Record<string, string> } | undefined = { url: first, params };
          const seen = new Set<string>();
          for (let page = 0; next && page < MAX_TEMPLATE_PAGES; page++) {
            const data = await getJson(next.url, next.params);
            const items = arr(data.data);
            for (const t of items) {
              const rec = asRecord(t);
              if (rec) yield rec;
            }
            const paging = asRecord(data.paging);
            const nextUrl = typeof paging?.next === "string" ? paging.next : undefined;
            const after = asRecord(paging?.cursors)?.after;
            next = undefined;
            if (nextUrl && !seen.has(nextUrl)) {
              seen.add(nextUrl);
              next = { url: nextUrl };
            } else if (!nextUrl && typeof after === "string" && after !== "" && items.length > 0 && !seen.has(`after:${after}`)) {
              seen.add(`after:${after}`);
              next = { url: first, params: { ...params, after } };
            }
          }
        },
      };
    },
  };
}

/**
 * Kept for app.ts: the {@link WhatsAppSender} port over the Graph client.
 */
export function graphSender(opts: GraphClientOptions): WhatsAppSender & Pick<GraphClient, "send"> {
  const client = createGraphClient(opts);
  return { send: (message) => client.send(message) };
}

// ─────────────────────────────────────────── helpers ───────────────────────────────────────────

/** Only the code and message of a transport error: the axios error holds the request config (and the token). */
function transportSummary(err: unknown): { code?: string; message: string } {
  const code = errorCode(err);
  const message = err instanceof Error ? err.message : String(err);
  return code ? { code, message } : { message };
}

function errorCode(err: unknown): string | undefined {
  if (typeof err !== "object" || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  if (typeof code === "string") return code;
  const cause = (err as { cause?: { code?: unknown } }).cause;
  return typeof cause?.code === "string" ? cause.code : undefined;
}

function excerpt(body: unknown): { details?: string } {
  const d = normalizeGraphError(200, body).details;
  return d ? { details: d } : {};
}

function asRecord(v: unknown): Record<string, unknown> | undefined {
  if (typeof v === "string") {
    try {
      v = JSON.parse(v);
    } catch {
      return undefined;
    }
  }
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

function toBuffer(data: unknown): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (typeof data === "string") return Buffer.from(data, "binary");
  return Buffer.alloc(0);
}
