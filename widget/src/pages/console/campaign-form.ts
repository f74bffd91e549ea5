// Pure pieces of the campaigns tab: the form → the API's input, the progress bar's parts, which
// controls a state allows. No DOM, no I/O (unit-tested).
import type { CampaignInput, CampaignProgress, CampaignState } from "./types.js";

export interface CampaignForm {
  name: string;
  /** `name|language` of the chosen template. */
  template: string;
  branchIds: string[];
  csv: string;
  /** `<input type="datetime-local">` value (the browser's local time), or "". */
  startAt: string;
  quietFrom: string;
  quietTo: string;
  timezone: string;
}

export type FormProblem = "formIncomplete" | "quietIncomplete" | "badStartAt";

export const templateKey = (name: string, language: string): string => `${name}|${language}`;

export function splitTemplateKey(key: string): { name: string; language: string } | undefined {
  const at = key.lastIndexOf("|");
  if (at <= 0 || at === key.length - 1) return undefined;
  return { name: key.slice(0, at), language: key.slice(at + 1) };
}

/**
 * The create/preview body, or the first thing the form still lacks. `parseLocal` turns the
 * datetime-local value into epoch ms (the browser's `Date` in the page; injectable for tests).
 */
export function campaignInput(form: CampaignForm, parseLocal: (v: string) => number = (v) => new Date(v).getTime()): { ok: true; input: CampaignInput } | { ok: false; problem: FormProblem } {
  const template = splitTemplateKey(form.template);
  if (!form.name.trim() || !template || form.branchIds.length === 0 || !form.csv.trim()) return { ok: false, problem: "formIncomplete" };
  const quiet = [form.quietFrom.trim(), form.quietTo.trim(), form.timezone.trim()];
  const quietGiven = form.quietFrom.trim() !== "" || form.quietTo.trim() !== "";
  if (quietGiven && quiet.some((v) => v === "")) return { ok: false, problem: "quietIncomplete" };
  let startAt: number | undefined;
  if (form.startAt.trim()) {
    startAt = parseLocal(form.startAt.trim());
    if (!Number.isFinite(startAt)) return { ok: false, problem: "badStartAt" };
  }
  const schedule = {
    ...(startAt !== undefined ? { startAt } : {}),
    ...(quietGiven ? { quietHours: { from: quiet[0]!, to: quiet[1]!, timezone: quiet[2]! } } : {}),
  };
  return {
    ok: true,
    input: {
      name: form.name.trim(),
      template,
      branchIds: form.branchIds,
      csv: form.csv,
      ...(Object.keys(schedule).length ? { schedule } : {}),
    },
  };
}

export type BarPart = "read" | "delivered" | "sent" | "failed" | "skipped";

export interface ProgressBar {
  /** Recipients that are through: sent (incl. delivered and read), failed or skipped. */
  done: number;
  total: number;
  /** done / total in percent (0 for an empty campaign). */
  percent: number;
  /** Left to right, each as a percent of the total; their sum is `percent`. */
  parts: { part: BarPart; count: number; percent: number }[];
}

const pct = (n: number, total: number) => (total > 0 ? Math.round((n / total) * 1000) / 10 : 0);

/** The stacked bar: read, delivered (not read), sent (not delivered), failed, skipped. */
export function progressBar(p: CampaignProgress): ProgressBar {
  const counts: [BarPart, number][] = [
    ["read", p.read],
    ["delivered", Math.max(0, p.delivered - p.read)],
    ["sent", Math.max(0, p.sent - p.delivered)],
    ["failed", p.failed],
    ["skipped", p.skipped],
  ];
  const done = p.sent + p.failed + p.skipped;
  return {
    done,
    total: p.total,
    percent: pct(done, p.total),
    parts: counts.map(([part, count]) => ({ part, count, percent: pct(count, p.total) })),
  };
}

/** Which controls a campaign in `state` offers (the API answers 409 to the others). */
export function campaignActions(state: CampaignState): { pause: boolean; resume: boolean; cancel: boolean } {
  const finished = state === "done" || state === "cancelled";
  return { pause: state === "scheduled" || state === "running" || state === "quiet_hours", resume: state === "paused", cancel: !finished };
}

export const stateTone = (state: CampaignState): "good" | "warn" | "bad" | "info" | undefined =>
  state === "done" ? "good" : state === "paused" || state === "quiet_hours" ? "warn" : state === "cancelled" ? "bad" : state === "running" ? "info" : undefined;

/** A datetime-local value (`YYYY-MM-DDTHH:MM`) of `ms` in the browser's time zone. */
export function toLocalInput(ms: number): string {
  const d = new Date(ms);
  const two = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}T${two(d.getHours())}:${two(d.getMinutes())}`;
}
