import { AppError } from "../../errors.js";

/**
 * Bitrix24 posts events, robot calls and iframe pages as `application/x-www-form-urlencoded` with
 * PHP bracket keys to full depth (`data[MESSAGES][0][message][files][0][downloadLink]`, six
 * levels; bitrix24.md §4.5). This parser follows PHP's own rules, because PHP built the body:
 *
 * - keys are percent-decoded (`+` is a space) before the brackets are read, so `%5B` works;
 * - `a[]=x` appends (next index = highest integer index + 1, as in PHP);
 * - a repeated key: the last one wins (PHP semantics), also when a scalar and a nested value collide;
 * - a key whose brackets do not close (`a[b`) is kept flat, literally;
 * - an object whose keys are exactly `0..n-1` (in any order) becomes an array; any other set of
 *   integer keys (`{ "3": …, "7": … }`) stays an object, so a huge index never allocates a huge array;
 * - any segment named `__proto__`, `constructor` or `prototype` drops the whole pair;
 * - every value is a string (an empty one for `a` or `a=`).
 *
 * Throws `AppError` 400 `bad_form` naming the key for malformed percent-encoding, too many pairs
 * or too deep a key.
 */
export function parseNestedForm(raw: string, limits: FormLimits = {}): Record<string, unknown> {
  const maxDepth = limits.maxDepth ?? 20;
  const maxKeys = limits.maxKeys ?? 2000;
  const root: Container = {};
  if (raw.length === 0) return root;
  let count = 0;
  for (const pair of raw.split("&")) {
    if (pair.length === 0) continue;
    if (++count > maxKeys) throw badForm(`form has more than ${maxKeys} fields`, undefined);
    const eq = pair.indexOf("=");
    const rawKey = eq < 0 ? pair : pair.slice(0, eq);
    const rawValue = eq < 0 ? "" : pair.slice(eq + 1);
    const key = decode(rawKey, rawKey);
    const value = decode(rawValue, key);
    if (key.length === 0) continue;
    const path = splitKey(key);
    if (path.length - 1 > maxDepth) throw badForm(`form field ${shown(key)} is nested deeper than ${maxDepth} levels`, key);
    if (path.some((s) => s !== null && FORBIDDEN.has(s))) continue;
    assign(root, path, value);
  }
  return finalize(root) as Record<string, unknown>;
}

export interface FormLimits {
  /** Bracket levels after the base name; default 20 (Bitrix24 uses 6). */
  maxDepth?: number;
  /** Pairs in one body; default 2000. */
  maxKeys?: number;
}

/** Plain object under construction; `null` in a path is an `[]` append. */
type Container = Record<string, unknown>;

const FORBIDDEN = new Set(["__proto__", "constructor", "prototype"]);
const KEY_RE = /^([^[\]]+)((?:\[[^[\]]*\])*)$/;
const INDEX_RE = /^(?:0|[1-9]\d{0,8})$/;

function splitKey(key: string): Array<string | null> {
  const m = KEY_RE.exec(key);
  if (!m) return [key];
  const path: Array<string | null> = [m[1]!];
  const rest = m[2]!;
  if (rest.length === 0) return path;
  for (const seg of rest.slice(1, -1).split("][")) path.push(seg.length === 0 ? null : seg);
  return path;
}

function assign(root: Container, path: Array<string | null>, value: string): void {
  let node = root;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i] === null ? String(nextIndex(node)) : path[i]!;
    if (i === path.length - 1) {
      node[seg] = value;
      return;
    }
    const existing = Object.prototype.hasOwnProperty.call(node, seg) ? node[seg] : undefined;
    if (existing !== null && typeof existing === "object") {
      node = existing as Container;
    } else {
      // PHP: a scalar met by a deeper key is replaced by a container.
      const child: Container = {};
      node[seg] = child;
      node = child;
    }
  }
}

function nextIndex(node: Container): number {
  let max = -1;
  for (const k of Object.keys(node)) if (INDEX_RE.test(k)) max = Math.max(max, Number(k));
  return max + 1;
}

/** Containers with keys exactly 0..n-1 become arrays (depth-first). */
function finalize(node: unknown): unknown {
  if (node === null || typeof node !== "object") return node;
  const obj = node as Container;
  const keys = Object.keys(obj);
  for (const k of keys) obj[k] = finalize(obj[k]);
  if (keys.length > 0 && keys.every((k) => INDEX_RE.test(k) && Number(k) < keys.length)) {
    const arr: unknown[] = new Array(keys.length);
    for (const k of keys) arr[Number(k)] = obj[k];
    return arr;
  }
  return obj;
}

function decode(text: string, keyForError: string): string {
  const plus = text.includes("+") ? text.replace(/\+/g, " ") : text;
  if (!plus.includes("%")) return plus;
  try {
    return decodeURIComponent(plus);
  } catch (err) {
    throw badForm(`form field ${shown(keyForError)} has malformed percent-encoding`, keyForError, err);
  }
}

function shown(key: string): string {
  return JSON.stringify(key.length > 100 ? `${key.slice(0, 100)}…` : key);
}

function badForm(message: string, field: string | undefined, cause?: unknown): AppError {
  return new AppError({ code: "bad_form", message, httpStatus: 400, field: field?.slice(0, 100), cause });
}
