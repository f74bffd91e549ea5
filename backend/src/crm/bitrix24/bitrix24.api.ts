import { ApiVersion, B24OAuth, EnumAppStatus, SdkError, type AjaxResult, type HandlerRefreshAuth, type RestrictionParams } from "@bitrix24/b24jssdk";
import type { AxiosInstance } from "axios";
import { AppError } from "../../errors.js";
import type { LeakyBucket } from "./leaky-bucket.js";

/**
 * Where the API gets its access token. `refreshAfterRejection` must persist the rotated pair before
 * it resolves (the old refresh token is dead from that moment), run one refresh at a time per
 * portal, and return the stored token without refreshing if someone else already replaced `rejected`.
 * Same shape as the CRM-wide token manager's source.
 */
export interface B24TokenSource {
  current(): Promise<string>;
  refreshAfterRejection(rejected: string): Promise<string>;
}

/** One item of `imconnector.send.messages` → `result.DATA.RESULT` (bitrix24.md §4.4). */
export interface B24SentMessage {
  SUCCESS?: boolean;
  ERRORS?: unknown;
  user?: unknown;
  message?: { id?: string } & Record<string, unknown>;
  chat?: { id?: string } & Record<string, unknown>;
  /** `CHAT_ID` is the Bitrix24 chat id to keep for this customer; `ID` the session. */
  session?: { ID?: string; CHAT_ID?: string };
  [key: string]: unknown;
}

/** REST for one portal (application context, its admin's tokens). */
export interface B24Api {
  /**
   * Calls one method. `expired_token`/`invalid_token` → one refresh through the token source, one
   * retry; `QUERY_LIMIT_EXCEEDED` → backs off (pausing the portal's bucket) and retries, at most
   * `maxAttempts` tries. Anything else → AppError `bitrix24_error` with `details.error`,
   * `details.error_description`, `details.status`; retryable for network, 5xx and limits.
   * @see bitrix24.md §1.7, §6.4
   */
  call<T = unknown>(method: string, params?: Record<string, unknown>): Promise<T>;
  /**
   * Up to 50 commands in one HTTP request (`halt=0`: every command runs). Returns each command's
   * `result` by key; a failed command's value is an `AppError` (`bitrix24_error`, `details.error`),
   * so check `instanceof AppError`. `$result[key]` references work between commands of one batch.
   * @see bitrix24.md §6.1
   */
  batch(calls: Record<string, [string, Record<string, unknown>?]>): Promise<Record<string, unknown>>;
  /**
   * `imconnector.send.messages` in chunks of `messagesPerCall` (default 20; the doc names no limit,
   * a request must finish within 60 s and each message runs the CRM tracker). Returns every chunk's
   * `DATA.RESULT` items in order; each has its own `SUCCESS`. If a later chunk fails, the AppError's
   * `details.accepted` holds the items of the chunks that went through (do not resend those).
   * @see bitrix24.md §4.4
   */
  sendMessages(connector: string, lineId: string, messages: unknown[]): Promise<B24SentMessage[]>;
  /**
   * `crm.duplicate.findbycomm` for a phone across leads, contacts and companies. Sends the number
   * with and without `+` (the doc does not say how far Bitrix24 normalizes, UNCONFIRMED), and copes
   * with `result: []` for "nothing found".
   * @see bitrix24.md §6
   */
  findByPhone(phone: string): Promise<{ leadIds: number[]; contactIds: number[]; companyIds: number[] }>;
}

export interface B24ApiOptions {
  /** Its keep-alive agents and proxy setting are reused by the SDK's own axios instance. */
  http?: AxiosInstance;
  /** `https://portal.bitrix24.com/rest/` (tests: the local fake). */
  clientEndpoint: string;
  memberId: string;
  tokens: B24TokenSource;
  /** The process-wide per-portal bucket; every HTTP request (a batch is one) takes a slot. */
  bucket: LeakyBucket;
  /** Tries per call while the portal answers QUERY_LIMIT_EXCEEDED; default 4. */
  maxAttempts?: number;
  sleep?: (ms: number) => Promise<void>;
  messagesPerCall?: number;
  /** Per HTTP request; default 60 s (the portal's own limit). */
  timeoutMs?: number;
}

