import { createHash } from "node:crypto";
import type { InboundMessage, ParsedWebhook, StatusUpdate } from "../channels/whatsapp/webhook.types.js";
import { eventKeyForMessage, parseMetaWebhook } from "../channels/whatsapp/webhook.parse.js";
import { routeMessage, type PreparedBranches, type RoutingDecision, type RoutingSettings } from "../domain/routing.js";
import type { Customer, Job, MessageRecord } from "../domain/types.js";
import type { JobHandler } from "../jobs/job-runner.js";
import type { Logger } from "../ops/logger.js";
import type { Metrics } from "../ops/metrics.js";
import type { Store, Tx } from "../store/store.port.js";
import { queueOutbound, touchDialog } from "../outbound/outbox.js";
import { bindCustomer, ensureDialog, unbindCustomer } from "./bindings.js";
import { applyIdentityChange, setMarketingOptOut, upsertCustomer } from "./customers.js";
import { recordAccountEvents } from "./account-events.js";
import { applyStatus, type StatusEffect } from "./statuses.js";
import { optChangeOf } from "../domain/opt-out.js";
import { bumpDailyStats } from "../stats/daily-stats.js";
import { enqueueDelivery, type InboxNotice } from "./deliveries.js";
import { enqueueMediaDownload } from "./media.worker.js";
import { loadRoutingSettings } from "./routing-settings.js";
import { preparedBranchesCache } from "./routing-branches.js";
import { windowState } from "../domain/window.js";
import type { FlowRunner } from "../flows/flow.runner.js"; // flows (issue 6)

export const INBOUND_QUEUE = "inbound";

export interface InboundDeps {
  store: Store;
  logger: Logger;
  metrics: Metrics;
  now: () => number;
  /** Our number: payloads for another phone_number_id are kept but not routed. Unset = accept any. */
  phoneNumberId?: string;
  routingDefaults: Partial<RoutingSettings>;
  /** Whole-message words with which a customer leaves or rejoins marketing messages. */
  optWords: { optOut: string[]; optIn: string[] };
  /** Branch ids whose CRM already knows this phone (connectors with the crmOwnership capability). */
  findCrmOwners(customer: Customer): Promise<string[]>;
  /** Called after the transaction commits, to wake workers and notify live pages. */
  afterCommit(effects: Effect[]): void;
  /** Flows (issue 6): a customer's answer to a run waiting in the routed branch (see processMessage). */
  flows?: Pick<FlowRunner, "onInbound">;
}

export type Effect = StatusEffect | { type: "send"; job: Job } | { type: "templates" } | { type: "media" } | { type: "inbox"; notice: InboxNotice };

/**
 * Processes one stored webhook body: every message is routed and bound and its delivery queued,
 * every status applied, every other field recorded, and the job completed. Each event commits
 * together with its dedupe key, so after a crash at any point a re-run skips what was done and
 * every event is processed exactly once.
 */
export function inboundHandler(deps: InboundDeps): JobHandler {
  const turns = new TurnTaking();
  const prepare = preparedBranchesCache();
  return {
    queue: INBOUND_QUEUE,
    maxAttempts: 20,
    backoffMs: 500,
    concurrency: 4,
    async run(job, ctx) {
      const { payloadId } = job.payload as { payloadId: string };
      const payload = await deps.store.read((tx) => tx.get("payloads", payloadId));
      let parsed: ParsedWebhook | undefined;
      if (payload) {
        try {
          parsed = parseMetaWebhook(JSON.parse(payload.raw));
        } catch (err) {
          deps.logger.warn({ err, payloadId }, "stored webhook body is not JSON; dropped");
        }
      }
      // CRM ownership needs the CRMs' APIs: ask before the transaction, never inside it.
      const owners = new Map<string, string[]>();
      for (const m of parsed?.messages ?? []) {
        const probe: Customer = { id: "", waId: m.customer.waId, userId: m.customer.userId, aliases: [], createdAt: 0, updatedAt: 0 };
        owners.set(m.wamid, await deps.findCrmOwners(probe).catch(() => []));
      }
      // A body may hold 1,000 events: they are processed in small transactions with a pause for
      // I/O between them, so acknowledgements of new webhooks never wait behind a big batch. Each
      // event's dedupe key commits with its effects, so a crash between chunks re-runs the body
      // and skips what was done: every event is still processed exactly once.
      const items: Array<{ message: InboundMessage } | { status: StatusUpdate }> = [
        ...(parsed?.messages ?? []).map((message) => ({ message })),
        ...(parsed?.statuses ?? []).map((status) => ({ status })),
      ];
      const processChunk = async (tx: Tx, chunk: typeof items, now: number): Promise<ChunkResult> => {
        // Fresh per attempt: a store that retries the transaction (PostgreSQL) runs this again.
        const result: ChunkResult = { fx: [], routed: [] };
        if (chunk.some((it) => "message" in it)) {
          const settings = await loadRoutingSettings(tx, deps.routingDefaults);
          // Read in this transaction, prepared for routing only when a branch changed.
          const branches = prepare(await tx.list("branches"));
          for (const it of chunk) if ("message" in it) await processMessage(tx, it.message, { ...deps, settings, branches, owners: owners.get(it.message.wamid) ?? [], now, fx: result.fx, routed: result.routed });
        }
        for (const it of chunk) if ("status" in it) result.fx.push(...(await applyStatus(tx, it.status, now)));
        return result;
      };
      for (let i = 0; i < items.length || i === 0; i += CHUNK) {
        const chunk = items.slice(i, i + CHUNK);
        const last = i + CHUNK >= items.length;
        // CPU-bound: one chunk per turn of the event loop, across all jobs, so HTTP gets in between.
        // The turn ends when the transaction's work is done, not when it is durable (and also if
        // the store refuses the transaction before running it).
        // On PostgreSQL the body mostly waits for the database: turns would serialise those waits.
        const leave = deps.store.kind === "lowdb" ? await turns.enter() : () => undefined;
        let done: ChunkResult;
        try {
          done = await deps.store.transact(async (tx) => {
            try {
              const result = await processChunk(tx, chunk, deps.now());
              if (last) {
                if (parsed && (await recordAccountEvents(tx, parsed, payloadId, deps.now())).templatesChanged) result.fx.push({ type: "templates" });
                await tx.delete("payloads", payloadId);
                await ctx.complete(tx);
              }
              return result;
            } finally {
              leave();
            }
          });
        } finally {
          leave();
        }
        // Counted once the routing is committed: never for an attempt that was rolled back or retried.
        for (const rule of done.routed) deps.metrics.inboundMessages.inc({ rule });
        deps.afterCommit(done.fx);
      }
      if (parsed && parsed.problems.length > 0) deps.logger.warn({ payloadId, problems: parsed.problems.slice(0, 20) }, "webhook body had parts we could not read");
    },
  };
}

