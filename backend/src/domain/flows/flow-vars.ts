/**
 * Flow variables: a JSON object (customer, branch, dialog, window, answers, HTTP results) read by
 * dotted paths (`customer.name`, `visits[0].master`) and rendered into texts as `{{path}}` or
 * `{{path|fallback}}`. Pure.
 */

export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
export type Vars = { [key: string]: Json };

/** Roots the runner fills from the customer, branch, dialog and window; flows may not overwrite them. */
export const RESERVED_VARS = ["customer", "branch", "dialog", "window", "error", "flow"] as const;

const SEGMENT = /([^.[\]]+)|\[(\d+)\]/g;

/** Splits `a.b[0].c` (a leading `$.` is allowed, as in JSONPath) into keys and indexes. */
export function parsePath(path: string): Array<string | number> | undefined {
  const p = path.trim().replace(/^\$\.?/, "");
  if (p === "") return [];
  if (!PATH.test(p)) return undefined;
  return [...p.matchAll(SEGMENT)].map((m) => (m[2] !== undefined ? Number(m[2]) : m[1]!));
}

/** `name`, then `.name` or `[index]` parts. */
const PATH = /^[^.[\]]+(\.[^.[\]]+|\[\d+\])*$/;

/** The value at `path`, or undefined when any part is missing. */
export function getPath(root: unknown, path: string): Json | undefined {
  const keys = parsePath(path);
  if (!keys) return undefined;
  let cur: unknown = root;
  for (const k of keys) {
    if (cur === null || typeof cur !== "object") return undefined;
    if (typeof k === "number") {
      if (!Array.isArray(cur)) return undefined;
      cur = cur[k];
    } else {
      if (Array.isArray(cur) || !Object.prototype.hasOwnProperty.call(cur, k)) return undefined;
      cur = (cur as Record<string, unknown>)[k];
    }
  }
  return cur === undefined ? undefined : (cur as Json);
}

/** Sets a dotted variable (`booking.master`), creating the objects on the way; returns a new object. */
export function setVar(vars: Vars, name: string, value: Json): Vars {
  const keys = name.split(".");
  const out: Vars = { ...vars };
  let cur: Vars = out;
  for (let i = 0; i < keys.length - 1; i++) {
    const k = keys[i]!;
    const next = cur[k];
    const copy: Vars = next && typeof next === "object" && !Array.isArray(next) ? { ...next } : {};
    cur[k] = copy;
    cur = copy;
  }
  cur[keys[keys.length - 1]!] = value;
  return out;
}

/** How a value reads in a text: strings as they are, JSON for objects, nothing for null. */
export function asText(v: Json | undefined): string {
  if (v === undefined || v === null) return "";
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return JSON.stringify(v);
}

const PLACEHOLDER = /\{\{\s*([^}|]+?)\s*(?:\|([^}]*))?\}\}/g;

/**
 * Replaces `{{path}}` with the variable's text and `{{path|fallback}}` with the fallback when the
 * variable is missing or empty. `encode` is applied to substituted values only (URLs).
 */
export function render(template: string, vars: Vars, encode: (s: string) => string = (s) => s): string {
  return template.replace(PLACEHOLDER, (_all, path: string, fallback: string | undefined) => {
    const text = asText(getPath(vars, path));
    return encode(text === "" && fallback !== undefined ? fallback : text);
  });
}

/** Every variable path a text refers to (definition checks). */
export function placeholders(template: string): string[] {
  return [...template.matchAll(PLACEHOLDER)].map((m) => m[1]!.trim());
}

/**
 * Renders every string inside a JSON value. A string that is exactly one placeholder keeps the
 * variable's JSON type (`"{{score}}"` → 9, not "9"), so request bodies carry numbers as numbers.
 */
export function renderJson(value: Json, vars: Vars): Json {
  if (typeof value === "string") {
    const whole = /^\{\{\s*([^}|]+?)\s*\}\}$/.exec(value);
    if (whole) {
      const v = getPath(vars, whole[1]!);
      return v === undefined ? null : v;
    }
    return render(value, vars);
  }
  if (Array.isArray(value)) return value.map((v) => renderJson(v, vars));
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, renderJson(v, vars)]));
  return value;
}
