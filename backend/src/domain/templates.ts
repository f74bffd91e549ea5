import type { TemplateRecord } from "./types.js";

/**
 * Message templates: reading Meta's template objects, describing them for the CRM pickers, and
 * checking a branch's send request before it reaches the Cloud API (so a wrong parameter is a
 * 400 with a precise message now, not a `failed` status webhook later).
 *
 * Pure: no I/O. Sources: docs/whatsapp-cloud-api.md §3.3 (send shape, parameter rules), §6
 * (template objects, statuses, components and limits), §4 (1320xx errors).
 */

// ───────────────────────────────────────────── types ─────────────────────────────────────────────

export type HeaderFormat = "TEXT" | "IMAGE" | "VIDEO" | "DOCUMENT" | "LOCATION";
export type TemplateButtonType = "QUICK_REPLY" | "URL" | "PHONE_NUMBER" | "COPY_CODE" | (string & {});

export interface TemplateButtonInfo {
  /** Position in the template's BUTTONS component; the `index` of a send request. */
  index: number;
  type: TemplateButtonType;
  /** The label a customer sees. */
  text: string;
  /** URL buttons: the template's URL, with `{{1}}` where the suffix goes when it has a variable. */
  url?: string;
  /** The send request must give a value for this button (URL suffix, coupon code, one-time code). */
  hasParam: boolean;
}

export interface TemplateDescription {
  header?: { format: HeaderFormat; text?: string; params: string[] };
  /** `params`: '1','2'… (POSITIONAL) or names in order of first appearance (NAMED). */
  body: { text: string; params: string[] };
  footer?: string;
  buttons: TemplateButtonInfo[];
  /** Parts of the template Branchline cannot fill in (e.g. "a CAROUSEL component"); absent when none. */
  unsupported?: string[];
}

export type TemplateParam =
  | { type: "text"; text: string }
  | { type: "currency"; fallback: string; code: string; amount1000: number }
  | { type: "date_time"; fallback: string };

export type HeaderParam =
  | { type: "text"; text: string }
  | { type: "image" | "video" | "document"; id?: string; link?: string; filename?: string }
  | { type: "location"; latitude: number; longitude: number; name?: string; address?: string };

export interface TemplateButtonParam {
  index: number;
  /** QUICK_REPLY: returned in the customer's `button.payload` (optional; omitted by default). */
  payload?: string;
  /** URL with a variable: the suffix appended to the template's URL. OTP: the one-time code. */
  text?: string;
  /** COPY_CODE: the code the customer copies. */
  couponCode?: string;
}

/** What a branch asks us to send. `params` are the BODY parameters. */
export interface TemplateSendRequest {
  name: string;
  language: string;
  /** An array (positional order, or for NAMED templates the names' order of first appearance) or, NAMED only, an object keyed by name. */
  params?: Array<string | TemplateParam> | Record<string, string | TemplateParam>;
  header?: HeaderParam;
  buttons?: TemplateButtonParam[];
}

export interface TemplateSendError {
  ok: false;
  code: "template_not_found" | "template_params";
  /** Where in the request: 'template.params[1]', 'template.params.first_name', 'template.header', 'template.buttons[0]'… */
  field: string;
  message: string;
}

export type TemplateSendResult =
  | {
      ok: true;
      /** `template.components` of the Graph request (doc §3.3). */
      components: unknown[];
      /** The text the customer reads: header, body and footer with parameters substituted, joined by blank lines. */
      preview: string;
    }
  | TemplateSendError;

// ─────────────────────────────────────────── limits ───────────────────────────────────────────

/** doc §3.3: text parameter limits. */
export const HEADER_PARAM_MAX = 60;
export const BODY_PARAM_MAX = 1024;
export const BODY_ONLY_PARAM_MAX = 32768;
/** doc §3.3 / §4: a hydrated body over this is error 132005. */
export const HYDRATED_BODY_MAX = 1024;
/** COPY_CODE coupon codes and authentication one-time codes. */
export const CODE_PARAM_MAX = 15;