interface ChunkResult {
  fx: Effect[];
  /** The rule (or `unroutable`) of each message routed in the chunk, for the metric. */
  routed: string[];
}

/** Events per transaction when a webhook body is processed. */
const CHUNK = 8;

/**
 * Takes turns on the event loop: each holder starts in a fresh loop iteration (after I/O) and the
 * next one waits until it leaves. Concurrent jobs otherwise wake from the same commit together and
 * run their chunks back to back.
 */
class TurnTaking {
  private tail: Promise<void> = Promise.resolve();

  enter(): Promise<() => void> {
    let leave!: () => void;
    const left = new Promise<void>((resolve) => (leave = resolve));
    const previous = this.tail;
    this.tail = previous.then(() => left);
    return previous.then(() => new Promise<() => void>((resolve) => setImmediate(() => resolve(leave))));
  }
}

interface MessageCtx extends Omit<InboundDeps, "now"> {
  settings: RoutingSettings;
  branches: PreparedBranches;
  owners: string[];
  now: number;
  fx: Effect[];
  routed: string[];
}

async function processMessage(tx: Tx, m: InboundMessage, c: MessageCtx): Promise<void> {
  if (!(await tx.insertIfAbsent("seenKeys", { id: eventKeyForMessage(m), at: c.now }))) return;
  if (c.phoneNumberId && m.phoneNumberId && m.phoneNumberId !== c.phoneNumberId) {
    c.logger.warn({ phoneNumberId: m.phoneNumberId }, "message for another phone number ignored");
    return;
  }
  let customer = await upsertCustomer(tx, m.customer, c.now);
  if (!customer) {
    c.logger.warn({ wamid: m.wamid }, "message without sender identity ignored");
    return;
  }
  if (m.content.kind === "system" && (m.content.newWaId || m.content.newUserId)) {
    customer = await applyIdentityChange(tx, customer, m.content, c.now);
  }
  const sentAt = m.timestamp ?? c.now;
  const opt = optChangeOf(m.kind === "text" ? m.text : undefined, c.optWords);
  if (opt) {
    await setMarketingOptOut(tx, customer, opt === "opt_out", "stop_word", sentAt);
    customer = (await tx.get("customers", customer.id)) ?? customer;
  }
  if (m.kind !== "system" && m.kind !== "reaction" && sentAt > (customer.lastInboundAt ?? 0)) {
    customer = { ...customer, lastInboundAt: sentAt };
    await tx.put("customers", customer);
  }

  const binding = await tx.get("bindings", customer.id);
  const contextBranchId = m.context?.messageId ? (await tx.byIndex("messages", "wamid", m.context.messageId))[0]?.branchId : undefined;
  const decision = routeMessage({
    now: c.now,
    message: {
      text: m.text,
      contextMessageId: m.context?.messageId,
      referralSourceId: m.referral?.sourceId,
      interactiveReplyId: m.content.kind === "interactive" ? m.content.id : undefined,
      buttonPayload: m.content.kind === "button" ? m.content.payload : undefined,
    },
    branches: c.branches,
    // A message replayed after an outage may be older than the 24-hour window: no menu can be
    // sent for it, so it goes down the ladder to HQ instead of waiting for an answer.
    settings: windowState(sentAt, c.now).open ? c.settings : { ...c.settings, menuEnabled: false },
    binding: binding?.current,
    contextBranchId,
    crmOwners: c.owners,
    awaitingMenu: binding?.awaitingMenuSince !== undefined,
  });
  c.routed.push(decision.kind === "unroutable" ? "unroutable" : decision.rule);

  const message: MessageRecord = {
    id: `in_${createHash("sha256").update(m.wamid).digest("base64url").slice(0, 22)}`,
    direction: "in",
    customerId: customer.id,
    wamid: m.wamid,
    kind: m.kind,
    text: m.text,
    media: "mediaId" in m.content ? { mediaId: m.content.mediaId, mimeType: m.content.mimeType, sha256: m.content.sha256, filename: m.content.filename, caption: m.content.caption } : undefined,
    status: "received",
    routing: decision.kind === "unroutable" ? undefined : { rule: decision.rule, reason: decision.reason },
    contextWamid: m.context?.messageId,
    sentAt,
    createdAt: c.now,
    updatedAt: c.now,
    inboundJson: JSON.stringify(m),
  };

  if (decision.kind === "route") {
    await routeTo(tx, customer, message, decision, c);
    // Flows (issue 6): a flow run of the routed branch waiting for this customer's answer takes the
    // message as its answer, in this same transaction. The message stays an ordinary message: it
    // was stored and its CRM delivery queued above. Flow sends go to the sender; timers and HTTP
    // calls are jobs ("delivery" wakes the job runner).
    const flowFx = c.flows ? await c.flows.onInbound(tx, { customer, branchId: decision.branchId, text: m.text, replyId: m.content.kind === "interactive" ? m.content.id : m.content.kind === "button" ? m.content.payload : undefined, optedOut: opt === "opt_out", now: c.now }) : undefined;
    if (flowFx) c.fx.push(...flowFx.sends.map((job) => ({ type: "send" as const, job })), ...(flowFx.wake ? [{ type: "delivery" as const }] : []));
  } else {
    // Held until the customer picks a branch (menu) or HQ picks it up (unroutable).
    await tx.put("messages", message);
    if (decision.kind === "ask") await askMenu(tx, customer, decision, c);
    else c.logger.warn({ customerId: customer.id }, "no enabled branch: message held unrouted");
  }
  // Meta's media URL lives minutes and the id days: fetch the file now, whoever ends up reading it.
  if (message.media?.mediaId) {
    await enqueueMediaDownload(tx, message.id, c.now);
    c.fx.push({ type: "media" });
  }
}

