// Thin client for the admin API (/admin/api/*). Every call carries `Authorization: Bearer <ADMIN_TOKEN>`.
import type {
  AnalyticsResponse,
  BranchForm,
  BranchHealthResponse,
  CreatedBranch,
  DeadLetter,
  PublicBranch,
  RoutingSettings,
  RoutingTestInput,
  RoutingTestResult,
  Template,
} from "./types.js";

/** sessionStorage: the token dies with the tab, and is never written anywhere else. */
export const TOKEN_STORAGE = "branchline.admin-token";
export const API_BASE = "/admin/api";

export class UnauthorizedError extends Error {
  constructor() {
    super("unauthorized");
    this.name = "UnauthorizedError";
  }
}

/** Non-2xx other than 401, with the server's `{ error: { code, message, field } }` when present. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export class NetworkError extends Error {
  constructor(cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause));
    this.name = "NetworkError";
  }
}

export function loadToken(): string | null {
  try {
    return sessionStorage.getItem(TOKEN_STORAGE);
  } catch {
    return null;
  }
}

export function saveToken(token: string | null): void {
  try {
    if (token) sessionStorage.setItem(TOKEN_STORAGE, token);
    else sessionStorage.removeItem(TOKEN_STORAGE);
  } catch {
    /* storage disabled: the token lives only in memory */
  }
}

async function readError(res: Response): Promise<ApiError> {
  let body: unknown = null;
  try {
    body = await res.json();
  } catch {
    /* not JSON */
  }
  const err = (body as { error?: { code?: unknown; message?: unknown; field?: unknown } } | null)?.error;
  return new ApiError(
    res.status,
    typeof err?.code === "string" ? err.code : `http_${res.status}`,
    typeof err?.message === "string" && err.message ? err.message : `${res.status} ${res.statusText}`.trim(),
    typeof err?.field === "string" ? err.field : undefined,
  );
}

export class AdminApi {
  constructor(
    private readonly token: string,
    /** Called on a 401 before the promise rejects (the session is over). */
    private readonly onUnauthorized: () => void = () => {},
  ) {}

  private async send(method: string, path: string, body?: unknown): Promise<Response> {
    const headers: Record<string, string> = { Authorization: `Bearer ${this.token}`, Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let res: Response;
    try {
      res = await fetch(API_BASE + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store" });
    } catch (err) {
      throw new NetworkError(err);
    }
    if (res.status === 401) {
      this.onUnauthorized();
      throw new UnauthorizedError();
    }
    if (!res.ok) throw await readError(res);
    return res;
  }

  private async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.send(method, path, body);
    if (res.status === 204) return undefined as T;
    const text = await res.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }

  branches(): Promise<PublicBranch[]> {
    return this.json("GET", "/branches");
  }

  health(window: "24h" | "7d"): Promise<BranchHealthResponse> {
    return this.json("GET", `/health/branches?window=${window}`);
  }

  createBranch(form: BranchForm): Promise<CreatedBranch> {
    return this.json("POST", "/branches", form);
  }

  updateBranch(id: string, patch: Record<string, unknown>): Promise<PublicBranch> {
    return this.json("PATCH", `/branches/${encodeURIComponent(id)}`, patch);
  }

  setEnabled(id: string, enabled: boolean): Promise<PublicBranch> {
    return this.json("POST", `/branches/${encodeURIComponent(id)}/${enabled ? "enable" : "disable"}`);
  }

  rotateKey(id: string): Promise<{ id: string; apiKey: string }> {
    return this.json("POST", `/branches/${encodeURIComponent(id)}/rotate-key`);
  }

  rotateWebhookSecret(id: string): Promise<{ id: string; webhookSecret: string }> {
    return this.json("POST", `/branches/${encodeURIComponent(id)}/rotate-webhook-secret`);
  }

  routingSettings(): Promise<RoutingSettings> {
    return this.json("GET", "/settings/routing");
  }

  saveRoutingSettings(patch: Record<string, unknown>): Promise<RoutingSettings> {
    return this.json("PATCH", "/settings/routing", patch);
  }

  testRouting(input: RoutingTestInput): Promise<RoutingTestResult> {
    return this.json("POST", "/routing/test", input);
  }

  templates(): Promise<{ templates: Template[] }> {
    return this.json("GET", "/templates");
  }

  syncTemplates(): Promise<{ synced: boolean; templates: number }> {
    return this.json("POST", "/templates/sync");
  }

  deadLetters(): Promise<{ deadLetters: DeadLetter[] }> {
    return this.json("GET", "/dead-letters");
  }

  retryDeadLetter(id: string): Promise<void> {
    return this.json("POST", `/dead-letters/${encodeURIComponent(id)}/retry`);
  }

  discardDeadLetter(id: string): Promise<void> {
    return this.json("DELETE", `/dead-letters/${encodeURIComponent(id)}`);
  }

  analyticsQuery(q: { from: string; to: string; branch?: string }, format: "json" | "csv"): string {
    const p = new URLSearchParams({ from: q.from, to: q.to, format });
    if (q.branch) p.set("branch", q.branch);
    return `/analytics?${p.toString()}`;
  }

  analytics(q: { from: string; to: string; branch?: string }): Promise<AnalyticsResponse> {
    return this.json("GET", this.analyticsQuery(q, "json"));
  }

  /** The export as a file: links cannot carry the Bearer header, so it is fetched and saved as a blob. */
  async download(q: { from: string; to: string; branch?: string }, format: "json" | "csv"): Promise<{ blob: Blob; filename: string }> {
    const res = await this.send("GET", this.analyticsQuery(q, format));
    return { blob: await res.blob(), filename: `branchline-analytics-${q.from}-${q.to}.${format}` };
  }
}
