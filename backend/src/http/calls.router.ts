import { Router } from "express";
import { z } from "zod";
import { unprocessable } from "../errors.js";
import { normalizePhone } from "../domain/phone.js";
import type { Job } from "../domain/types.js";
import type { Store } from "../store/store.port.js";
import { fireCallTrigger } from "../triggers/call-trigger.js";
import { branchOf, requireBranch } from "./auth.js";
import { validate } from "./validate.js";

export interface CallsDeps {
  store: Store;
  now: () => number;
  onQueued(job: Job): void;
}

const callSchema = z.strictObject({
  caller: z.string().min(1).max(40),
  event: z.enum(["incoming", "missed"]),
});

/**
 * `POST /api/v1/calls` (contract): the branch's phone system reports a call; the branch's call
 * trigger answers the caller on WhatsApp. Always `202` with what happened: `queued` (with the
 * message id, whose status `GET /api/v1/messages/{id}` reports) or `skipped` with the reason.
 */
export function callsRouter(deps: CallsDeps): Router {
  const router = Router();
  router.post("/api/v1/calls", requireBranch(deps.store), async (req, res) => {
    const branch = branchOf(res);
    const body = validate(callSchema, req.body);
    const phone = normalizePhone(body.caller);
    if (!phone.ok) throw unprocessable("invalid_phone", `caller: ${phone.reason}`, "caller");
    const now = deps.now();
    const outcome = await deps.store.transact(async (tx) => {
      // Read the branch inside the transaction: its trigger may have just been changed.
      const current = (await tx.get("branches", branch.id)) ?? branch;
      return fireCallTrigger(tx, { branch: current, e164: phone.e164, event: body.event, now });
    });
    if (outcome.status === "queued") {
      deps.onQueued(outcome.job);
      res.status(202).json({ id: outcome.id, status: "queued" });
      return;
    }
    res.status(202).json({ status: "skipped", reason: outcome.reason, message: outcome.message, ...(outcome.until ? { retryAfter: new Date(outcome.until).toISOString() } : {}) });
  });
  return router;
}
