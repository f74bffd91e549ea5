import { DEFAULT_HTTP_TIMEOUT_MS, optionsOf } from "./flow-check.js";
import type { FlowCondition, FlowDefinition, FlowStep, FlowValidation, StepOf } from "./flow.schema.js";
import { asText, getPath, render, renderJson, setVar, type Json, type Vars } from "./flow-vars.js";

/**
 * The flow engine: a pure function from (definition, state, event, now) to the next state and the
 * actions the runner must carry out. Everything with an outcome (a send, an HTTP call) is the last
 * action of its result, and the outcome comes back as the next event — so a send the outbox
 * refuses can take the step's error path, and no later action is ever planned on a guess.
 */

/** A message the flow sends; structurally the channel's `OutboundContent` (text, buttons, list). */
export type FlowContent =
  | { kind: "text"; text: string }
  | { kind: "buttons"; body: string; buttons: Array<{ id: string; title: string }> }
  | { kind: "list"; body: string; button: string; sections: Array<{ title: string; rows: Array<{ id: string; title: string; description?: string }> }> };

export interface HttpRequestSpec {
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  url: string;
  headers: Record<string, string>;
  body?: Json;
  timeoutMs: number;
}

export type FlowAction =
  | { kind: "send"; stepId: string; content: FlowContent }
  | { kind: "template"; stepId: string; name: string; language: string; params?: string[] | Record<string, string> }
  | { kind: "http"; stepId: string; token: string; request: HttpRequestSpec }
  /** Schedule the timeout of an answer wait (a durable timer at `until`). */
  | { kind: "wait"; stepId: string; token: string; until: number }
  | { kind: "record_nps"; stepId: string; score: number }
  | { kind: "handover"; stepId: string; reason: string }
  | { kind: "end"; outcome: FlowOutcome; error?: string };

export type FlowOutcome = "completed" | "handed_over" | "timeout" | "invalid" | "error" | "cancelled";

export type FlowEvent =
  /** `windowOpen`: the customer's 24-hour window at that moment (the runner knows, the engine does not). */
  | { type: "start"; windowOpen: boolean }
  | { type: "sent" }
  | { type: "send_failed"; code: string; message: string }
  | { type: "answer"; text?: string; replyId?: string }
  | { type: "timeout"; token: string; windowOpen: boolean }
  /** `error`: no answer at all (timeout, connection refused…); else the status and raw body text. */
  | { type: "http_result"; token: string; windowOpen: boolean; status?: number; body?: string; error?: string }
  | { type: "cancel"; reason: string };

export interface AnswerWait {
  kind: "answer";
  stepId: string;
  token: string;
  until: number;
  /** Invalid answers so far. */
  attempts: number;
}

export type Waiting =
  /** A message is out for acceptance; `then` is the answer wait it leads to (ask, retry prompt). */
  | { kind: "send"; stepId: string; then?: AnswerWait; schedule?: boolean }
  | AnswerWait
  | { kind: "http"; stepId: string; token: string };

export interface FlowState {
  stepId: string;
  status: "active" | "done" | "failed";
  vars: Vars;
  waiting?: Waiting;
  /** Tokens of waits are `<seq>`: a timer or HTTP result for an older wait is recognised as stale. */
  seq: number;
  /** The last steps entered (newest last), for the console. */
  trail: string[];
  handedOver?: boolean;
  outcome?: FlowOutcome;
  error?: string;
}

export interface StepResult {
  state: FlowState;
  actions: FlowAction[];
  /** False when the event did not concern this state (a stale timer, an answer nobody waits for). */
  consumed: boolean;
}

/** Steps run in one call at most: a definition looping through branches without waiting ends here. */
export const MAX_STEPS_PER_EVENT = 100;
const TRAIL = 30;

export function startFlow(def: FlowDefinition, vars: Vars, event: Extract<FlowEvent, { type: "start" }>, now: number): StepResult {
  const state: FlowState = { stepId: def.start, status: "active", vars: withWindow(vars, event.windowOpen), seq: 0, trail: [] };
  const actions: FlowAction[] = [];
  return { state: enter(def, state, def.start, now, actions), actions, consumed: true };
}

