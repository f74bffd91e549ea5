import { dayOf } from "../domain/day.js";
import type {
  Binding,
  Branch,
  CrmConnection,
  Customer,
  Dialog,
  InboundPayload,
  Job,
  ManagementEventRecord,
  MessageRecord,
  SeenKey,
  SettingRecord,
  TemplateRecord,
  DailyStatsRecord,
  FlowRecord, // flows (issue 6)
  FlowRun,
  Operator,
  Handover,
  CallCooldown,
  Campaign,
  CampaignRecipient,
} from "../domain/types.js";

/**
 * The repository port. Both implementations (lowdb, PostgreSQL) pass `test/int/store.contract.ts`.
 *
 * Data is a set of document collections with declared secondary indexes; the queue of durable
 * jobs is one of them, with a claim operation that keeps jobs of one `orderKey` strictly in order.
 */
export interface Collections {
  branches: Branch;
  customers: Customer;
  bindings: Binding;
  dialogs: Dialog;
  messages: MessageRecord;
  jobs: Job;
  payloads: InboundPayload;
  managementEvents: ManagementEventRecord;
  seenKeys: SeenKey;
  settings: SettingRecord;
  templates: TemplateRecord;
  dailyStats: DailyStatsRecord;
  crmConnections: CrmConnection;
  // flows and operator alerts (issue 6)
  flows: FlowRecord;
  flowRuns: FlowRun;
  operators: Operator;
  handovers: Handover;
  callCooldowns: CallCooldown;
  campaigns: Campaign;
  campaignRecipients: CampaignRecipient;
}
export type CollectionName = keyof Collections;

/** Secondary indexes per collection: the index name and the value it is keyed by. */
export const INDEXES = {
  branches: { code: (b: Branch) => b.code.toLowerCase(), keyHash: (b: Branch) => b.keyHash },
  customers: { waId: (c: Customer) => c.waId, userId: (c: Customer) => c.userId },
  bindings: { branchId: (b: Binding) => b.current?.branchId },
  dialogs: { branchId: (d: Dialog) => d.branchId, customerId: (d: Dialog) => d.customerId },
  messages: {
    dialogId: (m: MessageRecord) => m.dialogId,
    wamid: (m: MessageRecord) => m.wamid,
    customerId: (m: MessageRecord) => m.customerId,
    /** Inbound messages not yet routed (waiting for the customer's menu choice). */
    heldFor: (m: MessageRecord) => (m.direction === "in" && !m.dialogId ? m.customerId : undefined),
    /** UTC day of outbound templates: who was reached in the last 24 h (the messaging limit). */
    outTemplateDay: (m: MessageRecord) => (m.direction === "out" && m.kind === "template" ? dayOf(m.createdAt) : undefined),
  },
  jobs: { state: (j: Job) => j.state, queue: (j: Job) => j.queue, queueState: (j: Job) => `${j.queue}|${j.state}` },
  payloads: {},
  managementEvents: { field: (e: ManagementEventRecord) => e.field },
  /** UTC day a key was first seen: old days are dropped once Meta can no longer redeliver them. */
  seenKeys: { day: (k: SeenKey) => dayOf(k.at) },
  settings: {},
  templates: { name: (t: TemplateRecord) => t.name, metaId: (t: TemplateRecord) => t.metaId },
  dailyStats: { branchId: (d: DailyStatsRecord) => d.branchId },
  crmConnections: {
    branchId: (c: CrmConnection) => c.branchId,
    /** amoCRM chat channel connection (`{channel_id}_{amojo_id}`): manager replies name it in the URL. */
    scopeId: (c: CrmConnection) => c.refs.scopeId,
  },
  // flows and operator alerts (issue 6)
  flows: {},
  flowRuns: {
    /** The customer's active run (at most one). */
    activeCustomer: (r: FlowRun) => (r.status === "active" ? r.customerId : undefined),
    /** Runs of one flow for one customer: the once-per-period rule. */
    flowCustomer: (r: FlowRun) => `${r.flowId}|${r.customerId}`,
    flowId: (r: FlowRun) => r.flowId,
  },
  operators: { branchId: (o: Operator) => o.branchId },
  handovers: { dialogId: (h: Handover) => h.dialogId, branchId: (h: Handover) => h.branchId },
  callCooldowns: {},
  campaigns: { state: (c: Campaign) => c.state },
  campaignRecipients: { campaignId: (r: CampaignRecipient) => r.campaignId },
} as const satisfies { [K in CollectionName]: Record<string, (row: Collections[K]) => string | undefined> };

