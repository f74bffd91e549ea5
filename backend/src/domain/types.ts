import type { RuleName } from "./routing.js";
import type { FlowDefinition } from "./flows/flow.schema.js"; // flows (issue 6)
import type { FlowOutcome, FlowState, HttpRequestSpec } from "./flows/flow-engine.js"; // flows (issue 6)

/**
 * Records the store keeps. Plain JSON-able objects: both stores persist them as documents.
 * Times are epoch milliseconds.
 */

export type CrmKind = "amocrm" | "bitrix24" | "webhook" | "inbox";
export const CRM_KINDS: readonly CrmKind[] = ["amocrm", "bitrix24", "webhook", "inbox"];

export interface Branch {
  id: string;
  name: string;
  /** Short code customers may type or get in a wa.me link (unique, case-insensitive). */
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
  /** AES-GCM sealed webhook secret (see crypto/secret-box). */
  webhookSecretSealed?: string;
  /** scrypt-free: SHA-256 of a 256-bit random key is enough (keys are not guessable passwords). */
  keyHash: string;
  /** Optional cap on messages the branch may send per day (UTC); unset = no cap. */
  dailyQuota?: number;
  /** Template sent to callers when the branch's phone system reports a call (POST /api/v1/calls). */
  callTrigger?: CallTriggerSettings;
  /** First characters of the key, to tell keys apart in the console without revealing them. */
  keyPrefix: string;
  createdAt: number;
  updatedAt: number;
  disabledAt?: number;
}

export interface Customer {
  /** BSUID when Meta sent one, else `wa:<wa_id>` (see channels/whatsapp customerKey). */
  id: string;
  waId?: string;
  userId?: string;
  parentUserId?: string;
  name?: string;
  username?: string;
  /** Ids this customer was known by before a merge or a number change. */
  aliases: string[];
  /** Epoch ms of the last message from the customer (opens the 24-hour window). */
  lastInboundAt?: number;
  /** Set while the customer refuses marketing messages (stop word or Meta's user_preferences). */
  marketingOptOut?: { at: number; source: "stop_word" | "user_preferences" };
  createdAt: number;
  updatedAt: number;
}

/** The ladder's rules, plus the two ways staff bind a customer: writing first, and transferring. */
export type RoutingRule = RuleName | "outbound" | "transfer";

export interface BindingEntry {
  branchId: string;
  rule: RoutingRule;
  reason: string;
  boundAt: number;
  endedAt?: number;
  endReason?: string;
}

/** The customer's current branch plus every earlier one (history is append-only). */
export interface Binding {
  id: string; // = customer id
  current?: BindingEntry & { lastActivityAt: number };
  /** The menu was sent and we wait for the customer's choice. */
  awaitingMenuSince?: number;
  history: BindingEntry[];
}

export interface Dialog {
  id: string; // `${branchId}:${customerId}`
  branchId: string;
  customerId: string;
  createdAt: number;
  updatedAt: number;
  lastMessageId?: string;
  unread: number;
  routing?: { rule: RoutingRule; reason: string };
  /** Connector-owned references (amoCRM chat ids, Bitrix24 chat ids…). */
  crmRefs?: Record<string, string>;
}

/** `sending`: the send was recorded as started; its outcome is unknown until Meta answers or a status arrives. */
export type MessageStatus = "received" | "queued" | "sending" | "sent" | "delivered" | "read" | "played" | "failed";

export interface MessageMedia {
  mediaId?: string;
  mimeType?: string;
  sha256?: string;
  filename?: string;
  caption?: string;
  /** Stored file name under DATA_DIR/media once downloaded. */
  file?: string;
  /** Sandbox/outbound: a URL the UI may show directly. */
  url?: string;
  /** Inbound download: `stored` once the file is on disk, `failed` when it never will be. */
  status?: "stored" | "failed";
  /** Bytes of the stored file. */
  size?: number;
  error?: { code: string; message: string };
}

export interface MessageRecord {
  id: string;
  direction: "in" | "out";
  /** Dialog it belongs to; empty while an inbound message waits for the customer's menu choice. */
  dialogId?: string;
  branchId?: string;
  customerId: string;
  wamid?: string;
  kind: string;
  text?: string;
  media?: MessageMedia;
  /** What we send, channel-shaped (OutboundContent: text, list, buttons, template, media…). */
  outbound?: unknown;
  template?: { name: string; language: string; category?: string; params?: unknown };
  status: MessageStatus;
  error?: { code: string; message: string };
  routing?: { rule: RoutingRule; reason: string };
  contextWamid?: string;
  /** Meta timestamp (inbound) or our accept time (outbound). */
  sentAt: number;
  createdAt: number;
  updatedAt: number;
  /**
   * The normalised inbound message as parsed, as JSON (kept whole: nothing Meta sent is lost).
   * A string, because rows are copied on every read and a string copies for almost nothing.
   */
  inboundJson?: string;
  /** Who produced an outbound message: reply, menu, automation, campaign… */
  origin?: string;
  /** When the current send attempt was recorded as started (status `sending`). */
  sendingSince?: number;
  sendAttempts?: number;
  /**
   * Connector-owned references: amoCRM's id of a manager's message (`amoMsgId`), the Salesbot
   * `return_url` waiting for this message's outcome, whether the chat already shows it…
   */
  crmRefs?: Record<string, string>;
  /** Pricing of the delivered message as Meta reported it (statuses webhook). */
  pricing?: { category?: string; type?: string; billable?: boolean; pricingModel?: string };
}