export function stepFlow(def: FlowDefinition, prev: FlowState, event: FlowEvent, now: number): StepResult {
  const ignored: StepResult = { state: prev, actions: [], consumed: false };
  if (prev.status !== "active") return ignored;
  // The customer's own message opens their window; other events carry what the runner saw.
  const windowOpen = "windowOpen" in event ? event.windowOpen : event.type === "answer" ? true : undefined;
  const state: FlowState = { ...prev, vars: windowOpen === undefined ? prev.vars : withWindow(prev.vars, windowOpen) };
  const actions: FlowAction[] = [];
  const w = state.waiting;
  const done = (s: FlowState): StepResult => ({ state: s, actions, consumed: true });

  if (event.type === "cancel") return done(finish(state, "cancelled", actions, event.reason));
  if (event.type === "start") return ignored;

  if (event.type === "sent" || event.type === "send_failed") {
    if (w?.kind !== "send") return ignored;
    const step = def.steps[w.stepId];
    if (event.type === "send_failed") {
      const onError = step && "onError" in step ? step.onError : undefined;
      const failed = { ...state, waiting: undefined, vars: setVar(state.vars, "error", { code: event.code, message: event.message, step: w.stepId }) };
      if (onError) return done(enter(def, failed, onError, now, actions));
      return done(finish(failed, "error", actions, `step ${w.stepId}: ${event.code}: ${event.message}`));
    }
    if (w.then) {
      if (w.schedule) actions.push({ kind: "wait", stepId: w.then.stepId, token: w.then.token, until: w.then.until });
      return done({ ...state, waiting: w.then });
    }
    const next = step && "next" in step ? step.next : undefined;
    return done(next ? enter(def, { ...state, waiting: undefined }, next, now, actions) : finish({ ...state, waiting: undefined }, undefined, actions));
  }

  if (event.type === "timeout") {
    if (w?.kind !== "answer" || w.token !== event.token) return ignored;
    const step = def.steps[w.stepId] as StepOf<"ask"> | StepOf<"wait">;
    const cleared = { ...state, waiting: undefined };
    return done(step.onTimeout ? enter(def, cleared, step.onTimeout, now, actions) : finish(cleared, "timeout", actions));
  }

  if (event.type === "answer") {
    if (w?.kind !== "answer") return ignored;
    const step = def.steps[w.stepId] as StepOf<"ask"> | StepOf<"wait">;
    const verdict = readAnswer(step, event);
    if (verdict.ok) {
      const answered = { ...state, waiting: undefined, vars: setVar(state.vars, step.var, verdict.value) };
      return done(enter(def, answered, step.next, now, actions));
    }
    const attempts = w.attempts + 1;
    if (attempts <= (step.maxRetries ?? 1)) {
      const again: AnswerWait = { ...w, attempts };
      actions.push({ kind: "send", stepId: w.stepId, content: { kind: "text", text: render(step.retryText ?? defaultRetryText(step), state.vars) } });
      return done({ ...state, waiting: { kind: "send", stepId: w.stepId, then: again } });
    }
    const cleared = { ...state, waiting: undefined };
    return done(step.onInvalid ? enter(def, cleared, step.onInvalid, now, actions) : finish(cleared, "invalid", actions));
  }

  // http_result
  if (w?.kind !== "http" || w.token !== event.token) return ignored;
  const step = def.steps[w.stepId] as StepOf<"http">;
  const outcome = readHttp(step, event);
  const cleared = { ...state, waiting: undefined };
  if (!outcome.ok) {
    const failed = { ...cleared, vars: setVar(cleared.vars, "error", { code: "http", message: outcome.error, step: w.stepId }) };
    return done(enter(def, failed, step.onError, now, actions));
  }
  let vars = cleared.vars;
  for (const [name, value] of Object.entries(outcome.values)) vars = setVar(vars, name, value);
  return done(enter(def, { ...cleared, vars }, step.next, now, actions));
}

