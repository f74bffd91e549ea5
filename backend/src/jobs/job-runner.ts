import { randomUUID } from "node:crypto";
import { AppError } from "../errors.js";
import type { Job } from "../domain/types.js";
import type { Logger } from "../ops/logger.js";
import type { Store, Tx } from "../store/store.port.js";
import { backoffDelay } from "./backoff.js";

export interface JobContext {
  /** Deletes the job inside the caller's transaction, so the work and its completion commit together. */
  complete(tx: Tx): Promise<void>;
  /** Not ready yet (e.g. waiting for a media download): run again at `runAt`; not counted as an attempt. */
  defer(runAt: number): void;
}

export interface JobHandler {
  queue: string;
  maxAttempts: number;
  backoffMs: number;
  /**
   * Jobs of this queue running at once. CPU-bound work (routing) wants few, so webhooks keep
   * being acknowledged while a backlog drains; I/O-bound work (CRM calls) wants many.
   */
  concurrency: number;
  /** Does the work. Must complete the job (ctx.complete) in the transaction that records the work. */
  run(job: Job, ctx: JobContext): Promise<void>;
}

export interface JobRunnerOptions {
  store: Store;
  logger: Logger;
  handlers: JobHandler[];
  now?: () => number;
  pollMs?: number;
  leaseMs?: number;
  batch?: number;
}

/**
 * Claims due jobs and runs their handlers. A failed run is retried with backoff until
 * `maxAttempts`, then dead-lettered (state `dead`, visible in the admin API, retryable by hand).
 * Errors marked `retryable: false` dead-letter at once.
 */
export class JobRunner {
  private readonly owner = randomUUID();
  private readonly handlers: Map<string, JobHandler>;
  private readonly now: () => number;
  private running = false;
  private loop?: Promise<void>;
  private wakeUp?: () => void;
  /** A wake that arrived while the loop was busy: the next sleep returns at once. */
  private woken = false;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly running_ = new Map<string, number>();

  constructor(private readonly opts: JobRunnerOptions) {
    this.handlers = new Map(opts.handlers.map((h) => [h.queue, h]));
    this.now = opts.now ?? Date.now;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Called after an enqueue so new work starts without waiting for the poll interval. */
  wake(): void {
    if (this.wakeUp) this.wakeUp();
    else this.woken = true;
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake();
    await this.loop;
    await Promise.allSettled([...this.inFlight]);
  }

  private async run(): Promise<void> {
    const { store, logger } = this.opts;
    if (store.kind === "lowdb") await releaseOrphanLeases(store);
    while (this.running) {
      let claimed: Job[] = [];
      try {
        claimed = await store.transact(async (tx) => {
          const out: Job[] = [];
          for (const handler of this.handlers.values()) {
            const free = handler.concurrency - (this.running_.get(handler.queue) ?? 0);
            if (free <= 0) continue;
            const limit = Math.min(free, this.opts.batch ?? 64);
            out.push(...(await tx.claimJobs({ queues: [handler.queue], now: this.now(), limit, leaseMs: this.opts.leaseMs ?? 60_000, owner: this.owner })));
          }
          return out;
        });
      } catch (err) {
        logger.error({ err }, "job claim failed");
      }
      for (const job of claimed) {
        this.running_.set(job.queue, (this.running_.get(job.queue) ?? 0) + 1);
        const p = this.execute(job).finally(() => {
          this.inFlight.delete(p);
          this.running_.set(job.queue, (this.running_.get(job.queue) ?? 1) - 1);
          this.wake();
        });
        this.inFlight.add(p);
      }
      if (claimed.length === 0) await this.sleep(this.opts.pollMs ?? 200);
      // Store operations of the embedded store never wait for I/O: pause so HTTP requests get in.
      else await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  private sleep(ms: number): Promise<void> {
    if (this.woken) {
      this.woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakeUp = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakeUp = done;
    });
  }

  private async execute(job: Job): Promise<void> {
    const handler = this.handlers.get(job.queue)!;
    let deferTo: number | undefined;
    const ctx: JobContext = { complete: (tx) => tx.delete("jobs", job.id), defer: (runAt) => void (deferTo = runAt) };
    try {
      await handler.run(job, ctx);
      if (deferTo !== undefined) await this.postpone(job, deferTo);
    } catch (err) {
      await this.fail(job, handler, err).catch((e) => this.opts.logger.error({ err: e, jobId: job.id }, "could not record job failure"));
    }
  }

  private async postpone(job: Job, runAt: number): Promise<void> {
    await this.opts.store.transact(async (tx) => {
      const current = await tx.get("jobs", job.id);
      if (!current || current.leaseOwner !== this.owner) return;
      await tx.put("jobs", { ...current, state: "pending", runAt, leaseUntil: undefined, leaseOwner: undefined, updatedAt: this.now() });
    });
  }

  private async fail(job: Job, handler: JobHandler, err: unknown): Promise<void> {
    const attempts = job.attempts + 1;
    const retryable = !(err instanceof AppError) || err.retryable;
    const message = describeError(err);
    const dead = !retryable || attempts >= handler.maxAttempts;
    const now = this.now();
    await this.opts.store.transact(async (tx) => {
      const current = await tx.get("jobs", job.id);
      if (!current || current.leaseOwner !== this.owner) return; // finished or taken over meanwhile
      await tx.put("jobs", {
        ...current,
        attempts,
        state: dead ? "dead" : "pending",
        runAt: dead ? current.runAt : now + backoffDelay(attempts, handler.backoffMs),
        leaseUntil: undefined,
        leaseOwner: undefined,
        lastError: message,
        updatedAt: now,
      });
    });
    this.opts.logger.warn({ jobId: job.id, queue: job.queue, attempts, dead, error: message }, dead ? "job dead-lettered" : "job will be retried");
  }
}

/** The embedded store has one process: leases left by a crashed run belong to nobody. */
async function releaseOrphanLeases(store: Store): Promise<void> {
  await store.transact(async (tx) => {
    for (const job of await tx.byIndex("jobs", "state", "running")) {
      await tx.put("jobs", { ...job, state: "pending", leaseUntil: undefined, leaseOwner: undefined });
    }
  });
}

export function describeError(err: unknown): string {
  if (err instanceof AppError) return `${err.code}: ${err.message}`;
  if (err instanceof Error) return err.message;
  return String(err);
}
