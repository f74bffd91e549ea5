import express, { Router } from "express";
import { z } from "zod";
import { ANALYTICS_COLUMNS, parseDay, toCsv } from "../domain/analytics.js";
import { dayOf } from "../domain/day.js";
import { normalizePhone, waIdCandidates } from "../domain/phone.js";
import { describeDecision, routeMessage, type RoutingSettings } from "../domain/routing.js";
import type { Customer } from "../domain/types.js";
import { badRequest } from "../errors.js";
import { toRoutingBranch } from "../inbound/routing-branches.js";
import { loadRoutingSettings } from "../inbound/routing-settings.js";
import { branchHealth, loadAnalytics, type HealthWindow } from "../stats/analytics.js";
import type { Store } from "../store/store.port.js";
import { requireAdmin } from "./auth.js";
import { pageShell } from "./pages.js";
import { validate } from "./validate.js";

export interface ConsoleDeps {
  store: Store;
  adminToken: string;
  routingDefaults: Partial<RoutingSettings>;
  now: () => number;
  /**
   * The ladder's CRM-ownership rung (branches whose CRM knows the phone). Optional: without it the
   * tester decides as if no CRM knew the customer, and says so.
   */
  findCrmOwners?(customer: Customer): Promise<string[]>;
}

/** Longest analytics range, in days (a year, leap day included). */
export const MAX_ANALYTICS_DAYS = 366;

const routingTestSchema = z.strictObject({
  from: z.string().trim().min(1, "is required"),
  text: z.string().max(4096).optional(),
  referralSourceId: z.string().trim().max(64).optional(),
  contextWamid: z.string().trim().max(256).optional(),
  interactiveReplyId: z.string().trim().max(256).optional(),
  buttonPayload: z.string().trim().max(256).optional(),
});

/**
 * The franchisor console page (`GET /admin`) and the admin endpoints only it needs: branch health,
 * the routing tester and the analytics export. Everything under /admin/api needs the admin token.
 */