/** Runs steps from `id` until one waits (for a send's outcome, an answer, an HTTP call) or the flow ends. */
function enter(def: FlowDefinition, start: FlowState, id: string, now: number, actions: FlowAction[]): FlowState {
  let state = start;
  let current: string | undefined = id;
  for (let n = 0; current !== undefined; n++) {
    if (n >= MAX_STEPS_PER_EVENT) return finish(state, "error", actions, `more than ${MAX_STEPS_PER_EVENT} steps without waiting (a loop?) at ${current}`);
    const step: FlowStep | undefined = def.steps[current];
    if (!step) return finish(state, "error", actions, `no step '${current}'`);
    state = { ...state, stepId: current, trail: [...state.trail, current].slice(-TRAIL) };
    const v = state.vars;
    switch (step.type) {
      case "send":
        actions.push({ kind: "send", stepId: current, content: { kind: "text", text: render(step.text, v) } });
        return { ...state, waiting: { kind: "send", stepId: current } };
      case "template":
        actions.push({ kind: "template", stepId: current, name: step.name, language: step.language, params: renderParams(step.params, v) });
        return { ...state, waiting: { kind: "send", stepId: current } };
      case "ask": {
        const seq = state.seq + 1;
        const then: AnswerWait = { kind: "answer", stepId: current, token: String(seq), until: now + step.timeoutSeconds * 1000, attempts: 0 };
        actions.push({ kind: "send", stepId: current, content: question(step, v) });
        return { ...state, seq, waiting: { kind: "send", stepId: current, then, schedule: true } };
      }
      case "wait": {
        const seq = state.seq + 1;
        const wait: AnswerWait = { kind: "answer", stepId: current, token: String(seq), until: now + step.timeoutSeconds * 1000, attempts: 0 };
        actions.push({ kind: "wait", stepId: current, token: wait.token, until: wait.until });
        return { ...state, seq, waiting: wait };
      }
      case "http": {
        const seq = state.seq + 1;
        actions.push({ kind: "http", stepId: current, token: String(seq), request: httpRequest(step, v) });
        return { ...state, seq, waiting: { kind: "http", stepId: current, token: String(seq) } };
      }
      case "branch":
        current = step.cases.find((c) => holds(c.when, v))?.next ?? step.default;
        break;
      case "nps": {
        const score = toNumber(getPath(v, step.var));
        if (score !== undefined && Number.isInteger(score) && score >= 0 && score <= 10) actions.push({ kind: "record_nps", stepId: current, score });
        current = step.next;
        break;
      }
      case "handover":
        actions.push({ kind: "handover", stepId: current, reason: render(step.reason ?? "", v) });
        state = { ...state, handedOver: true };
        current = step.next;
        break;
      case "end":
        current = undefined;
        break;
    }
  }
  return finish(state, undefined, actions);
}

function finish(state: FlowState, outcome: FlowOutcome | undefined, actions: FlowAction[], error?: string): FlowState {
  const final: FlowOutcome = outcome ?? (state.handedOver ? "handed_over" : "completed");
  actions.push({ kind: "end", outcome: final, ...(error ? { error } : {}) });
  return { ...state, status: final === "error" ? "failed" : "done", waiting: undefined, outcome: final, ...(error ? { error } : {}) };
}

const withWindow = (vars: Vars, open: boolean): Vars => setVar(vars, "window.open", open);

function question(step: StepOf<"ask">, v: Vars): FlowContent {
  const body = render(step.text, v);
  if (step.buttons) return { kind: "buttons", body, buttons: step.buttons.map((b) => ({ id: b.id, title: render(b.title, v) })) };
  if (step.list) {
    const rows = step.list.rows.map((r) => ({ id: r.id, title: render(r.title, v), ...(r.description ? { description: render(r.description, v) } : {}) }));
    return { kind: "list", body, button: step.list.button, sections: [{ title: step.list.sectionTitle ?? step.list.button, rows }] };
  }
  return { kind: "text", text: body };
}

function renderParams(params: StepOf<"template">["params"], v: Vars): string[] | Record<string, string> | undefined {
  if (!params) return undefined;
  // Meta refuses newlines, tabs and runs of 5+ spaces in parameters (doc §3.3): flatten them.
  const clean = (s: string) => render(s, v).replace(/[\r\n\t]+/g, " ").replace(/ {5,}/g, "    ");
  return Array.isArray(params) ? params.map(clean) : Object.fromEntries(Object.entries(params).map(([k, s]) => [k, clean(s)]));
}

function httpRequest(step: StepOf<"http">, v: Vars): HttpRequestSpec {
  return {
    method: step.method,
    url: render(step.url, v, encodeURIComponent),
    headers: Object.fromEntries(Object.entries(step.headers ?? {}).map(([k, h]) => [k, render(h, v)])),
    ...(step.body !== undefined ? { body: renderJson(step.body as Json, v) } : {}),
    timeoutMs: step.timeoutMs ?? DEFAULT_HTTP_TIMEOUT_MS,
  };
}

type Verdict = { ok: true; value: Json } | { ok: false };

/** Reads an answer: a tapped option (by reply id, or typed id/title), else the typed text, then validation. */
export function readAnswer(step: StepOf<"ask"> | StepOf<"wait">, answer: { text?: string; replyId?: string }): Verdict {
  const options = optionsOf(step);
  const typed = answer.text?.trim();
  const byId = answer.replyId !== undefined ? options.find((o) => o.id === answer.replyId) : undefined;
  const byText = typed ? options.find((o) => o.id === typed || o.title.toLowerCase() === typed.toLowerCase()) : undefined;
  const chosen = byId ?? byText;
  const raw: Json | undefined = chosen ? (chosen.value ?? chosen.id) : typed;
  return validateValue(step.validate, raw, Boolean(chosen));
}

