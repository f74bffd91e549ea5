import { createHmac } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { AxiosInstance } from "axios";
import express, { type Express } from "express";
import type { Config } from "./config.js";
import { AppError } from "./errors.js";
import { BranchService } from "./branches/branch.service.js";
import { createGraphClient, type GraphClient } from "./channels/whatsapp/graph.client.js";
import { amoConnector } from "./crm/amocrm/amocrm.adapter.js";
import { AmoKit } from "./crm/amocrm/amocrm.kit.js";
import { refreshTokens as refreshAmoTokens } from "./crm/amocrm/amocrm.oauth.js";
import { RequestGate } from "./crm/amocrm/request-gate.js";
import { OAuthTokenManager } from "./crm/oauth-tokens.js";
import { installHandlers } from "./crm-apps/amocrm/install.worker.js";
import { AmoPanelService } from "./crm-apps/amocrm/panel.service.js";
import { salesbotHandler } from "./crm-apps/amocrm/salesbot.worker.js";
import { inboxConnector } from "./crm/inbox/inbox.adapter.js";
import { defineRegistry, type CrmRegistry } from "./crm/registry.js";
import { webhookConnector } from "./crm/webhook/webhook.adapter.js";
import { DEFAULT_OPT_IN_WORDS, DEFAULT_OPT_OUT_WORDS } from "./domain/opt-out.js";
import type { Job } from "./domain/types.js";
import { EventBus } from "./events/event-bus.js";
import { adminRouter } from "./http/admin.router.js";
import { amocrmRouter } from "./http/amocrm.router.js";
import { branchApiRouter } from "./http/branch-api.router.js";
import { consoleRouter } from "./http/console.router.js";
import { errorMiddleware } from "./http/error.middleware.js";
import { inboxRouter } from "./http/inbox.router.js";
import { mediaRouter, signMediaUrl } from "./http/media.router.js";
import { opsRouter } from "./http/ops.router.js";
import { sandboxRouter } from "./http/sandbox.router.js";
import { whatsappWebhookRouter } from "./http/whatsapp-webhook.router.js";
import { crmOwnersFinder } from "./inbound/crm-owners.js";
import { deliverHandler } from "./inbound/deliver.worker.js";
import { inboundHandler, type Effect } from "./inbound/inbound.worker.js";
import type { InboxNotice } from "./inbound/deliveries.js";
import { mediaHandler, type MediaSource } from "./inbound/media.worker.js";
import { JobRunner } from "./jobs/job-runner.js";
import type { Logger } from "./ops/logger.js";
import { createMetrics } from "./ops/metrics.js";
import { dropOldSeenKeys } from "./ops/retention.js";
import { Sender } from "./outbound/sender.js";
import type { WhatsAppSender } from "./outbound/sender.port.js";
import { demoTemplates, syncTemplates } from "./outbound/template-sync.js";
import { SandboxPhone } from "./sandbox/sandbox-phone.js";
import { SecretBox } from "./security/secret-box.js";
import type { Store } from "./store/store.port.js";
// ── several instances (issue 7) ──
import { clusterFor } from "./cluster/cluster.js";
// ── security (issue 7) ──
import { adminRateLimit } from "./http/rate-limit.js";
import { securityHeaders } from "./http/security.middleware.js";
// ── flows and operator alerts (issue 6) ──
import { AlertService } from "./alerts/alerts.service.js";
import { parseTemplateRef } from "./alerts/alert-settings.js";
import type { WorkEffects } from "./flows/effects.js";
import { FlowRunner } from "./flows/flow.runner.js";
import { flowsRouter } from "./http/flows.router.js";
// ── call trigger and campaigns ──
import { CampaignService } from "./campaigns/campaign.service.js";
import { campaignHandler } from "./campaigns/campaign.worker.js";
import { campaignBatchSize } from "./domain/campaign-rules.js";
import { callsRouter } from "./http/calls.router.js";
import { campaignsRouter } from "./http/campaigns.router.js";
// ── Bitrix24 connector (issue 5) ──
import { bitrix24Connector } from "./crm/bitrix24/bitrix24.adapter.js";
import { B24Kit } from "./crm/bitrix24/bitrix24.kit.js";
import { DEFAULT_CONNECTOR_ID } from "./crm/bitrix24/imconnector-mapping.js";
import { LeakyBucket } from "./crm/bitrix24/leaky-bucket.js";
import { B24PanelService } from "./crm-apps/bitrix24/panel.service.js";
import { enqueueRobotSync, robotHandler, robotSyncHandler } from "./crm-apps/bitrix24/robot.worker.js";
import { bitrix24Router } from "./http/bitrix24.router.js";

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
}

