import { Router } from "express";
import type { Metrics } from "../ops/metrics.js";
import type { Store } from "../store/store.port.js";

export interface OpsDeps {
  store: Store;
  metrics: Metrics;
  workersRunning(): boolean;
  /** Why sending is paused by an account-wide alarm, if it is. */
  senderPaused(): string | undefined;
}

/** Liveness, readiness and Prometheus metrics. */
export function opsRouter(deps: OpsDeps): Router {
  const router = Router();
  router.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });
  router.get("/readyz", (_req, res) => {
    const paused = deps.senderPaused();
    const checks = { store: deps.store.healthy(), workers: deps.workersRunning(), sending: !paused };
    const ready = Object.values(checks).every(Boolean);
    res.status(ready ? 200 : 503).json({ status: ready ? "ready" : "not_ready", checks, ...(paused ? { sendingPaused: paused } : {}) });
  });
  router.get("/metrics", async (_req, res) => {
    await refreshQueueGauges(deps);
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });
  return router;
}

const QUEUES = ["inbound", "deliver", "send", "media"];

/** Counted by index, never by reading the jobs: /metrics stays cheap with a deep backlog. */
async function refreshQueueGauges({ store, metrics }: OpsDeps): Promise<void> {
  await store.read(async (tx) => {
    const count = (queue: string, state: string) => tx.countByIndex("jobs", "queueState", `${queue}|${state}`);
    for (const queue of QUEUES) {
      metrics.queueDepth.set({ queue }, (await count(queue, "pending")) + (await count(queue, "running")));
      metrics.deadLetters.set({ queue }, await count(queue, "dead"));
    }
  });
}
