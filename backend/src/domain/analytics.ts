/**
 * Analytics math: per-branch per-day rows, NPS, medians, reply and first-response detection, CSV.
 *
 * Pure: no I/O, no clock, nothing outside domain/. Days are UTC `YYYY-MM-DD` (the unit of the daily
 * counters). The store side (backend/src/stats/analytics.ts) reads counters and messages and hands
 * them in here.
 */
import { dayOf } from "./day.js";

const DAY_MS = 86_400_000;

// ─────────────────────────────────────────── days ────────────────────────────────────────────────

const DAY_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Epoch ms of a `YYYY-MM-DD` UTC day's midnight, or undefined for anything that is not a real date. */
export function parseDay(s: string): number | undefined {
  const m = DAY_RE.exec(s);
  if (!m) return undefined;
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  // Date.UTC rolls 2025-02-30 over into March: a real date survives the round trip.
  return new Date(ms).toISOString().slice(0, 10) === s ? ms : undefined;
}

/** Every day from `from` to `to`, both included (empty when `to` is before `from`). */
export function daysBetween(from: string, to: string): string[] {
  const a = parseDay(from);
  const b = parseDay(to);
  if (a === undefined || b === undefined) return [];
  const out: string[] = [];
  for (let t = a; t <= b; t += DAY_MS) out.push(dayOf(t));
  return out;
}

// ─────────────────────────────────────────── rates ───────────────────────────────────────────────

/** `part / whole`, or null when there is nothing to divide (a rate of "no data" is not 0). */
export function ratio(part: number, whole: number): number | null {
  return whole > 0 ? part / whole : null;
}

/** Median (p50): the middle value, or the mean of the two middle values; null for no values. */
export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

// ──────────────────────────────────────────── NPS ────────────────────────────────────────────────

export type NpsGroup = "promoter" | "passive" | "detractor";

/** The standard NPS buckets of a 0–10 answer: 9–10 promoters, 7–8 passives, 0–6 detractors. */
export function npsGroup(score: number): NpsGroup | undefined {
  if (!Number.isInteger(score) || score < 0 || score > 10) return undefined;
  return score >= 9 ? "promoter" : score >= 7 ? "passive" : "detractor";
}

/**
 * Net Promoter Score = % promoters − % detractors, from −100 to 100, rounded to one decimal;
 * null when nobody answered.
 */
export function npsScore(promoters: number, passives: number, detractors: number): number | null {
  const total = promoters + passives + detractors;
  if (total <= 0) return null;
  return Math.round(((promoters - detractors) * 1000) / total) / 10;
}

// ─────────────────────────────────────── pricing columns ─────────────────────────────────────────

/** Meta's pricing categories (statuses webhook `pricing.category`), one column each. */
export const PRICING_CATEGORIES = [
  "marketing",
  "marketing_lite",
  "utility",
  "authentication",
  "authentication_international",
  "service",
  "referral_conversion",
] as const;

export type PricingColumn = `pricing_${(typeof PRICING_CATEGORIES)[number]}` | "pricing_other" | "pricing_free";

/**
 * The column a daily counter `pricing:<category>[:free]` adds to: billable messages by category
 * (`pricing_other` for a category Meta adds later), every free one in `pricing_free`.
 */
export function pricingColumn(counterKey: string): PricingColumn | undefined {
  if (!counterKey.startsWith("pricing:")) return undefined;
  const [, rawCategory = "", free] = counterKey.split(":");
  if (free === "free") return "pricing_free";
  // One Meta table spells it `authentication-international`.
  const category = rawCategory.toLowerCase().replace(/-/g, "_");
  return (PRICING_CATEGORIES as readonly string[]).includes(category) ? (`pricing_${category}` as PricingColumn) : "pricing_other";
}

// ──────────────────────────────────── replies and responses ──────────────────────────────────────

/** What the dialog math needs of a stored message. */
export interface DialogMessage {
  direction: "in" | "out";
  /** Meta's timestamp (inbound) or our accept time (outbound), epoch ms. */
  sentAt: number;
  kind: string;
  origin?: string;
}

