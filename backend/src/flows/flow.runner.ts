import { randomUUID } from "node:crypto";
import type { AxiosInstance } from "axios";
import { AppError, conflict, notFound, unprocessable } from "../errors.js";
import { startFlow, stepFlow, type FlowAction, type FlowEvent, type StepResult } from "../domain/flows/flow-engine.js";
import { RESERVED_VARS, type Json, type Vars } from "../domain/flows/flow-vars.js";
import type { Branch, Customer, FlowRun, Job } from "../domain/types.js";
import { windowState } from "../domain/window.js";
import type { JobHandler } from "../jobs/job-runner.js";
import { newJob } from "../jobs/new-job.js";
import type { Logger } from "../ops/logger.js";
import { queueOutbound } from "../outbound/outbox.js";
import { prepareTemplate } from "../outbound/template-send.js";
import { bindCustomer, ensureDialog } from "../inbound/bindings.js";
import { recordNpsAnswer } from "../stats/daily-stats.js";
import type { Store, Tx } from "../store/store.port.js";
import { callHttp } from "./flow-http.js";
import { mergeEffects, noEffects, type WorkEffects } from "./effects.js";

export const FLOW_QUEUE = "flow";
const DAY_MS = 86_400_000;
/** Message ids kept on a run (the console shows them; a looping flow must not grow the row forever). */
const MAX_MESSAGE_IDS = 50;
/** Sends and their outcomes processed for one event: far above any sane flow, a stop for a broken one. */
const MAX_ROUNDS = 50;

type FlowJob = { kind: "timeout"; runId: string; token: string } | { kind: "http"; runId: string; token: string };

export interface HandoverRequest {
  branchId: string;
  customerId: string;
  dialogId: string;
  reason: string;
  source: "flow";
  flowRunId: string;
}

export interface FlowRunnerDeps {
  store: Store;
  logger: Logger;
  now: () => number;
  http: AxiosInstance;
  /** Hands the dialog over to people (operator alerts), inside the flow's transaction. */
  handover(tx: Tx, req: HandoverRequest, now: number): Promise<WorkEffects>;
  /** Runs after a transaction of the runner's own jobs commits (send jobs, wake the job runner). */
  afterCommit(fx: WorkEffects): void;
}

export interface StartInput {
  flowId: string;
  customer: Customer;
  branch: Branch;
  startedBy: FlowRun["startedBy"];
  /** Extra variables for the texts (`{{visit.date}}`); the runner's own roots may not be given. */
  vars?: Record<string, Json>;
  now: number;
}

/**
 * Runs flows durably: a run is a store record holding the engine's state; every event (start, the
 * customer's answer, a timer, an HTTP result) is applied in one transaction together with what it
 * causes (messages queued, timers and HTTP calls as durable jobs, NPS counters, handovers). Timers
 * and HTTP calls are jobs, so they survive restarts; an HTTP call interrupted by a crash is made
 * again (at least once), and its result is applied only if the run still waits for it.
 */
export class FlowRunner {
  constructor(private readonly deps: FlowRunnerDeps) {}

  /** Starts a flow for a customer, in the caller's transaction. Refusals are AppErrors (404/409/422). */
  async start(tx: Tx, input: StartInput): Promise<{ run: FlowRun; fx: WorkEffects }> {
    const { customer, branch, now } = input;
    const flow = await tx.get("flows", input.flowId);
    if (!flow) throw notFound(`flow ${input.flowId}`);
    if (!flow.enabled) throw new AppError({ code: "flow_disabled", message: `flow ${flow.id} is disabled`, httpStatus: 409 });
    if (!branch.enabled) throw new AppError({ code: "branch_disabled", message: `branch ${branch.code} is disabled`, httpStatus: 409, field: "branchId" });
    for (const key of Object.keys(input.vars ?? {})) {
      if ((RESERVED_VARS as readonly string[]).includes(key)) throw unprocessable("reserved_var", `vars.${key} is filled by the runner`, `vars.${key}`);
    }
    const active = (await tx.byIndex("flowRuns", "activeCustomer", customer.id))[0];
    if (active) {
      // A branch must not learn what another branch does with the customer.
      const mine = input.startedBy === "admin" || active.branchId === branch.id;
      throw new AppError({ code: "flow_active", message: mine ? `the customer is already in flow ${active.flowId} (run ${active.id})` : "the customer is already in a flow", httpStatus: 409, ...(mine ? { details: { runId: active.id } } : {}) });
    }
    const def = flow.definition;
    if (def.oncePerDays !== undefined) {
      // A run that failed before anything reached the customer (e.g. a template not approved yet) does not count.
      const recent = await tx.byIndex("flowRuns", "flowCustomer", `${flow.id}|${customer.id}`, { newestFirst: true, limit: 20 });
      const last = recent.find((r) => !(r.outcome === "error" && r.messageIds.length === 0));
      const nextAllowed = last ? last.startedAt + def.oncePerDays * DAY_MS : 0;
      if (last && now < nextAllowed) {
        throw new AppError({
          code: "flow_too_soon",
          message: `the customer got flow ${flow.id} on ${new Date(last.startedAt).toISOString().slice(0, 10)}; at most once per ${def.oncePerDays} days (next from ${new Date(nextAllowed).toISOString()})`,
          httpStatus: 409,
          details: { lastRunId: last.id, nextAllowedAt: nextAllowed },
        });
      }
    }
    const windowOpen = windowState(customer.lastInboundAt, now).open;
    if (def.window === "open" && !windowOpen) throw unprocessable("window_closed", "this flow needs the customer's 24-hour window open (the flow says \"window\": \"open\")", "phone");

    const dialog = await ensureDialog(tx, branch.id, customer.id, now);
    // Starting a flow is the branch speaking to the customer: the customer is now that branch's.
    await bindCustomer(tx, customer.id, { branchId: branch.id, rule: "outbound", reason: `the branch started flow ${def.name}`, now });
    const runId = `run_${randomUUID()}`;
    const vars: Vars = {
      ...(input.vars ?? {}),
      customer: { id: customer.id, name: customer.name ?? null, phone: customer.waId ? `+${customer.waId}` : null },
      branch: { id: branch.id, name: branch.name, code: branch.code, city: branch.city ?? null },
      dialog: { id: dialog.id },
      flow: { id: flow.id, runId },
    };
    let run: FlowRun = {
      id: runId,
      flowId: flow.id,
      flowVersion: flow.version,
      definition: def,
      customerId: customer.id,
      branchId: branch.id,
      dialogId: dialog.id,
      status: "active",
      state: { stepId: def.start, status: "active", vars, seq: 0, trail: [] },
      startedBy: input.startedBy,
      messageIds: [],
      startedAt: now,
      updatedAt: now,
    };
    const fx = noEffects();
    run = await this.apply(tx, run, startFlow(def, vars, { type: "start", windowOpen }, now), { now, priority: "automation" }, fx);
    return { run, fx };
  }

