import { describe, expect, it } from "vitest";
import {
  callCooldown,
  campaignBatchSize,
  checkMessagingLimit,
  displayState,
  inQuietHours,
  nextSendAt,
  quietHoursEnd,
  quietHoursProblem,
  zonedInstant,
  type QuietHoursRule,
} from "../../backend/src/domain/campaign-rules.js";

const H = 3_600_000;
const at = (iso: string) => Date.parse(iso);
const iso = (t: number) => new Date(t).toISOString();

const moscowNight: QuietHoursRule = { from: "21:00", to: "09:00", timezone: "Europe/Moscow" };
const berlinNight: QuietHoursRule = { from: "22:00", to: "08:00", timezone: "Europe/Berlin" };
const nyLunch: QuietHoursRule = { from: "12:00", to: "13:30", timezone: "America/New_York" };

describe("local time in a zone", () => {
  it.each([
    // Moscow is UTC+3 all year.
    [2026, 1, 15, 9 * 60, "Europe/Moscow", "2026-01-15T06:00:00.000Z"],
    [2026, 7, 15, 9 * 60, "Europe/Moscow", "2026-07-15T06:00:00.000Z"],
    // Berlin: CET (+1) in winter, CEST (+2) in summer.
    [2026, 1, 15, 8 * 60, "Europe/Berlin", "2026-01-15T07:00:00.000Z"],
    [2026, 7, 15, 8 * 60, "Europe/Berlin", "2026-07-15T06:00:00.000Z"],
    // 02:30 does not exist on 2026-03-29 in Berlin (02:00 → 03:00): the clock would show 03:30.
    [2026, 3, 29, 2 * 60 + 30, "Europe/Berlin", "2026-03-29T01:30:00.000Z"],
    // 02:30 happens twice on 2026-10-25 in Berlin: the first one (still CEST).
    [2026, 10, 25, 2 * 60 + 30, "Europe/Berlin", "2026-10-25T00:30:00.000Z"],
    // Date line: Kiritimati is UTC+14.
    [2026, 1, 15, 0, "Pacific/Kiritimati", "2026-01-14T10:00:00.000Z"],
    [2026, 1, 15, 23 * 60 + 59, "UTC", "2026-01-15T23:59:00.000Z"],
  ])("%i-%i-%i minute %i in %s is %s", (y, m, d, minute, tz, expected) => {
    expect(iso(zonedInstant(y, m, d, minute, tz))).toBe(expected);
  });
});

describe("quiet hours", () => {
  it.each([
    // Across midnight, Moscow (UTC+3): 21:00–09:00 local = 18:00–06:00 UTC.
    [moscowNight, "2026-01-15T17:59:00Z", false],
    [moscowNight, "2026-01-15T18:00:00Z", true],
    [moscowNight, "2026-01-15T23:30:00Z", true],
    [moscowNight, "2026-01-16T05:59:00Z", true],
    [moscowNight, "2026-01-16T06:00:00Z", false],
    [moscowNight, "2026-01-16T12:00:00Z", false],
    // Same window in the same instant depends on the zone's summer time: Berlin 22:00 is 20:00Z in July, 21:00Z in January.
    [berlinNight, "2026-07-15T20:30:00Z", true],
    [berlinNight, "2026-01-15T20:30:00Z", false],
    // A window within one day.
    [nyLunch, "2026-01-15T16:59:00Z", false],
    [nyLunch, "2026-01-15T17:00:00Z", true],
    [nyLunch, "2026-01-15T18:29:00Z", true],
    [nyLunch, "2026-01-15T18:30:00Z", false],
  ])("%j at %s → quiet %s", (rule, when, quiet) => {
    expect(inQuietHours(at(when), rule)).toBe(quiet);
  });

  it.each([
    [moscowNight, "2026-01-15T12:00:00Z", "2026-01-15T12:00:00.000Z"], // not quiet: at once
    [moscowNight, "2026-01-15T19:00:00Z", "2026-01-16T06:00:00.000Z"], // evening: next morning
    [moscowNight, "2026-01-16T03:00:00Z", "2026-01-16T06:00:00.000Z"], // after midnight: this morning
    [moscowNight, "2026-12-31T20:00:00Z", "2027-01-01T06:00:00.000Z"], // over the year's end
    [nyLunch, "2026-01-15T17:10:00Z", "2026-01-15T18:30:00.000Z"],
    // Berlin's spring-forward night: 22:00 CET (21:00Z) → 08:00 CEST (06:00Z), a 9-hour night.
    [berlinNight, "2026-03-28T21:00:00Z", "2026-03-29T06:00:00.000Z"],
    // Fall-back night: 22:00 CEST (20:00Z) → 08:00 CET (07:00Z), an 11-hour night.
    [berlinNight, "2026-10-24T20:00:00Z", "2026-10-25T07:00:00.000Z"],
  ])("%j at %s ends at %s", (rule, when, end) => {
    const t = quietHoursEnd(at(when), rule);
    expect(iso(t)).toBe(end);
    expect(inQuietHours(t, rule)).toBe(false);
  });

  it("a quiet window ending at a time the clock skips still ends, right after the gap", () => {
    const rule: QuietHoursRule = { from: "23:00", to: "02:30", timezone: "Europe/Berlin" };
    const end = quietHoursEnd(at("2026-03-28T23:00:00Z"), rule); // 00:00 CET
    expect(iso(end)).toBe("2026-03-29T01:30:00.000Z"); // 03:30 CEST
    expect(inQuietHours(end, rule)).toBe(false);
  });

  it.each([
    [{ from: "9:00", to: "10:00", timezone: "UTC" }, "from"],
    [{ from: "24:00", to: "10:00", timezone: "UTC" }, "from"],
    [{ from: "21:00", to: "09:60", timezone: "UTC" }, "to"],
    [{ from: "21:00", to: "21:00", timezone: "UTC" }, "to"],
    [{ from: "21:00", to: "09:00", timezone: "Mars/Olympus" }, "timezone"],
  ])("refuses %j naming %s", (rule, field) => {
    expect(quietHoursProblem(rule)?.field).toBe(field);
  });

  it("accepts a valid rule", () => {
    expect(quietHoursProblem(moscowNight)).toBeUndefined();
  });
});

