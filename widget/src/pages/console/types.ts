// Wire types of the admin API as the console reads them. Optional fields may be absent.
// Where the backend has a type for a wire shape it is used as is: type-only imports, nothing of the backend reaches the bundle.
import type { CampaignProgress, CampaignView } from "../../../../backend/src/campaigns/campaign-progress.js";
import type { ImportReport } from "../../../../backend/src/campaigns/campaign.service.js";
import type { CampaignDisplayState, LimitCheck, QuietHoursRule } from "../../../../backend/src/domain/campaign-rules.js";
import type { FlowProblem } from "../../../../backend/src/domain/flows/flow-check.js";
import type { AlertNotification, CallEvent, CallTriggerSettings, CampaignImportError, CrmKind, Handover, Operator } from "../../../../backend/src/domain/types.js";
import type { PublicBranch } from "../../../../backend/src/branches/branch.service.js";
import type { BranchHealth, CrmConnectionHealth } from "../../../../backend/src/stats/analytics.js";

export type { BranchHealth, CrmConnectionHealth, CrmKind, PublicBranch };

/** In the order the create form offers them. */
export const CRM_KINDS: readonly CrmKind[] = ["inbox", "amocrm", "bitrix24", "webhook"];

export interface BranchForm {
  name: string;
  code: string;
  crm: CrmKind;
  webhookUrl?: string;
  keywords?: string[];
  city?: string;
  isHq?: boolean;
}

export interface CreatedBranch {
  id: string;
  code: string;
  name: string;
  crm: CrmKind;
  apiKey: string;
  webhookSecret?: string;
}

export interface BranchHealthResponse {
  window: "24h" | "7d";
  since: number;
  branches: BranchHealth[];
}

export interface RoutingSettings {
  bindingTtlMs: number;
  changeBranchPhrases: string[];
  menuEnabled: boolean;
  menuThreshold: number;
  menuLang?: "ru" | "en" | "auto";
}

export interface RoutingTestInput {
  from: string;
  text?: string;
  referralSourceId?: string;
  contextWamid?: string;
  interactiveReplyId?: string;
}

export interface RoutingTestResult {
  decision: {
    kind: "route" | "ask" | "unroutable";
    rule: string | null;
    branchId: string | null;
    branchName: string | null;
    bind: boolean;
    reason: string;
    describe: { en: string; ru: string };
    menu?: { body: string; sections: { title: string; rows: { id: string; title: string }[] }[] };
  };
  customer: { id: string | null; known: boolean };
  binding: { branchId: string; rule: string; boundAt: number; lastActivityAt: number } | null;
  crmOwnersChecked: boolean;
}

export interface Template {
  id: string;
  name: string;
  language: string;
  status: string;
  category: string;
  qualityScore?: string;
  parameterFormat: "POSITIONAL" | "NAMED";
  rejectedReason?: string;
  /** The backend's reading of the components: placeholders of the header and the body. */
  description?: { header?: { format: string; params: string[] }; body?: { text: string; params: string[] }; unsupported?: string[] };
  components: unknown[];
}

export interface DeadLetter {
  id: string;
  queue: string;
  branchId?: string;
  attempts: number;
  lastError?: string;
  createdAt: number;
  failedAt: number;
}

export interface AnalyticsRow {
  date: string;
  branch_id: string;
  branch_code: string;
  branch_name: string;
  [metric: string]: string | number | null;
}

export interface AnalyticsResponse {
  from: string;
  to: string;
  columns: string[];
  rows: AnalyticsRow[];
  byDay: Array<{ date: string } & Record<string, number | null>>;
  totals: Record<string, number | null>;
}


export type { AlertNotification, CallEvent, CampaignProgress, FlowProblem, Handover, ImportReport, Operator };
export type CallTrigger = CallTriggerSettings;
export type QuietHours = QuietHoursRule;
export type CampaignState = CampaignDisplayState;
export type ImportError = CampaignImportError;
export type MessagingLimit = LimitCheck;
/** `GET /campaigns/:id` adds the import errors to the list's view. */
export type Campaign = CampaignView & { importErrors?: ImportError[] };

export interface CampaignInput {
  name: string;
  template: { name: string; language: string };
  branchIds: string[];
  csv: string;
  schedule?: { startAt?: number; quietHours?: QuietHours };
}

export interface CampaignRecipient {
  phone: string;
  branchId: string;
  line: number | null;
  index: number | null;
  state: "pending" | "queued" | "skipped";
  skipReason: string | null;
  messageId: string | null;
  status: "queued" | "sent" | "delivered" | "read" | "failed" | null;
  wamid: string | null;
  error: { code: string; message: string } | null;
}

export interface RecipientsPage {
  total: number;
  offset: number;
  items: CampaignRecipient[];
}

// ── flows ──

export interface FlowSummary {
  id: string;
  name: string;
  description?: string;
  enabled: boolean;
  version: number;
  example?: string;
  steps: number;
  oncePerDays: number | null;
  updatedAt: number;
}

export interface FlowRecord {
  id: string;
  definition: Record<string, unknown>;
  enabled: boolean;
  version: number;
}

export interface FlowCheckResult {
  ok: boolean;
  problems: FlowProblem[];
  warnings: FlowProblem[];
}

export interface FlowRun {
  id: string;
  flowId: string;
  customerId: string;
  branchId: string;
  status: string;
  outcome: string | null;
  error: string | null;
  stepId: string | null;
  waiting: { kind: string; stepId: string; until?: number } | null;
  startedAt: number;
  updatedAt: number;
  endedAt: number | null;
}

// ── operators and alerts ──

export interface AlertSettings {
  renotifyAfterMinutes: number;
  escalateAfterMinutes: number;
  /** `name:language`, or null when there is none. */
  template: string | null;
}

