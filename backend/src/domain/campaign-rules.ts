/**
 * Pure rules of campaigns and call triggers: quiet hours in the campaign's time zone, when sending
 * may start, the number's messaging limit and the call trigger's cooldown. `now` is always passed in.
 * @see ../../../../shared/docs/whatsapp-cloud-api.md §5.3 (messaging limits), §5.6 (per-user marketing limits)
 */

export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;

/** Local wall-clock window in which a campaign does not send, e.g. 21:00 → 09:00 Europe/Moscow. */
export interface QuietHoursRule {
  /** "HH:MM", 24-hour clock. */
  from: string;
  to: string;
  /** IANA time zone, e.g. "Europe/Moscow". */
  timezone: string;
}

export interface ScheduleRule {
  startAt?: number;
  quietHours?: QuietHoursRule;
}

const CLOCK = /^([01]\d|2[0-3]):([0-5]\d)$/;

/** Minutes after local midnight of an "HH:MM" clock time; undefined when malformed. */
export function parseClock(s: string): number | undefined {
  const m = CLOCK.exec(s);
  return m ? Number(m[1]) * 60 + Number(m[2]) : undefined;
}

export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** What is wrong with a quiet-hours rule, or undefined when it is usable. */
export function quietHoursProblem(q: QuietHoursRule): { field: "from" | "to" | "timezone"; message: string } | undefined {
  const from = parseClock(q.from);
  const to = parseClock(q.to);
  if (from === undefined) return { field: "from", message: `'${q.from}' is not a time of day (HH:MM, 24-hour clock)` };
  if (to === undefined) return { field: "to", message: `'${q.to}' is not a time of day (HH:MM, 24-hour clock)` };
  if (from === to) return { field: "to", message: "quiet hours must end at a different time than they start" };
  if (!isTimeZone(q.timezone)) return { field: "timezone", message: `'${q.timezone}' is not an IANA time zone (e.g. Europe/Moscow)` };
  return undefined;
}

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", { timeZone: tz, hourCycle: "h23", year: "numeric", month: "numeric", day: "numeric", hour: "numeric", minute: "numeric", second: "numeric" });
    formatters.set(tz, f);
  }
  return f;
}

interface LocalTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

/** The wall clock in `tz` at instant `at`. */
export function localTime(at: number, tz: string): LocalTime {
  const parts: Record<string, number> = {};
  for (const p of formatter(tz).formatToParts(new Date(at))) if (p.type !== "literal") parts[p.type] = Number(p.value);
  return { year: parts.year!, month: parts.month!, day: parts.day!, hour: parts.hour! % 24, minute: parts.minute!, second: parts.second! };
}

/** Offset of `tz` from UTC at instant `at`, in ms (Moscow: +3 h). */
function offsetAt(at: number, tz: string): number {
  const l = localTime(at, tz);
  const asUtc = Date.UTC(l.year, l.month - 1, l.day, l.hour, l.minute, l.second);
  return asUtc - Math.floor(at / 1000) * 1000;
}

/**
 * The instant at which the wall clock in `tz` shows the given local date and minute of day. A
 * time that does not exist (skipped by a DST change) maps to the instant right after the gap,
 * read with the offset before it; an ambiguous one (repeated) to its first occurrence.
 */
export function zonedInstant(year: number, month: number, day: number, minuteOfDay: number, tz: string): number {
  const guess = Date.UTC(year, month - 1, day, 0, minuteOfDay);
  const before = offsetAt(guess - DAY_MS / 2, tz);
  const after = offsetAt(guess + DAY_MS / 2, tz);
  // First occurrence: try the earlier offset (larger offset = earlier instant) first.
  for (const off of [Math.max(before, after), Math.min(before, after)]) {
    const t = guess - off;
    if (offsetAt(t, tz) === off) return t;
  }
  // In the gap: neither offset reproduces the wall clock; use the offset in force before it.
  return guess - before;
}

/** True when `at` falls inside the quiet hours (start inclusive, end exclusive). */
export function inQuietHours(at: number, q: QuietHoursRule): boolean {
  const from = parseClock(q.from)!;
  const to = parseClock(q.to)!;
  const l = localTime(at, q.timezone);
  const m = l.hour * 60 + l.minute;
  return from < to ? m >= from && m < to : m >= from || m < to;
}