function validateValue(rule: FlowValidation | undefined, raw: Json | undefined, chosen: boolean): Verdict {
  if (raw === undefined || raw === "") return { ok: false };
  if (!rule) return { ok: true, value: raw };
  switch (rule.type) {
    case "choice":
      return chosen ? { ok: true, value: raw } : { ok: false };
    case "number": {
      const n = toNumber(raw);
      if (n === undefined) return { ok: false };
      if (rule.integer && !Number.isInteger(n)) return { ok: false };
      if ((rule.min !== undefined && n < rule.min) || (rule.max !== undefined && n > rule.max)) return { ok: false };
      return { ok: true, value: n };
    }
    case "text": {
      const s = asText(raw);
      if ((rule.minLength !== undefined && s.length < rule.minLength) || (rule.maxLength !== undefined && s.length > rule.maxLength)) return { ok: false };
      return { ok: true, value: s };
    }
    case "pattern":
      return new RegExp(rule.pattern, "u").test(asText(raw)) ? { ok: true, value: asText(raw) } : { ok: false };
  }
}

/** A number from a number, or from a whole-string decimal ("9", " 7 ", "8,5"); else undefined. */
export function toNumber(v: Json | undefined): number | undefined {
  if (typeof v === "number") return Number.isFinite(v) ? v : undefined;
  if (typeof v !== "string") return undefined;
  const s = v.trim().replace(",", ".");
  return /^[-+]?\d+(\.\d+)?$/.test(s) ? Number(s) : undefined;
}

function defaultRetryText(step: StepOf<"ask"> | StepOf<"wait">): string {
  const rule = step.validate;
  if (rule?.type === "number") {
    if (rule.min !== undefined && rule.max !== undefined) return `Please answer with a number from ${rule.min} to ${rule.max}.`;
    return "Please answer with a number.";
  }
  if (rule?.type === "choice") return `Please choose one of: ${optionsOf(step).map((o) => o.title).join(", ")}.`;
  return "Sorry, I did not understand. Please answer again.";
}

type HttpOutcome = { ok: true; values: Record<string, Json> } | { ok: false; error: string };

/** A 2xx answer whose JSON has every mapped path; anything else is the step's error path. */
export function readHttp(step: StepOf<"http">, r: { status?: number; body?: string; error?: string }): HttpOutcome {
  if (r.error) return { ok: false, error: r.error };
  if (r.status === undefined || r.status < 200 || r.status > 299) return { ok: false, error: `HTTP ${r.status ?? "?"}` };
  const map = Object.entries(step.map ?? {});
  if (map.length === 0) return { ok: true, values: {} };
  let json: unknown;
  try {
    json = JSON.parse(r.body ?? "");
  } catch {
    return { ok: false, error: "the response is not JSON" };
  }
  const values: Record<string, Json> = {};
  for (const [name, path] of map) {
    const v = getPath(json, path);
    if (v === undefined) return { ok: false, error: `the response has no ${path}` };
    values[name] = v;
  }
  return { ok: true, values };
}

/** Evaluates a branch condition. Numbers compare as numbers when both sides read as numbers. */
export function holds(c: FlowCondition, vars: Vars): boolean {
  const left = getPath(vars, c.var);
  const right = (c.value ?? null) as Json;
  switch (c.op) {
    case "exists":
      return left !== undefined && left !== null;
    case "empty":
      return left === undefined || left === null || left === "" || (Array.isArray(left) && left.length === 0);
    case "eq":
      return same(left, right);
    case "ne":
      return !same(left, right);
    case "in":
      return Array.isArray(right) && right.some((r) => same(left, r));
    case "contains":
      if (Array.isArray(left)) return left.some((l) => same(l, right));
      return typeof left === "string" && left.toLowerCase().includes(asText(right).toLowerCase());
    default: {
      const a = toNumber(left);
      const b = toNumber(right);
      if (a === undefined || b === undefined) return false;
      return c.op === "lt" ? a < b : c.op === "lte" ? a <= b : c.op === "gt" ? a > b : a >= b;
    }
  }
}

function same(a: Json | undefined, b: Json | undefined): boolean {
  const x = toNumber(a);
  const y = toNumber(b);
  if (x !== undefined && y !== undefined) return x === y;
  if (typeof a === "boolean" || typeof b === "boolean") return String(a) === String(b);
  return asText(a) === asText(b) && (a === undefined) === (b === undefined);
}
