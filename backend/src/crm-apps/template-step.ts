import { createHash } from "node:crypto";
import { AppError } from "../errors.js";
import { waIdCandidates } from "../domain/phone.js";
import type { TemplateSendRequest } from "../domain/templates.js";
import type { CrmConnection, Job } from "../domain/types.js";
import { langOfDomain, managerText } from "../crm/manager-text.js";
import { customerByPhone } from "../inbound/customers.js";
import type { JobContext, JobHandler } from "../jobs/job-runner.js";
import { newJob } from "../jobs/new-job.js";
import { queueOutbound } from "../outbound/outbox.js";
import { prepareTemplate } from "../outbound/template-send.js";
import type { Store } from "../store/store.port.js";

export interface TemplateStepDeps {
  store: Store;
  now: () => number;
  onQueued(job: Job): void;
}

type Refusal = { code: string; message: string };

/** What one CRM automation step (amoCRM Salesbot step, Bitrix24 robot) asks to send, in CRM-neutral terms. */
export interface TemplateStep {
  /** The template to send, or why the step names none usable (told to the CRM before any lookup). */
  template: Pick<TemplateSendRequest, "name" | "language" | "params"> | { refused: Refusal };
  /** The client's E.164 phone as the CRM knows it; undefined when the record has none. */
  findPhone(): Promise<string | undefined>;
  /** The refusal's message when `findPhone` finds nothing. */
  noPhone: string;
  /** Kept on the message, so the CRM's adapter can answer the step when WhatsApp does. */
  crmRefs: Record<string, string>;
  /** Outbox refusals (by HTTP status) told to the CRM at once; anything else is retried by the job. */
  refusedStatuses: readonly number[];
  /** Sends the bot or robot down its failure path, with the manager-facing text. */
  reportFailure(text: string): Promise<void>;
}

/**
 * Stores a CRM's call for a template step as a job of `queue`, once per step: CRMs call again when
 * they did not hear back in time. `stepKey` names the step (hashed into the seen-key `seenPrefix:…`).
 */
export async function queueTemplateStep<P extends { connectionId: string }>(
  store: Store,
  step: { queue: string; seenPrefix: string; stepKey: string; payload: P; branchId: string | undefined; now: number },
): Promise<"queued" | "repeat"> {
  const seenId = `${step.seenPrefix}:${createHash("sha256").update(step.stepKey).digest("base64url")}`;
  const queued = await store.transact(async (tx) => {
    if (!(await tx.insertIfAbsent("seenKeys", { id: seenId, at: step.now }))) return false;
    await tx.enqueue(newJob(step.queue, step.payload, step.now, { branchId: step.branchId }));
    return true;
  });
  return queued ? "queued" : "repeat";
}

/**
 * The job handler of a CRM template step's queue. Each job is done without a word when its
 * connection is gone or unbound; else the client's phone is found, the template checked and queued
 * for the connection's branch — or the CRM is told why not (in its domain's language) and the job ends.
 */
export function templateStepHandler<P extends { connectionId: string }>(queue: string, deps: TemplateStepDeps, stepOf: (payload: P, connection: CrmConnection) => TemplateStep): JobHandler {
  return {
    queue,
    maxAttempts: 6,
    backoffMs: 2000,
    concurrency: 8,
    run: (job, ctx) => {
      const payload = job.payload as P;
      return runTemplateStep(deps, ctx, payload.connectionId, (connection) => stepOf(payload, connection));
    },
  };
}

async function runTemplateStep(deps: TemplateStepDeps, ctx: JobContext, connectionId: string, stepOf: (connection: CrmConnection) => TemplateStep): Promise<void> {
  const connection = await deps.store.read((tx) => tx.get("crmConnections", connectionId));
  const branchId = connection?.branchId;
  if (!branchId || connection.state !== "connected") {
    await deps.store.transact((tx) => ctx.complete(tx));
    return;
  }
  const step = stepOf(connection);
  const fail = async (error: Refusal) => {
    await step.reportFailure(managerText(error, langOfDomain(connection.domain)));
    await deps.store.transact((tx) => ctx.complete(tx));
  };
  if ("refused" in step.template) return fail(step.template.refused);
  const template = step.template;
  const phone = await step.findPhone();
  if (!phone) return fail({ code: "invalid_phone", message: step.noPhone });
  try {
    const queued = await deps.store.transact(async (tx) => {
      const customer = await customerByPhone(tx, waIdCandidates(phone), deps.now());
      const prepared = await prepareTemplate(tx, template);
      const result = await queueOutbound(tx, { customer, branchId, content: prepared.content, template: prepared.template, origin: "automation", crmRefs: step.crmRefs, now: deps.now() });
      await ctx.complete(tx);
      return result;
    });
    deps.onQueued(queued.job);
  } catch (err) {
    if (err instanceof AppError && step.refusedStatuses.includes(err.httpStatus)) return fail({ code: err.code, message: err.message });
    throw err;
  }
}