/** Outbound origins that are a person (or the branch's own CRM/API) answering, not automation. */
export const HUMAN_REPLY_ORIGINS: readonly string[] = ["reply", "api"];

/** A customer message that says something (a number change notice does not). */
const isCustomerMessage = (m: DialogMessage) => m.direction === "in" && m.kind !== "system";

/**
 * Branch messages the customer answered, counted on the branch message's UTC day: the next message
 * in the dialog is the customer's and came within 24 hours. Of several branch messages in a row only
 * the last one can be answered, so `replied ≤ outbound` and `replied / outbound` is a reply rate.
 */
export function repliedByDay(messages: readonly DialogMessage[]): Map<string, number> {
  const sorted = chronological(messages).filter((m) => m.direction === "out" || isCustomerMessage(m));
  const out = new Map<string, number>();
  for (let i = 0; i < sorted.length - 1; i++) {
    const m = sorted[i]!;
    const next = sorted[i + 1]!;
    if (m.direction === "out" && next.direction === "in" && next.sentAt - m.sentAt <= DAY_MS) {
      const day = dayOf(m.sentAt);
      out.set(day, (out.get(day) ?? 0) + 1);
    }
  }
  return out;
}

/**
 * First response times of one dialog, in seconds, by the UTC day of the customer's first message
 * that day: from that message to the branch's first human reply after it (origin `reply` or `api`;
 * automation, triggers and campaigns do not count). A dialog-day that got no reply has no sample.
 */
export function firstResponsesByDay(messages: readonly DialogMessage[]): Map<string, number[]> {
  const sorted = chronological(messages);
  const out = new Map<string, number[]>();
  const seenDays = new Set<string>();
  for (let i = 0; i < sorted.length; i++) {
    const m = sorted[i]!;
    if (!isCustomerMessage(m)) continue;
    const day = dayOf(m.sentAt);
    if (seenDays.has(day)) continue;
    seenDays.add(day);
    const reply = sorted.slice(i + 1).find((r) => r.direction === "out" && r.origin !== undefined && HUMAN_REPLY_ORIGINS.includes(r.origin) && r.sentAt >= m.sentAt);
    if (!reply) continue;
    const list = out.get(day) ?? [];
    list.push((reply.sentAt - m.sentAt) / 1000);
    out.set(day, list);
  }
  return out;
}

/** Stable sort by time; at equal times the customer's message first (it was there to be answered). */
function chronological<T extends DialogMessage>(messages: readonly T[]): T[] {
  return [...messages].sort((a, b) => a.sentAt - b.sentAt || (a.direction === b.direction ? 0 : a.direction === "in" ? -1 : 1));
}

// ─────────────────────────────────────────── rows ────────────────────────────────────────────────

/** One row of the export: a branch on a UTC day. Column order = key order (CSV header). */
export interface AnalyticsRow {
  date: string;
  branch_id: string;
  branch_code: string;
  branch_name: string;
  inbound: number;
  outbound: number;
  delivered: number;
  read: number;
  failed: number;
  replied: number;
  first_response_p50_seconds: number | null;
  first_responses: number;
  nps_promoters: number;
  nps_passives: number;
  nps_detractors: number;
  nps_score: number | null;
  pricing_marketing: number;
  pricing_marketing_lite: number;
  pricing_utility: number;
  pricing_authentication: number;
  pricing_authentication_international: number;
  pricing_service: number;
  pricing_referral_conversion: number;
  pricing_other: number;
  pricing_free: number;
}

export const ANALYTICS_COLUMNS = [
  "date",
  "branch_id",
  "branch_code",
  "branch_name",
  "inbound",
  "outbound",
  "delivered",
  "read",
  "failed",
  "replied",
  "first_response_p50_seconds",
  "first_responses",
  "nps_promoters",
  "nps_passives",
  "nps_detractors",
  "nps_score",
  ...PRICING_CATEGORIES.map((c) => `pricing_${c}` as const),
  "pricing_other",
  "pricing_free",
] as const satisfies readonly (keyof AnalyticsRow)[];