export type IndexName<K extends CollectionName> = keyof (typeof INDEXES)[K] & string;

/** Collections of counter rows (`counts: Record<string, number>`), added to with `Tx.bump`. */
export const COUNTER_COLLECTIONS = ["dailyStats"] as const;
export type CounterCollection = (typeof COUNTER_COLLECTIONS)[number];

export interface ClaimOptions {
  queues: string[];
  now: number;
  limit: number;
  leaseMs: number;
  owner: string;
}

export interface Tx {
  get<K extends CollectionName>(collection: K, id: string): Promise<Collections[K] | undefined>;
  /** Insert or replace by `id`. */
  put<K extends CollectionName>(collection: K, row: Collections[K]): Promise<void>;
  /** Insert unless a row with that id exists; true when inserted (dedupe keys, idempotent records). */
  insertIfAbsent<K extends CollectionName>(collection: K, row: Collections[K]): Promise<boolean>;
  delete<K extends CollectionName>(collection: K, id: string): Promise<void>;
  /** Rows whose index value equals `value`, in the order they first got that value (oldest first). */
  byIndex<K extends CollectionName>(collection: K, index: IndexName<K>, value: string, opts?: { limit?: number; newestFirst?: boolean }): Promise<Collections[K][]>;
  countByIndex<K extends CollectionName>(collection: K, index: IndexName<K>, value: string): Promise<number>;
  /** Every row, in insertion order. For small collections (branches, settings) and admin listings. */
  list<K extends CollectionName>(collection: K, opts?: { limit?: number }): Promise<Collections[K][]>;
  /**
   * Leases due pending jobs: at most one per `orderKey`, and only the oldest live job of that key
   * (a job whose predecessor is running or waiting for a retry is not claimable, so per-dialog
   * order holds; a dead-lettered job no longer blocks its successors). Jobs whose lease expired
   * count as pending again.
   */
  claimJobs(opts: ClaimOptions): Promise<Job[]>;
  /** Adds a job, giving it the store's next sequence number. */
  enqueue(job: Omit<Job, "seq">): Promise<Job>;
  /**
   * Adds `add` to the `counts` of row `base.id`, first creating the row from `base` with empty
   * counts when it is absent (its other fields are set only then). Bumps commute: transactions
   * bumping the same row at once never conflict with each other (PostgreSQL keeps their deltas
   * apart), and every read (get, byIndex, list) sees the totals. A `put` of the row replaces them.
   */
  bump<K extends CounterCollection>(collection: K, base: Omit<Collections[K], "counts">, add: Record<string, number>): Promise<void>;
  /**
   * A hint: these rows are about to be read. A store that pays a round trip per read (PostgreSQL)
   * loads them in one; later `get`s in this transaction are answered from it. Optional.
   */
  prefetch?(collection: CollectionName, ids: string[]): Promise<void>;
}

export interface Store {
  readonly kind: "lowdb" | "postgres";
  /** Runs `fn` atomically; resolves once its changes are durable (committed to disk or database). */
  transact<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  /** Reads a consistent view; must not write. */
  read<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  /** False after a failed write (disk full, read-only): `/readyz` reports it. */
  healthy(): boolean;
  /**
   * Runs `fn` holding the lock named `key` across every instance sharing this store (several
   * instances, issue 7). Only stores that several processes share offer it (PostgreSQL); with the
   * embedded store there is one process, and in-process exclusion is enough.
   */
  withLock?<T>(key: string, fn: () => Promise<T>): Promise<T>;
  close(): Promise<void>;
}
