import { createHash } from "node:crypto";
import { Router } from "express";
import { z } from "zod";
import { notFound, unprocessable } from "../errors.js";
import { normalizePhone, waIdCandidates } from "../domain/phone.js";
import { describeTemplate } from "../domain/templates.js";
import type { Job, MessageRecord } from "../domain/types.js";
import { windowState } from "../domain/window.js";
import { customerByPhone } from "../inbound/customers.js";
import { queueOutbound } from "../outbound/outbox.js";
import { prepareTemplate } from "../outbound/template-send.js";
import type { Store } from "../store/store.port.js";
import { branchOf, requireBranch } from "./auth.js";
import { validate } from "./validate.js";

export interface BranchApiDeps {
  store: Store;
  now: () => number;
  onQueued(job: Job): void;
}

const textParam = z.union([
  z.string(),
  z.strictObject({ type: z.literal("text"), text: z.string() }),
  z.strictObject({ type: z.literal("currency"), fallback: z.string().min(1), code: z.string(), amount1000: z.number() }),
  z.strictObject({ type: z.literal("date_time"), fallback: z.string().min(1) }),
]);

const templateSchema = z.strictObject({
  name: z.string().min(1).max(512),
  language: z.string().min(2).max(15),
  params: z.union([z.array(textParam).max(100), z.record(z.string(), textParam)]).optional(),
  header: z
    .union([
      z.strictObject({ type: z.literal("text"), text: z.string() }),
      z.strictObject({ type: z.enum(["image", "video", "document"]), id: z.string().optional(), link: z.url().optional(), filename: z.string().optional() }),
      z.strictObject({ type: z.literal("location"), latitude: z.number(), longitude: z.number(), name: z.string().optional(), address: z.string().optional() }),
    ])
    .optional(),
  buttons: z.array(z.strictObject({ index: z.number().int().min(0).max(9), payload: z.string().max(256).optional(), text: z.string().optional(), couponCode: z.string().optional() })).max(10).optional(),
});

const sendSchema = z
  .strictObject({
    to: z.string().min(1).max(40),
    text: z.string().min(1, "must not be empty").optional(),
    template: templateSchema.optional(),
    replyTo: z.string().min(1).max(300).optional(),
    priority: z.enum(["reply", "automation", "campaign"]).optional(),
  })
  .refine((b) => (b.text === undefined) !== (b.template === undefined), { message: "give exactly one of 'text' or 'template'", path: ["text"] });

/** The contract's status names: `sending` is still queued to the branch; `played` has been read. */
function apiStatus(m: MessageRecord): string {
  if (m.status === "sending") return "queued";
  if (m.status === "played") return "read";
  return m.status;
}

/**
 * The branch API (Bearer branch key): send text or an approved template through the shared number,
 * read a message's status, and read a customer's 24-hour window. Every call sees only its branch.
 */
export function branchApiRouter(deps: BranchApiDeps): Router {
  const router = Router();
  router.use("/api/v1", requireBranch(deps.store));

  router.post("/api/v1/messages", async (req, res) => {
    const branch = branchOf(res);
    const body = validate(sendSchema, req.body);
    const phone = normalizePhone(body.to);
    if (!phone.ok) throw unprocessable("invalid_phone", `to: ${phone.reason}`, "to");
    const idempotencyKey = req.header("idempotency-key");
    const idemId = idempotencyKey ? `idem:${branch.id}:${createHash("sha256").update(idempotencyKey).digest("hex")}` : undefined;
    const now = deps.now();
    const outcome = await deps.store.transact(async (tx) => {
      if (idemId) {
        const seen = await tx.get("seenKeys", idemId);
        if (seen?.ref) return { repeat: await tx.get("messages", seen.ref) };
      }
      const customer = await customerByPhone(tx, waIdCandidates(phone.e164), now);
      const prepared = body.template ? await prepareTemplate(tx, body.template) : undefined;
      const queued = await queueOutbound(tx, {
        customer,
        branchId: branch.id,
        content: prepared?.content ?? { kind: "text", text: body.text! },
        template: prepared?.template,
        origin: body.template ? "automation" : "api",
        priority: body.priority,
        replyTo: body.replyTo,
        now,
      });
      if (idemId) await tx.put("seenKeys", { id: idemId, at: now, ref: queued.message.id });
      return queued;
    });
    if ("repeat" in outcome) {
      const m = outcome.repeat!;
      res.status(202).json({ id: m.id, status: apiStatus(m) });
      return;
    }
    deps.onQueued(outcome.job);
    res.status(202).json({ id: outcome.message.id, status: "queued" });
  });

  router.get("/api/v1/messages/:id", async (req, res) => {
    const branch = branchOf(res);
    const m = await deps.store.read((tx) => tx.get("messages", req.params.id));
    if (!m || m.branchId !== branch.id || m.direction !== "out") throw notFound(`message ${req.params.id}`);
    res.json({ id: m.id, status: apiStatus(m), ...(m.wamid ? { wamid: m.wamid } : {}), ...(m.error ? { error: m.error } : {}) });
  });

  router.get("/api/v1/window", async (req, res) => {
    const phone = normalizePhone(String(req.query.to ?? ""));
    if (!phone.ok) throw unprocessable("invalid_phone", `to: ${phone.reason}`, "to");
    const customer = await deps.store.read(async (tx) => {
      for (const waId of waIdCandidates(phone.e164)) {
        const c = (await tx.byIndex("customers", "waId", waId))[0];
        if (c) return c;
      }
      return undefined;
    });
    const w = windowState(customer?.lastInboundAt, deps.now());
    res.json({ to: phone.e164, open: w.open, openedAt: customer?.lastInboundAt ?? null, closesAt: w.closesAt ?? null, optedOutOfMarketing: Boolean(customer?.marketingOptOut) });
  });

  router.get("/api/v1/templates", async (_req, res) => {
    const templates = await deps.store.read((tx) => tx.list("templates"));
    res.json({
      templates: templates
        .filter((t) => t.status === "APPROVED")
        .map((t) => ({ name: t.name, language: t.language, category: t.category, parameterFormat: t.parameterFormat, ...describeTemplate(t) })),
    });
  });

  return router;
}
