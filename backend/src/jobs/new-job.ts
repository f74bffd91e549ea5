import { randomUUID } from "node:crypto";
import type { Job } from "../domain/types.js";

/** A fresh pending job, due at `runAt` (default now); `seq` is given by the store on enqueue. */
export function newJob<P>(queue: string, payload: P, now: number, opts: { id?: string; orderKey?: string; branchId?: string; runAt?: number } = {}): Omit<Job<P>, "seq"> {
  return {
    id: opts.id ?? `job_${randomUUID()}`,
    queue,
    ...(opts.orderKey !== undefined ? { orderKey: opts.orderKey } : {}),
    ...(opts.branchId !== undefined ? { branchId: opts.branchId } : {}),
    payload,
    state: "pending",
    attempts: 0,
    runAt: opts.runAt ?? now,
    createdAt: now,
    updatedAt: now,
  };
}
