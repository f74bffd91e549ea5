import { Router, type Response } from "express";
import { z } from "zod";
import { badRequest, conflict, notFound, unprocessable } from "../errors.js";
import { checkFlow } from "../domain/flows/flow-check.js";
import type { Json } from "../domain/flows/flow-vars.js";
import { normalizePhone, waIdCandidates } from "../domain/phone.js";
import type { Branch, FlowRun, Handover } from "../domain/types.js";
import { customerByPhone } from "../inbound/customers.js";
import { dialogIdOf } from "../inbound/bindings.js";
import { EXAMPLES, loadExample } from "../flows/examples.js";
import { FLOW_ID, flowSummary, saveFlow } from "../flows/flow-definitions.js";
import type { FlowRunner } from "../flows/flow.runner.js";
import type { WorkEffects } from "../flows/effects.js";
import type { AlertService } from "../alerts/alerts.service.js";
import { alertSettingsPatch, loadAlertSettings, saveAlertSettings, type AlertSettings } from "../alerts/alert-settings.js";
import { createOperator, deleteOperator, operatorCreate, operatorPatch, updateOperator } from "../alerts/operators.js";
import type { Store, Tx } from "../store/store.port.js";
import { branchOf, requireAdmin, requireBranch } from "./auth.js";
import { validate } from "./validate.js";

export interface FlowsRouterDeps {
  store: Store;
  adminToken: string;
  now: () => number;
  flows: FlowRunner;
  alerts: AlertService;
  alertDefaults: AlertSettings;
  /** The NPS example's once-per-customer period when the install request does not give one. */
  npsPeriodDays: number;
  /** After a commit: queued sends to the sender, wake the job runner. */
  afterCommit(fx: WorkEffects): void;
}

const flowId = z.string().regex(FLOW_ID, "must be lower-case letters, digits, _ or - (up to 64)");
const vars = z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be a variable name"), z.json()).optional();
const createSchema = z.strictObject({ id: flowId, definition: z.record(z.string(), z.unknown()), enabled: z.boolean().optional() });
const replaceSchema = z.strictObject({ definition: z.record(z.string(), z.unknown()), enabled: z.boolean().optional() });
const patchSchema = z.strictObject({ enabled: z.boolean() });
const installSchema = z.strictObject({ id: flowId.optional(), oncePerDays: z.number().positive().max(3650).optional(), enabled: z.boolean().optional() });
const adminStartSchema = z.strictObject({ phone: z.string().min(1).max(40), branchId: z.string().min(1), vars });
const branchStartSchema = z.strictObject({ phone: z.string().min(1).max(40), vars });
const handoverSchema = z.strictObject({ reason: z.string().trim().max(500).optional() });
const branchHandoverSchema = z.strictObject({ phone: z.string().min(1).max(40), reason: z.string().trim().max(500).optional() });

/**
 * Flows and operator alerts. Admin (Bearer ADMIN_TOKEN): flow definitions (CRUD, check, shipped
 * examples), starting a flow for a customer, runs; operators per branch; alert settings; handing a
 * dialog over. Branch API (Bearer branch key): start a flow for a customer (who is then bound to
 * the branch), hand a dialog over.
 */
