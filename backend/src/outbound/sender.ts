import { AppError } from "../errors.js";
import { toGraphMessage, type OutboundContent } from "../channels/whatsapp/graph-payload.js";
import { GraphCallError } from "../channels/whatsapp/graph.client.js";
import type { ErrorClass } from "../channels/whatsapp/graph-errors.js";
import { META_PAIR_RULE, Pacer, newPairState, pairAccepted, pairFreeAt, pairIdle, pairRefused, takePair, type PairRule, type PairState } from "../domain/rate-limits.js";
import type { Job, MessageRecord } from "../domain/types.js";
import { backoffDelay } from "../jobs/backoff.js";
import { describeError } from "../jobs/job-runner.js";
import type { Logger } from "../ops/logger.js";
import type { Metrics } from "../ops/metrics.js";
import type { Store } from "../store/store.port.js";
import { TransactBatcher } from "../store/transact-batcher.js";
import { enqueueDelivery, type InboxNotice } from "../inbound/deliveries.js";
import { SEND_QUEUE, type SendJobPayload } from "./outbox.js";
import { PRIORITIES, SendQueue, type Priority, type SendEntry } from "./send-queue.js";
import type { WhatsAppSender } from "./sender.port.js";

type ErrorKind = ErrorClass["kind"];

/** The queue of stored Meta webhooks (INBOUND_QUEUE of inbound.worker.ts), where status webhooks wait. */
const INBOUND_QUEUE = "inbound";
/**
 * The gate opens at most this often. At high rates the sends due meanwhile go out together, so
 * their intents, their answers and their outcomes each share one transaction and one disk flush
 * (one send per millisecond, each alone in its tick, cost twice the CPU per send).
 */
const GATE_TICK_MS = 10;
/** How often a reconcile waiting for the inbound queue to catch up looks again. */
const RECONCILE_RECHECK_MS = 500;
interface SendFailure {
  kind: ErrorKind;
  alarm?: string;
  unknownOutcome: boolean;
  code: string;
  message: string;
}

export interface SenderOptions {
  store: Store;
  client: WhatsAppSender;
  logger: Logger;
  metrics: Metrics;
  now?: () => number;
  /** WHATSAPP_MPS: sends in any one-second window. */
  mps: number;
  pairRule?: PairRule;
  /** How long a send with an unknown outcome waits for a status webhook before it is sent again. */
  reconcileMs?: number;
  maxAttempts?: number;
  backoffMs?: number;
  /** While paused by an account alarm, one probe send is tried this often. */
  probeMs?: number;
  /** Called after each committed change (wake the connector workers, notify pages). */
  afterCommit(event: { type: "sent" | "failed"; message: MessageRecord; inbox?: InboxNotice }): void;
}

/**
 * The one sender of the shared number. Accepted messages wait in a durable job; this class keeps
 * them in a priority queue and sends each exactly once:
 *
 * 1. the intent is recorded first (`sending`, durable), then Graph is called, then the result;
 * 2. a send whose outcome is unknown (crash, timeout after the request left) is not repeated blindly:
 *    it waits `reconcileMs` for a status webhook (our message id travels as
 *    `biz_opaque_callback_data`) and is sent again only if none came (once every webhook stored
 *    by then has been read);
 * 3. the number never exceeds `mps` in any one-second window where Meta counts, on arrival: a send
 *    holds its slot from before its request is written until one second after its answer (see
 *    `ArrivalWindow`), so no delay between us and Meta can squeeze more than `mps` into a second —
 *    before the HTTP call), and each recipient gets Meta's pair rate (token bucket, 4^X s after 131056);
 * 4. account-wide alarms (token, permission, restriction, quality) pause all sending; `/readyz` and
 *    `/metrics` say why; a probe send is tried every `probeMs`.
 */