export function consoleRouter(deps: ConsoleDeps): Router {
  const router = Router();
  router.get("/admin", (_req, res) => {
    res.type("html").send(pageShell("Branchline console", "console.js"));
  });
  router.use("/admin/api", requireAdmin(deps.adminToken));

  router.get("/admin/api/health/branches", async (req, res) => {
    const window = (req.query.window ?? "24h") as string;
    if (window !== "24h" && window !== "7d") throw badRequest("window: must be '24h' or '7d'", "window");
    res.json(await branchHealth(deps.store, deps.now(), window as HealthWindow));
  });

  router.post("/admin/api/routing/test", express.json({ limit: "64kb" }), async (req, res) => {
    const input = validate(routingTestSchema, req.body);
    const phone = normalizePhone(input.from);
    if (!phone.ok) throw badRequest(`from: ${phone.reason}`, "from");
    const now = deps.now();
    const seen = await deps.store.read(async (tx) => {
      let customer: Customer | undefined;
      for (const waId of waIdCandidates(phone.e164)) {
        customer = (await tx.byIndex("customers", "waId", waId))[0];
        if (customer) break;
      }
      const binding = customer ? await tx.get("bindings", customer.id) : undefined;
      const contextMessage = input.contextWamid ? (await tx.byIndex("messages", "wamid", input.contextWamid))[0] : undefined;
      return { customer, binding, contextMessage, branches: await tx.list("branches"), settings: await loadRoutingSettings(tx, deps.routingDefaults) };
    });
    // Asked like the inbound worker asks, outside the read (CRM APIs are slow and fail).
    const probe: Customer = seen.customer ?? { id: "", waId: phone.digits, aliases: [], createdAt: now, updatedAt: now };
    const crmOwners = deps.findCrmOwners ? await deps.findCrmOwners(probe).catch(() => []) : undefined;
    const decision = routeMessage({
      now,
      message: {
        text: input.text,
        contextMessageId: input.contextWamid,
        referralSourceId: input.referralSourceId,
        interactiveReplyId: input.interactiveReplyId,
        buttonPayload: input.buttonPayload,
      },
      branches: seen.branches.map(toRoutingBranch),
      settings: seen.settings,
      binding: seen.binding?.current,
      contextBranchId: seen.contextMessage?.branchId,
      crmOwners,
      awaitingMenu: seen.binding?.awaitingMenuSince !== undefined,
    });
    const current = seen.binding?.current;
    res.json({
      decision: {
        kind: decision.kind,
        rule: decision.kind === "unroutable" ? null : decision.rule,
        branchId: decision.kind === "route" ? decision.branchId : null,
        branchName: decision.kind === "route" ? decision.branchName : null,
        bind: decision.kind === "route" ? decision.bind : false,
        reason: decision.reason,
        describe: { en: describeDecision(decision, "en"), ru: describeDecision(decision, "ru") },
        notes: decision.notes,
        ...(decision.kind === "ask" ? { menu: decision.menu } : {}),
      },
      customer: seen.customer ? { id: seen.customer.id, known: true } : { id: null, known: false },
      binding: current ? { branchId: current.branchId, rule: current.rule, boundAt: current.boundAt, lastActivityAt: current.lastActivityAt } : null,
      contextMessage: input.contextWamid ? (seen.contextMessage ? { found: true, branchId: seen.contextMessage.branchId ?? null } : { found: false, branchId: null }) : undefined,
      crmOwnersChecked: crmOwners !== undefined,
    });
  });

  router.get("/admin/api/analytics", async (req, res) => {
    const q = analyticsQuery(req.query as Record<string, unknown>, deps.now());
    if (q.branchId && !(await deps.store.read((tx) => tx.get("branches", q.branchId!)))) throw badRequest(`branch: no branch with id '${q.branchId}'`, "branch");
    const result = await loadAnalytics(deps.store, q);
    if (q.format === "csv") {
      res.set("content-disposition", `attachment; filename="branchline-analytics-${q.from}-${q.to}.csv"`);
      res.type("text/csv; charset=utf-8").send(toCsv(ANALYTICS_COLUMNS, result.rows));
      return;
    }
    res.json({ from: q.from, to: q.to, columns: ANALYTICS_COLUMNS, rows: result.rows, byDay: result.byDay, totals: result.totals });
  });

  return router;
}

interface ParsedAnalyticsQuery {
  from: string;
  to: string;
  branchId?: string;
  format: "json" | "csv";
}

/** `from`/`to` default to the last 30 UTC days; every problem is a 400 naming the parameter. */
function analyticsQuery(query: Record<string, unknown>, now: number): ParsedAnalyticsQuery {
  const single = (name: string): string | undefined => {
    const v = query[name];
    if (v === undefined) return undefined;
    if (typeof v !== "string") throw badRequest(`${name}: must be given once`, name);
    return v;
  };
  const day = (name: string, fallback: string): string => {
    const v = single(name) ?? fallback;
    if (parseDay(v) === undefined) throw badRequest(`${name}: must be a date YYYY-MM-DD`, name);
    return v;
  };
  const to = day("to", dayOf(now));
  const from = day("from", dayOf(parseDay(to)! - 29 * 86_400_000));
  const span = (parseDay(to)! - parseDay(from)!) / 86_400_000 + 1;
  if (span < 1) throw badRequest("from: must not be after to", "from");
  if (span > MAX_ANALYTICS_DAYS) throw badRequest(`to: the range is ${span} days; at most ${MAX_ANALYTICS_DAYS} are allowed`, "to");
  const format = single("format") ?? "json";
  if (format !== "json" && format !== "csv") throw badRequest("format: must be 'json' or 'csv'", "format");
  const branchId = single("branch");
  if (branchId !== undefined && branchId.trim() === "") throw badRequest("branch: must not be empty", "branch");
  return { from, to, format, ...(branchId ? { branchId } : {}) };
}