export interface App {
  express: Express;
  runner: JobRunner;
  sender: Sender;
  bus: EventBus;
  branches: BranchService;
  metrics: ReturnType<typeof createMetrics>;
  sandbox?: SandboxPhone;
  /** Tells the sandbox phone where this process listens (known only after listen). */
  setSelfUrl(url: string): void;
  /** Pulls every template of the business account (production) or seeds the demo ones (sandbox). */
  syncTemplates(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

const MEDIA_LINK_TTL_MS = 7 * 24 * 60 * 60 * 1000;
const TEMPLATE_RESYNC_DEBOUNCE_MS = 30_000;

/** The only place that wires everything together. */
export function createApp(deps: AppDeps): App {
  const { config, store, logger } = deps;
  const now = deps.now ?? Date.now;
  const bus = new EventBus();
  const metrics = createMetrics();
  const box = new SecretBox(deps.secretKey);
  const branches = new BranchService(store, box, now);
  // Media links are signed with a key of their own, derived from SECRET_KEY.
  const mediaSecret = createHmac("sha256", deps.secretKey).update("media-links").digest("base64url");
  let selfUrl = config.PUBLIC_URL;
  let workersRunning = false;

  const tokens: OAuthTokenManager = new OAuthTokenManager({
    store,
    box,
    now,
    logger,
    refreshers: {
      amocrm: (connection, refreshToken) => refreshAmoTokens(amoKit.oauth(), connection.domain, refreshToken),
      bitrix24: (connection, refreshToken) => b24Kit.refresher()(connection, refreshToken), // Bitrix24 (issue 5)
    },
  });
  const amoKit = new AmoKit({
    settings: {
      clientId: config.AMOCRM_CLIENT_ID,
      clientSecret: config.AMOCRM_CLIENT_SECRET,
      redirectUri: config.AMOCRM_REDIRECT_URI,
      publicUrl: config.PUBLIC_URL,
      scheme: config.AMOCRM_SCHEME,
      amojoUrl: config.AMOJO_URL,
      channelId: config.AMOJO_CHANNEL_ID,
      channelSecret: config.AMOJO_CHANNEL_SECRET,
      botId: config.AMOJO_BOT_ID,
    },
    store,
    http: deps.http,
    tokens,
    gate: new RequestGate({ perSecond: 7 }),
    now,
  });

  // ── Bitrix24 connector (issue 5): one kit per process; the portal's leaky bucket is shared by every caller ──
  const b24Kit = new B24Kit({
    settings: {
      clientId: config.BITRIX24_CLIENT_ID,
      clientSecret: config.BITRIX24_CLIENT_SECRET,
      publicUrl: config.PUBLIC_URL,
      oauthUrl: config.BITRIX24_OAUTH_URL,
      connectorId: DEFAULT_CONNECTOR_ID,
      frameOrigins: config.BITRIX24_FRAME_ORIGINS ? splitList(config.BITRIX24_FRAME_ORIGINS) : [],
    },
    store,
    http: deps.http,
    tokens,
    box,
    bucket: new LeakyBucket({ ratePerSecond: 2, burst: 50 }),
    now,
  });

  const registry: CrmRegistry = defineRegistry({
    inbox: inboxConnector(bus),
    webhook: webhookConnector({ openSecret: (s) => box.open(s) }),
    amocrm: amoConnector({ kit: amoKit, store, now }),
    bitrix24: bitrix24Connector({ kit: b24Kit, store, now }), // Bitrix24 (issue 5)
  });

  const sandbox = config.sandbox ? new SandboxPhone({ store, bus, http: deps.http, appSecret: deps.appSecret, selfUrl: () => selfUrl, now }) : undefined;
  const graph: GraphClient | undefined = sandbox
    ? undefined
    : createGraphClient({ http: deps.http, graphUrl: config.WHATSAPP_GRAPH_URL, phoneNumberId: config.WHATSAPP_PHONE_NUMBER_ID!, wabaId: config.WHATSAPP_WABA_ID, accessToken: config.WHATSAPP_ACCESS_TOKEN! });
  const client: WhatsAppSender = sandbox ?? graph!;
  const media: MediaSource = graph ?? {
    getMediaUrl: async () => {
      throw new AppError({ code: "sandbox_no_media", message: "the sandbox phone sends no media", retryable: false });
    },
    downloadMedia: async () => {
      throw new AppError({ code: "sandbox_no_media", message: "the sandbox phone sends no media", retryable: false });
    },
  };
  const mediaUrl = (base: string, messageId: string) => signMediaUrl(base, mediaSecret, messageId, now() + MEDIA_LINK_TTL_MS);

  const routingDefaults = {
    bindingTtlMs: Math.round(config.BINDING_TTL_DAYS * 86_400_000),
    ...(config.CHANGE_BRANCH_PHRASES ? { changeBranchPhrases: splitList(config.CHANGE_BRANCH_PHRASES) } : {}),
  };

  // ── call trigger and campaigns: the campaign worker is a job handler; routers mounted below ──
  const campaignJobs = campaignHandler({ store, now, logger, batchSize: campaignBatchSize(config.WHATSAPP_MPS), onQueued: (job) => queued(job) });
  const campaigns = new CampaignService({ store, now, messagingLimit: config.WHATSAPP_MESSAGING_LIMIT === "unlimited" ? null : config.WHATSAPP_MESSAGING_LIMIT, wake: () => runner.wake() });

  // ── flows and operator alerts (issue 6): runs, durable timers and HTTP calls; alerts on handover ──
  const alertDefaults = {
    renotifyAfterMinutes: config.ALERT_RENOTIFY_MINUTES,
    escalateAfterMinutes: config.ALERT_ESCALATE_MINUTES,
    ...(config.ALERT_TEMPLATE ? { template: parseTemplateRef(config.ALERT_TEMPLATE) } : {}),
  };
  const afterWork = (fx: WorkEffects) => {
    for (const job of fx.sends) queued(job);
    if (fx.wake) runner.wake();
  };
  const alerts = new AlertService({ store, logger, now, publicUrl: config.PUBLIC_URL, defaults: alertDefaults, afterCommit: afterWork });
  const flows = new FlowRunner({ store, logger, now, http: deps.http, afterCommit: afterWork, handover: async (tx, req, at) => (await alerts.handover(tx, req, at)).fx });

  // One finder (and one cache of CRM answers) for the routing worker and the console's tester.
  const findCrmOwners = crmOwnersFinder({ store, registry, logger, now, bindingTtlMs: routingDefaults.bindingTtlMs });

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
        optWords: {
          optOut: config.OPT_OUT_WORDS ? splitList(config.OPT_OUT_WORDS) : DEFAULT_OPT_OUT_WORDS,
          optIn: config.OPT_IN_WORDS ? splitList(config.OPT_IN_WORDS) : DEFAULT_OPT_IN_WORDS,
        },
        findCrmOwners,
        afterCommit: (effects) => afterInbound(effects),
        flows, // flows (issue 6)
      }),
      deliverHandler({ store, registry, metrics, now, maxAttempts: config.DELIVERY_MAX_ATTEMPTS, backoffMs: config.DELIVERY_BACKOFF_MS, mediaUrl: (id) => mediaUrl(config.PUBLIC_URL, id) }),
      mediaHandler({ store, dataDir: config.DATA_DIR, graph: media, now, logger }),
      ...installHandlers({ kit: amoKit, store, box, tokens, logger, now }),
      salesbotHandler({ kit: amoKit, store, now, logger, onQueued: (job) => queued(job) }),
      robotHandler({ kit: b24Kit, store, now, logger, onQueued: (job) => queued(job) }), // Bitrix24 robot (issue 5)
      robotSyncHandler({ kit: b24Kit, store }), // Bitrix24 robot's template list (issue 5)
      campaignJobs, // call trigger and campaigns
      flows.handler(), // flows (issue 6)
      alerts.handler(), // operator alerts (issue 6)
    ],
  });

  const outbound = new Sender({
    store,
    client,
    logger,
    metrics,
    now,
    mps: config.WHATSAPP_MPS,
    pairRule: { intervalMs: 6000, burst: config.WHATSAPP_PAIR_BURST },
    reconcileMs: config.SEND_RECONCILE_SECONDS * 1000,
    afterCommit: (e) => {
      if (e.inbox) notifyInbox(e.inbox);
      runner.wake();
    },
  });
  const queued = (job: Job) => outbound.add(job);
  // ── several instances (issue 7): on PostgreSQL, one sender per number across instances (lease),
  // send jobs of other instances picked up, running jobs of dead instances released ──
  const cluster = clusterFor({ store, sender: outbound, wake: () => runner.wake(), logger, now, number: config.WHATSAPP_PHONE_NUMBER_ID ?? "sandbox" });

  async function refreshTemplates(): Promise<void> {
    if (graph) {
      const result = await syncTemplates({ store, list: () => graph.listTemplates(), now, logger });
      logger.info(result, "templates synced");
      // Bitrix24 (issue 5): every connected portal's robot gets the current template list.
      if ((await enqueueRobotSync(store, now())) > 0) runner.wake();
    } else {
      await store.transact(async (tx) => {
        if ((await tx.list("templates", { limit: 1 })).length > 0) return;
        for (const t of demoTemplates(now())) await tx.put("templates", t);
      });
    }
  }
  let resyncTimer: NodeJS.Timeout | undefined;
  let retentionTimer: NodeJS.Timeout | undefined;
  const runRetention = () =>
    void dropOldSeenKeys(store, now())
      .then((n) => n > 0 && logger.info({ dropped: n }, "old dedupe keys dropped"))
      .catch((err) => logger.warn({ err }, "retention run failed"));
  function scheduleTemplateResync(): void {
    if (resyncTimer || !graph) return;
    resyncTimer = setTimeout(() => {
      resyncTimer = undefined;
      void refreshTemplates().catch((err) => logger.warn({ err }, "template re-sync failed"));
    }, TEMPLATE_RESYNC_DEBOUNCE_MS);
    resyncTimer.unref();
  }

  function afterInbound(effects: Effect[]): void {
    if (effects.some((e) => e.type === "delivery" || e.type === "media")) runner.wake();
    for (const e of effects) {
      if (e.type === "send") queued(e.job);
      else if (e.type === "phone.status") bus.emit("phone.status", { phone: e.phone, id: e.id, status: e.status });
      else if (e.type === "templates") scheduleTemplateResync();
      else if (e.type === "inbox") notifyInbox(e.notice);
    }
  }

  function notifyInbox(n: InboxNotice): void {
    if (n.kind === "message") bus.emit("inbox.message", { branchId: n.branchId, dialogId: n.dialogId, message: n.message });
    else bus.emit("inbox.status", { branchId: n.branchId, dialogId: n.dialogId, messageId: n.messageId, status: n.status, error: n.error });
  }

  const app = express();
  app.disable("x-powered-by");
  // Only proxies we are told about may name the client (rate limits and logs key on it).
  app.set("trust proxy", config.TRUST_PROXY);
  // ── security (issue 7): headers on every response; the admin API limited per client IP before any admin router ──
  app.use(securityHeaders({ publicUrl: config.PUBLIC_URL }));
  app.use(adminRateLimit({ perMinute: config.ADMIN_RATE_LIMIT })); // real time: a rate is about real requests
  // ── end security ──
  app.use(opsRouter({ store, metrics, workersRunning: () => workersRunning, senderPaused: () => outbound.paused }));
  app.use(
    whatsappWebhookRouter({
      store,
      metrics,
      appSecret: deps.appSecret,
      verifyToken: config.WHATSAPP_VERIFY_TOKEN, now,
      onStored: (messages) => {
        runner.wake();
        outbound.noteInbound(messages); // Meta's per-second limit counts customers' messages too
      },
    }),
  );
  app.use(mediaRouter({ store, dataDir: config.DATA_DIR, secret: mediaSecret, now }));
  app.use(
    amocrmRouter({
      kit: amoKit,
      store,
      box,
      logger,
      now,
      panel: new AmoPanelService({ kit: amoKit, store, now, onQueued: queued }),
      chatHook: { kit: amoKit, store, now, onQueued: queued, wake: () => runner.wake() },
      salesbot: { kit: amoKit, store, now, logger, onQueued: queued },
      wake: () => runner.wake(),
      allowedOrigins: config.AMOCRM_ALLOWED_ORIGINS ? splitList(config.AMOCRM_ALLOWED_ORIGINS) : [],
    }),
  );
  // Bitrix24 (issue 5): form-encoded bodies with deep PHP keys, parsed by the router itself, so it goes before the JSON parser
  app.use(
    bitrix24Router({
      kit: b24Kit,
      install: { kit: b24Kit, store, box, tokens, logger, now },
      events: { kit: b24Kit, store, logger, now, onQueued: queued, wake: () => runner.wake() },
      robot: { kit: b24Kit, store, logger, now, onQueued: queued },
      panel: new B24PanelService({ kit: b24Kit, store, now, onQueued: queued }),
      logger,
      wake: () => runner.wake(),
    }),
  );
  // call trigger and campaigns: the campaign router parses its own (larger) bodies, so it goes before the 1 MB parser
  app.use(campaignsRouter({ campaigns, adminToken: deps.adminToken }));
  app.use(express.json({ limit: "1mb" }));
  app.use(callsRouter({ store, now, onQueued: (job) => queued(job) }));
  app.use(
    adminRouter({
      store,
      branches,
      adminToken: deps.adminToken,
      routingDefaults,
      now,
      onJobsChanged: () => runner.wake(),
      sender: outbound,
      syncTemplates: refreshTemplates,
    }),
  );
 
  app.use(consoleRouter({ store, adminToken: deps.adminToken, routingDefaults, now, findCrmOwners }));
  app.use(branchApiRouter({ store, now, onQueued: queued }));
  app.use(flowsRouter({ store, adminToken: deps.adminToken, now, flows, alerts, alertDefaults, npsPeriodDays: config.NPS_PERIOD_DAYS, afterCommit: afterWork })); // flows and operator alerts (issue 6)
  app.use(inboxRouter({ store, bus, now, onQueued: queued, mediaUrl: (id) => mediaUrl("", id), markRead: graph ? (wamid) => graph.markRead(wamid) : undefined }));
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
    sender: outbound,
    bus,
    branches,
    metrics,
    sandbox,
    setSelfUrl: (url) => {
      selfUrl = url;
    },
    syncTemplates: refreshTemplates,
    async start() {
      runner.start();
      await (cluster ? cluster.start() : outbound.start()); // several instances (issue 7): the lease starts the sender
      workersRunning = true;
      // Start-up must not depend on Meta answering: a failed sync is logged and retried on the next template webhook.
      void refreshTemplates().catch((err) => logger.warn({ err }, "template sync at start failed"));
      runRetention();
      retentionTimer = setInterval(runRetention, 60 * 60_000);
      retentionTimer.unref();
    },
    async stop() {
      workersRunning = false;
      if (resyncTimer) clearTimeout(resyncTimer);
      if (retentionTimer) clearInterval(retentionTimer);
      await outbound.stop();
      await runner.stop();
      await cluster?.stop(); // several instances (issue 7): after the runner, so its jobs are not released while it finishes them
    },
  };
}

const splitList = (s: string) =>
  s
    .split(",")
    .map((x) => x.trim())
    .filter(Boolean);