export class Sender {
  private queue = new SendQueue();
  private readonly window: ArrivalWindow;
  private readonly pacer: Pacer;
  private readonly pairs = new Map<string, PairState>();
  private readonly pairRule: PairRule;
  private readonly now: () => number;
  private running = false;
  private loopDone?: Promise<void>;
  private wakeUp?: () => void;
  private timer?: NodeJS.Timeout;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly reconcileTimers = new Map<string, NodeJS.Timeout>();
  private pausedReason?: string;
  private pausedUntil = 0;
  /** Messages picked but not yet through the rate gate (their intents recorded or being recorded). */
  private preparing = 0;
  private readonly lookahead: number;
  /** Sends waiting at the gate, one line per priority: a reply prepared last still goes first. */
  private readonly gateLines = new Map<Priority, Array<() => void>>(PRIORITIES.map((p) => [p, []]));
  private gateTimer?: NodeJS.Timeout;
  // Several instances (issue 7): see useLease, release, rescan.
  /** Bumped when sending stops on a lost lease: work begun before must not reach Graph. */
  private generation = 0;
  /** Picked from the queue, intent not yet settled: a rescan must not queue these again. */
  private readonly dispatching = new Set<string>();
  private standbyAdd?: (job: Job) => void;
  /** Intents picked together, and outcomes answered together, commit together. */
  private readonly batched: TransactBatcher;

  constructor(private readonly opts: SenderOptions) {
    this.now = opts.now ?? Date.now;
    this.batched = new TransactBatcher(opts.store);
    // Hard cap: never more than mps arrivals at Meta in any second (ArrivalWindow). The pacer, 0.5 %
    // under the limit with a small burst (late timers are made up), keeps the stream even below it.
    this.window = new ArrivalWindow(opts.mps, 1000);
    this.pacer = new Pacer(opts.mps / 1.005, Math.max(4, Math.floor(opts.mps / 50)), this.now());
    this.pairRule = opts.pairRule ?? META_PAIR_RULE;
    // A fifth of a second of sends in preparation covers an intent commit slowed by a busy disk;
    // a reply picked later still passes them at the gate.
    this.lookahead = Math.max(2, Math.ceil(opts.mps / 5));
  }

  /** Loads every pending send from the store and starts sending. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    const jobs = await this.opts.store.read((tx) => tx.byIndex("jobs", "queue", SEND_QUEUE));
    const messages = await this.opts.store.read(async (tx) => {
      const out = new Map<string, MessageRecord>();
      for (const j of jobs) {
        const m = await tx.get("messages", (j.payload as SendJobPayload).messageId);
        if (m) out.set(m.id, m);
      }
      return out;
    });
    for (const job of jobs) {
      const message = messages.get((job.payload as SendJobPayload).messageId);
      if (message?.status === "sending") this.scheduleReconcile(job, message);
      else this.add(job);
    }
    this.loopDone = this.loop(this.generation);
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake();
    await this.loopDone;
    await Promise.allSettled([...this.inFlight]);
    for (const t of this.reconcileTimers.values()) clearTimeout(t);
    this.reconcileTimers.clear();
  }

  /** A send job was committed (by the outbox): queue it. */
  add(job: Job): void {
    const p = job.payload as SendJobPayload;
    if (job.state === "dead") return;
    if (this.standbyAdd && !this.running) {
      this.standbyAdd(job); // another instance sends: it finds the job in the store
      return;
    }
    const added = this.queue.add({
      jobId: job.id,
      messageId: p.messageId,
      branchId: job.branchId ?? "",
      recipient: p.recipient,
      priority: p.priority,
      runAt: job.runAt,
      seq: job.seq ?? 0,
      enqueuedAt: job.createdAt,
    });
    if (added) this.wake();
  }

  /**
   * Several instances (issue 7): this sender sends only while its instance holds the number's
   * lease (`start` when gained, `release` when lost). Jobs committed meanwhile are left in the
   * store for the holder, and `onStandbyAdd` is told (to nudge the holder).
   */
  useLease(onStandbyAdd: (job: Job) => void): void {
    this.standbyAdd = onStandbyAdd;
  }

  /**
   * The lease is lost: stop at once, without waiting. Sends already past the rate gate finish;
   * those still waiting for it go back to `queued` (or stay `sending`, for the new holder's
   * reconcile, if the store cannot be reached). The in-memory queue is dropped: the store has it.
   */
  release(): void {
    if (!this.running) return;
    this.running = false;
    this.generation++;
    this.queue = new SendQueue();
    for (const t of this.reconcileTimers.values()) clearTimeout(t);
    this.reconcileTimers.clear();
    this.wake();
  }

