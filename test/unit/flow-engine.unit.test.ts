import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { checkFlow } from "../../backend/src/domain/flows/flow-check.js";
import { holds, readAnswer, readHttp, startFlow, stepFlow, type FlowEvent, type FlowState, type StepResult } from "../../backend/src/domain/flows/flow-engine.js";
import { flowSchema, type FlowDefinition, type StepOf } from "../../backend/src/domain/flows/flow.schema.js";
import { getPath, render, renderJson, type Vars } from "../../backend/src/domain/flows/flow-vars.js";

// ───────────────────────────────────────── builders ──────────────────────────────────────────

const NOW = Date.UTC(2026, 10, 20, 12, 0, 0);
const VARS: Vars = {
  customer: { name: "Анна", phone: "+79161234567" },
  branch: { name: "Art Play", code: "ARTPLAY" },
  score: 9,
  visits: [{ master: "Ольга", date: "2026-11-19" }],
  empty: "",
};

/** A flow from its steps (window "open" unless said otherwise, so free text may go first). */
function flow(steps: Record<string, unknown>, over: Record<string, unknown> = {}): FlowDefinition {
  return flowSchema.parse({ name: "t", window: "open", start: Object.keys(steps)[0], steps, ...over });
}

const start = (def: FlowDefinition, vars: Vars = VARS, windowOpen = true) => startFlow(def, vars, { type: "start", windowOpen }, NOW);
const feed = (def: FlowDefinition, r: StepResult, event: FlowEvent, at = NOW) => stepFlow(def, r.state, event, at);
const kinds = (r: StepResult) => r.actions.map((a) => a.kind);

const ASK_SCORE = {
  type: "ask",
  text: "{{customer.name}}, rate us 0–10",
  list: { button: "Rate", rows: [{ id: "s10", title: "10", value: 10 }, { id: "s9", title: "9", value: 9 }, { id: "s1", title: "1", value: 1 }] },
  var: "score",
  validate: { type: "number", min: 0, max: 10, integer: true },
  retryText: "0 to 10, please",
  maxRetries: 1,
  timeoutSeconds: 60,
  next: "done",
  onTimeout: "late",
  onInvalid: "lost",
};
const ENDS = { done: { type: "end" }, late: { type: "end" }, lost: { type: "end" } };

// ───────────────────────────────────────── variables ─────────────────────────────────────────

describe("variables and templating", () => {
  it.each([
    ["plain text", "Hello", "Hello"],
    ["a nested variable", "Hi {{customer.name}}!", "Hi Анна!"],
    ["spaces inside braces", "{{ branch.name }}", "Art Play"],
    ["a number", "score {{score}}", "score 9"],
    ["an array element", "with {{visits[0].master}}", "with Ольга"],
    ["a missing variable is empty", "[{{nope}}]", "[]"],
    ["a fallback for a missing variable", "{{nope|dear customer}}", "dear customer"],
    ["a fallback for an empty variable", "{{empty|n/a}}", "n/a"],
    ["no fallback when the variable is set", "{{customer.name|x}}", "Анна"],
    ["an object as JSON", "{{visits[0]}}", '{"master":"Ольга","date":"2026-11-19"}'],
  ])("%s", (_what, template, expected) => {
    expect(render(template, VARS)).toBe(expected);
  });

  it("encodes substituted values only (URLs)", () => {
    expect(render("https://b.test/c?phone={{customer.phone}}&m={{visits[0].master}}", VARS, encodeURIComponent)).toBe("https://b.test/c?phone=%2B79161234567&m=%D0%9E%D0%BB%D1%8C%D0%B3%D0%B0");
  });

  it("keeps a lone placeholder's JSON type in request bodies", () => {
    expect(renderJson({ score: "{{score}}", text: "score {{score}}", list: ["{{customer.name}}"], missing: "{{nope}}" }, VARS)).toEqual({ score: 9, text: "score 9", list: ["Анна"], missing: null });
  });

  it.each([
    ["a.b", { a: { b: 1 } }, 1],
    ["$.a.b", { a: { b: 1 } }, 1],
    ["a[1]", { a: [5, 6] }, 6],
    ["a[2]", { a: [5, 6] }, undefined],
    ["a.b", { a: "x" }, undefined],
    ["a[0]", { a: { 0: 1 } }, undefined],
    ["toString", {}, undefined],
    ["a..b", { a: { b: 1 } }, undefined],
  ])("getPath(%s)", (path, root, expected) => {
    expect(getPath(root, path)).toEqual(expected);
  });
});

