import type { Job } from "../domain/types.js";
import type { Logger } from "../ops/logger.js";
import type { Store } from "../store/store.port.js";
import type { ClusterSession } from "./cluster-session.js";

export interface JobReaperOptions {
  store: Store;
  session: ClusterSession;
  logger: Logger;
  now: () => number;
  /** Job-runner owner ids of this process (their liveness locks are held by our own session). */
  ownOwners: ReadonlySet<string>;
  /** Called after jobs were released, so the runner claims them without waiting for its poll. */
  onReleased(): void;
  intervalMs?: number;
}

/** The lock an instance holds while its job runner may hold leases under `owner`. */
export const livenessLock = (owner: string) => `runner:${owner}`;

/**
 * Gives the running jobs of dead instances back at once. A job runner's lease lasts a minute, so a
 * killed instance would otherwise block its jobs — and every later job of the same dialog — for
 * that long. Each instance holds the liveness lock of its runner's owner id on its session
 * connection before it claims anything (`PgStore.guardClaims`); a lock nobody holds means its
 * owner's connection has ended (process killed, or cut off from the database), so its running
 * jobs go back to pending. A job released from an instance that was only cut off may run twice,
 * as after an expired lease: handlers are idempotent by design (CRM deliveries carry event ids).
 */
export class JobReaper {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;

  constructor(private readonly opts: JobReaperOptions) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.reap()
        .then(() => undefined)
        .catch((err) => this.opts.logger.warn({ err }, "looking for jobs of dead instances failed"))
        .finally(() => (this.running = undefined));
    }, this.opts.intervalMs ?? 1000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** One pass: releases the running jobs of owners whose liveness lock is free; returns how many. */
  async reap(): Promise<number> {
    const now = this.opts.now();
    const running = await this.opts.store.read((tx) => tx.byIndex("jobs", "state", "running"));
    const owners = new Set<string>();
    for (const job of running) {
      // An expired lease is claimable anyway.
      if (job.leaseOwner && !this.opts.ownOwners.has(job.leaseOwner) && (job.leaseUntil ?? 0) > now) owners.add(job.leaseOwner);
    }
    const dead = new Set<string>();
    for (const owner of owners) if (await this.opts.session.isFree(livenessLock(owner))) dead.add(owner);
    if (dead.size === 0) return 0;
    const released = await this.opts.store.transact(async (tx) => {
      let n = 0;
      for (const job of running) {
        if (!job.leaseOwner || !dead.has(job.leaseOwner)) continue;
        const current = await tx.get("jobs", job.id);
        if (current?.state !== "running" || current.leaseOwner !== job.leaseOwner) continue;
        const next: Job = { ...current, state: "pending", leaseUntil: undefined, leaseOwner: undefined, updatedAt: this.opts.now() };
        await tx.put("jobs", next);
        n++;
      }
      return n;
    });
    if (released > 0) {
      this.opts.logger.warn({ released, owners: dead.size }, "released the running jobs of a stopped instance");
      this.opts.onReleased();
    }
    return released;
  }
}