const WHITESPACE_RULE = "WhatsApp refuses new-line/tab characters or more than 4 consecutive spaces";
const HEADER_FORMATS: readonly HeaderFormat[] = ["TEXT", "IMAGE", "VIDEO", "DOCUMENT", "LOCATION"];
/** Button types whose send parameters Branchline does not build (catalogue/product messages). */
const UNSUPPORTED_BUTTONS = new Set(["CATALOG", "MPM", "SPM"]);

// ─────────────────────────────────────────── helpers ──────────────────────────────────────────

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
const nonEmpty = (v: unknown): string | undefined => (typeof v === "string" && v.trim() !== "" ? v : undefined);
const upper = (v: unknown): string | undefined => nonEmpty(v)?.trim().toUpperCase();
const idString = (v: unknown): string | undefined =>
  typeof v === "string" && v.trim() !== "" ? v.trim() : typeof v === "number" && Number.isFinite(v) ? String(v) : undefined;
/** Length as people count it (an emoji is one character, not two UTF-16 units). */
const chars = (s: string): number => [...s].length;
const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? "" : "s"}`;

const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_]+)\s*\}\}/g;

/** Placeholders of a text: '1','2'… in numeric order (POSITIONAL) or names in order of first appearance (NAMED). */
function placeholders(text: string, format: TemplateRecord["parameterFormat"]): string[] {
  const seen: string[] = [];
  for (const m of text.matchAll(PLACEHOLDER)) {
    const key = m[1]!;
    if (!seen.includes(key)) seen.push(key);
  }
  if (format === "NAMED") return seen;
  return seen.filter((k) => /^\d+$/.test(k)).sort((a, b) => Number(a) - Number(b));
}

function substitute(text: string, values: ReadonlyMap<string, string>): string {
  return text.replace(PLACEHOLDER, (whole, key: string) => values.get(key) ?? whole);
}

export const templateRecordId = (name: string, language: string): string => `${name}|${language}`;

// ───────────────────────────────────────── from Graph ─────────────────────────────────────────

/**
 * One object of `GET /{waba}/message_templates` (doc §6.1) as a record, or undefined when it has
 * no usable name or language. Ids become strings; `rejected_reason: "NONE"` is no reason; a missing
 * `parameter_format` is inferred from the body's placeholders.
 */
export function templateFromGraph(raw: unknown, now: number): TemplateRecord | undefined {
  if (!isObj(raw)) return undefined;
  const name = nonEmpty(raw.name)?.trim();
  const language = nonEmpty(raw.language)?.trim();
  if (!name || !language) return undefined;
  const components = Array.isArray(raw.components) ? raw.components.filter(isObj) : [];
  const declared = upper(raw.parameter_format);
  const parameterFormat: TemplateRecord["parameterFormat"] =
    declared === "NAMED" ? "NAMED" : declared === "POSITIONAL" ? "POSITIONAL" : inferFormat(components);
  const quality = isObj(raw.quality_score) ? upper(raw.quality_score.score) : upper(raw.quality_score);
  const rejected = upper(raw.rejected_reason);
  const record: TemplateRecord = {
    id: templateRecordId(name, language),
    name,
    language,
    status: upper(raw.status) ?? "UNKNOWN",
    category: upper(raw.category) ?? "UNKNOWN",
    parameterFormat,
    components,
    syncedAt: now,
    updatedAt: now,
  };
  const metaId = idString(raw.id);
  if (metaId) record.metaId = metaId;
  if (quality) record.qualityScore = quality;
  if (rejected && rejected !== "NONE") record.rejectedReason = rejected;
  return record;
}

function inferFormat(components: Obj[]): TemplateRecord["parameterFormat"] {
  for (const c of components) {
    const text = str(c.text);
    if (!text) continue;
    for (const m of text.matchAll(PLACEHOLDER)) if (!/^\d+$/.test(m[1]!)) return "NAMED";
  }
  return "POSITIONAL";
}

// ────────────────────────────────────────── describe ──────────────────────────────────────────

interface Analysis extends TemplateDescription {
  unsupported: string[];
  /** The body is the template's only component (body parameters may then be up to 32768 chars). */
  bodyOnly: boolean;
}

function analyse(t: TemplateRecord): Analysis {
  const out: Analysis = { body: { text: "", params: [] }, buttons: [], unsupported: [], bodyOnly: false };
  const comps = (Array.isArray(t.components) ? t.components : []).filter(isObj);
  for (const c of comps) {
    const type = upper(c.type);
    if (type === "HEADER") {
      const format = upper(c.format) ?? "TEXT";
      if (!(HEADER_FORMATS as readonly string[]).includes(format)) {
        out.unsupported.push(`a ${format} header`);
        continue;
      }
      if (format === "TEXT") {
        const text = str(c.text) ?? "";
        out.header = { format: "TEXT", text, params: placeholders(text, t.parameterFormat) };
        if (out.header.params.length > 1) out.unsupported.push(`a header with ${out.header.params.length} parameters`);
      } else {
        out.header = { format: format as HeaderFormat, params: [] };
      }
    } else if (type === "BODY") {
      const text = str(c.text) ?? "";
      out.body = { text, params: placeholders(text, t.parameterFormat) };
    } else if (type === "FOOTER") {
      const text = str(c.text);
      if (text !== undefined) out.footer = text;
    } else if (type === "BUTTONS") {
      const list = Array.isArray(c.buttons) ? c.buttons : [];
      list.forEach((b, index) => {
        const info = buttonInfo(b, index);
        if (UNSUPPORTED_BUTTONS.has(info.type)) out.unsupported.push(`a ${info.type} button`);
        out.buttons.push(info);
      });
    } else {
      out.unsupported.push(`a ${type ?? "untyped"} component`);
    }
  }
  out.bodyOnly = comps.length > 0 && comps.every((c) => upper(c.type) === "BODY");
  return out;
}

function buttonInfo(b: unknown, index: number): TemplateButtonInfo {
  if (!isObj(b)) return { index, type: "UNKNOWN", text: "", hasParam: false };
  const type = upper(b.type) ?? "UNKNOWN";
  const text = str(b.text);
  switch (type) {
    case "URL": {
      const url = str(b.url) ?? "";
      return { index, type, text: text ?? url, url, hasParam: url.includes("{{") };
    }
    case "COPY_CODE":
      return { index, type, text: text ?? "Copy offer code", hasParam: true };
    case "OTP":
      // Authentication templates: the code goes in as a `url` button parameter (Meta's send shape).
      return { index, type, text: text ?? "Copy code", hasParam: true };
    default:
      return { index, type, text: text ?? "", hasParam: UNSUPPORTED_BUTTONS.has(type) };
  }
}

/** Header, body, footer and buttons of a template, with their parameters: labels and placeholders for pickers. */
export function describeTemplate(t: TemplateRecord): TemplateDescription {
  const { unsupported, bodyOnly: _bodyOnly, ...description } = analyse(t);
  return unsupported.length > 0 ? { ...description, unsupported } : description;
}

/**
 * Languages a template name exists in (sorted; DELETED records left out).
 * `approvedOnly`: only the languages that can be sent now.
 */
export function templateLanguagesOf(all: readonly TemplateRecord[], name: string, opts: { approvedOnly?: boolean } = {}): string[] {
  const langs = new Set<string>();
  for (const t of all) {
    if (t.name !== name || t.status === "DELETED") continue;
    if (opts.approvedOnly && t.status !== "APPROVED") continue;
    langs.add(t.language);
  }
  return [...langs].sort();
}

// ────────────────────────────────────────── validate ──────────────────────────────────────────

type Fail = (code: TemplateSendError["code"], field: string, message: string) => TemplateSendError;
const fail: Fail = (code, field, message) => ({ ok: false, code, field, message });

class Refusal {
  constructor(readonly error: TemplateSendError) {}
}
function refuse(field: string, message: string): never {
  throw new Refusal(fail("template_params", field, message));
}

/** Text-parameter rules (doc §3.3): not empty, no new-line/tab, no run of 5+ spaces, within `max`. */
function textProblem(value: string, label: string, max: number): string | undefined {
  if (value.trim() === "") return `${label} is empty; WhatsApp refuses empty parameters`;
  if (/[\r\n]/.test(value)) return `${label} contains a newline; ${WHITESPACE_RULE}`;
  if (/\t/.test(value)) return `${label} contains a tab; ${WHITESPACE_RULE}`;
  if (/ {5,}/.test(value)) return `${label} contains more than 4 consecutive spaces; ${WHITESPACE_RULE}`;
  const n = chars(value);
  if (n > max) return `${label} is ${n} characters long; the limit is ${max}`;
  return undefined;
}

function checkText(value: unknown, field: string, label: string, max: number): string {
  if (typeof value !== "string") refuse(field, `${label} must be a string`);
  const problem = textProblem(value as string, label, max);
  if (problem) refuse(field, problem);
  return value as string;
}

/** A body parameter as Graph JSON plus the text it renders as (Cloud API renders `fallback_value`). */
function bodyParam(value: unknown, field: string, label: string, max: number, name: string | undefined): { json: Obj; text: string } {
  const named = name !== undefined ? { parameter_name: name } : {};
  if (typeof value === "string") {
    const text = checkText(value, field, label, max);
    return { json: { type: "text", text, ...named }, text };
  }
  if (!isObj(value)) {
    return refuse(field, `${label} must be a string or {type: 'text' | 'currency' | 'date_time', …}, got ${value === undefined ? "nothing" : typeof value}`);
  }
  switch (value.type) {
    case "text": {
      const text = checkText(value.text, field, `${label}`, max);
      return { json: { type: "text", text, ...named }, text };
    }
    case "currency": {
      const fallback = checkText(value.fallback, field, `${label} (currency fallback)`, max);
      const code = value.code;
      if (typeof code !== "string" || !/^[A-Z]{3}$/.test(code)) {
        refuse(field, `${label}: currency code must be 3 uppercase letters (ISO 4217, e.g. RUB), got ${JSON.stringify(code)}`);
      }
      const amount = value.amount1000;
      if (typeof amount !== "number" || !Number.isSafeInteger(amount)) {
        refuse(field, `${label}: currency amount1000 must be an integer (the amount × 1000, e.g. 100990 for 100.99), got ${JSON.stringify(amount)}`);
      }
      return { json: { type: "currency", currency: { fallback_value: fallback, code, amount_1000: amount }, ...named }, text: fallback };
    }
    case "date_time": {
      const fallback = checkText(value.fallback, field, `${label} (date_time fallback)`, max);
      return { json: { type: "date_time", date_time: { fallback_value: fallback }, ...named }, text: fallback };
    }
    default:
      return refuse(field, `${label} has type ${JSON.stringify(value.type)}; expected 'text', 'currency' or 'date_time'`);
  }
}

/**
 * Checks a branch's template send against the synced template and builds the Graph `components`.
 * `siblings`: the records with the same name in any language (`byIndex('templates', 'name', …)`),
 * so that "not found" can say which languages do exist.
 */
export function validateTemplateSend(
  t: TemplateRecord | undefined,
  req: TemplateSendRequest,
  siblings: readonly TemplateRecord[] = [],
): TemplateSendResult {
  try {
    return validate(t, req, siblings);
  } catch (err) {
    if (err instanceof Refusal) return err.error;
    throw err;
  }
}

function validate(t: TemplateRecord | undefined, req: TemplateSendRequest, siblings: readonly TemplateRecord[]): TemplateSendResult {
  const r: unknown = req;
  if (!isObj(r)) return fail("template_params", "template", "template must be an object {name, language, params?, header?, buttons?}");
  const name = nonEmpty(r.name);
  const language = nonEmpty(r.language);
  if (!name) return fail("template_not_found", "template.name", "template.name is required");
  if (!language) return fail("template_not_found", "template.language", `template.language is required (e.g. 'ru' or 'en_US'; it must match an approved translation of '${name}' exactly)`);

  const label = `template '${name}' (${language})`;
  const others = siblings.filter((s) => s.name === name && s.language !== language && s.status !== "DELETED");
  const elsewhere = others.length
    ? `; it exists in: ${others
        .slice()
        .sort((a, b) => a.language.localeCompare(b.language))
        .map((s) => (s.status === "APPROVED" ? s.language : `${s.language} (${s.status})`))
        .join(", ")}`
    : "";

  if (!t || t.name !== name || t.language !== language) {
    return others.length
      ? fail("template_not_found", "template.language", `template '${name}' is not synced in language '${language}'${elsewhere}`)
      : fail("template_not_found", "template.name", `${label} is not synced from the WhatsApp account; check the name and language, or sync templates`);
  }
  if (t.status === "DELETED") {
    return fail("template_not_found", "template.name", `${label} was deleted from the WhatsApp account; only APPROVED templates can be sent${elsewhere}`);
  }
  if (t.status !== "APPROVED") {
    return fail("template_not_found", "template.name", `${label} is ${t.status}; only APPROVED templates can be sent${elsewhere}`);
  }

  const a = analyse(t);
  if (a.unsupported.length > 0) {
    return fail("template_params", "template", `${label} has ${a.unsupported.join(", ")}, which Branchline cannot send`);
  }
  const named = t.parameterFormat === "NAMED";
  const components: unknown[] = [];
  let headerText: string | undefined;

  // ── header ──
  const rh: unknown = r.header;
  const h = a.header;
  if (!h) {
    if (rh !== undefined) refuse("template.header", `${label} has no header; remove template.header`);
  } else if (h.format === "TEXT") {
    const text = h.text ?? "";
    const key = h.params[0];
    if (key === undefined) {
      if (rh !== undefined) refuse("template.header", `${label} has a fixed text header ("${text}"); remove template.header`);
      headerText = text;
    } else {
      if (rh === undefined) refuse("template.header", `${label} has a text header with a parameter ("${text}"); send template.header {type: 'text', text}`);
      if (!isObj(rh) || rh.type !== "text") {
        refuse("template.header", `${label} has a TEXT header; template.header must be {type: 'text', text}, got ${describeType(rh)}`);
      }
      const value = checkText((rh as Obj).text, "template.header", "header parameter", HEADER_PARAM_MAX);
      components.push({ type: "header", parameters: [{ type: "text", text: value, ...(named ? { parameter_name: key } : {}) }] });
      headerText = substitute(text, new Map([[key, value]]));
    }
  } else {
    const want = h.format.toLowerCase();
    const article = h.format === "IMAGE" ? "an" : "a";
    if (rh === undefined) {
      refuse(
        "template.header",
        h.format === "LOCATION"
          ? `${label} has a LOCATION header; template.header {type: 'location', latitude, longitude, name?, address?} is required`
          : `${label} has ${article} ${h.format} header; template.header {type: '${want}', id or link} is required`,
      );
    }
    if (!isObj(rh) || rh.type !== want) {
      refuse("template.header", `${label} has ${article} ${h.format} header; template.header must have type '${want}', got ${describeType(rh)}`);
    }
    components.push({ type: "header", parameters: [h.format === "LOCATION" ? locationParam(rh as Obj) : mediaParam(rh as Obj, want)] });
  }

  // ── body ──
  const keys = a.body.params;
  const given: unknown = r.params;
  const maxParam = a.bodyOnly ? BODY_ONLY_PARAM_MAX : BODY_PARAM_MAX;
  const expects = () => `${label} expects ${plural(keys.length, "body parameter")}${named && keys.length ? ` (${keys.join(", ")})` : ""}`;
  let entries: Array<{ key: string; value: unknown; field: string }>;
  if (given === undefined || given === null) {
    if (keys.length > 0) refuse("template.params", `${expects()}, got none`);
    entries = [];
  } else if (Array.isArray(given)) {
    if (given.length !== keys.length) refuse("template.params", `${expects()}, got ${given.length}`);
    entries = keys.map((key, i) => ({ key, value: given[i], field: `template.params[${i}]` }));
  } else if (isObj(given)) {
    const gotKeys = Object.keys(given);
    if (!named) {
      if (gotKeys.length > 0) {
        refuse("template.params", `${label} uses positional parameters ({{1}}, {{2}}…); send template.params as an array in that order`);
      }
      if (keys.length > 0) refuse("template.params", `${expects()}, got none`);
      entries = [];
    } else {
      const missing = keys.filter((k) => !Object.prototype.hasOwnProperty.call(given, k));
      const unknown = gotKeys.filter((k) => !keys.includes(k));
      if (missing.length || unknown.length) {
        const parts = [missing.length ? `missing ${missing.join(", ")}` : "", unknown.length ? `unknown ${unknown.join(", ")}` : ""].filter(Boolean);
        refuse("template.params", `${label} body parameters do not match: ${parts.join("; ")} (expected: ${keys.join(", ") || "none"})`);
      }
      entries = keys.map((key) => ({ key, value: given[key], field: `template.params.${key}` }));
    }
  } else {
    return fail("template_params", "template.params", "template.params must be an array or an object keyed by parameter name");
  }

  const values = new Map<string, string>();
  const bodyParams: Obj[] = [];
  for (const e of entries) {
    const p = bodyParam(e.value, e.field, `parameter ${e.key}`, maxParam, named ? e.key : undefined);
    bodyParams.push(p.json);
    values.set(e.key, p.text);
  }
  if (bodyParams.length > 0) components.push({ type: "body", parameters: bodyParams });
  const bodyText = substitute(a.body.text, values);
  const hydrated = chars(bodyText);
  if (hydrated > HYDRATED_BODY_MAX) {
    refuse("template.params", `${label} body would be ${hydrated} characters long with these parameters; WhatsApp allows at most ${HYDRATED_BODY_MAX}`);
  }

  // ── buttons ──
  components.push(...buttonComponents(a.buttons, r.buttons, label));

  const preview = [headerText, bodyText, a.footer].filter((s): s is string => typeof s === "string" && s !== "").join("\n\n");
  return { ok: true, components, preview };
}

function describeType(v: unknown): string {
  if (!isObj(v)) return v === undefined ? "nothing" : typeof v;
  return typeof v.type === "string" ? `type '${v.type}'` : "no type";
}

function mediaParam(rh: Obj, kind: string): Obj {
  const field = "template.header";
  const id = rh.id;
  const link = rh.link;
  if (id !== undefined && link !== undefined) refuse(field, `${kind} header: give either id or link, not both`);
  const media: Obj = {};
  if (id !== undefined) {
    const s = idString(id);
    if (!s) refuse(field, `${kind} header: id must be a media id string`);
    media.id = s;
  } else if (link !== undefined) {
    if (typeof link !== "string" || !/^https?:\/\/\S+$/i.test(link.trim())) refuse(field, `${kind} header: link must be an http(s) URL`);
    media.link = (link as string).trim();
  } else {
    refuse(field, `${kind} header needs an uploaded media id or a link`);
  }
  if (rh.filename !== undefined) {
    if (kind !== "document") refuse(field, `${kind} header: filename is only for document headers`);
    if (typeof rh.filename !== "string" || rh.filename.trim() === "") refuse(field, "document header: filename must be a non-empty string");
    media.filename = rh.filename;
  }
  return { type: kind, [kind]: media };
}

function locationParam(rh: Obj): Obj {
  const field = "template.header";
  const lat = rh.latitude;
  const lon = rh.longitude;
  if (typeof lat !== "number" || !Number.isFinite(lat) || lat < -90 || lat > 90) {
    refuse(field, `location header: latitude must be a number from -90 to 90, got ${JSON.stringify(lat)}`);
  }
  if (typeof lon !== "number" || !Number.isFinite(lon) || lon < -180 || lon > 180) {
    refuse(field, `location header: longitude must be a number from -180 to 180, got ${JSON.stringify(lon)}`);
  }
  const location: Obj = { latitude: lat, longitude: lon };
  for (const k of ["name", "address"] as const) {
    if (rh[k] === undefined) continue;
    if (typeof rh[k] !== "string") refuse(field, `location header: ${k} must be a string`);
    location[k] = rh[k];
  }
  return { type: "location", location };
}

function buttonComponents(defs: TemplateButtonInfo[], given: unknown, label: string): Obj[] {
  if (given !== undefined && given !== null && !Array.isArray(given)) refuse("template.buttons", "template.buttons must be an array");
  const list: unknown[] = Array.isArray(given) ? given : [];
  const out: Array<{ index: number; json: Obj }> = [];
  const seen = new Set<number>();
  list.forEach((b, i) => {
    const field = `template.buttons[${i}]`;
    if (!isObj(b)) return refuse(field, "each button must be an object {index, payload? | text? | couponCode?}");
    const index = b.index;
    if (typeof index !== "number" || !Number.isInteger(index)) return refuse(field, `button index must be an integer, got ${JSON.stringify(index)}`);
    const def = defs[index];
    if (!def) {
      return refuse(
        field,
        `button index ${index} is out of range; ${label} has ${plural(defs.length, "button")}${defs.length ? ` (index 0–${defs.length - 1})` : ""}`,
      );
    }
    if (seen.has(index)) return refuse(field, `button ${index} is given twice`);
    seen.add(index);
    const name = `button ${index} (${def.type} "${def.text}")`;
    const extra = (allowed: string[]) => {
      for (const k of ["payload", "text", "couponCode"]) {
        if (!allowed.includes(k) && b[k] !== undefined) {
          refuse(field, `${name} takes ${allowed.length ? allowed.join(" / ") : "no parameters"}, not ${k}`);
        }
      }
    };
    if (def.type === "QUICK_REPLY") {
      extra(["payload"]);
      if (b.payload === undefined || b.payload === "") return; // omitted: WhatsApp reports the button text
      if (typeof b.payload !== "string") return refuse(field, `${name}: payload must be a string`);
      out.push({ index, json: { type: "button", sub_type: "quick_reply", index: String(index), parameters: [{ type: "payload", payload: b.payload }] } });
    } else if (def.type === "URL" && def.hasParam) {
      extra(["text"]);
      if (b.text === undefined) return refuse(field, `${name} needs text: the URL suffix for ${def.url}`);
      const text = checkText(b.text, field, `${name} URL suffix`, BODY_PARAM_MAX);
      out.push({ index, json: { type: "button", sub_type: "url", index: String(index), parameters: [{ type: "text", text }] } });
    } else if (def.type === "COPY_CODE") {
      extra(["couponCode"]);
      if (b.couponCode === undefined) return refuse(field, `${name} needs couponCode: the code the customer copies`);
      const code = checkText(b.couponCode, field, `${name} coupon code`, CODE_PARAM_MAX);
      out.push({ index, json: { type: "button", sub_type: "copy_code", index: String(index), parameters: [{ type: "coupon_code", coupon_code: code }] } });
    } else if (def.type === "OTP") {
      extra(["text"]);
      if (b.text === undefined) return refuse(field, `${name} needs text: the one-time code`);
      const code = checkText(b.text, field, `${name} code`, CODE_PARAM_MAX);
      out.push({ index, json: { type: "button", sub_type: "url", index: String(index), parameters: [{ type: "text", text: code }] } });
    } else {
      extra([]);
    }
  });
  for (const def of defs) {
    if (!def.hasParam || seen.has(def.index)) continue;
    const name = `button ${def.index} (${def.type} "${def.text}")`;
    const what =
      def.type === "URL" ? `text: the URL suffix for ${def.url}` : def.type === "COPY_CODE" ? "couponCode: the code the customer copies" : "text: the one-time code";
    refuse("template.buttons", `${label} ${name} needs a parameter: send {index: ${def.index}, ${what}}`);
  }
  return out.sort((x, y) => x.index - y.index).map((o) => o.json);
}
