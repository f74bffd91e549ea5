// The JSON fetch client every page uses: optional `Authorization: Bearer`, our error shape
// `{ error: { code, message, field?, details? } }` (or a bare `{ error: "text" }`), 401 as its own error.

/** 401 from the API: the key or token is wrong or was revoked. */
export class UnauthorizedError extends Error {
  constructor() {
    super("unauthorized");
    this.name = "UnauthorizedError";
  }
}

/** Non-2xx other than 401, with the server's code, message, field and details when present. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

/** fetch() itself failed (offline, server down…). */
export class NetworkError extends Error {
  constructor(cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause));
    this.name = "NetworkError";
  }
}

export const bearer = (token: string): Record<string, string> => ({ Authorization: `Bearer ${token}` });

export async function readApiError(res: Response): Promise<ApiError> {
  let body: unknown = null;
  try {
    body = await res.json();
  } catch {
    /* not JSON */
  }
  const fallback = `${res.status} ${res.statusText}`.trim();
  const raw = (body as { error?: unknown } | null)?.error;
  if (typeof raw === "string") return new ApiError(res.status, `http_${res.status}`, raw || fallback);
  const err = raw as { code?: unknown; message?: unknown; field?: unknown; details?: unknown } | undefined;
  return new ApiError(
    res.status,
    typeof err?.code === "string" ? err.code : `http_${res.status}`,
    typeof err?.message === "string" && err.message ? err.message : fallback,
    typeof err?.field === "string" ? err.field : undefined,
    err?.details,
  );
}

export interface JsonClientOptions {
  /** Prefix of every path, e.g. "/admin/api". */
  base: string;
  /** Sent as a Bearer token when given. */
  token?: string;
  /** Called on every 401, before the promise rejects with UnauthorizedError. */
  onUnauthorized?: () => void;
}

export class JsonClient {
  constructor(private readonly opts: JsonClientOptions) {}

  get base(): string {
    return this.opts.base;
  }

  authHeaders(): Record<string, string> {
    return this.opts.token ? bearer(this.opts.token) : {};
  }

  /** `url` as is (absolute or same-origin); a 401 or non-2xx answer rejects. Aborts rethrow as they are. */
  async fetchOk(url: string, init: RequestInit = {}): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(url, { cache: "no-store", ...init, headers: { ...this.authHeaders(), ...(init.headers as Record<string, string> | undefined) } });
    } catch (err) {
      if ((err as Error)?.name === "AbortError") throw err;
      throw new NetworkError(err);
    }
    if (res.status === 401 && this.opts.token !== undefined) {
      this.opts.onUnauthorized?.();
      throw new UnauthorizedError();
    }
    if (!res.ok) throw await readApiError(res);
    return res;
  }

  send(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<Response> {
    const headers: Record<string, string> = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    return this.fetchOk(this.opts.base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal });
  }

  /** The answer's JSON; `undefined` for 204 or an empty body. */
  async json<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    const res = await this.send(method, path, body, signal);
    if (res.status === 204) return undefined as T;
    const text = await res.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }
}

/** sessionStorage: a credential dies with the tab and is never written anywhere else. */
export function loadSession(key: string): string | null {
  try {
    return sessionStorage.getItem(key);
  } catch {
    return null;
  }
}

export function saveSession(key: string, value: string | null): void {
  try {
    if (value) sessionStorage.setItem(key, value);
    else sessionStorage.removeItem(key);
  } catch {
    /* storage disabled: the value lives only in memory */
  }
}

/** Offers a blob as a download (links cannot carry a Bearer header, so files are fetched first). */
export function saveBlob(blob: Blob, filename: string, keepMs = 60_000): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), keepMs);
}