  /**
   * Several instances: queues the send jobs in the store that this sender does not know yet (other
   * instances committed them and cannot hand them over in-process). Returns how many it queued.
   */
  async rescan(): Promise<number> {
    if (!this.running) return 0;
    const generation = this.generation;
    const known = (id: string) => this.queue.has(id) || this.dispatching.has(id) || this.reconcileTimers.has(id);
    const fresh = await this.opts.store.read(async (tx) => {
      const out: Job[] = [];
      for (const job of await tx.byIndex("jobs", "queue", SEND_QUEUE)) {
        if (known(job.id)) continue;
        const message = await tx.get("messages", (job.payload as SendJobPayload).messageId);
        // `sending` ones belong to a send in flight here, or were found by start (reconcile).
        if (message?.status === "queued") out.push(job);
      }
      return out;
    });
    if (generation !== this.generation || !this.running) return 0;
    let added = 0;
    for (const job of fresh) {
      if (known(job.id)) continue;
      this.add(job);
      added++;
    }
    return added;
  }

  /**
   * Customers' messages reached the number: Meta counts them against the same per-second limit
   * ("inbound + outbound, all message types"), so each holds a slot for a second. Counted when
   * their webhook reaches this instance — later than Meta saw them, which errs towards sending less.
   */
  noteInbound(count: number): void {
    if (count <= 0) return;
    this.window.observe(this.now(), count);
  }

  /** Why sending is paused, if it is. */
  get paused(): string | undefined {
    return this.pausedReason;
  }

  /** Resumes after an account alarm was fixed (admin API). */
  resume(): void {
    this.setPaused(undefined);
    this.wake();
  }

  queued(priority?: "reply" | "automation" | "campaign"): number {
    return priority ? this.queue.sizeOf(priority) : this.queue.size;
  }

  private wake(): void {
    this.wakeUp?.();
  }

