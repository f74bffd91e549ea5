import { AppError, unprocessable } from "../errors.js";
import { callCooldown } from "../domain/campaign-rules.js";
import { waIdCandidates } from "../domain/phone.js";
import type { Branch, CallEvent, CallTriggerSettings, Job } from "../domain/types.js";
import { customerByPhone } from "../inbound/customers.js";
import { queueOutbound } from "../outbound/outbox.js";
import { prepareTemplate } from "../outbound/template-send.js";
import type { Tx } from "../store/store.port.js";

export type CallTriggerOutcome =
  | { status: "queued"; id: string; job: Job }
  | { status: "skipped"; reason: "event_not_enabled" | "cooldown" | "opted_out"; message: string; until?: number };

/**
 * A branch's phone system reported a call: send the branch's template to the caller, at most once
 * per cooldown across the whole network. The per-caller mark (`callCooldowns`, keyed by the
 * caller's wa_id) is read and written in the same transaction as the message, so two branches
 * reporting the same caller at once produce exactly one message. The outbox binds the caller to
 * the branch. A skipped call changes nothing.
 */
export async function fireCallTrigger(tx: Tx, input: { branch: Branch; e164: string; event: CallEvent; now: number }): Promise<CallTriggerOutcome> {
  const { branch, event, now } = input;
  const trigger = branch.callTrigger;
  if (!trigger) throw unprocessable("trigger_not_configured", `branch ${branch.code} has no call trigger; set callTrigger {template, language, params?, cooldownHours?, events?} on the branch`);
  if (!trigger.events.includes(event)) {
    return { status: "skipped", reason: "event_not_enabled", message: `the call trigger of branch ${branch.code} answers ${trigger.events.join(" and ")} calls, not ${event} ones` };
  }
  const customer = await customerByPhone(tx, waIdCandidates(input.e164), now);
  const key = customer.waId ?? input.e164.replace(/\D/g, "");
  const last = await tx.get("callCooldowns", key);
  const decision = callCooldown(last, trigger.cooldownHours, now);
  if (!decision.allowed) {
    // Which branch wrote is another branch's business: say only when the caller may get one again.
    return { status: "skipped", reason: "cooldown", until: decision.until, message: `the caller already got a call-trigger message; the next one is possible after ${new Date(decision.until).toISOString()}` };
  }
  const prepared = await prepareTemplate(tx, { name: trigger.template, language: trigger.language, params: trigger.params });
  let queued;
  try {
    queued = await queueOutbound(tx, { customer, branchId: branch.id, content: prepared.content, template: prepared.template, origin: "trigger", now });
  } catch (err) {
    if (err instanceof AppError && err.code === "opted_out") return { status: "skipped", reason: "opted_out", message: err.message };
    throw err;
  }
  await tx.put("callCooldowns", { id: key, customerId: customer.id, branchId: branch.id, messageId: queued.message.id, event, at: now, until: decision.until });
  return { status: "queued", id: queued.message.id, job: queued.job };
}

/**
 * Checks a call-trigger setting against the synced templates when a branch is created or
 * updated, so a typo is refused at once instead of on the first call: the template must be
 * APPROVED and the parameters must fit it (422 `template_not_found` / `template_params`).
 */
export async function checkCallTriggerSettings(tx: Tx, trigger: CallTriggerSettings): Promise<void> {
  try {
    await prepareTemplate(tx, { name: trigger.template, language: trigger.language, params: trigger.params });
  } catch (err) {
    if (err instanceof AppError) {
      throw new AppError({ code: err.code, message: `callTrigger: ${err.message}`, httpStatus: err.httpStatus, field: err.field ? err.field.replace(/^template\.?/, "callTrigger.").replace(/^callTrigger\.name$/, "callTrigger.template").replace(/\.$/, "") : "callTrigger", cause: err });
    }
    throw err;
  }
}