const MAX_BATCH = 50;
const realSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * The SDK's own limiters are per SDK instance and sleep on the real clock; ours is per portal for
 * the whole process, so the SDK's rate limiter is opened wide and its retries are off (we retry
 * with an injectable clock). Its operating-time limiter stays: it only acts on `time.operating`
 * the portal reports.
 */
const SDK_RESTRICTIONS: Partial<RestrictionParams> = {
  rateLimit: { burstLimit: Number.MAX_SAFE_INTEGER, drainRate: 1_000_000, adaptiveEnabled: false },
  adaptiveConfig: { enabled: false, thresholdPercent: 100, coefficient: 0, maxDelay: 0 },
  maxRetries: 1,
  retryDelay: 0,
  retryOnNetworkError: false,
};

/** Ten years: the SDK must never decide on its own that the token expired (we refresh on rejection). */
const farExpiry = () => String(Math.floor(Date.now() / 1000) + 10 * 365 * 24 * 3600);

/**
 * REST for one portal through `@bitrix24/b24jssdk`'s `B24OAuth`: the SDK builds requests, reads
 * envelopes, batches and does the 401 → refresh → retry; our token source supplies every token
 * (through the SDK's custom-refresh hook), our bucket gates every request (an axios interceptor on
 * the SDK's client), and the endpoint is whatever `clientEndpoint` says. See README.md.
 */