  /**
   * The inbound worker's hook: when the customer has a run in this branch waiting for an answer,
   * the message is that answer. Returns undefined when no run took it (the message is an ordinary
   * message either way: stored and delivered to the branch's CRM by the caller).
   */
  async onInbound(tx: Tx, input: { customer: Customer; branchId: string; text?: string; replyId?: string; optedOut?: boolean; now: number }): Promise<WorkEffects | undefined> {
    const runs = await tx.byIndex("flowRuns", "activeCustomer", input.customer.id);
    if (input.optedOut) {
      // A stop word is not an answer: whatever flow the customer is in ends, quietly.
      for (const r of runs) await this.cancel(tx, r.id, "the customer sent a stop word", input.now);
      return runs.length > 0 ? noEffects() : undefined;
    }
    const run = runs.find((r) => r.branchId === input.branchId && r.state.waiting?.kind === "answer");
    if (!run) return undefined;
    const result = stepFlow(run.definition, run.state, { type: "answer", text: input.text, replyId: input.replyId }, input.now);
    if (!result.consumed) return undefined;
    const fx = noEffects();
    await this.apply(tx, await dropTimer(tx, run), result, { now: input.now, priority: "reply" }, fx);
    return fx;
  }

  /** Ends a run by hand (admin). */
  async cancel(tx: Tx, runId: string, reason: string, now: number): Promise<FlowRun> {
    const run = await tx.get("flowRuns", runId);
    if (!run) throw notFound(`flow run ${runId}`);
    if (run.status !== "active") throw conflict(`run ${runId} has already ended (${run.outcome ?? run.status})`);
    return this.apply(tx, await dropTimer(tx, run), stepFlow(run.definition, run.state, { type: "cancel", reason }, now), { now, priority: "automation" }, noEffects());
  }

  /** The durable timers and HTTP calls of runs. */
  handler(): JobHandler {
    return {
      queue: FLOW_QUEUE,
      maxAttempts: 10,
      backoffMs: 1000,
      concurrency: 8,
      run: async (job, ctx) => {
        const p = job.payload as FlowJob;
        let http: Extract<FlowEvent, { type: "http_result" }> | undefined;
        if (p.kind === "http") {
          const run = await this.deps.store.read((tx) => tx.get("flowRuns", p.runId));
          const waits = run?.status === "active" && run.state.waiting?.kind === "http" && run.state.waiting.token === p.token && run.pendingHttp;
          if (waits) {
            const r = await callHttp(this.deps.http, run.pendingHttp!);
            http = { type: "http_result", token: p.token, windowOpen: false, ...r };
          }
        }
        const fx = await this.deps.store.transact(async (tx) => {
          const out = noEffects();
          const run = await tx.get("flowRuns", p.runId);
          if (run?.status === "active" && (p.kind === "timeout" || http)) {
            const now = this.deps.now();
            const customer = await tx.get("customers", run.customerId);
            const windowOpen = windowState(customer?.lastInboundAt, now).open;
            const event: FlowEvent = p.kind === "timeout" ? { type: "timeout", token: p.token, windowOpen } : { ...http!, windowOpen };
            const result = stepFlow(run.definition, run.state, event, now);
            if (result.consumed) {
              const current = p.kind === "timeout" ? { ...run, timerJobId: undefined } : { ...run, pendingHttp: undefined };
              await this.apply(tx, current, result, { now, priority: "automation" }, out);
            }
          }
          await ctx.complete(tx);
          return out;
        });
        this.deps.afterCommit(fx);
      },
    };
  }