describe("when a campaign may send", () => {
  const noon = at("2026-01-15T09:00:00Z"); // 12:00 in Moscow
  it.each([
    [{}, noon, noon],
    [{ startAt: noon + 2 * H }, noon, noon + 2 * H],
    [{ startAt: noon - 2 * H }, noon, noon],
    // Starts at 22:00 Moscow, inside the quiet hours: waits for 09:00 the next day.
    [{ startAt: at("2026-01-15T19:00:00Z"), quietHours: moscowNight }, noon, at("2026-01-16T06:00:00Z")],
    [{ quietHours: moscowNight }, at("2026-01-15T20:00:00Z"), at("2026-01-16T06:00:00Z")],
    [{ quietHours: moscowNight }, noon, noon],
  ])("schedule %j at %s → %s", (schedule, now, expected) => {
    expect(nextSendAt(schedule, now)).toBe(expected);
  });

  it.each([
    ["running", {}, "running", undefined],
    ["running", { quietHours: moscowNight }, "quiet_hours", at("2026-01-16T06:00:00Z")],
    ["scheduled", { startAt: at("2026-01-16T10:00:00Z") }, "scheduled", at("2026-01-16T10:00:00Z")],
    ["scheduled", { quietHours: moscowNight }, "quiet_hours", at("2026-01-16T06:00:00Z")],
    ["paused", { quietHours: moscowNight }, "paused", undefined],
    ["done", {}, "done", undefined],
    ["cancelled", { startAt: at("2026-01-16T10:00:00Z") }, "cancelled", undefined],
  ] as const)("a %s campaign with %j at 23:00 Moscow shows %s", (state, schedule, shown, nextRunAt) => {
    expect(displayState(state, schedule, at("2026-01-15T20:00:00Z"))).toEqual({ state: shown, ...(nextRunAt ? { nextRunAt } : {}) });
  });
});

describe("messaging limit", () => {
  const set = (...xs: string[]) => new Set(xs);
  it.each([
    // limit, reached, reserved, recipients → ok, available, new recipients
    [1000, set(), set(), ["a", "b"], true, 1000, 2],
    [3, set("a", "b"), set(), ["c", "d"], false, 1, 2],
    // Customers reached today cost nothing again.
    [3, set("a", "b"), set(), ["a", "b", "c"], true, 1, 1],
    // Other campaigns' waiting recipients are reserved…
    [4, set("a"), set("x", "y"), ["c", "d"], false, 1, 2],
    // …but one of them reached already is not counted twice.
    [4, set("a"), set("a", "y"), ["c", "d"], true, 2, 2],
    [2, set("a", "b", "c"), set(), ["d"], false, 0, 1],
    [null, set("a"), set(), ["b"], true, null, 1],
  ])("limit %s, reached %j, reserved %j, list %j → ok %s", (limit, reached, reserved, list, ok, available, recipients) => {
    const r = checkMessagingLimit(limit, reached, reserved, list);
    expect(r).toMatchObject({ ok, available, recipients, limit, usedLast24h: reached.size });
  });

  it.each([
    [1, 10],
    [2, 10],
    [80, 400],
    [1000, 1000],
  ])("at %i msg/s a batch is %i recipients", (mps, size) => {
    expect(campaignBatchSize(mps)).toBe(size);
  });
});

describe("call trigger cooldown", () => {
  const t = at("2026-01-15T09:00:00Z");
  it.each([
    ["no earlier message", undefined, 24, t, true, t + 24 * H],
    ["inside the cooldown", { at: t - H, until: t + 23 * H }, 24, t, false, t + 23 * H],
    ["at its end", { at: t - 24 * H, until: t }, 24, t, true, t + 24 * H],
    // The earlier branch's longer cooldown holds for a branch with a shorter one…
    ["earlier 48 h, this 1 h", { at: t - 2 * H, until: t + 46 * H }, 1, t, false, t + 46 * H],
    // …and this branch's longer cooldown holds over an earlier shorter one.
    ["earlier 1 h, this 24 h", { at: t - 2 * H, until: t - H }, 24, t, false, t + 22 * H],
    ["fractional hours", { at: t - H, until: t - H + 0.5 * H }, 0.5, t, true, t + 0.5 * H],
  ])("%s", (_name, last, hours, now, allowed, until) => {
    expect(callCooldown(last, hours, now)).toEqual({ allowed, until });
  });
});
