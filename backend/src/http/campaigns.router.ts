import express, { Router, type Request } from "express";
import { z } from "zod";
import { quietHoursProblem } from "../domain/campaign-rules.js";
import type { CampaignService, CreateCampaignInput } from "../campaigns/campaign.service.js";
import { requireAdmin } from "./auth.js";
import { openEventStream } from "./sse.js";
import { validate } from "./validate.js";

export interface CampaignsRouterDeps {
  campaigns: CampaignService;
  adminToken: string;
}

/** Bodies up to this size: a list of 100,000 recipients with a few parameters each. */
const BODY_LIMIT = "25mb";
const STREAM_INTERVAL_MS = 1000;

const param = z.string().max(1024);
const recipientSchema = z.strictObject({
  phone: z.string().min(1).max(40),
  params: z.union([z.array(param).max(100), z.record(z.string().min(1).max(100), param)]).optional(),
  branch: z.string().min(1).max(100).optional(),
});

const instant = z.union([z.number().int().nonnegative(), z.string().min(1)]).transform((v, ctx) => {
  const at = typeof v === "number" ? v : Date.parse(v);
  if (!Number.isFinite(at)) {
    ctx.addIssue({ code: "custom", message: "must be an ISO 8601 time (e.g. 2026-12-01T10:00:00+03:00) or epoch milliseconds" });
    return z.NEVER;
  }
  return at;
});

const quietHoursSchema = z.strictObject({ from: z.string(), to: z.string(), timezone: z.string() }).superRefine((q, ctx) => {
  const problem = quietHoursProblem(q);
  if (problem) ctx.addIssue({ code: "custom", message: problem.message, path: [problem.field] });
});

const createSchema = z
  .strictObject({
    name: z.string().trim().min(1).max(200),
    template: z.strictObject({
      name: z.string().min(1).max(512),
      language: z.string().min(2).max(15),
      /** The header parameter every recipient gets (image, video, document, location, text): as the branch API's `template.header`. */
      header: z.record(z.string(), z.unknown()).optional(),
      buttons: z.array(z.record(z.string(), z.unknown())).max(10).optional(),
    }),
    branchIds: z.array(z.string().min(1).max(100)).min(1).max(1000),
    recipients: z.array(recipientSchema).max(100_000).optional(),
    csv: z.string().max(25 * 1024 * 1024).optional(),
    schedule: z.strictObject({ startAt: instant.optional(), quietHours: quietHoursSchema.optional() }).optional(),
  })
  .refine((b) => (b.recipients === undefined) !== (b.csv === undefined), { message: "give exactly one of 'recipients' (JSON array) or 'csv' (CSV text)", path: ["recipients"] });

/**
 * A CSV upload (`Content-Type: text/csv`) carries the campaign's settings in the query string:
 * `name`, `template`, `language`, `branchIds` (comma-separated), `startAt`, `quietFrom`, `quietTo`, `timezone`.
 */
function fromQuery(req: Request, csv: string): unknown {
  const q = req.query as Record<string, string | undefined>;
  const quiet = q.quietFrom || q.quietTo || q.timezone ? { from: q.quietFrom ?? "", to: q.quietTo ?? "", timezone: q.timezone ?? "" } : undefined;
  const startAt = q.startAt === undefined ? undefined : /^\d+$/.test(q.startAt) ? Number(q.startAt) : q.startAt;
  return {
    name: q.name,
    template: { name: q.template, language: q.language },
    branchIds: (q.branchIds ?? q.branchId ?? "").split(",").map((s) => s.trim()).filter(Boolean),
    csv,
    ...(startAt !== undefined || quiet ? { schedule: { ...(startAt !== undefined ? { startAt } : {}), ...(quiet ? { quietHours: quiet } : {}) } } : {}),
  };
}

function readCreate(req: Request): CreateCampaignInput {
  const body = typeof req.body === "string" ? fromQuery(req, req.body) : req.body;
  return validate(createSchema, body) as CreateCampaignInput;
}

/** The franchisor's campaign API (Bearer ADMIN_TOKEN); see docs/campaigns.md. */
export function campaignsRouter(deps: CampaignsRouterDeps): Router {
  const router = Router();
  const { campaigns } = deps;
  router.use("/admin/api/campaigns", requireAdmin(deps.adminToken));
  // Lists are larger than other admin bodies; this router is mounted before the app's 1 MB parser.
  router.use("/admin/api/campaigns", express.json({ limit: BODY_LIMIT }), express.text({ type: ["text/csv", "application/csv", "text/plain"], limit: BODY_LIMIT }));

  router.post("/admin/api/campaigns/preview", async (req, res) => {
    res.json(await campaigns.preview(readCreate(req)));
  });

  router.post("/admin/api/campaigns", async (req, res) => {
    const { campaign, report } = await campaigns.create(readCreate(req));
    res.status(201).json({ ...campaign, import: report });
  });

  router.get("/admin/api/campaigns", async (_req, res) => {
    res.json({ campaigns: await campaigns.list() });
  });

  router.get("/admin/api/campaigns/:id", async (req, res) => {
    res.json(await campaigns.get(req.params.id));
  });

  router.get("/admin/api/campaigns/:id/recipients", async (req, res) => {
    const offset = Math.max(0, Number.parseInt(String(req.query.offset ?? "0"), 10) || 0);
    const limit = Math.min(1000, Math.max(1, Number.parseInt(String(req.query.limit ?? "100"), 10) || 100));
    res.json(await campaigns.recipients(req.params.id, { offset, limit }));
  });

  router.get("/admin/api/campaigns/:id/stream", async (req, res) => {
    const id = req.params.id;
    await campaigns.get(id); // 404 before the stream opens
    let last = "";
    let busy = false;
    const timer = setInterval(() => void push(), STREAM_INTERVAL_MS);
    const send = openEventStream(req, res, () => clearInterval(timer));
    async function push(): Promise<void> {
      if (busy) return;
      busy = true;
      try {
        const { importErrors: _omit, ...view } = await campaigns.get(id);
        const json = JSON.stringify(view);
        if (json !== last) {
          last = json;
          send("progress", view);
        }
      } catch {
        // The store is briefly unavailable: the next interval tries again.
      } finally {
        busy = false;
      }
    }
    await push();
  });

  for (const action of ["pause", "resume", "cancel"] as const) {
    router.post(`/admin/api/campaigns/:id/${action}`, async (req, res) => {
      res.json(await campaigns[action](req.params.id));
    });
  }

  return router;
}