async function routeTo(tx: Tx, customer: Customer, message: MessageRecord, decision: Extract<RoutingDecision, { kind: "route" }>, c: MessageCtx): Promise<void> {
  const routing = { rule: decision.rule, reason: decision.reason };
  const dialog = await ensureDialog(tx, decision.branchId, customer.id, c.now, routing);
  if (decision.bind) await bindCustomer(tx, customer.id, { branchId: decision.branchId, rule: decision.rule, reason: decision.reason, now: c.now });
  // Messages held while the menu was open go first, in the order they came.
  const held = await tx.byIndex("messages", "heldFor", customer.id);
  for (const m of [...held, message]) {
    const routed: MessageRecord = { ...m, dialogId: dialog.id, branchId: decision.branchId, routing: m === message ? routing : { ...routing, reason: `${routing.reason} (sent before the choice)` } };
    await tx.put("messages", routed);
    await bumpDailyStats(tx, decision.branchId, routed.sentAt, { inbound: 1 });
    await touchDialog(tx, dialog.id, routed.id, c.now, 1);
    if (!(await enqueueDelivery(tx, { type: "message", branchId: decision.branchId, dialogId: dialog.id, messageId: routed.id }, c.now))) {
      c.fx.push({ type: "inbox", notice: { kind: "message", branchId: decision.branchId, dialogId: dialog.id, message: routed } });
    }
  }
  c.fx.push({ type: "delivery" });
}

async function askMenu(tx: Tx, customer: Customer, decision: Extract<RoutingDecision, { kind: "ask" }>, c: MessageCtx): Promise<void> {
  if (decision.rule === "change_request") await unbindCustomer(tx, customer.id, c.now, "the customer asked to change branch");
  if (!windowState(customer.lastInboundAt, c.now).open) {
    c.logger.warn({ customerId: customer.id }, "stale change request: the window is closed, no menu sent");
    return;
  }
  const binding = (await tx.get("bindings", customer.id)) ?? { id: customer.id, history: [] };
  await tx.put("bindings", { ...binding, awaitingMenuSince: c.now });
  const { menu } = decision;
  const { job } = await queueOutbound(tx, { customer, content: { kind: "list", body: menu.body, button: menu.button, sections: menu.sections }, origin: "menu", now: c.now });
  c.fx.push({ type: "send", job });
}