/** Columns that add up across rows (the totals line). */
export const SUMMABLE_COLUMNS = ANALYTICS_COLUMNS.filter(
  (c): c is Exclude<keyof AnalyticsRow, "date" | "branch_id" | "branch_code" | "branch_name" | "first_response_p50_seconds" | "nps_score"> =>
    !["date", "branch_id", "branch_code", "branch_name", "first_response_p50_seconds", "nps_score"].includes(c),
);

export interface BranchDayInput {
  branch: { id: string; code: string; name: string };
  day: string;
  /** The day's counters (`inbound`, `delivered`, `pricing:marketing`, `nps:promoter`…). */
  counts: Readonly<Record<string, number>>;
  replied: number;
  /** First response samples of the day, seconds. */
  firstResponses: readonly number[];
}

const roundTo = (n: number | null, digits: number): number | null => (n === null ? null : Math.round(n * 10 ** digits) / 10 ** digits);

export function analyticsRow(input: BranchDayInput): AnalyticsRow {
  const c = input.counts;
  const n = (k: string) => c[k] ?? 0;
  const row: AnalyticsRow = {
    date: input.day,
    branch_id: input.branch.id,
    branch_code: input.branch.code,
    branch_name: input.branch.name,
    inbound: n("inbound"),
    outbound: n("outbound"),
    delivered: n("delivered"),
    read: n("read"),
    failed: n("failed"),
    replied: input.replied,
    first_response_p50_seconds: roundTo(median(input.firstResponses), 1),
    first_responses: input.firstResponses.length,
    nps_promoters: n("nps:promoter"),
    nps_passives: n("nps:passive"),
    nps_detractors: n("nps:detractor"),
    nps_score: null,
    pricing_marketing: 0,
    pricing_marketing_lite: 0,
    pricing_utility: 0,
    pricing_authentication: 0,
    pricing_authentication_international: 0,
    pricing_service: 0,
    pricing_referral_conversion: 0,
    pricing_other: 0,
    pricing_free: 0,
  };
  row.nps_score = npsScore(row.nps_promoters, row.nps_passives, row.nps_detractors);
  for (const [key, value] of Object.entries(c)) {
    const col = pricingColumn(key);
    if (col) row[col] += value;
  }
  return row;
}

export type AnalyticsTotals = Omit<AnalyticsRow, "date" | "branch_id" | "branch_code" | "branch_name">;

/**
 * Sums over rows; the median and NPS are recomputed from all samples and all answers (a median of
 * medians or a mean of scores would be wrong).
 */
export function analyticsTotals(rows: readonly AnalyticsRow[], allFirstResponses: readonly number[]): AnalyticsTotals {
  const totals = Object.fromEntries(SUMMABLE_COLUMNS.map((c) => [c, 0])) as Record<(typeof SUMMABLE_COLUMNS)[number], number>;
  for (const r of rows) for (const c of SUMMABLE_COLUMNS) totals[c] += r[c];
  return {
    ...totals,
    first_response_p50_seconds: roundTo(median(allFirstResponses), 1),
    nps_score: npsScore(totals.nps_promoters, totals.nps_passives, totals.nps_detractors),
  };
}

// ──────────────────────────────────────────── CSV ────────────────────────────────────────────────

/** UTF-8 byte order mark: Excel reads a CSV as UTF-8 only when it starts with one. */
export const CSV_BOM = "\uFEFF";

/**
 * One RFC 4180 field: quoted when it holds a comma, a quote, CR or LF (quotes doubled); numbers in
 * plain decimal notation with a dot; null/undefined as an empty field.
 */
export function csvField(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return "";
  const s = typeof value === "number" ? (Number.isFinite(value) ? String(value) : "") : value;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Header line plus one line per row, CRLF-terminated (RFC 4180), with the BOM in front. */
export function toCsv<R extends object>(columns: readonly (keyof R & string)[], rows: readonly R[]): string {
  const lines = [columns.map(csvField).join(",")];
  for (const r of rows) lines.push(columns.map((c) => csvField(r[c] as string | number | null | undefined)).join(","));
  return `${CSV_BOM}${lines.join("\r\n")}\r\n`;
}