export function flowsRouter(deps: FlowsRouterDeps): Router {
  const router = Router();
  const { store } = deps;
  const admin = requireAdmin(deps.adminToken);
  for (const path of ["/admin/api/flows", "/admin/api/flow-runs", "/admin/api/handovers", "/admin/api/settings/alerts", "/admin/api/branches/:branchId/operators", "/admin/api/dialogs/:dialogId/handover"]) router.use(path, admin);
  const branchAuth = requireBranch(store);
  router.use("/api/v1/flows", branchAuth);
  router.use("/api/v1/handover", branchAuth);

  // ── flow definitions ──
  router.get("/admin/api/flows", async (_req, res) => {
    res.json({ flows: (await store.read((tx) => tx.list("flows"))).map(flowSummary) });
  });

  router.get("/admin/api/flows/examples", async (_req, res) => {
    res.json({ examples: EXAMPLES.map((name) => ({ name, definition: loadExample(name) })) });
  });

  router.post("/admin/api/flows/examples/:name", async (req, res) => {
    const body = validate(installSchema, req.body ?? {});
    const definition = loadExample(req.params.name);
    if (req.params.name === "nps") definition.oncePerDays = body.oncePerDays ?? deps.npsPeriodDays;
    else if (body.oncePerDays !== undefined) definition.oncePerDays = body.oncePerDays;
    const id = body.id ?? req.params.name;
    const saved = await store.transact((tx) => saveFlow(tx, { id, definition, enabled: body.enabled, example: req.params.name }, deps.now()));
    res.status(201).json({ ...flowSummary(saved.flow), warnings: saved.warnings });
  });

  router.post("/admin/api/flows/check", async (req, res) => {
    const check = checkFlow((req.body as { definition?: unknown } | undefined)?.definition ?? req.body);
    res.json(check.ok ? { ok: true, problems: [], warnings: check.warnings } : { ok: false, problems: check.problems, warnings: [] });
  });

  router.post("/admin/api/flows", async (req, res) => {
    const body = validate(createSchema, req.body);
    const saved = await store.transact(async (tx) => {
      if (await tx.get("flows", body.id)) throw conflict(`flow ${body.id} exists; PUT /admin/api/flows/${body.id} replaces it`, "id");
      return saveFlow(tx, body, deps.now());
    });
    res.status(201).json({ ...flowSummary(saved.flow), warnings: saved.warnings });
  });

  router.get("/admin/api/flows/:id", async (req, res) => {
    const flow = await store.read((tx) => tx.get("flows", req.params.id));
    if (!flow) throw notFound(`flow ${req.params.id}`);
    res.json(flow);
  });

  router.put("/admin/api/flows/:id", async (req, res) => {
    const id = validate(flowId, req.params.id);
    const body = validate(replaceSchema, req.body);
    const saved = await store.transact((tx) => saveFlow(tx, { id, ...body }, deps.now()));
    res.json({ ...flowSummary(saved.flow), warnings: saved.warnings });
  });

  router.patch("/admin/api/flows/:id", async (req, res) => {
    const body = validate(patchSchema, req.body);
    const flow = await store.transact(async (tx) => {
      const f = await tx.get("flows", req.params.id);
      if (!f) throw notFound(`flow ${req.params.id}`);
      const next = { ...f, enabled: body.enabled, updatedAt: deps.now() };
      await tx.put("flows", next);
      return next;
    });
    res.json(flowSummary(flow));
  });

  // Runs keep their own copy of the definition: deleting a flow lets them finish.
  router.delete("/admin/api/flows/:id", async (req, res) => {
    await store.transact(async (tx) => {
      if (!(await tx.get("flows", req.params.id))) throw notFound(`flow ${req.params.id}`);
      await tx.delete("flows", req.params.id);
    });
    res.status(204).end();
  });

  // ── runs ──
  router.post("/admin/api/flows/:id/start", async (req, res) => {
    const body = validate(adminStartSchema, req.body);
    await startRun(res, req.params.id, body.phone, body.vars, "admin", async (tx) => {
      const branch = await tx.get("branches", body.branchId);
      if (!branch) throw unprocessable("unknown_branch", `no branch ${body.branchId}`, "branchId");
      return branch;
    });
  });

  router.post("/api/v1/flows/:id/start", async (req, res) => {
    const body = validate(branchStartSchema, req.body);
    const branch = branchOf(res);
    await startRun(res, req.params.id, body.phone, body.vars, "branch", async () => branch);
  });

  async function startRun(res: Response, id: string, phone: string, input: Record<string, unknown> | undefined, by: FlowRun["startedBy"], branchFor: (tx: Tx) => Promise<Branch>): Promise<void> {
    const p = normalizePhone(phone);
    if (!p.ok) throw unprocessable("invalid_phone", `phone: ${p.reason}`, "phone");
    const now = deps.now();
    const { run, fx } = await store.transact(async (tx) => {
      const branch = await branchFor(tx);
      const customer = await customerByPhone(tx, waIdCandidates(p.e164), now);
      return deps.flows.start(tx, { flowId: id, customer, branch, startedBy: by, vars: input as Record<string, Json> | undefined, now });
    });
    deps.afterCommit(fx);
    res.status(201).json(publicRun(run));
  }

  router.get("/admin/api/flows/:id/runs", async (req, res) => {
    const limit = Math.min(500, Math.max(1, Number(req.query.limit) || 100));
    const status = typeof req.query.status === "string" ? req.query.status : undefined;
    const runs = await store.read((tx) => tx.byIndex("flowRuns", "flowId", req.params.id, { newestFirst: true, limit: status ? 5000 : limit }));
    res.json({ runs: runs.filter((r) => !status || r.status === status || r.outcome === status).slice(0, limit).map(publicRun) });
  });

  router.get("/admin/api/flow-runs/:runId", async (req, res) => {
    const run = await store.read((tx) => tx.get("flowRuns", req.params.runId));
    if (!run) throw notFound(`flow run ${req.params.runId}`);
    res.json(publicRun(run));
  });

  router.post("/admin/api/flow-runs/:runId/cancel", async (req, res) => {
    const run = await store.transact((tx) => deps.flows.cancel(tx, req.params.runId, "cancelled by the admin", deps.now()));
    res.json(publicRun(run));
  });

  // ── operators and alerts ──
  router.get("/admin/api/branches/:branchId/operators", async (req, res) => {
    const ops = await store.read(async (tx) => {
      if (!(await tx.get("branches", req.params.branchId))) throw notFound(`branch ${req.params.branchId}`);
      return tx.byIndex("operators", "branchId", req.params.branchId);
    });
    res.json({ operators: ops });
  });

  router.post("/admin/api/branches/:branchId/operators", async (req, res) => {
    const body = validate(operatorCreate, req.body);
    res.status(201).json(await store.transact((tx) => createOperator(tx, req.params.branchId, body, deps.now())));
  });

  router.patch("/admin/api/branches/:branchId/operators/:id", async (req, res) => {
    const body = validate(operatorPatch, req.body);
    res.json(await store.transact((tx) => updateOperator(tx, req.params.branchId, req.params.id, body, deps.now())));
  });

  router.delete("/admin/api/branches/:branchId/operators/:id", async (req, res) => {
    await store.transact((tx) => deleteOperator(tx, req.params.branchId, req.params.id));
    res.status(204).end();
  });

  router.get("/admin/api/settings/alerts", async (_req, res) => {
    res.json(publicSettings(await store.read((tx) => loadAlertSettings(tx, deps.alertDefaults))));
  });

  router.patch("/admin/api/settings/alerts", async (req, res) => {
    const patch = validate(alertSettingsPatch, req.body);
    const settings = await store.transact(async (tx) => {
      const current = await loadAlertSettings(tx, deps.alertDefaults);
      const renotify = patch.renotifyAfterMinutes ?? current.renotifyAfterMinutes;
      const escalate = patch.escalateAfterMinutes ?? current.escalateAfterMinutes;
      if (escalate <= renotify) throw badRequest(`escalateAfterMinutes (${escalate}) must be greater than renotifyAfterMinutes (${renotify})`, "escalateAfterMinutes");
      return saveAlertSettings(tx, deps.alertDefaults, patch);
    });
    res.json(publicSettings(settings));
  });

  router.post("/admin/api/dialogs/:dialogId/handover", async (req, res) => {
    const body = validate(handoverSchema, req.body ?? {});
    const now = deps.now();
    const out = await store.transact(async (tx) => {
      const dialog = await tx.get("dialogs", req.params.dialogId);
      if (!dialog) throw notFound(`dialog ${req.params.dialogId}`);
      return deps.alerts.handover(tx, { branchId: dialog.branchId, customerId: dialog.customerId, dialogId: dialog.id, reason: body.reason ?? "", source: "admin" }, now);
    });
    deps.afterCommit(out.fx);
    res.status(out.repeated ? 200 : 201).json(out.handover);
  });

  router.post("/api/v1/handover", async (req, res) => {
    const body = validate(branchHandoverSchema, req.body);
    const branch = branchOf(res);
    const p = normalizePhone(body.phone);
    if (!p.ok) throw unprocessable("invalid_phone", `phone: ${p.reason}`, "phone");
    const now = deps.now();
    const out = await store.transact(async (tx) => {
      let dialogId: string | undefined;
      for (const waId of waIdCandidates(p.e164)) {
        const c = (await tx.byIndex("customers", "waId", waId))[0];
        if (c && (await tx.get("dialogs", dialogIdOf(branch.id, c.id)))) dialogId = dialogIdOf(branch.id, c.id);
      }
      if (!dialogId) throw notFound(`dialog of ${p.e164} in this branch`);
      const dialog = (await tx.get("dialogs", dialogId))!;
      return deps.alerts.handover(tx, { branchId: branch.id, customerId: dialog.customerId, dialogId, reason: body.reason ?? "", source: "branch" }, now);
    });
    deps.afterCommit(out.fx);
    res.status(out.repeated ? 200 : 201).json(publicHandover(out.handover));
  });

  router.get("/admin/api/handovers", async (req, res) => {
    const limit = Math.min(500, Math.max(1, Number(req.query.limit) || 100));
    const branchId = typeof req.query.branchId === "string" ? req.query.branchId : undefined;
    const state = typeof req.query.state === "string" ? req.query.state : undefined;
    const rows = await store.read(async (tx) => (branchId ? tx.byIndex("handovers", "branchId", branchId, { newestFirst: true, limit: 5000 }) : (await tx.list("handovers")).reverse()));
    res.json({ handovers: rows.filter((h) => !state || h.state === state).slice(0, limit) });
  });

  return router;
}

