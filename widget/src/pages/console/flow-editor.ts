// Pure pieces of the flow editor: reading the textarea as JSON, problems grouped by step. No DOM (unit-tested).
import type { FlowProblem } from "./types.js";

export type Parsed = { ok: true; value: Record<string, unknown> } | { ok: false; message: string };

/** The textarea's text as a JSON object; the parser's message (with its position) otherwise. */
export function parseDefinition(text: string): Parsed {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { ok: false, message: err instanceof Error ? err.message : String(err) };
  }
  if (!value || typeof value !== "object" || Array.isArray(value)) return { ok: false, message: "the definition must be a JSON object" };
  return { ok: true, value: value as Record<string, unknown> };
}

/** The step a problem belongs to: its `step`, else read from a `steps.<id>…` path. */
export function problemStep(p: FlowProblem): string | undefined {
  if (p.step) return p.step;
  return /^steps\.([^.[\]]+)/.exec(p.path)?.[1];
}

/** Problems grouped by step in the order they first appear; flow-level ones (no step) under "". */
export function groupByStep(problems: FlowProblem[]): { step: string; problems: FlowProblem[] }[] {
  const groups = new Map<string, FlowProblem[]>();
  for (const p of problems) {
    const step = problemStep(p) ?? "";
    groups.set(step, [...(groups.get(step) ?? []), p]);
  }
  return [...groups].map(([step, list]) => ({ step, problems: list }));
}

/** The problem's text without the repeated `steps.<id>.<field>: ` prefix the server puts in front. */
export function problemText(p: FlowProblem): string {
  const prefix = `${p.path}: `;
  return p.message.startsWith(prefix) ? p.message.slice(prefix.length) : p.message;
}

/** What a new flow starts from: the smallest definition the checker accepts. */
export const NEW_FLOW_TEMPLATE = JSON.stringify(
  {
    name: "New flow",
    window: "open",
    start: "hello",
    steps: {
      hello: { type: "send", text: "Hello, {{customer.name|there}}!", next: "done" },
      done: { type: "end" },
    },
  },
  null,
  2,
);