// ───────────────────────────────────────── conditions ────────────────────────────────────────

describe("branch conditions", () => {
  it.each([
    [{ var: "score", op: "eq", value: 9 }, true],
    [{ var: "score", op: "eq", value: "9" }, true],
    [{ var: "score", op: "ne", value: 9 }, false],
    [{ var: "score", op: "lte", value: 6 }, false],
    [{ var: "score", op: "gt", value: 8 }, true],
    [{ var: "score", op: "gte", value: 10 }, false],
    [{ var: "score", op: "lt", value: "abc" }, false],
    [{ var: "customer.name", op: "eq", value: "Анна" }, true],
    [{ var: "customer.name", op: "contains", value: "нн" }, true],
    [{ var: "customer.name", op: "in", value: ["Олег", "Анна"] }, true],
    [{ var: "customer.name", op: "in", value: "Анна" }, false],
    [{ var: "visits", op: "exists" }, true],
    [{ var: "nope", op: "exists" }, false],
    [{ var: "empty", op: "empty" }, true],
    [{ var: "nope", op: "empty" }, true],
    [{ var: "score", op: "empty" }, false],
    [{ var: "window.open", op: "eq", value: true }, false],
    [{ var: "nope", op: "eq", value: null }, false],
  ] as const)("%j → %s", (when, expected) => {
    expect(holds(when as never, VARS)).toBe(expected);
  });
});

// ───────────────────────────────────────── answers ───────────────────────────────────────────

describe("reading answers", () => {
  const ask = flow({ ask: ASK_SCORE, ...ENDS }).steps.ask as StepOf<"ask">;
  const text = (over: Record<string, unknown>) => flow({ ask: { ...ASK_SCORE, list: undefined, ...over }, ...ENDS }).steps.ask as StepOf<"ask">;

  it.each([
    ["a list reply by id", ask, { replyId: "s9", text: "9" }, { ok: true, value: 9 }],
    ["a typed number", ask, { text: " 7 " }, { ok: true, value: 7 }],
    ["zero, typed (not in the list)", ask, { text: "0" }, { ok: true, value: 0 }],
    ["a typed row title", ask, { text: "10" }, { ok: true, value: 10 }],
    ["above the range", ask, { text: "11" }, { ok: false }],
    ["below the range", ask, { text: "-1" }, { ok: false }],
    ["not a whole number", ask, { text: "8,5" }, { ok: false }],
    ["words", ask, { text: "great!" }, { ok: false }],
    ["nothing (a sticker)", ask, {}, { ok: false }],
    ["an unknown reply id falls back to the typed title", ask, { replyId: "other", text: "9" }, { ok: true, value: 9 }],
    ["text within length", text({ validate: { type: "text", maxLength: 5 }, var: "c" }), { text: "short" }, { ok: true, value: "short" }],
    ["text too long", text({ validate: { type: "text", maxLength: 5 }, var: "c" }), { text: "longer" }, { ok: false }],
    ["pattern match", text({ validate: { type: "pattern", pattern: "^\\d{2}:\\d{2}$" }, var: "c" }), { text: "14:30" }, { ok: true, value: "14:30" }],
    ["pattern miss", text({ validate: { type: "pattern", pattern: "^\\d{2}:\\d{2}$" }, var: "c" }), { text: "2pm" }, { ok: false }],
    ["no rule: anything", text({ validate: undefined, var: "c" }), { text: "whatever" }, { ok: true, value: "whatever" }],
  ] as const)("%s", (_what, step, answer, expected) => {
    expect(readAnswer(step, answer)).toEqual(expected);
  });

  it("a choice accepts only an option (id or title), giving the option's value", () => {
    const step = flow({ w: { type: "wait", options: [{ id: "yes", title: "Да", value: true }, { id: "no", title: "Нет" }], var: "ok", validate: { type: "choice" }, timeoutSeconds: 60, next: "done" }, ...ENDS }).steps.w as StepOf<"wait">;
    expect(readAnswer(step, { replyId: "yes" })).toEqual({ ok: true, value: true });
    expect(readAnswer(step, { text: "нет" })).toEqual({ ok: true, value: "no" });
    expect(readAnswer(step, { text: "maybe" })).toEqual({ ok: false });
  });
});

