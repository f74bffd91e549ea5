import type { AxiosInstance, AxiosResponse } from "axios";
import { AppError } from "../../errors.js";
import { amojoRequestHeaders } from "./amojo-signature.js";

/** A chat participant as amojo takes it: `id` is ours, `ref_id` amoCRM's. @see amocrm.md §4.6 */
export interface AmojoUser {
  id: string;
  ref_id?: string;
  name?: string;
  avatar?: string;
  profile?: { phone?: string; email?: string };
  profile_link?: string;
}

export type AmojoMessage =
  | { type: "text"; text: string }
  | { type: "picture" | "video" | "file"; media: string; file_name: string; file_size: number; text?: string }
  | { type: "voice" | "audio" | "sticker"; media: string; file_name?: string; file_size?: number; media_duration?: number }
  | { type: "location"; location: { lon: number; lat: number } }
  | { type: "contact"; contact: { name: string; phone: string } };

export interface AmojoMessagePayload {
  timestamp: number;
  msec_timestamp: number;
  msgid: string;
  conversation_id: string;
  conversation_ref_id?: string;
  sender: AmojoUser;
  receiver?: AmojoUser;
  message: AmojoMessage;
  reply_to?: { message: { msgid: string } };
  silent: boolean;
  source?: { external_id: string };
}

/** `1` delivered, `2` read, `-1` error (901…905). @see amocrm.md §4.7 */
export interface AmojoDeliveryStatus {
  status: 1 | 2 | -1;
  errorCode?: 901 | 902 | 903 | 904 | 905;
  error?: string;
}

export interface AmojoClient {
  /**
   * Connects an account (by its amojo id) to our channel; repeat after every (re)install.
   * @see amocrm.md §4.4 — `POST /v2/origin/custom/{channel_id}/connect`
   */
  connect(amojoAccountId: string, title: string): Promise<{ scopeId: string }>;
  /** @see amocrm.md §4.4 — `DELETE /v2/origin/custom/{channel_id}/disconnect` */
  disconnect(amojoAccountId: string): Promise<void>;
  /**
   * Imports a message (`new_message`); amoCRM creates the chat, contact and incoming lead as needed.
   * `msgid` in the result is amoCRM's id of the message.
   * @see amocrm.md §4.6 — `POST /v2/origin/custom/{scope_id}`
   */
  sendMessage(scopeId: string, payload: AmojoMessagePayload): Promise<{ msgid?: string; conversationId?: string }>;
  /**
   * Delivery status of a message a manager sent (amoCRM's message id from the hook).
   * @see amocrm.md §4.7 — `POST /v2/origin/custom/{scope_id}/{msgid}/delivery_status`
   */
  deliveryStatus(scopeId: string, amoMessageId: string, status: AmojoDeliveryStatus): Promise<void>;
}

export interface AmojoClientOptions {
  http: AxiosInstance;
  /** e.g. `https://amojo.amocrm.ru` (amocrm.ru) or `https://amojo.kommo.com`. */
  baseUrl: string;
  channelId: string;
  /** Channel secret: signs every request, never sent. */
  secret: string;
  now?: () => number;
  /** Per request; default 15 s. */
  timeoutMs?: number;
}

export function createAmojoClient(opts: AmojoClientOptions): AmojoClient {
  const baseUrl = opts.baseUrl.replace(/\/+$/, "");
  const now = opts.now ?? Date.now;
  const timeout = opts.timeoutMs ?? 15_000;
  const channelPath = `/v2/origin/custom/${encodeURIComponent(opts.channelId)}`;

  async function call(method: "GET" | "POST" | "DELETE", path: string, body?: unknown): Promise<unknown> {
    // Serialized once: the MD5 and the signature cover exactly these bytes.
    const raw = body === undefined ? "" : JSON.stringify(body);
    const headers = amojoRequestHeaders({ secret: opts.secret, method, path, body: raw, date: new Date(now()) });
    const what = `amojo ${method} ${path}`;
    let res: AxiosResponse<string>;
    try {
      res = await opts.http.request<string>({
        url: baseUrl + path,
        method,
        headers: { ...headers, Accept: "application/json" },
        ...(body === undefined ? {} : { data: raw }),
        // Keep axios from re-serializing (it trims strings) or parsing.
        transformRequest: [(d: unknown) => d],
        transformResponse: [(d: unknown) => d],
        responseType: "text",
        validateStatus: () => true,
        timeout,
        maxRedirects: 0,
      });
    } catch (err) {
      // Every HTTP status is a resolved answer (validateStatus), so this is transport: no answer at all.
      const code = (err as { code?: unknown })?.code;
      throw new AppError({
        code: "amojo_error",
        message: `${what} failed: no answer (${typeof code === "string" ? code : "network error"})`,
        httpStatus: 502,
        retryable: true,
        cause: err,
      });
    }
    const text = typeof res.data === "string" ? res.data : "";
    let data: unknown = undefined;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = text;
      }
    }
    if (res.status >= 200 && res.status < 300) return data;
    throw new AppError({
      code: "amojo_error",
      message: `${what} failed: HTTP ${res.status}${describe(data)}`,
      httpStatus: 502,
      retryable: res.status >= 500 || res.status === 429,
      details: { status: res.status },
    });
  }

  return {
    async connect(amojoAccountId, title) {
      const data = await call("POST", `${channelPath}/connect`, { account_id: amojoAccountId, title, hook_api_version: "v2" });
      const scopeId = (data as { scope_id?: unknown } | undefined)?.scope_id;
      if (typeof scopeId !== "string" || !scopeId) {
        throw new AppError({ code: "amojo_error", message: `amojo POST ${channelPath}/connect answered without scope_id`, httpStatus: 502, retryable: false });
      }
      return { scopeId };
    },

    async disconnect(amojoAccountId) {
      await call("DELETE", `${channelPath}/disconnect`, { account_id: amojoAccountId });
    },

    async sendMessage(scopeId, payload) {
      const data = await call("POST", `/v2/origin/custom/${encodeURIComponent(scopeId)}`, { event_type: "new_message", payload });
      const nm = (data as { new_message?: { msgid?: unknown; conversation_id?: unknown } } | undefined)?.new_message;
      return {
        ...(typeof nm?.msgid === "string" ? { msgid: nm.msgid } : {}),
        ...(typeof nm?.conversation_id === "string" ? { conversationId: nm.conversation_id } : {}),
      };
    },

    async deliveryStatus(scopeId, amoMessageId, status) {
      // The doc's table says `status_code`, its sample and known clients `delivery_status` (§4.7, unconfirmed): send both.
      const body = {
        msgid: amoMessageId,
        delivery_status: status.status,
        status_code: status.status,
        ...(status.errorCode !== undefined ? { error_code: status.errorCode } : {}),
        ...(status.error !== undefined ? { error: status.error } : {}),
      };
      await call("POST", `/v2/origin/custom/${encodeURIComponent(scopeId)}/${encodeURIComponent(amoMessageId)}/delivery_status`, body);
    },
  };
}

/** A short, safe excerpt of amojo's error answer (it never echoes our secret: that is not sent). */
function describe(data: unknown): string {
  if (data === undefined || data === "") return "";
  let s: string;
  if (typeof data === "string") s = data;
  else {
    const o = data as Record<string, unknown>;
    const parts = [o.error, o.error_code, o.title, o.detail, o.message].filter((v) => typeof v === "string" || typeof v === "number");
    s = parts.length ? parts.join(" ") : JSON.stringify(data);
  }
  s = s.replace(/\s+/g, " ").trim();
  return s ? ` (${s.length > 200 ? `${s.slice(0, 200)}…` : s})` : "";
}