/** The first instant at or after `at` outside the quiet hours (`at` itself when not quiet). */
export function quietHoursEnd(at: number, q: QuietHoursRule): number {
  if (!inQuietHours(at, q)) return at;
  const to = parseClock(q.to)!;
  const l = localTime(at, q.timezone);
  // The end is today at `to` or, when that has passed (window across midnight), tomorrow.
  for (let d = 0; d <= 2; d++) {
    const date = new Date(Date.UTC(l.year, l.month - 1, l.day + d));
    const end = zonedInstant(date.getUTCFullYear(), date.getUTCMonth() + 1, date.getUTCDate(), to, q.timezone);
    if (end > at && !inQuietHours(end, q)) return end;
  }
  // Unreachable for a valid rule; be safe and try again in an hour.
  return at + HOUR_MS;
}

/** When a campaign may send next: `now` when it may send at once. */
export function nextSendAt(schedule: ScheduleRule, now: number): number {
  const start = Math.max(now, schedule.startAt ?? now);
  return schedule.quietHours ? quietHoursEnd(start, schedule.quietHours) : start;
}

export type StoredCampaignState = "scheduled" | "running" | "paused" | "done" | "cancelled";
export type CampaignDisplayState = StoredCampaignState | "quiet_hours";

/** The state the console shows: a running (or due) campaign inside its quiet hours shows `quiet_hours`. */
export function displayState(state: StoredCampaignState, schedule: ScheduleRule, now: number): { state: CampaignDisplayState; nextRunAt?: number } {
  if (state !== "scheduled" && state !== "running") return { state };
  if (schedule.startAt !== undefined && schedule.startAt > now) return { state: "scheduled", nextRunAt: nextSendAt(schedule, now) };
  if (schedule.quietHours && inQuietHours(now, schedule.quietHours)) return { state: "quiet_hours", nextRunAt: quietHoursEnd(now, schedule.quietHours) };
  return { state };
}

// ───────────────────────────────────── messaging limit ─────────────────────────────────────

export interface LimitCheck {
  ok: boolean;
  /** Unique recipients per moving 24 h (WHATSAPP_MESSAGING_LIMIT); null = unlimited. */
  limit: number | null;
  /** Unique customers reached with business-initiated templates in the last 24 h. */
  usedLast24h: number;
  /** Further customers other active campaigns still have to reach. */
  reservedByCampaigns: number;
  /** What is left of the limit. */
  available: number | null;
  /** Customers this campaign would newly reach. */
  recipients: number;
}

/**
 * The messaging limit counts unique users reached outside the service window in a moving 24 h
 * (doc §5.3): a customer already reached today costs nothing again, so only new ones count.
 */
export function checkMessagingLimit(limit: number | null, reached: ReadonlySet<string>, reserved: ReadonlySet<string>, recipients: Iterable<string>): LimitCheck {
  let fresh = 0;
  for (const r of new Set(recipients)) if (!reached.has(r) && !reserved.has(r)) fresh++;
  let reservedOnly = 0;
  for (const r of reserved) if (!reached.has(r)) reservedOnly++;
  if (limit === null) return { ok: true, limit, usedLast24h: reached.size, reservedByCampaigns: reservedOnly, available: null, recipients: fresh };
  const available = Math.max(0, limit - reached.size - reservedOnly);
  return { ok: fresh <= available, limit, usedLast24h: reached.size, reservedByCampaigns: reservedOnly, available, recipients: fresh };
}

/** How many recipients a campaign hands to the outbox at a time: about five seconds of sending. */
export function campaignBatchSize(mps: number): number {
  return Math.max(10, Math.min(1000, Math.round(mps * 5)));
}

// ───────────────────────────────────── call trigger ─────────────────────────────────────

export interface CooldownMark {
  at: number;
  until: number;
}

/**
 * A caller gets the call-trigger message at most once per cooldown across the network: skipped
 * while the previous message's cooldown runs, or within this branch's own cooldown of it.
 */
export function callCooldown(last: CooldownMark | undefined, cooldownHours: number, now: number): { allowed: true; until: number } | { allowed: false; until: number } {
  const own = cooldownHours * HOUR_MS;
  if (last) {
    const until = Math.max(last.until, last.at + own);
    if (now < until) return { allowed: false, until };
  }
  return { allowed: true, until: now + own };
}