export type JobState = "pending" | "running" | "dead";

export interface Job<P = unknown> {
  id: string;
  queue: string;
  /** Jobs with the same orderKey run one at a time, in creation order. */
  orderKey?: string;
  branchId?: string;
  payload: P;
  state: JobState;
  attempts: number;
  runAt: number;
  leaseUntil?: number;
  leaseOwner?: string;
  lastError?: string;
  createdAt: number;
  updatedAt: number;
  /** Monotonic creation sequence, set by the store. */
  seq?: number;
}

/** A webhook body exactly as received, kept until its job has processed it. */
export interface InboundPayload {
  id: string; // sha256 of the raw bytes: an identical redelivery is the same record
  source: "whatsapp";
  raw: string;
  receivedAt: number;
}

/** Non-message webhook fields (templates, quality, account…) and value-level errors, kept for later issues. */
export interface ManagementEventRecord {
  id: string;
  field: string;
  wabaId?: string;
  receivedAt: number;
  value: unknown;
}

export interface SeenKey {
  id: string; // e.g. msg:<wamid>, idem:<branch>:<key hash>
  at: number;
  /** What the key produced (an idempotent request's message id). */
  ref?: string;
}

export interface SettingRecord {
  id: string;
  value: unknown;
}

/** A message template as synced from the business account. Id: `<name>|<language>`. */
export interface TemplateRecord {
  id: string;
  metaId?: string;
  name: string;
  language: string;
  /** APPROVED, PENDING, REJECTED, PAUSED, DISABLED, … — only APPROVED can be sent. */
  status: string;
  /** MARKETING, UTILITY, AUTHENTICATION. */
  category: string;
  parameterFormat: "POSITIONAL" | "NAMED";
  /** Meta's component definitions, as listed by the Graph API. */
  components: unknown[];
  qualityScore?: string;
  rejectedReason?: string;
  syncedAt: number;
  updatedAt: number;
}

/** Per-branch, per-day counters (analytics and cost reports). Id: `<branchId>|<YYYY-MM-DD>`. */
export interface DailyStatsRecord {
  id: string;
  branchId: string;
  day: string;
  counts: Record<string, number>;
}

/** Tokens of one CRM account (both CRMs rotate the refresh token on every refresh). */
export interface OAuthTokens {
  accessToken: string;
  refreshToken: string;
  /** Epoch ms when the access token stops working. */
  expiresAt: number;
}

/**
 * One CRM account that installed our integration: an amoCRM account or a Bitrix24 portal.
 * Id: `<kind>:<account>`. Kept when the account disconnects, so a reinstall picks its data up again.
 */
export interface CrmConnection {
  id: string;
  kind: "amocrm" | "bitrix24";
  /** amoCRM numeric `account_id`, Bitrix24 `member_id`. */
  account: string;
  /** API host, e.g. `branch.amocrm.ru` or `branch.bitrix24.ru` (no scheme). */
  domain: string;
  /** The branch this account is bound to (set by the widget's register call). */
  branchId?: string;
  state: "installing" | "connected" | "disconnected";
  /** SecretBox-sealed JSON of `OAuthTokens`. */
  tokensSealed?: string;
  /** Connector-owned references: amoCRM `amojoId`, `scopeId`; Bitrix24 ids. Never secrets. */
  refs: Record<string, string>;
  /** Connector-owned sealed secrets (Bitrix24 application token…), SecretBox-sealed. */
  secretsSealed?: Record<string, string>;
  lastError?: { code: string; message: string; at: number };
  createdAt: number;
  updatedAt: number;
  disconnectedAt?: number;
}

// ───────────────────────── call trigger and campaigns (campaigns/, triggers/) ─────────────────────────

export type CallEvent = "incoming" | "missed";

/** A branch's call trigger: which approved template goes to a caller, for which call events. */
export interface CallTriggerSettings {
  template: string;
  language: string;
  /** The template's body parameters, the same for every caller. */
  params?: string[];
  /** A caller gets at most one call-trigger message per this many hours, across the whole network. */
  cooldownHours: number;
  events: CallEvent[];
}