  /**
   * Carries out the engine's actions in the caller's transaction. A send's outcome (queued, or
   * refused by the outbox: window closed, opted out, template not approved…) is fed straight back
   * to the engine, which continues or takes the step's error path.
   */
  private async apply(tx: Tx, start: FlowRun, first: StepResult, ctx: { now: number; priority: "reply" | "automation" }, fx: WorkEffects): Promise<FlowRun> {
    let run = start;
    let result = first;
    for (let round = 0; ; round++) {
      let follow: FlowEvent | undefined;
      for (const action of result.actions) {
        const outcome = await this.act(tx, run, action, ctx, fx);
        run = outcome.run;
        follow = outcome.follow ?? follow;
      }
      run = { ...run, state: result.state, status: result.state.status, updatedAt: ctx.now };
      if (!follow) break;
      if (round >= MAX_ROUNDS) {
        result = stepFlow(run.definition, run.state, { type: "cancel", reason: "too many messages for one event" }, ctx.now);
        continue;
      }
      result = stepFlow(run.definition, run.state, follow, ctx.now);
    }
    await tx.put("flowRuns", run);
    return run;
  }

  private async act(tx: Tx, run: FlowRun, a: FlowAction, ctx: { now: number; priority: "reply" | "automation" }, fx: WorkEffects): Promise<{ run: FlowRun; follow?: FlowEvent }> {
    const now = ctx.now;
    switch (a.kind) {
      case "send":
      case "template":
        return this.send(tx, run, a, ctx, fx);
      case "wait": {
        const job = await this.enqueue(tx, { kind: "timeout", runId: run.id, token: a.token }, a.until, run.branchId);
        fx.wake = true;
        return { run: { ...run, timerJobId: job.id } };
      }
      case "http":
        await this.enqueue(tx, { kind: "http", runId: run.id, token: a.token }, now, run.branchId);
        fx.wake = true;
        return { run: { ...run, pendingHttp: a.request } };
      case "record_nps":
        await recordNpsAnswer(tx, run.branchId, now, a.score);
        return { run };
      case "handover":
        mergeEffects(fx, await this.deps.handover(tx, { branchId: run.branchId, customerId: run.customerId, dialogId: run.dialogId, reason: a.reason, source: "flow", flowRunId: run.id }, now));
        return { run };
      case "end": {
        const ended = await dropTimer(tx, run);
        if (a.outcome === "error") this.deps.logger.warn({ runId: run.id, flowId: run.flowId, error: a.error }, "flow run failed");
        return { run: { ...ended, pendingHttp: undefined, outcome: a.outcome, ...(a.error ? { error: a.error } : {}), endedAt: now } };
      }
    }
  }

  private async send(tx: Tx, run: FlowRun, a: Extract<FlowAction, { kind: "send" | "template" }>, ctx: { now: number; priority: "reply" | "automation" }, fx: WorkEffects): Promise<{ run: FlowRun; follow: FlowEvent }> {
    const customer = await tx.get("customers", run.customerId);
    if (!customer) return { run, follow: { type: "send_failed", code: "customer_gone", message: "the customer record no longer exists" } };
    try {
      const prepared = a.kind === "template" ? await prepareTemplate(tx, { name: a.name, language: a.language, params: a.params }) : undefined;
      const { message, job } = await queueOutbound(tx, {
        customer,
        branchId: run.branchId,
        content: prepared?.content ?? (a as Extract<FlowAction, { kind: "send" }>).content,
        template: prepared?.template,
        origin: "automation",
        priority: ctx.priority,
        // Marks the message as the flow's (not a person's): operator alerts ignore it.
        crmRefs: { flowRunId: run.id },
        now: ctx.now,
      });
      fx.sends.push(job);
      return { run: { ...run, messageIds: [...run.messageIds, message.id].slice(-MAX_MESSAGE_IDS) }, follow: { type: "sent" } };
    } catch (err) {
      if (err instanceof AppError && err.httpStatus < 500) return { run, follow: { type: "send_failed", code: err.code, message: err.message } };
      throw err;
    }
  }

  private enqueue(tx: Tx, payload: FlowJob, runAt: number, branchId: string): Promise<Job> {
    const now = this.deps.now();
    return tx.enqueue(newJob(FLOW_QUEUE, payload, now, { branchId, runAt }));
  }
}

/** The answer came (or the run ended): its timer is not needed any more. */
async function dropTimer(tx: Tx, run: FlowRun): Promise<FlowRun> {
  if (!run.timerJobId) return run;
  await tx.delete("jobs", run.timerJobId);
  return { ...run, timerJobId: undefined };
}
