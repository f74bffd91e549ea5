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

async function refreshQueueGauges({ store, metrics }: OpsDeps): Promise<void> {
  const { live, dead } = await store.read(async (tx) => {
    const count = async (state: "pending" | "running" | "dead") => tx.byIndex("jobs", "state", state);
    return { live: [...(await count("pending")), ...(await count("running"))], dead: await count("dead") };
  });
  metrics.queueDepth.reset();
  metrics.deadLetters.reset();
  for (const j of live) metrics.queueDepth.inc({ queue: j.queue });
  for (const j of dead) metrics.deadLetters.inc({ queue: j.queue });
}