// ───────────────────────────────────────── HTTP results ──────────────────────────────────────

describe("HTTP results", () => {
  const step = flow({
    h: { type: "http", method: "GET", url: "https://b.test/c", map: { client: "client.name", master: "visits[0].master" }, next: "done", onError: "late" },
    ...ENDS,
  }).steps.h as StepOf<"http">;

  it.each([
    ["no answer in time", { error: "no answer within 2000 ms" }, { ok: false, error: "no answer within 2000 ms" }],
    ["a 500", { status: 500, body: '{"error":"x"}' }, { ok: false, error: "HTTP 500" }],
    ["a 404", { status: 404, body: "" }, { ok: false, error: "HTTP 404" }],
    ["HTML instead of JSON", { status: 200, body: "<html>oops</html>" }, { ok: false, error: "the response is not JSON" }],
    ["JSON without a mapped path", { status: 200, body: '{"client":{"name":"Анна"},"visits":[]}' }, { ok: false, error: "the response has no visits[0].master" }],
    ["every path present", { status: 200, body: '{"client":{"name":"Анна"},"visits":[{"master":"Ольга"}]}' }, { ok: true, values: { client: "Анна", master: "Ольга" } }],
  ] as const)("%s", (_what, result, expected) => {
    expect(readHttp(step, result)).toEqual(expected);
  });

  it("a step without a map only needs a 2xx", () => {
    const plain = { ...step, map: undefined };
    expect(readHttp(plain, { status: 204, body: "" })).toEqual({ ok: true, values: {} });
  });
});

// ───────────────────────────────────────── step types ────────────────────────────────────────

