import type { z } from "zod";
import { flowSchema, type FlowDefinition, type FlowStep } from "./flow.schema.js";
import { RESERVED_VARS } from "./flow-vars.js";

/** One problem of a flow definition, naming the step and the field. */
export interface FlowProblem {
  /** Dotted path in the definition, e.g. `steps.ask_score.buttons[3]`. */
  path: string;
  step?: string;
  field?: string;
  message: string;
}

export type FlowCheck = { ok: true; flow: FlowDefinition; warnings: FlowProblem[] } | { ok: false; problems: FlowProblem[] };

const DAY_MS = 86_400_000;
/** "Open at this instant, for an unknown time": enough for a message sent right now. */
const JUST_OPEN = 1;
const CLOSED = -1;
/** Ids our branch menu uses (routing ladder): a flow's options must not look like them. */
const MENU_ID = /^(branch|city|menu):/;

/**
 * Validates a flow: its JSON shape, that every step it names exists, WhatsApp's limits, and that
 * free text cannot reach a customer whose 24-hour window may be closed. All problems are returned,
 * each naming its step and field.
 */
export function checkFlow(input: unknown): FlowCheck {
  const parsed = flowSchema.safeParse(input);
  if (!parsed.success) return { ok: false, problems: parsed.error.issues.map(fromIssue) };
  const flow = parsed.data;
  const problems: FlowProblem[] = [];
  const at = (step: string, field: string, message: string) => problems.push({ path: `steps.${step}.${field}`, step, field, message: `steps.${step}.${field}: ${message}` });

  if (!flow.steps[flow.start]) problems.push({ path: "start", field: "start", message: `start: no step '${flow.start}'` });
  for (const [id, step] of Object.entries(flow.steps)) {
    for (const [field, target] of refsOf(step)) if (!flow.steps[target]) at(id, field, `no step '${target}'`);
    if (step.type === "ask" || step.type === "wait") {
      const options = optionsOf(step);
      if (step.type === "ask" && step.buttons && step.list) at(id, "list", "give buttons or list, not both");
      const seen = new Set<string>();
      options.forEach((o, i) => {
        const field = `${step.type === "wait" ? "options" : step.buttons ? "buttons" : "list.rows"}[${i}]`;
        if (seen.has(o.id)) at(id, `${field}.id`, `duplicate option id '${o.id}'`);
        seen.add(o.id);
        if (MENU_ID.test(o.id)) at(id, `${field}.id`, "ids starting with branch:, city: or menu: belong to the branch menu");
      });
      if (step.type === "ask" && step.buttons) {
        const titles = step.buttons.map((b) => b.title.toLowerCase());
        if (new Set(titles).size !== titles.length) at(id, "buttons", "button titles must be unique (WhatsApp refuses repeats)");
      }
      if (step.validate?.type === "choice" && options.length === 0) at(id, "validate", "a choice needs buttons, a list or options");
      if (step.validate?.type === "pattern" && !compiles(step.validate.pattern)) at(id, "validate.pattern", "is not a valid regular expression");
      if (step.validate?.type === "number" && step.validate.min !== undefined && step.validate.max !== undefined && step.validate.min > step.validate.max) at(id, "validate.min", "is greater than max");
      if (isReserved(step.var)) at(id, "var", `'${step.var}' is filled by the runner; choose another name`);
    }
    if (step.type === "http") {
      for (const name of Object.keys(step.map ?? {})) if (isReserved(name)) at(id, `map.${name}`, `'${name}' is filled by the runner; choose another name`);
    }
  }
  if (problems.length > 0) return { ok: false, problems };

  for (const [id, message] of windowProblems(flow)) at(id, "text", message);
  if (problems.length > 0) return { ok: false, problems };

  const reached = reachable(flow);
  const warnings = Object.keys(flow.steps)
    .filter((id) => !reached.has(id))
    .map((id) => ({ path: `steps.${id}`, step: id, message: `steps.${id}: no path from '${flow.start}' reaches this step` }));
  return { ok: true, flow, warnings };
}

/** The options an answer may be matched against (buttons, list rows, or a wait step's options). */
export function optionsOf(step: FlowStep): Array<{ id: string; title: string; value?: string | number | boolean }> {
  if (step.type === "ask") return step.buttons ?? step.list?.rows ?? [];
  if (step.type === "wait") return step.options ?? [];
  return [];
}

