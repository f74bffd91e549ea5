// Wire types of the admin API as the console reads them. Optional fields may be absent.

export type CrmKind = "amocrm" | "bitrix24" | "webhook" | "inbox";
export const CRM_KINDS: readonly CrmKind[] = ["inbox", "amocrm", "bitrix24", "webhook"];

export interface PublicBranch {
  id: string;
  name: string;
  code: string;
  crm: CrmKind;
  enabled: boolean;
  isHq: boolean;
  city?: string;
  keywords: string[];
  adSourceIds: string[];
  menuOrder?: number;
  menuTitle?: string;
  webhookUrl?: string;
  dailyQuota?: number;
  keyPrefix: string;
  createdAt: number;
  updatedAt: number;
}

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

export interface CrmConnectionHealth {
  kind: "amocrm" | "bitrix24";
  domain: string;
  state: "installing" | "connected" | "disconnected";
  lastError?: { code: string; message: string; at: number };
  updatedAt: number;
}

export interface BranchHealth {
  id: string;
  name: string;
  code: string;
  crm: CrmKind;
  enabled: boolean;
  isHq: boolean;
  city?: string;
  keyPrefix: string;
  lastInboundAt: number | null;
  lastOutboundAt: number | null;
  lastDeliveredAt: number | null;
  deliveries: { total: number; failed: number; retrying: number; errorRate: number | null } | null;
  deadLetters: number;
  crmConnections: CrmConnectionHealth[];
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