describe("steps", () => {
  it("send: renders the text, continues once the outbox accepted it", () => {
    const def = flow({ hi: { type: "send", text: "Hi {{customer.name}}", next: "bye" }, bye: { type: "end" } });
    const r1 = start(def);
    expect(r1.actions).toEqual([{ kind: "send", stepId: "hi", content: { kind: "text", text: "Hi Анна" } }]);
    expect(r1.state.waiting).toEqual({ kind: "send", stepId: "hi" });
    const r2 = feed(def, r1, { type: "sent" });
    expect(r2.actions).toEqual([{ kind: "end", outcome: "completed" }]);
    expect(r2.state).toMatchObject({ status: "done", outcome: "completed", trail: ["hi", "bye"] });
  });

  it("send refused by the outbox: the error path, with the reason in error.*", () => {
    const def = flow({ hi: { type: "send", text: "Hi", next: "bye", onError: "tpl" }, tpl: { type: "template", name: "hello", language: "ru", params: ["{{error.code}}"] }, bye: { type: "end" } });
    const r = feed(def, start(def, VARS, false), { type: "send_failed", code: "window_closed", message: "closed" });
    expect(r.actions).toEqual([{ kind: "template", stepId: "tpl", name: "hello", language: "ru", params: ["window_closed"] }]);
  });

  it("send refused without an error path: the run fails and says why", () => {
    const def = flow({ hi: { type: "send", text: "Hi" } });
    const r = feed(def, start(def), { type: "send_failed", code: "opted_out", message: "no" });
    expect(r.state).toMatchObject({ status: "failed", outcome: "error", error: "step hi: opted_out: no" });
    expect(kinds(r)).toEqual(["end"]);
  });

  it("template: parameters rendered, newlines and long runs of spaces flattened (Meta refuses them)", () => {
    const def = flow({ t: { type: "template", name: "visit", language: "ru", params: { name: "{{customer.name}}", note: "a\nb\tc      d" } } });
    expect(start(def).actions).toEqual([{ kind: "template", stepId: "t", name: "visit", language: "ru", params: { name: "Анна", note: "a b c    d" } }]);
  });

  it("ask with a list: the question, then the timer once it is accepted, then the answer goes into the variable", () => {
    const def = flow({ ask: ASK_SCORE, ...ENDS });
    const r1 = start(def);
    expect(r1.actions).toEqual([
      { kind: "send", stepId: "ask", content: { kind: "list", body: "Анна, rate us 0–10", button: "Rate", sections: [{ title: "Rate", rows: [{ id: "s10", title: "10" }, { id: "s9", title: "9" }, { id: "s1", title: "1" }] }] } },
    ]);
    const r2 = feed(def, r1, { type: "sent" });
    expect(r2.actions).toEqual([{ kind: "wait", stepId: "ask", token: "1", until: NOW + 60_000 }]);
    expect(r2.state.waiting).toMatchObject({ kind: "answer", token: "1" });
    const r3 = feed(def, r2, { type: "answer", replyId: "s1", text: "1" });
    expect(r3.state.vars.score).toBe(1);
    expect(r3.state.vars.window).toEqual({ open: true });
    expect(r3.state).toMatchObject({ status: "done", stepId: "done" });
  });

  it("ask with buttons sends reply buttons", () => {
    const def = flow({ ask: { type: "ask", text: "Come?", buttons: [{ id: "y", title: "Yes" }, { id: "n", title: "No" }], var: "come", timeoutSeconds: 10, next: "done" }, ...ENDS });
    expect(start(def).actions[0]).toEqual({ kind: "send", stepId: "ask", content: { kind: "buttons", body: "Come?", buttons: [{ id: "y", title: "Yes" }, { id: "n", title: "No" }] } });
  });

  it("an invalid answer gets the retry text, then the invalid path once retries are used up", () => {
    const def = flow({ ask: ASK_SCORE, ...ENDS });
    const waiting = feed(def, start(def), { type: "sent" });
    const r1 = feed(def, waiting, { type: "answer", text: "ten" });
    expect(r1.actions).toEqual([{ kind: "send", stepId: "ask", content: { kind: "text", text: "0 to 10, please" } }]);
    const r2 = feed(def, r1, { type: "sent" });
    expect(r2.actions).toEqual([]); // the same timer keeps running
    expect(r2.state.waiting).toMatchObject({ kind: "answer", token: "1", until: NOW + 60_000, attempts: 1 });
    const r3 = feed(def, r2, { type: "answer", text: "eleven" });
    expect(r3.state).toMatchObject({ status: "done", stepId: "lost" });
  });

  it("no answer in time: the timeout path; a stale timer is ignored", () => {
    const def = flow({ ask: ASK_SCORE, ...ENDS });
    const waiting = feed(def, start(def), { type: "sent" });
    const stale = feed(def, waiting, { type: "timeout", token: "0", windowOpen: true });
    expect(stale.consumed).toBe(false);
    expect(stale.state).toBe(waiting.state);
    const r = feed(def, waiting, { type: "timeout", token: "1", windowOpen: false }, NOW + 60_000);
    expect(r.state).toMatchObject({ status: "done", stepId: "late", vars: { window: { open: false } } });
  });

  it("no answer and no timeout path: the run ends as timed out", () => {
    const def = flow({ ask: { ...ASK_SCORE, onTimeout: undefined }, ...ENDS });
    const r = feed(def, feed(def, start(def), { type: "sent" }), { type: "timeout", token: "1", windowOpen: true });
    expect(r.state).toMatchObject({ status: "done", outcome: "timeout" });
  });

  it("an answer nobody waits for is not consumed", () => {
    const def = flow({ ask: ASK_SCORE, ...ENDS });
    const r = feed(def, start(def), { type: "answer", text: "9" });
    expect(r.consumed).toBe(false);
  });

  it("wait: schedules its timer at once (after a template with quick replies)", () => {
    const def = flow({ w: { type: "wait", options: [{ id: "go", title: "Оценить" }], var: "go", timeoutSeconds: 3600, next: "done" }, ...ENDS }, { window: "any" });
    const r = start(def, VARS, false);
    expect(r.actions).toEqual([{ kind: "wait", stepId: "w", token: "1", until: NOW + 3_600_000 }]);
    expect(feed(def, r, { type: "answer", replyId: "go" }).state.vars.go).toBe("go");
  });

  it("http: the request with variables, then mapped results or the error path", () => {
    const def = flow({
      h: {
        type: "http",
        method: "POST",
        url: "https://booking.test/clients/{{customer.phone}}",
        headers: { "X-Branch": "{{branch.code}}" },
        body: { phone: "{{customer.phone}}", score: "{{score}}" },
        timeoutMs: 2000,
        map: { master: "visits[0].master" },
        next: "done",
        onError: "late",
      },
      ...ENDS,
    });
    const r1 = start(def);
    expect(r1.actions).toEqual([
      { kind: "http", stepId: "h", token: "1", request: { method: "POST", url: "https://booking.test/clients/%2B79161234567", headers: { "X-Branch": "ARTPLAY" }, body: { phone: "+79161234567", score: 9 }, timeoutMs: 2000 } },
    ]);
    const ok = feed(def, r1, { type: "http_result", token: "1", windowOpen: true, status: 200, body: '{"visits":[{"master":"Ольга"}]}' });
    expect(ok.state).toMatchObject({ stepId: "done", vars: { master: "Ольга" } });
    const garbage = feed(def, r1, { type: "http_result", token: "1", windowOpen: true, status: 200, body: "not json" });
    expect(garbage.state).toMatchObject({ stepId: "late", vars: { error: { code: "http", message: "the response is not JSON", step: "h" } } });
    expect(feed(def, r1, { type: "http_result", token: "7", windowOpen: true, status: 200, body: "{}" }).consumed).toBe(false);
  });

  it("branch: the first case that holds, else the default", () => {
    const def = flow({
      b: { type: "branch", cases: [{ when: { var: "score", op: "lte", value: 6 }, next: "lost" }, { when: { var: "score", op: "gte", value: 9 }, next: "done" }], default: "late" },
      ...ENDS,
    });
    expect(start(def, { ...VARS, score: 3 }).state.stepId).toBe("lost");
    expect(start(def, { ...VARS, score: 10 }).state.stepId).toBe("done");
    expect(start(def, { ...VARS, score: 7 }).state.stepId).toBe("late");
  });

  it.each([
    [9, [{ kind: "record_nps", stepId: "n", score: 9 }]],
    [0, [{ kind: "record_nps", stepId: "n", score: 0 }]],
    ["6", [{ kind: "record_nps", stepId: "n", score: 6 }]],
    [11, []],
    ["great", []],
  ])("nps: score %j records %j", (score, recorded) => {
    const def = flow({ n: { type: "nps", var: "score", next: "done" }, ...ENDS });
    expect(start(def, { ...VARS, score }).actions.filter((a) => a.kind === "record_nps")).toEqual(recorded);
  });

  it("handover: tells the runner with the rendered reason and ends as handed over", () => {
    const def = flow({ h: { type: "handover", reason: "NPS {{score}}: {{comment|no comment}}", next: "done" }, ...ENDS });
    const r = start(def);
    expect(r.actions).toEqual([{ kind: "handover", stepId: "h", reason: "NPS 9: no comment" }, { kind: "end", outcome: "handed_over" }]);
    expect(r.state).toMatchObject({ status: "done", outcome: "handed_over", handedOver: true });
  });

  it("end: completes; nothing happens to an ended run", () => {
    const def = flow({ e: { type: "end" } });
    const r = start(def);
    expect(r.actions).toEqual([{ kind: "end", outcome: "completed" }]);
    expect(feed(def, r, { type: "answer", text: "hi" }).consumed).toBe(false);
  });

  it("a loop without a wait stops with an error instead of spinning", () => {
    const def = flow({ a: { type: "branch", cases: [{ when: { var: "score", op: "exists" }, next: "b" }], default: "b" }, b: { type: "nps", var: "nothing", next: "a" } });
    const r = start(def);
    expect(r.state).toMatchObject({ status: "failed", outcome: "error" });
    expect(r.state.error).toMatch(/more than 100 steps/);
  });

  it("cancel ends an active run", () => {
    const def = flow({ ask: ASK_SCORE, ...ENDS });
    const r = feed(def, feed(def, start(def), { type: "sent" }), { type: "cancel", reason: "by admin" });
    expect(r.state).toMatchObject({ status: "done", outcome: "cancelled", error: "by admin" });
    expect(r.actions).toEqual([{ kind: "end", outcome: "cancelled", error: "by admin" }]);
  });

  it("the window variable follows what the runner reports", () => {
    const def = flow({ b: { type: "branch", cases: [{ when: { var: "window.open", op: "eq", value: true }, next: "done" }], default: "late" }, ...ENDS }, { window: "any" });
    expect(start(def, VARS, true).state.stepId).toBe("done");
    expect(start(def, VARS, false).state.stepId).toBe("late");
  });

  it("state is never mutated in place", () => {
    const def = flow({ ask: ASK_SCORE, ...ENDS });
    const waiting = feed(def, start(def), { type: "sent" });
    const before = JSON.stringify(waiting.state);
    feed(def, waiting, { type: "answer", text: "9" });
    expect(JSON.stringify(waiting.state)).toBe(before);
    const s: FlowState = waiting.state;
    expect(s.vars.score).toBe(9); // VARS had it before: the answer did not touch this state
  });
});

