// Thin client for the admin API (/admin/api/*). Every call carries `Authorization: Bearer <ADMIN_TOKEN>`.
import { JsonClient, loadSession, saveSession } from "../shared/http.js";
import type {
  AlertSettings,
  AnalyticsResponse,
  BranchForm,
  BranchHealthResponse,
  Campaign,
  CampaignInput,
  CreatedBranch,
  DeadLetter,
  FlowCheckResult,
  FlowRecord,
  FlowRun,
  FlowSummary,
  Handover,
  ImportReport,
  Operator,
  PublicBranch,
  RecipientsPage,
  RoutingSettings,
  RoutingTestInput,
  RoutingTestResult,
  Template,
} from "./types.js";

export { ApiError, NetworkError, UnauthorizedError } from "../shared/http.js";

export const TOKEN_STORAGE = "branchline.admin-token";
export const API_BASE = "/admin/api";

export const loadToken = (): string | null => loadSession(TOKEN_STORAGE);
export const saveToken = (token: string | null): void => saveSession(TOKEN_STORAGE, token);

const enc = encodeURIComponent;

export class AdminApi {
  readonly http: JsonClient;

  constructor(
    token: string,
    /** Called on a 401 before the promise rejects (the session is over). */
    onUnauthorized: () => void = () => {},
  ) {
    this.http = new JsonClient({ base: API_BASE, token, onUnauthorized });
  }

  private json<T>(method: string, path: string, body?: unknown): Promise<T> {
    return this.http.json<T>(method, path, body);
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
    return this.json("PATCH", `/branches/${enc(id)}`, patch);
  }

  setEnabled(id: string, enabled: boolean): Promise<PublicBranch> {
    return this.json("POST", `/branches/${enc(id)}/${enabled ? "enable" : "disable"}`);
  }

  rotateKey(id: string): Promise<{ id: string; apiKey: string }> {
    return this.json("POST", `/branches/${enc(id)}/rotate-key`);
  }

  rotateWebhookSecret(id: string): Promise<{ id: string; webhookSecret: string }> {
    return this.json("POST", `/branches/${enc(id)}/rotate-webhook-secret`);
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
    return this.json("POST", `/dead-letters/${enc(id)}/retry`);
  }

  discardDeadLetter(id: string): Promise<void> {
    return this.json("DELETE", `/dead-letters/${enc(id)}`);
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
    const res = await this.http.send("GET", this.analyticsQuery(q, format));
    return { blob: await res.blob(), filename: `branchline-analytics-${q.from}-${q.to}.${format}` };
  }

  // ── campaigns ──

  campaigns(): Promise<{ campaigns: Campaign[] }> {
    return this.json("GET", "/campaigns");
  }

  campaign(id: string): Promise<Campaign> {
    return this.json("GET", `/campaigns/${enc(id)}`);
  }

  previewCampaign(input: CampaignInput): Promise<ImportReport> {
    return this.json("POST", "/campaigns/preview", input);
  }

  createCampaign(input: CampaignInput): Promise<Campaign & { import: ImportReport }> {
    return this.json("POST", "/campaigns", input);
  }

  recipients(id: string, offset: number, limit: number): Promise<RecipientsPage> {
    return this.json("GET", `/campaigns/${enc(id)}/recipients?offset=${offset}&limit=${limit}`);
  }

  campaignAction(id: string, action: "pause" | "resume" | "cancel"): Promise<Campaign> {
    return this.json("POST", `/campaigns/${enc(id)}/${action}`);
  }

  /** Where the live progress of a campaign streams from (server-sent events, Bearer header). */
  campaignStreamUrl(id: string): string {
    return `${API_BASE}/campaigns/${enc(id)}/stream`;
  }

  // ── flows ──

  flows(): Promise<{ flows: FlowSummary[] }> {
    return this.json("GET", "/flows");
  }

  flow(id: string): Promise<FlowRecord> {
    return this.json("GET", `/flows/${enc(id)}`);
  }

  checkFlow(definition: unknown): Promise<FlowCheckResult> {
    return this.json("POST", "/flows/check", { definition });
  }

  /** Creates (`create`) or replaces a flow; the answer carries the save's warnings. */
  saveFlow(id: string, definition: unknown, create: boolean): Promise<FlowSummary & { warnings: FlowCheckResult["warnings"] }> {
    return create ? this.json("POST", "/flows", { id, definition }) : this.json("PUT", `/flows/${enc(id)}`, { definition });
  }

  setFlowEnabled(id: string, enabled: boolean): Promise<FlowSummary> {
    return this.json("PATCH", `/flows/${enc(id)}`, { enabled });
  }

  deleteFlow(id: string): Promise<void> {
    return this.json("DELETE", `/flows/${enc(id)}`);
  }

  installExample(name: string, body: { id?: string; oncePerDays?: number }): Promise<FlowSummary & { warnings: FlowCheckResult["warnings"] }> {
    return this.json("POST", `/flows/examples/${enc(name)}`, body);
  }

  startFlow(id: string, phone: string, branchId: string): Promise<FlowRun> {
    return this.json("POST", `/flows/${enc(id)}/start`, { phone, branchId });
  }

  flowRuns(id: string): Promise<{ runs: FlowRun[] }> {
    return this.json("GET", `/flows/${enc(id)}/runs?limit=50`);
  }

  // ── operators and alerts ──

  operators(branchId: string): Promise<{ operators: Operator[] }> {
    return this.json("GET", `/branches/${enc(branchId)}/operators`);
  }

  addOperator(branchId: string, op: { name: string; phone: string; notifyWhatsApp: boolean }): Promise<Operator> {
    return this.json("POST", `/branches/${enc(branchId)}/operators`, op);
  }

  updateOperator(branchId: string, id: string, patch: Partial<{ name: string; phone: string; notifyWhatsApp: boolean }>): Promise<Operator> {
    return this.json("PATCH", `/branches/${enc(branchId)}/operators/${enc(id)}`, patch);
  }

  deleteOperator(branchId: string, id: string): Promise<void> {
    return this.json("DELETE", `/branches/${enc(branchId)}/operators/${enc(id)}`);
  }

  alertSettings(): Promise<AlertSettings> {
    return this.json("GET", "/settings/alerts");
  }

  saveAlertSettings(patch: { renotifyAfterMinutes?: number; escalateAfterMinutes?: number; template?: string | null }): Promise<AlertSettings> {
    return this.json("PATCH", "/settings/alerts", patch);
  }

  handovers(branchId?: string): Promise<{ handovers: Handover[] }> {
    return this.json("GET", `/handovers?limit=50${branchId ? `&branchId=${enc(branchId)}` : ""}`);
  }
}
