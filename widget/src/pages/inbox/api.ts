// Thin client for /inbox/api/*. Every call carries `Authorization: Bearer <branch key>`.
import type {
  ApiErrorBody,
  DialogsResponse,
  MeResponse,
  MessagesResponse,
  SendResponse,
} from "./types.js";

export const KEY_STORAGE = "branchline.key";
export const API_BASE = "/inbox/api";

/** 401 from the API: the key is wrong or was revoked. */
export class UnauthorizedError extends Error {
  constructor() {
    super("unauthorized");
    this.name = "UnauthorizedError";
  }
}

/** Non-2xx other than 401. `code`/`message` come from `{ error: { code, message } }` when present. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

/** fetch() itself failed (offline, server down, CORS…). */
export class NetworkError extends Error {
  constructor(cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause));
    this.name = "NetworkError";
  }
}

export function loadKey(): string | null {
  try {
    return sessionStorage.getItem(KEY_STORAGE);
  } catch {
    return null;
  }
}

export function saveKey(key: string | null): void {
  try {
    if (key) sessionStorage.setItem(KEY_STORAGE, key);
    else sessionStorage.removeItem(KEY_STORAGE);
  } catch {
    /* storage disabled: the key lives only in memory */
  }
}

export function authHeaders(key: string): Record<string, string> {
  return { Authorization: `Bearer ${key}` };
}

async function readError(res: Response): Promise<ApiError> {
  let body: unknown = null;
  try {
    body = await res.json();
  } catch {
    /* not JSON */
  }
  const err = (body as { error?: Partial<ApiErrorBody> } | null)?.error;
  const code = typeof err?.code === "string" ? err.code : `http_${res.status}`;
  const message =
    typeof err?.message === "string" && err.message ? err.message : `${res.status} ${res.statusText}`.trim();
  return new ApiError(res.status, code, message);
}

export class InboxApi {
  constructor(
    private readonly key: string,
    /** Called once per 401, before the promise rejects with UnauthorizedError. */
    private readonly onUnauthorized: () => void = () => {},
  ) {}

  private async request<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    const headers: Record<string, string> = { ...authHeaders(this.key), Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let res: Response;
    try {
      res = await fetch(API_BASE + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store",
        signal,
      });
    } catch (err) {
      if ((err as Error)?.name === "AbortError") throw err;
      throw new NetworkError(err);
    }
    if (res.status === 401) {
      this.onUnauthorized();
      throw new UnauthorizedError();
    }
    if (!res.ok) throw await readError(res);
    if (res.status === 204) return undefined as T;
    const text = await res.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }

  me(signal?: AbortSignal): Promise<MeResponse> {
    return this.request("GET", "/me", undefined, signal);
  }

  dialogs(signal?: AbortSignal): Promise<DialogsResponse> {
    return this.request("GET", "/dialogs", undefined, signal);
  }

  messages(dialogId: string, signal?: AbortSignal): Promise<MessagesResponse> {
    return this.request("GET", `/dialogs/${encodeURIComponent(dialogId)}/messages`, undefined, signal);
  }

  send(dialogId: string, text: string): Promise<SendResponse> {
    return this.request("POST", `/dialogs/${encodeURIComponent(dialogId)}/messages`, { text });
  }

  markRead(dialogId: string): Promise<void> {
    return this.request("POST", `/dialogs/${encodeURIComponent(dialogId)}/read`);
  }

  /** Media behind the API (same-origin /inbox/api/… URLs) fetched with the Bearer header. */
  async blob(url: string): Promise<Blob> {
    let res: Response;
    try {
      res = await fetch(url, { headers: authHeaders(this.key) });
    } catch (err) {
      throw new NetworkError(err);
    }
    if (res.status === 401) {
      this.onUnauthorized();
      throw new UnauthorizedError();
    }
    if (!res.ok) throw await readError(res);
    return res.blob();
  }
}