// ───────────────────────────────────────── definition checks ─────────────────────────────────

describe("definition checks name the step and field", () => {
  const base = (steps: Record<string, unknown>, over: Record<string, unknown> = {}) => ({ name: "t", window: "open", start: Object.keys(steps)[0], steps, ...over });
  const four = [1, 2, 3, 4].map((n) => ({ id: `b${n}`, title: `B${n}` }));
  const eleven = Array.from({ length: 11 }, (_, n) => ({ id: `r${n}`, title: `${n}` }));

  it.each([
    ["an unknown next step", base({ a: { type: "send", text: "x", next: "nowhere" } }), "steps.a.next", "no step 'nowhere'"],
    ["an unknown start", { ...base({ a: { type: "end" } }), start: "b" }, "start", "no step 'b'"],
    ["four buttons", base({ a: { ...ASK_SCORE, list: undefined, buttons: four }, ...ENDS }), "steps.a.buttons", "3"],
    ["a button title over 20 characters", base({ a: { ...ASK_SCORE, list: undefined, buttons: [{ id: "x", title: "a".repeat(21) }] }, ...ENDS }), "steps.a.buttons[0].title", "20"],
    ["eleven list rows", base({ a: { ...ASK_SCORE, list: { button: "B", rows: eleven } }, ...ENDS }), "steps.a.list.rows", "10"],
    ["buttons and a list", base({ a: { ...ASK_SCORE, buttons: [{ id: "x", title: "X" }] }, ...ENDS }), "steps.a.list", "not both"],
    ["repeated button titles", base({ a: { ...ASK_SCORE, list: undefined, buttons: [{ id: "x", title: "Да" }, { id: "y", title: "да" }] }, ...ENDS }), "steps.a.buttons", "unique"],
    ["a menu-looking option id", base({ a: { ...ASK_SCORE, list: { button: "B", rows: [{ id: "branch:1", title: "1" }] } }, ...ENDS }), "steps.a.list.rows[0].id", "branch menu"],
    ["a choice without options", base({ a: { type: "wait", var: "x", validate: { type: "choice" }, timeoutSeconds: 5, next: "done" }, ...ENDS }), "steps.a.validate", "choice"],
    ["a bad pattern", base({ a: { type: "wait", var: "x", validate: { type: "pattern", pattern: "([" }, timeoutSeconds: 5, next: "done" }, ...ENDS }), "steps.a.validate.pattern", "regular expression"],
    ["a reserved variable", base({ a: { ...ASK_SCORE, var: "customer.name" }, ...ENDS }), "steps.a.var", "filled by the runner"],
    ["an http step without an error path", base({ a: { type: "http", method: "GET", url: "https://x.test", next: "done" }, ...ENDS }), "steps.a.onError", ""],
    ["a URL that is not http", base({ a: { type: "http", method: "GET", url: "ftp://x.test", next: "done", onError: "late" }, ...ENDS }), "steps.a.url", "http"],
    ["an unknown step type", base({ a: { type: "teleport" } }), "steps.a.type", ""],
    ["an unknown field", base({ a: { type: "end", colour: "red" } }), "steps.a", "colour"],
    ["free text first in a flow that may start outside the window", base({ a: { type: "send", text: "hi" } }, { window: "any" }), "steps.a.text", "24-hour window"],
    [
      "free text after a timeout that may outlast the window",
      base({ a: { type: "send", text: "hi", next: "w" }, w: { type: "wait", var: "x", timeoutSeconds: 90_000, next: "done", onTimeout: "again" }, again: { type: "send", text: "still there?" }, ...ENDS }),
      "steps.again.text",
      "24-hour window",
    ],
  ])("%s", (_what, definition, path, words) => {
    const check = checkFlow(definition);
    expect(check.ok).toBe(false);
    if (check.ok) return;
    const problem = check.problems.find((p) => p.path === path);
    expect(problem, JSON.stringify(check.problems)).toBeDefined();
    expect(problem!.message).toContain(words);
    if (path.startsWith("steps.")) expect(problem!.step).toBe(path.split(".")[1]!.replace(/\[.*$/, ""));
  });

  it.each([
    ["free text after an answer", base({ t: { type: "template", name: "hi", language: "ru", next: "w" }, w: { type: "wait", var: "x", timeoutSeconds: 60, next: "s" }, s: { type: "send", text: "thanks" } }, { window: "any" })],
    ["free text behind a branch on window.open", base({ b: { type: "branch", cases: [{ when: { var: "window.open", op: "eq", value: true }, next: "s" }], default: "t" }, s: { type: "send", text: "hi" }, t: { type: "template", name: "hi", language: "ru" } }, { window: "any" })],
    ["free text after a short timeout following an answer", base({ w: { type: "wait", var: "x", timeoutSeconds: 60, next: "a" }, a: { ...ASK_SCORE, onTimeout: "s" }, s: { type: "send", text: "?" }, ...ENDS }, { window: "any" })],
  ])("accepts %s", (_what, definition) => {
    const check = checkFlow(definition);
    expect(check.ok ? [] : check.problems).toEqual([]);
  });

  it("warns about a step no path reaches", () => {
    const check = checkFlow(base({ a: { type: "end" }, orphan: { type: "end" } }));
    expect(check.ok && check.warnings.map((w) => w.step)).toEqual(["orphan"]);
  });

  it("the shipped NPS example is a valid flow", () => {
    const nps = JSON.parse(readFileSync("backend/src/flows/examples/nps.json", "utf8"));
    const check = checkFlow(nps);
    expect(check.ok ? check.warnings : check.problems).toEqual([]);
  });
});