export function createB24Api(opts: B24ApiOptions): B24Api {
  const { memberId, tokens, bucket } = opts;
  const maxAttempts = Math.max(1, opts.maxAttempts ?? 4);
  const sleep = opts.sleep ?? realSleep;
  const perCall = Math.max(1, opts.messagesPerCall ?? 20);
  let endpoint: URL;
  try {
    endpoint = new URL(opts.clientEndpoint);
  } catch (err) {
    throw new AppError({ code: "bitrix24_bad_endpoint", message: "Bitrix24 client endpoint is not a URL", httpStatus: 500, cause: err });
  }
  // The SDK appends `/${method}`: without the trailing slash the path is `/rest/profile`, not `/rest//profile`.
  const clientEndpoint = endpoint.toString().replace(/\/+$/, "");

  /** The access token the SDK currently holds. */
  let held: string | undefined;
  /** The token of the last request the portal answered 401 (read when the SDK asks for a refresh). */
  let rejected: string | undefined;
  const answer = (token: string): HandlerRefreshAuth => {
    held = token;
    return {
      access_token: token,
      // The refresh token stays in our store: the SDK never needs it.
      refresh_token: "held-by-token-source",
      expires: farExpiry(),
      expires_in: "3600",
      client_endpoint: clientEndpoint,
      server_endpoint: "https://oauth.bitrix.info/rest/",
      member_id: memberId,
      scope: "",
      status: EnumAppStatus.Free,
      domain: endpoint.host,
    };
  };

  const b24 = new B24OAuth(
    {
      applicationToken: "",
      userId: 0,
      memberId,
      accessToken: "",
      refreshToken: "held-by-token-source",
      expires: Number(farExpiry()),
      expiresIn: 3600,
      scope: "",
      domain: endpoint.host,
      clientEndpoint,
      serverEndpoint: "https://oauth.bitrix.info/rest/",
      status: EnumAppStatus.Free,
    },
    // Unused: the custom refresh below replaces the SDK's own call to the OAuth server.
    { clientId: "", clientSecret: "" },
    { restrictionParams: SDK_RESTRICTIONS },
  );
  b24.offClientSideWarning();
  // Called by the SDK after a 401 expired_token/invalid_token (coalesced), and by `sync` below.
  b24.setCustomRefreshAuth(async () => {
    // Read before any await: the SDK calls this in the same microtask chain as the 401 it handles.
    const bad = rejected ?? held;
    rejected = undefined;
    const stored = await tokens.current();
    // The rejected token was already replaced (by us for a parallel request, or by another
    // process): take the stored one instead of burning a refresh.
    if (bad === undefined || stored !== bad) return answer(stored);
    return answer(await tokens.refreshAfterRejection(bad));
  });

  const ajax = b24.getHttpClient(ApiVersion.v2).ajaxClient;
  ajax.defaults.timeout = opts.timeoutMs ?? 60_000;
  // A renamed portal answers 302; following it would turn the POST into a GET and lose the body.
  ajax.defaults.maxRedirects = 0;
  if (opts.http) {
    const d = opts.http.defaults;
    if (d.httpAgent) ajax.defaults.httpAgent = d.httpAgent;
    if (d.httpsAgent) ajax.defaults.httpsAgent = d.httpsAgent;
    if (d.proxy !== undefined) ajax.defaults.proxy = d.proxy;
  }
  ajax.interceptors.request.use(async (config) => {
    await bucket.take(memberId);
    return config;
  });
  ajax.interceptors.response.use(undefined, (error: unknown) => {
    const e = error as { response?: { status?: number }; config?: { data?: unknown } };
    if (e?.response?.status === 401) rejected = tokenOf(e.config?.data);
    return Promise.reject(error);
  });

  /** Hands the SDK the stored token when it differs from what the SDK holds. */
  async function sync(): Promise<void> {
    if ((await tokens.current()) !== held) await b24.auth.refreshAuth();
  }

  async function run<T>(method: string, exec: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        await sync();
        return await exec();
      } catch (err) {
        const e = toAppError(err, method, held);
        const code = (e.details as { error?: string } | undefined)?.error;
        if (code === "QUERY_LIMIT_EXCEEDED" && attempt < maxAttempts) {
          const ms = Math.min(30_000, 1000 * 2 ** (attempt - 1));
          bucket.pause(memberId, ms);
          await sleep(ms);
          continue;
        }
        throw e;
      }
    }
  }

  async function call<T = unknown>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    return run(method, async () => {
      const res = (await b24.actions.v2.call.make({ method, params })) as AjaxResult<T>;
      if (!res.isSuccess) throw firstError(res, method, held);
      return res.getData()!.result as T;
    });
  }

  async function batch(calls: Record<string, [string, Record<string, unknown>?]>): Promise<Record<string, unknown>> {
    const keys = Object.keys(calls);
    if (keys.length === 0) return {};
    if (keys.length > MAX_BATCH) {
      throw new AppError({ code: "bitrix24_batch_too_large", message: `a Bitrix24 batch takes at most ${MAX_BATCH} commands, got ${keys.length}`, httpStatus: 500 });
    }
    const sdkCalls: Record<string, [string, Record<string, unknown>]> = {};
    for (const k of keys) sdkCalls[k] = [calls[k]![0], calls[k]![1] ?? {}];
    const res = await run("batch", () => b24.actions.v2.batch.make({ calls: sdkCalls, options: { isHaltOnError: false, returnAjaxResult: true } }));
    const data = (res.getData() ?? {}) as Record<string, AjaxResult | undefined>;
    if (!res.isSuccess && keys.every((k) => data[k] === undefined)) throw firstError(res, "batch", held);
    const out: Record<string, unknown> = {};
    for (const k of keys) {
      const item = data[k];
      const method = calls[k]![0];
      if (!item) {
        out[k] = new AppError({ code: "bitrix24_error", message: `Bitrix24 batch command ${k} (${method}) got no answer`, httpStatus: 502, retryable: true, details: { method, error: "NO_ANSWER" } });
      } else if (item.isSuccess) {
        out[k] = item.getData()!.result;
      } else {
        out[k] = firstError(item, method, held);
      }
    }
    return out;
  }

  async function sendMessages(connector: string, lineId: string, messages: unknown[]): Promise<B24SentMessage[]> {
    const accepted: B24SentMessage[] = [];
    for (let i = 0; i < messages.length; i += perCall) {
      const chunk = messages.slice(i, i + perCall);
      let result: { SUCCESS?: boolean; DATA?: { RESULT?: B24SentMessage[] } } | undefined;
      try {
        result = await call("imconnector.send.messages", { CONNECTOR: connector, LINE: lineId, MESSAGES: chunk });
      } catch (err) {
        if (i === 0 || !(err instanceof AppError)) throw err;
        throw new AppError({
          code: err.code,
          message: `${err.message} (after ${accepted.length} messages were accepted)`,
          httpStatus: err.httpStatus,
          retryable: err.retryable,
          details: { ...(err.details as object), accepted },
          cause: err,
        });
      }
      accepted.push(...(result?.DATA?.RESULT ?? []));
    }
    return accepted;
  }

  async function findByPhone(phone: string): Promise<{ leadIds: number[]; contactIds: number[]; companyIds: number[] }> {
    const digits = phone.replace(/\D/g, "");
    const values = [...new Set([phone.trim(), `+${digits}`, digits].filter((v) => v.replace(/\D/g, "").length > 0))];
    if (values.length === 0) return { leadIds: [], contactIds: [], companyIds: [] };
    const result = await call<unknown>("crm.duplicate.findbycomm", { type: "PHONE", values });
    const byType = result && typeof result === "object" && !Array.isArray(result) ? (result as Record<string, unknown>) : {};
    const ids = (key: string): number[] => {
      const v = byType[key];
      const list = Array.isArray(v) ? v : v && typeof v === "object" ? Object.values(v) : [];
      return [...new Set(list.map(Number).filter((n) => Number.isInteger(n) && n > 0))];
    };
    return { leadIds: ids("LEAD"), contactIds: ids("CONTACT"), companyIds: ids("COMPANY") };
  }

  return { call, batch, sendMessages, findByPhone };
}

