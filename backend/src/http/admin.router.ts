import { Router } from "express";
import { z } from "zod";
import { notFound } from "../errors.js";
import { BranchService, publicBranch } from "../branches/branch.service.js";
import { createBranchSchema, updateBranchSchema } from "../branches/branch.schema.js";
import type { RoutingSettings } from "../domain/routing.js";
import { ROUTING_SETTINGS_ID, loadRoutingSettings } from "../inbound/routing-settings.js";
import type { Store } from "../store/store.port.js";
import type { Sender } from "../outbound/sender.js";
import { describeTemplate } from "../domain/templates.js";
import { requireAdmin } from "./auth.js";
import { validate } from "./validate.js";

export interface AdminDeps {
  store: Store;
  branches: BranchService;
  adminToken: string;
  routingDefaults: Partial<RoutingSettings>;
  now: () => number;
  onJobsChanged(): void;
  sender: Pick<Sender, "paused" | "resume" | "queued">;
  syncTemplates(): Promise<void>;
}

const routingSettingsSchema = z.strictObject({
  bindingTtlDays: z.number().positive().max(3650).optional(),
  changeBranchPhrases: z.array(z.string().trim().min(1).max(100)).max(50).optional(),
  menuEnabled: z.boolean().optional(),
  menuThreshold: z.number().int().min(1).max(100).optional(),
  menuLang: z.enum(["ru", "en", "auto"]).optional(),
});

/** The franchisor's API (Bearer ADMIN_TOKEN). */
export function adminRouter(deps: AdminDeps): Router {
  const router = Router();
  router.use("/admin/api", requireAdmin(deps.adminToken));

  router.post("/admin/api/branches", async (req, res) => {
    const input = validate(createBranchSchema, req.body);
    const { branch, apiKey, webhookSecret } = await deps.branches.create(input);
    res.status(201).json({ id: branch.id, code: branch.code, name: branch.name, crm: branch.crm, apiKey, ...(webhookSecret ? { webhookSecret } : {}) });
  });

  // The contract says "list": a bare JSON array, as a script would expect it.
  router.get("/admin/api/branches", async (_req, res) => {
    res.json((await deps.branches.list()).map(publicBranch));
  });

  router.get("/admin/api/branches/:id", async (req, res) => {
    res.json(publicBranch(await deps.branches.get(req.params.id)));
  });

  router.patch("/admin/api/branches/:id", async (req, res) => {
    const patch = validate(updateBranchSchema, req.body);
    res.json(publicBranch(await deps.branches.update(req.params.id, patch)));
  });

  router.post("/admin/api/branches/:id/disable", async (req, res) => {
    res.json(publicBranch(await deps.branches.setEnabled(req.params.id, false)));
  });

  router.post("/admin/api/branches/:id/enable", async (req, res) => {
    res.json(publicBranch(await deps.branches.setEnabled(req.params.id, true)));
  });

  router.post("/admin/api/branches/:id/rotate-key", async (req, res) => {
    const { branch, apiKey } = await deps.branches.rotateKey(req.params.id);
    res.json({ id: branch.id, apiKey });
  });

  router.post("/admin/api/branches/:id/rotate-webhook-secret", async (req, res) => {
    const { branch, webhookSecret } = await deps.branches.rotateWebhookSecret(req.params.id);
    res.json({ id: branch.id, webhookSecret });
  });

  router.get("/admin/api/settings/routing", async (_req, res) => {
    res.json(await deps.store.read((tx) => loadRoutingSettings(tx, deps.routingDefaults)));
  });

  router.patch("/admin/api/settings/routing", async (req, res) => {
    const { bindingTtlDays, ...rest } = validate(routingSettingsSchema, req.body);
    const patch: Partial<RoutingSettings> = { ...rest, ...(bindingTtlDays ? { bindingTtlMs: Math.round(bindingTtlDays * 86_400_000) } : {}) };
    const settings = await deps.store.transact(async (tx) => {
      const stored = ((await tx.get("settings", ROUTING_SETTINGS_ID))?.value ?? {}) as Partial<RoutingSettings>;
      await tx.put("settings", { id: ROUTING_SETTINGS_ID, value: { ...stored, ...patch } });
      return loadRoutingSettings(tx, deps.routingDefaults);
    });
    res.json(settings);
  });

  router.get("/admin/api/dead-letters", async (_req, res) => {
    const jobs = await deps.store.read((tx) => tx.byIndex("jobs", "state", "dead", { newestFirst: true, limit: 500 }));
    res.json({
      deadLetters: jobs.map((j) => ({ id: j.id, queue: j.queue, branchId: j.branchId, attempts: j.attempts, lastError: j.lastError, payload: j.payload, createdAt: j.createdAt, failedAt: j.updatedAt })),
    });
  });

  router.post("/admin/api/dead-letters/:id/retry", async (req, res) => {
    const now = deps.now();
    await deps.store.transact(async (tx) => {
      const job = await tx.get("jobs", req.params.id);
      if (!job || job.state !== "dead") throw notFound(`dead letter ${req.params.id}`);
      await tx.put("jobs", { ...job, state: "pending", attempts: 0, runAt: now, updatedAt: now });
    });
    deps.onJobsChanged();
    res.status(202).json({ id: req.params.id, state: "pending" });
  });

  router.delete("/admin/api/dead-letters/:id", async (req, res) => {
    await deps.store.transact(async (tx) => {
      const job = await tx.get("jobs", req.params.id);
      if (!job || job.state !== "dead") throw notFound(`dead letter ${req.params.id}`);
      await tx.delete("jobs", job.id);
    });
    res.sendStatus(204);
  });

  router.get("/admin/api/sender", (_req, res) => {
    const s = deps.sender;
    res.json({ paused: s.paused ?? null, queued: { reply: s.queued("reply"), automation: s.queued("automation"), campaign: s.queued("campaign") } });
  });

  router.post("/admin/api/sender/resume", (_req, res) => {
    deps.sender.resume();
    res.json({ paused: null });
  });

  router.get("/admin/api/templates", async (_req, res) => {
    const templates = await deps.store.read((tx) => tx.list("templates"));
    res.json({ templates: templates.map((t) => ({ ...t, description: describeTemplate(t) })) });
  });

  router.post("/admin/api/templates/sync", async (_req, res) => {
    await deps.syncTemplates();
    const count = await deps.store.read(async (tx) => (await tx.list("templates")).length);
    res.json({ synced: true, templates: count });
  });

  router.get("/admin/api/customers/:id", async (req, res) => {
    const found = await deps.store.read(async (tx) => {
      const customer = await tx.get("customers", req.params.id);
      return customer && { customer, binding: await tx.get("bindings", customer.id) };
    });
    if (!found) throw notFound(`customer ${req.params.id}`);
    res.json(found);
  });

  router.get("/admin/api/whatsapp-events", async (req, res) => {
    const field = typeof req.query.field === "string" ? req.query.field : undefined;
    const events = await deps.store.read((tx) => (field ? tx.byIndex("managementEvents", "field", field, { newestFirst: true, limit: 500 }) : tx.list("managementEvents", { limit: 500 })));
    res.json({ events });
  });

  return router;
}
