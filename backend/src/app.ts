import { existsSync } from "node:fs";
import { join } from "node:path";
import type { AxiosInstance } from "axios";
import express, { type Express } from "express";
import type { Config } from "./config.js";
import { BranchService } from "./branches/branch.service.js";
import { graphSender } from "./channels/whatsapp/graph.client.js";
import { inboxConnector } from "./crm/inbox/inbox.adapter.js";
import { notYetConnected } from "./crm/pending.adapter.js";
import { defineRegistry, type CrmRegistry } from "./crm/registry.js";
import { webhookConnector } from "./crm/webhook/webhook.adapter.js";
import { EventBus } from "./events/event-bus.js";
import { adminRouter } from "./http/admin.router.js";
import { errorMiddleware } from "./http/error.middleware.js";
import { inboxRouter } from "./http/inbox.router.js";
import { opsRouter } from "./http/ops.router.js";
import { sandboxRouter } from "./http/sandbox.router.js";
import { whatsappWebhookRouter } from "./http/whatsapp-webhook.router.js";
import { deliverHandler } from "./inbound/deliver.worker.js";
import { inboundHandler, type Effect } from "./inbound/inbound.worker.js";
import { JobRunner } from "./jobs/job-runner.js";
import type { Logger } from "./ops/logger.js";
import { createMetrics } from "./ops/metrics.js";
import { sendHandler } from "./outbound/send.worker.js";
import type { WhatsAppSender } from "./outbound/sender.port.js";
import { SandboxPhone } from "./sandbox/sandbox-phone.js";
import { SecretBox } from "./security/secret-box.js";
import type { Store } from "./store/store.port.js";

export interface AppDeps {
  config: Config;
  store: Store;
  logger: Logger;
  http: AxiosInstance;
  adminToken: string;
  secretKey: string;
  /** Verifies Meta's signature: WHATSAPP_APP_SECRET, or the generated sandbox secret. */
  appSecret: string;
  now?: () => number;
  /** Directory holding the built pages (inbox.js, sandbox.js). */
  webDir?: string;
  /** Tests start workers themselves to simulate a crash between the 200 and the routing. */
  startWorkers?: boolean;
}

export interface App {
  express: Express;
  runner: JobRunner;
  bus: EventBus;
  branches: BranchService;
  metrics: ReturnType<typeof createMetrics>;
  sandbox?: SandboxPhone;
  /** Tells the sandbox phone where this process listens (known only after listen). */
  setSelfUrl(url: string): void;
  start(): void;
  stop(): Promise<void>;
}

/** The only place that wires everything together. */
export function createApp(deps: AppDeps): App {
  const { config, store, logger } = deps;
  const now = deps.now ?? Date.now;
  const bus = new EventBus();
  const metrics = createMetrics();
  const box = new SecretBox(deps.secretKey);
  const branches = new BranchService(store, box, now);
  let selfUrl = config.PUBLIC_URL;
  let workersRunning = false;

  const registry: CrmRegistry = defineRegistry({
    inbox: inboxConnector(bus),
    webhook: webhookConnector({ http: deps.http, openSecret: (s) => box.open(s) }),
    amocrm: notYetConnected("amocrm", "amoCRM"),
    bitrix24: notYetConnected("bitrix24", "Bitrix24"),
  });

  const sandbox = config.sandbox ? new SandboxPhone({ store, bus, http: deps.http, appSecret: deps.appSecret, selfUrl: () => selfUrl, now }) : undefined;
  const sender: WhatsAppSender =
    sandbox ??
    graphSender({ http: deps.http, graphUrl: config.WHATSAPP_GRAPH_URL, phoneNumberId: config.WHATSAPP_PHONE_NUMBER_ID!, accessToken: config.WHATSAPP_ACCESS_TOKEN! });

  const routingDefaults = {
    bindingTtlMs: Math.round(config.BINDING_TTL_DAYS * 86_400_000),
    ...(config.CHANGE_BRANCH_PHRASES ? { changeBranchPhrases: config.CHANGE_BRANCH_PHRASES.split(",").map((s) => s.trim()).filter(Boolean) } : {}),
  };

  const runner: JobRunner = new JobRunner({
    store,
    logger,
    now,
    handlers: [
      inboundHandler({
        store,
        logger,
        metrics,
        now,
        phoneNumberId: config.sandbox ? undefined : config.WHATSAPP_PHONE_NUMBER_ID,
        routingDefaults,
        findCrmOwners: async () => [], // no connector of this release has the crmOwnership capability
        afterCommit: (effects) => afterInbound(effects),
      }),
      deliverHandler({ store, registry, metrics, maxAttempts: config.DELIVERY_MAX_ATTEMPTS, backoffMs: config.DELIVERY_BACKOFF_MS }),
      sendHandler({ store, sender, logger, now, afterCommit: () => runner.wake() }),
    ],
  });

  function afterInbound(effects: Effect[]): void {
    if (effects.some((e) => e.type !== "phone.status")) runner.wake();
    for (const e of effects) if (e.type === "phone.status") bus.emit("phone.status", { phone: e.phone, id: e.id, status: e.status });
  }

  const app = express();
  app.disable("x-powered-by");
  app.set("trust proxy", true);
  app.use((_req, res, next) => {
    res.set({ "x-content-type-options": "nosniff", "referrer-policy": "no-referrer" });
    next();
  });
  app.use(opsRouter({ store, metrics, workersRunning: () => workersRunning }));
  app.use(whatsappWebhookRouter({ store, metrics, appSecret: deps.appSecret, verifyToken: config.WHATSAPP_VERIFY_TOKEN, now, onStored: () => runner.wake() }));
  app.use(express.json({ limit: "1mb" }));
  app.use(adminRouter({ store, branches, adminToken: deps.adminToken, routingDefaults, now, onJobsChanged: () => runner.wake() }));
  app.use(inboxRouter({ store, bus, now, onQueued: () => runner.wake() }));
  if (sandbox) app.use(sandboxRouter({ store, bus, phone: sandbox }));
  const webDir = deps.webDir ?? join(process.cwd(), "dist", "web");
  app.use("/assets", express.static(webDir, { fallthrough: true, maxAge: "5m" }));
  app.get("/", (_req, res) => {
    res.redirect(config.sandbox ? "/sandbox" : "/inbox");
  });
  app.use((_req, res) => {
    res.status(404).json({ error: { code: "not_found", message: "no such endpoint" } });
  });
  app.use(errorMiddleware(logger));
  if (!existsSync(webDir)) logger.warn({ webDir }, "web pages are not built; run npm run build");

  return {
    express: app,
    runner,
    bus,
    branches,
    metrics,
    sandbox,
    setSelfUrl: (url) => {
      selfUrl = url;
    },
    start() {
      runner.start();
      workersRunning = true;
    },
    async stop() {
      workersRunning = false;
      await runner.stop();
    },
  };
}