/** The last call-trigger message a caller got from the network. Id: the caller's wa_id. */
export interface CallCooldown {
  id: string;
  customerId: string;
  branchId: string;
  messageId: string;
  event: CallEvent;
  at: number;
  /** No further call-trigger message to this caller before this time. */
  until: number;
}

export type CampaignState = "scheduled" | "running" | "paused" | "done" | "cancelled";

export interface CampaignSchedule {
  startAt?: number;
  quietHours?: { from: string; to: string; timezone: string };
}

/** A row that was not imported or will not be sent, by its line (CSV) or index (JSON array). */
export interface CampaignImportError {
  line?: number;
  index?: number;
  code: string;
  reason: string;
}

/** One template sent to a list of customers, fed to the outbox in batches by the campaign worker. */
export interface Campaign {
  id: string;
  name: string;
  template: { name: string; language: string; category: string; header?: unknown; buttons?: unknown };
  branchIds: string[];
  schedule: CampaignSchedule;
  state: CampaignState;
  /** Rows given (CSV data rows or array items), good or bad. */
  total: number;
  /** Recipient records created (seq 0 … recipients-1). */
  recipients: number;
  /** Rows skipped at import, by reason (invalid_phone, duplicate, opted_out…). */
  importSkipped: Record<string, number>;
  /** The first rows that were refused, with the reason (capped). */
  importErrors: CampaignImportError[];
  /** Next recipient seq to hand to the outbox. */
  cursor: number;
  /** First seq of the recipients handed over that may still wait in the outbox. */
  batchStart: number;
  lastError?: { code: string; message: string; at: number };
  createdAt: number;
  updatedAt: number;
  startedAt?: number;
  pausedAt?: number;
  finishedAt?: number;
  cancelledAt?: number;
}

/** One customer of a campaign. Id: `<campaignId>:<seq, 7 digits>`. */
export interface CampaignRecipient {
  id: string;
  campaignId: string;
  seq: number;
  /** E.164 with `+`. */
  phone: string;
  branchId: string;
  params?: unknown;
  line?: number;
  index?: number;
  state: "pending" | "queued" | "skipped";
  skipReason?: string;
  skipMessage?: string;
  messageId?: string;
  queuedAt?: number;
}

// ───────────────────────── flows and operator alerts (domain/flows/, flows/, alerts/) ─────────────────────────

/** A flow definition saved through the admin API (JSON checked by domain/flows/flow-check). */
export interface FlowRecord {
  id: string;
  definition: FlowDefinition;
  enabled: boolean;
  /** Bumped on every change; a run keeps the version (and definition) it started with. */
  version: number;
  /** Installed from a shipped example (`nps`). */
  example?: string;
  createdAt: number;
  updatedAt: number;
}

/** One customer going through one flow. Id: `run_<uuid>`. */
export interface FlowRun {
  id: string;
  flowId: string;
  flowVersion: number;
  /** The definition as it was at start: edits apply to new runs only. */
  definition: FlowDefinition;
  customerId: string;
  branchId: string;
  dialogId: string;
  status: "active" | "done" | "failed";
  state: FlowState;
  /** The durable timer of the current answer wait (deleted when the answer comes). */
  timerJobId?: string;
  /** The call the current http step waits for. */
  pendingHttp?: HttpRequestSpec;
  startedBy: "admin" | "branch";
  outcome?: FlowOutcome;
  error?: string;
  /** Outbound messages the run queued, oldest first (capped). */
  messageIds: string[];
  startedAt: number;
  updatedAt: number;
  endedAt?: number;
}

/** A branch's operator: a person who may be called to a dialog on their own WhatsApp. */
export interface Operator {
  id: string;
  branchId: string;
  name: string;
  /** E.164 with `+`. */
  phone: string;
  notifyWhatsApp: boolean;
  createdAt: number;
  updatedAt: number;
}

export type AlertStage = "notified" | "renotified" | "escalated";

/** One alert message to one operator. */
export interface AlertNotification {
  operatorId: string;
  branchId: string;
  phone: string;
  stage: AlertStage;
  at: number;
  /** `text` inside the operator's 24-hour window, `template` outside it, `none` when neither could go. */
  via: "text" | "template" | "none";
  messageId?: string;
  error?: string;
}

/** A dialog handed over to people (a flow's handover step or the API). Id: `ho_<uuid>`. */
export interface Handover {
  id: string;
  branchId: string;
  dialogId: string;
  customerId: string;
  reason: string;
  source: "flow" | "admin" | "branch";
  flowRunId?: string;
  at: number;
  /** `waiting` until the branch writes in the dialog; `unanswered` when every stage went by. */
  state: "waiting" | "answered" | "unanswered";
  stage: AlertStage;
  answeredAt?: number;
  /** The pending re-notify/escalate timer. */
  timerJobId?: string;
  notifications: AlertNotification[];
  updatedAt: number;
}