/** Every step a step can go to, with the field that names it. */
export function refsOf(step: FlowStep): Array<[field: string, target: string]> {
  const out: Array<[string, string]> = [];
  const add = (field: string, v: string | undefined) => v !== undefined && out.push([field, v]);
  switch (step.type) {
    case "send":
    case "template":
      add("next", step.next);
      add("onError", step.onError);
      break;
    case "ask":
    case "wait":
      add("next", step.next);
      add("onTimeout", step.onTimeout);
      add("onInvalid", step.onInvalid);
      if (step.type === "ask") add("onError", step.onError);
      break;
    case "http":
      add("next", step.next);
      add("onError", step.onError);
      break;
    case "branch":
      step.cases.forEach((c, i) => add(`cases[${i}].next`, c.next));
      add("default", step.default);
      break;
    case "nps":
    case "handover":
      add("next", step.next);
      break;
    case "end":
      break;
  }
  return out;
}

/**
 * Where free text might meet a closed window. Each step gets a lower bound of how long the window
 * is still open when the step starts (the minimum over every way in): an answer opens it for 24 h,
 * a timeout spends the wait, a branch on `window.open` = true knows it is open right now.
 */
function windowProblems(flow: FlowDefinition): Array<[string, string]> {
  const entry = new Map<string, number>();
  const queue: string[] = [flow.start];
  entry.set(flow.start, flow.window === "open" ? JUST_OPEN : CLOSED);
  for (let guard = 0; queue.length > 0 && guard < 100_000; guard++) {
    const id = queue.shift()!;
    const step = flow.steps[id];
    if (!step) continue;
    const v = entry.get(id)!;
    for (const [target, left] of windowEdges(step, v)) {
      const next = Math.max(CLOSED, left);
      const current = entry.get(target);
      if (current === undefined || next < current) {
        entry.set(target, next);
        queue.push(target);
      }
    }
  }
  const out: Array<[string, string]> = [];
  for (const [id, step] of Object.entries(flow.steps)) {
    const v = entry.get(id);
    if (v === undefined || v >= JUST_OPEN) continue;
    if (step.type === "send" || step.type === "ask") {
      out.push([
        id,
        flow.window === "open"
          ? "free text may reach the customer after the 24-hour window closed (a wait may outlast it): branch on window.open first, or use a template step"
          : "free text may reach the customer outside the 24-hour window (this flow may start when it is closed): send a template step and wait for the answer first, branch on window.open, or set \"window\": \"open\"",
      ]);
    }
  }
  return out;
}

function windowEdges(step: FlowStep, v: number): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  const add = (target: string | undefined, left: number) => target !== undefined && out.push([target, left]);
  switch (step.type) {
    case "ask":
    case "wait":
      add(step.next, DAY_MS);
      add(step.onInvalid, DAY_MS);
      add(step.onTimeout, v - step.timeoutSeconds * 1000);
      if (step.type === "ask") add(step.onError, v);
      break;
    // An HTTP call lasts seconds at most (timeoutMs ≤ 30 s): counted as no time; if the window
    // closes in those seconds, the outbox refuses the send and the step's error path runs.
    case "branch":
      for (const c of step.cases) add(c.next, opensWindow(c.when) ? Math.max(v, JUST_OPEN) : v);
      add(step.default, v);
      break;
    default:
      for (const [, target] of refsOf(step)) add(target, v);
  }
  return out;
}

export const DEFAULT_HTTP_TIMEOUT_MS = 5000;

const opensWindow = (c: { var: string; op: string; value?: unknown }) =>
  c.var === "window.open" && ((c.op === "eq" && c.value === true) || (c.op === "ne" && c.value === false));

function reachable(flow: FlowDefinition): Set<string> {
  const seen = new Set<string>();
  const stack = [flow.start];
  while (stack.length > 0) {
    const id = stack.pop()!;
    if (seen.has(id) || !flow.steps[id]) continue;
    seen.add(id);
    for (const [, t] of refsOf(flow.steps[id]!)) stack.push(t);
  }
  return seen;
}

const isReserved = (name: string) => (RESERVED_VARS as readonly string[]).includes(name.split(".")[0]!);

function compiles(pattern: string): boolean {
  try {
    new RegExp(pattern, "u");
    return true;
  } catch {
    return false;
  }
}

function fromIssue(issue: z.core.$ZodIssue): FlowProblem {
  const path = issue.path.map(String);
  const text = issue.path.reduce<string>((acc, k) => (typeof k === "number" ? `${acc}[${k}]` : acc ? `${acc}.${String(k)}` : String(k)), "");
  const unknown = issue.code === "unrecognized_keys" ? ` ${issue.keys.map((k) => `'${k}'`).join(", ")}` : "";
  const message = issue.code === "unrecognized_keys" ? `unknown field${unknown}` : issue.message;
  if (path[0] === "steps" && path.length >= 2) {
    const step = path[1]!;
    const field = text.slice(`steps.${step}`.length).replace(/^\./, "") || undefined;
    return { path: text, step, field, message: `${text}: ${message}` };
  }
  return { path: text, field: text || undefined, message: text ? `${text}: ${message}` : message };
}