  private async loop(generation: number): Promise<void> {
    while (this.running && generation === this.generation) {
      const now = this.now();
      let nextAt = Number.POSITIVE_INFINITY;
      const pausedWait = this.pausedReason ? this.pausedUntil - now : 0;
      if (pausedWait > 0) {
        nextAt = this.pausedUntil;
      } else if (this.preparing < this.lookahead && this.inFlight.size < this.opts.mps * 4 + 8) {
        const picked = this.queue.pick(now, (r) => this.recipientFreeAt(r, now));
        if (picked.entry) {
          if (this.pausedReason) this.pausedUntil = now + (this.opts.probeMs ?? 60_000); // one probe per interval
          this.dispatch(picked.entry);
          continue;
        }
        nextAt = picked.nextAt;
      }
      await this.sleep(Number.isFinite(nextAt) ? Math.max(1, nextAt - now) : 1000);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(this.timer);
        this.wakeUp = undefined;
        resolve();
      };
      this.timer = setTimeout(done, ms);
      this.wakeUp = done;
    });
  }

  private recipientFreeAt(recipient: string, now: number): number {
    const s = this.pairs.get(recipient);
    return s ? pairFreeAt(s, this.pairRule, now) : now;
  }

  private pairOf(recipient: string, now: number): PairState {
    let s = this.pairs.get(recipient);
    if (!s) this.pairs.set(recipient, (s = newPairState(this.pairRule, now)));
    return s;
  }

  private dispatch(entry: SendEntry): void {
    const now = this.now();
    takePair(this.pairOf(entry.recipient, now), this.pairRule, now);
    this.preparing++;
    this.dispatching.add(entry.jobId);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.preparing--;
      this.wake();
    };
    const p = this.send(entry, release)
      .catch((err) => this.opts.logger.error({ err, messageId: entry.messageId }, "send bookkeeping failed; will retry"))
      .finally(() => {
        release();
        this.dispatching.delete(entry.jobId);
        this.inFlight.delete(p);
        this.wake();
      });
    this.inFlight.add(p);
  }

  private async send(entry: SendEntry, release: () => void): Promise<void> {
    const generation = this.generation;
    // 1. Record the intent durably; a message that is no longer queued is done.
    const intent = await this.batched.run(async (tx) => {
      const message = await tx.get("messages", entry.messageId);
      const customer = message ? await tx.get("customers", message.customerId) : undefined;
      if (!message || !customer || message.status !== "queued") {
        await tx.delete("jobs", entry.jobId);
        return undefined;
      }
      const now = this.now();
      const sending: MessageRecord = { ...message, status: "sending", sendingSince: now, sendAttempts: (message.sendAttempts ?? 0) + 1, updatedAt: now };
      await tx.put("messages", sending);
      return { message: sending, customer };
    }, [["messages", entry.messageId], ["customers", entry.recipient]]);
    if (!intent) return;
    const content = (intent.message.outbound as OutboundContent | undefined) ?? { kind: "text", text: intent.message.text ?? "" };
    const payload = toGraphMessage({ waId: intent.customer.waId, userId: intent.customer.userId }, content, { callbackData: intent.message.id, replyTo: intent.message.contextWamid });

    // 2. Wait for a slot in the number's one-second window, then call Graph.
    await this.gate(entry.priority);
    release();
    if (generation !== this.generation) {
      this.window.untake();
      this.pumpGate();
      await this.abandon(entry); // the lease went to another instance while this one waited
      return;
    }
    const waitS = (this.now() - entry.enqueuedAt) / 1000;
    this.opts.metrics.sendWait.observe({ priority: entry.priority }, Math.max(0, waitS));
    let wamid: string | undefined;
    let failure: SendFailure | undefined;
    try {
      ({ wamid } = await this.opts.client.send(payload));
    } catch (err) {
      failure = toFailure(err);
    }
    // Answered (or given up on): the request reached Meta by now, if ever.
    this.window.done(this.now());
    this.pumpGate();

    // 3. Record the outcome.
    if (!failure) {
      pairAccepted(this.pairOf(entry.recipient, this.now()));
      if (this.pausedReason) this.setPaused(undefined);
      this.opts.metrics.sends.inc({ priority: entry.priority, outcome: "sent" });
      await this.finish(entry, (m) => ({ ...m, wamid, status: m.status === "sending" ? "sent" : m.status }));
      return;
    }
    this.opts.metrics.sends.inc({ priority: entry.priority, outcome: failure.kind });
    await this.handleFailure(entry, intent.message, failure);
  }

  /**
   * Resolves when both the pacer and the one-second window have room: higher priorities first,
   * first come first served within one. One timer serves every line (each waiter polling its own
   * timer cost more CPU than the sends).
   */
  private gate(priority: Priority): Promise<void> {
    return new Promise<void>((resolve) => {
      this.gateLines.get(priority)!.push(resolve);
      this.pumpGate();
    });
  }

  private nextAtGate(): Array<() => void> | undefined {
    for (const line of this.gateLines.values()) if (line.length > 0) return line;
    return undefined;
  }

  private pumpGate(): void {
    if (this.gateTimer) return;
    for (let line = this.nextAtGate(); line; line = this.nextAtGate()) {
      const now = this.now();
      const freeAt = Math.max(this.window.freeAt(now), this.pacer.freeAt(now));
      // Every slot held by a send still in flight: its answer pumps the line again.
      if (freeAt === Number.POSITIVE_INFINITY) return;
      if (freeAt > now || !this.pacer.tryTake(now) || !this.window.tryTake(now)) {
        this.gateTimer = setTimeout(() => {
          this.gateTimer = undefined;
          this.pumpGate();
        }, Math.max(GATE_TICK_MS, freeAt - now));
        return;
      }
      line.shift()!();
    }
  }

  private async handleFailure(entry: SendEntry, message: MessageRecord, f: SendFailure): Promise<void> {
    const now = this.now();
    const attempts = message.sendAttempts ?? 1;
    this.opts.logger.warn({ messageId: entry.messageId, kind: f.kind, code: f.code, attempts }, "send refused");
    if (f.unknownOutcome) {
      // Meta may have accepted it: wait for a status webhook before sending again.
      const job = await this.opts.store.read((tx) => tx.get("jobs", entry.jobId));
      if (job) this.scheduleReconcile(job, message);
      return;
    }
    switch (f.kind) {
      case "pair_rate": {
        const wait = pairRefused(this.pairOf(entry.recipient, now), now);
        await this.requeue(entry, now + wait, false);
        return;
      }
      case "account_alarm":
        this.setPaused(`${f.alarm ?? "account"}: ${f.message}`);
        this.pausedUntil = now + (this.opts.probeMs ?? 60_000);
        await this.requeue(entry, now, false);
        return;
      case "transient":
        if (attempts < (this.opts.maxAttempts ?? 10)) {
          await this.requeue(entry, now + backoffDelay(attempts, this.opts.backoffMs ?? 1000), true);
          return;
        }
        break;
      default:
        break;
    }
    const code = f.kind === "needs_template" ? "window_closed" : f.code;
    await this.finish(entry, (m) => ({ ...m, status: "failed", error: { code, message: f.message } }));
  }

  /** A send that never left: back to `queued` for whoever sends now (not counted as an attempt). */
  private async abandon(entry: SendEntry): Promise<void> {
    await this.opts.store.transact(async (tx) => {
      const m = await tx.get("messages", entry.messageId);
      if (m?.status === "sending") await tx.put("messages", { ...m, status: "queued", sendAttempts: Math.max(0, (m.sendAttempts ?? 1) - 1), updatedAt: this.now() });
    });
  }

  /** Back to `queued` (durably) and into the queue at `runAt`. */
  private async requeue(entry: SendEntry, runAt: number, countAttempt: boolean): Promise<void> {
    await this.opts.store.transact(async (tx) => {
      const m = await tx.get("messages", entry.messageId);
      if (m?.status === "sending") await tx.put("messages", { ...m, status: "queued", sendAttempts: countAttempt ? m.sendAttempts : Math.max(0, (m.sendAttempts ?? 1) - 1), updatedAt: this.now() });
      const job = await tx.get("jobs", entry.jobId);
      if (job) await tx.put("jobs", { ...job, runAt, attempts: job.attempts + (countAttempt ? 1 : 0), updatedAt: this.now() });
    });
    if (!this.running) return; // stopped or lease lost: the store has it
    this.queue.add({ ...entry, runAt });
    this.wake();
  }

  /** Applies the final state, tells the branch's connector, completes the job — one transaction. */
  private async finish(entry: SendEntry, change: (m: MessageRecord) => MessageRecord): Promise<void> {
    const done = await this.batched.run(async (tx) => {
      const current = await tx.get("messages", entry.messageId);
      await tx.delete("jobs", entry.jobId);
      if (!current) return undefined;
      const now = this.now();
      const next = { ...change(current), updatedAt: now };
      await tx.put("messages", next);
      let inbox: InboxNotice | undefined;
      if (next.dialogId && next.branchId && next.status !== current.status) {
        const queued = await enqueueDelivery(tx, { type: "status", branchId: next.branchId, dialogId: next.dialogId, messageId: next.id, status: next.status, at: now }, now);
        if (!queued) inbox = { kind: "status", branchId: next.branchId, dialogId: next.dialogId, messageId: next.id, status: next.status, error: next.error };
      }
      return { next, inbox };
    }, [["messages", entry.messageId], ["branches", entry.branchId]]);
    this.gcPairs();
    if (done) this.opts.afterCommit({ type: done.next.status === "failed" ? "failed" : "sent", message: done.next, inbox: done.inbox });
  }

  private scheduleReconcile(job: Job, message: Pick<MessageRecord, "sendingSince">): void {
    if (this.reconcileTimers.has(job.id) || !this.running) return;
    const at = (message.sendingSince ?? this.now()) + (this.opts.reconcileMs ?? 120_000);
    const timer = setTimeout(() => {
      this.reconcileTimers.delete(job.id);
      void this.reconcile(job).catch((err) => this.opts.logger.error({ err, jobId: job.id }, "reconcile failed"));
    }, Math.max(0, at - this.now()));
    timer.unref();
    this.reconcileTimers.set(job.id, timer);
  }

  /** No status came for a send of unknown outcome: Meta never took it, so send it again. */
  private async reconcile(job: Job): Promise<void> {
    const outcome = await this.opts.store.transact(async (tx): Promise<"send" | "settled" | "wait"> => {
      const m = await tx.get("messages", (job.payload as SendJobPayload).messageId);
      // Several instances: a previous holder gave the send back before it left; just send it.
      if (m?.status === "queued") return "send";
      if (!m || m.status !== "sending") {
        await tx.delete("jobs", job.id); // a status webhook settled it
        return "settled";
      }
      // A status webhook that came in time may still wait in the inbound queue (a backlog, or an
      // instance that stored it and died): decide only once every body stored by the deadline is read.
      const deadline = (m.sendingSince ?? 0) + (this.opts.reconcileMs ?? 120_000);
      for (const state of ["pending", "running"]) {
        const [oldest] = await tx.byIndex("jobs", "queueState", `${INBOUND_QUEUE}|${state}`, { limit: 1 });
        if (oldest && oldest.createdAt <= deadline) return "wait";
      }
      await tx.put("messages", { ...m, status: "queued", updatedAt: this.now() });
      return "send";
    });
    if (outcome === "wait") {
      this.scheduleReconcile(job, { sendingSince: this.now() - (this.opts.reconcileMs ?? 120_000) + RECONCILE_RECHECK_MS });
    } else if (outcome === "send") {
      this.opts.logger.warn({ messageId: (job.payload as SendJobPayload).messageId }, "no status for a send of unknown outcome; sending again");
      this.add({ ...job, runAt: this.now() });
    }
  }


  private setPaused(reason: string | undefined): void {
    if (reason === this.pausedReason) return;
    this.pausedReason = reason;
    this.opts.metrics.senderPaused.reset();
    if (reason) {
      this.opts.metrics.senderPaused.set({ reason: reason.split(":")[0]! }, 1);
      this.opts.logger.error({ reason }, "sending paused by an account-wide alarm");
    } else {
      this.pausedUntil = 0;
      this.opts.logger.info("sending resumed");
    }
  }

  /** Pair states of recipients that are fully rested carry no information. */
  private gcPairs(): void {
    if (this.pairs.size < 10_000) return;
    const now = this.now();
    for (const [k, s] of this.pairs) if (pairIdle(s, this.pairRule, now)) this.pairs.delete(k);
  }
}