function publicRun(r: FlowRun) {
  return {
    id: r.id,
    flowId: r.flowId,
    flowVersion: r.flowVersion,
    customerId: r.customerId,
    branchId: r.branchId,
    dialogId: r.dialogId,
    status: r.status,
    outcome: r.outcome ?? null,
    error: r.error ?? null,
    stepId: r.state.stepId,
    waiting: r.state.waiting ? { kind: r.state.waiting.kind, stepId: r.state.waiting.stepId, ...(r.state.waiting.kind === "answer" ? { until: r.state.waiting.until } : {}) } : null,
    vars: r.state.vars,
    trail: r.state.trail,
    messageIds: r.messageIds,
    startedBy: r.startedBy,
    startedAt: r.startedAt,
    updatedAt: r.updatedAt,
    endedAt: r.endedAt ?? null,
  };
}

/** What a branch may see of a handover: not the other branches' operators' phones. */
function publicHandover(h: Handover) {
  return { id: h.id, dialogId: h.dialogId, state: h.state, stage: h.stage, at: h.at, notified: h.notifications.filter((n) => n.branchId === h.branchId && n.via !== "none").length };
}

function publicSettings(s: AlertSettings) {
  return { renotifyAfterMinutes: s.renotifyAfterMinutes, escalateAfterMinutes: s.escalateAfterMinutes, template: s.template ? `${s.template.name}:${s.template.language}` : null };
}