/** The `auth` a request carried (axios has serialized the SDK's params to JSON by then). */
function tokenOf(data: unknown): string | undefined {
  let body = data;
  if (typeof body === "string") {
    try {
      body = JSON.parse(body);
    } catch {
      return undefined;
    }
  }
  const auth = (body as { auth?: unknown } | null)?.auth;
  return typeof auth === "string" ? auth : undefined;
}

/** The Bitrix24 error code of an error from this module (`details.error`), e.g. `ERROR_ACTIVITY_ALREADY_INSTALLED`. */
export function b24ErrorCode(err: unknown): string | undefined {
  if (!(err instanceof AppError)) return undefined;
  const code = (err.details as { error?: unknown } | undefined)?.error;
  return typeof code === "string" ? code : undefined;
}

/** Codes that no retry fixes even though the status is 5xx (bitrix24.md §6.4). */
const FINAL_5XX = new Set(["PORTAL_DELETED", "OVERLOAD_LIMIT"]);
const LIMITS = new Set(["QUERY_LIMIT_EXCEEDED", "OPERATION_TIME_LIMIT"]);
const NETWORK = new Set(["NETWORK_ERROR", "REQUEST_TIMEOUT", "ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "ECONNABORTED", "EAI_AGAIN", "ENOTFOUND", "EPIPE"]);

function firstError(res: { errors: Map<string, Error> }, method: string, token: string | undefined): AppError {
  const first = res.errors.values().next().value;
  return toAppError(first ?? new SdkError({ code: "JSSDK_RESPONSE_ERROR", description: "unsuccessful answer without an error", status: 0 }), method, token);
}

function toAppError(err: unknown, method: string, token: string | undefined): AppError {
  if (err instanceof AppError) return err;
  const original = err instanceof SdkError ? (err as { originalError?: unknown }).originalError : undefined;
  // Our token source's own failure (e.g. the grant was revoked), wrapped by the SDK.
  if (original instanceof AppError) return original;
  if (!(err instanceof SdkError)) {
    return new AppError({ code: "bitrix24_error", message: `Bitrix24 ${method} failed`, httpStatus: 502, retryable: false, details: { method, error: "UNKNOWN" }, cause: err });
  }
  const status = Number(err.status) || 0;
  let error = String(err.code);
  let description = hide(err.message, token);
  let location: string | undefined;
  if (status >= 300 && status < 400) {
    // maxRedirects 0: the portal moved (renamed domain); the new address is in Location.
    const headers = (original as { response?: { headers?: Record<string, unknown> } } | undefined)?.response?.headers;
    location = typeof headers?.location === "string" ? headers.location : undefined;
    error = "PORTAL_MOVED";
    description = location ? `portal answered ${status}, moved to ${location}` : `portal answered ${status}`;
  }
  const network = status === 0 && (NETWORK.has(error) || /^E[A-Z]+$/.test(error) || error.startsWith("ERR_"));
  const retryable = network || LIMITS.has(error) || status === 408 || (status >= 500 && !FINAL_5XX.has(error));
  return new AppError({
    code: "bitrix24_error",
    message: `Bitrix24 ${method} failed: ${error}${description && description !== error ? ` (${description.slice(0, 300)})` : ""}`,
    httpStatus: 502,
    retryable,
    details: { method, error, error_description: description, status, ...(location ? { location } : {}) },
    cause: err,
  });
}

function hide(text: string, token: string | undefined): string {
  return token ? text.split(token).join("[redacted]") : text;
}