/**
 * The number's cap as Meta sees it: at most `limit` requests *arriving* in any `windowMs`. We never
 * see the arrival, only that it lies between taking the slot and the answer; so a send holds its
 * slot from the take (in flight) until `windowMs` after its answer. Then whatever delays the write
 * (a busy event loop, a new connection, the network), no window at Meta can hold more than `limit`:
 * the last send taken into such a window was taken after the others' arrivals began, and each of
 * them was either in flight or answered less than `windowMs` before. The price is one round trip
 * per slot (a little throughput at long round trips), not a guessed margin.
 */
class ArrivalWindow {
  private inFlight = 0;
  /** Answer times of finished sends, oldest first, while they still hold a slot. */
  private readonly answered: number[] = [];
  private head = 0;

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
  ) {}

  /** When a slot frees: now, a time, or +Infinity when every slot waits for an answer. */
  freeAt(now: number): number {
    this.expire(now);
    const held = this.inFlight + this.answered.length - this.head;
    if (held < this.limit) return now;
    const k = held - this.limit; // this many answered slots must expire first
    const at = this.answered[this.head + k];
    return at === undefined ? Number.POSITIVE_INFINITY : at + this.windowMs;
  }

  tryTake(now: number): boolean {
    if (this.freeAt(now) > now) return false;
    this.inFlight++;
    return true;
  }

  /** The request was answered (or failed) at `now`. */
  done(now: number): void {
    this.inFlight--;
    this.answered.push(now);
  }

  /** `count` arrivals we did not send (customers' messages), at `now`: each holds a slot for a window. */
  observe(now: number, count: number): void {
    for (let i = 0; i < count; i++) this.answered.push(now);
  }

  /** A slot taken for a request that was never written. */
  untake(): void {
    this.inFlight--;
  }

  private expire(now: number): void {
    while (this.head < this.answered.length && this.answered[this.head]! + this.windowMs <= now) this.head++;
    if (this.head > 1024 && this.head * 2 > this.answered.length) {
      this.answered.splice(0, this.head);
      this.head = 0;
    }
  }
}

/** Graph refusals carry Meta's classification; other senders' errors (the sandbox) only `retryable`. */
function toFailure(err: unknown): SendFailure {
  if (err instanceof GraphCallError) {
    const cls = err.errorClass;
    return { kind: cls.kind, alarm: cls.kind === "account_alarm" ? cls.alarm : undefined, unknownOutcome: err.unknownOutcome, code: err.code, message: err.message };
  }
  const appErr = err instanceof AppError ? err : undefined;
  return {
    kind: appErr && !appErr.retryable ? "terminal" : "transient",
    unknownOutcome: false,
    code: appErr?.code ?? "send_failed",
    message: appErr?.message ?? describeError(err),
  };
}
