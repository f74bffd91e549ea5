import { describe, expect, it } from "vitest";
import {
  ANALYTICS_COLUMNS,
  analyticsRow,
  analyticsTotals,
  csvField,
  daysBetween,
  firstResponsesByDay,
  median,
  npsGroup,
  npsScore,
  parseDay,
  pricingColumn,
  ratio,
  repliedByDay,
  toCsv,
  type DialogMessage,
} from "../../backend/src/domain/analytics.js";

const at = (iso: string) => Date.parse(iso);
const cin = (iso: string, kind = "text"): DialogMessage => ({ direction: "in", sentAt: at(iso), kind });
const out = (iso: string, origin = "reply"): DialogMessage => ({ direction: "out", sentAt: at(iso), kind: "text", origin });

describe("NPS", () => {
  it.each([
    [5, 3, 2, 30], // 50 % − 20 %
    [3, 0, 0, 100],
    [0, 0, 4, -100],
    [1, 1, 1, 0],
    [1, 0, 2, -33.3], // 33.3 % − 66.7 %
    [2, 1, 0, 66.7],
    [7, 2, 1, 60],
  ])("promoters %i, passives %i, detractors %i → score %d", (p, pa, d, score) => {
    expect(npsScore(p, pa, d)).toBe(score);
  });

  it("has no score when nobody answered", () => {
    expect(npsScore(0, 0, 0)).toBeNull();
  });

  it.each([
    [10, "promoter"],
    [9, "promoter"],
    [8, "passive"],
    [7, "passive"],
    [6, "detractor"],
    [0, "detractor"],
    [11, undefined],
    [-1, undefined],
    [7.5, undefined],
  ])("answer %d is a %s", (score, group) => {
    expect(npsGroup(score)).toBe(group);
  });
});

describe("median and ratio", () => {
  it.each([
    [[], null],
    [[5], 5],
    [[3, 1, 2], 2],
    [[4, 1, 3, 2], 2.5],
    [[10, 1000, 10], 10],
    [[60, 120], 90],
  ])("median of %j is %s", (values, expected) => {
    expect(median(values)).toBe(expected);
  });

  it("divides, and has no rate for nothing", () => {
    expect(ratio(1, 4)).toBe(0.25);
    expect(ratio(0, 3)).toBe(0);
    expect(ratio(0, 0)).toBeNull();
  });
});

describe("days", () => {
  it.each([
    ["2024-02-29", true],
    ["2025-02-29", false],
    ["2025-13-01", false],
    ["2025-1-01", false],
    ["2025-01-01T00:00", false],
    ["", false],
  ])("%s is a real date: %s", (s, ok) => {
    expect(parseDay(s) !== undefined).toBe(ok);
  });

  it("lists every day of a range, both ends included, across a leap day and a new year", () => {
    expect(daysBetween("2024-02-27", "2024-03-01")).toEqual(["2024-02-27", "2024-02-28", "2024-02-29", "2024-03-01"]);
    expect(daysBetween("2025-12-31", "2026-01-01")).toEqual(["2025-12-31", "2026-01-01"]);
    expect(daysBetween("2025-05-02", "2025-05-01")).toEqual([]);
  });
});

describe("pricing columns", () => {
  it.each([
    ["pricing:marketing", "pricing_marketing"],
    ["pricing:MARKETING", "pricing_marketing"],
    ["pricing:utility", "pricing_utility"],
    ["pricing:authentication-international", "pricing_authentication_international"],
    ["pricing:marketing_lite", "pricing_marketing_lite"],
    ["pricing:service:free", "pricing_free"],
    ["pricing:utility:free", "pricing_free"],
    ["pricing:something_new", "pricing_other"],
    ["inbound", undefined],
    ["nps:promoter", undefined],
  ])("counter %s adds to %s", (key, column) => {
    expect(pricingColumn(key)).toBe(column);
  });
});

describe("replies", () => {
  it("counts branch messages answered within 24 hours, on the branch message's day", () => {
    const dialog = [
      out("2025-03-01T10:00:00Z"), // followed by another branch message: not the one answered
      out("2025-03-01T10:05:00Z"), // answered at 11:00 → replied on 03-01
      cin("2025-03-01T11:00:00Z"),
      cin("2025-03-01T11:01:00Z"),
      out("2025-03-01T23:00:00Z"), // answered next day 09:00 (10 h later) → replied on 03-01
      cin("2025-03-02T09:00:00Z"),
      out("2025-03-02T12:00:00Z"), // answered 25 h later → not a reply
      cin("2025-03-03T13:00:00Z"),
      out("2025-03-04T08:00:00Z", "campaign"), // a campaign answered → replied on 03-04
      cin("2025-03-04T08:30:00Z", "system"), // a number-change notice is not an answer …
      cin("2025-03-04T09:00:00Z"), // … this is
      out("2025-03-05T08:00:00Z"), // never answered
    ];
    expect(Object.fromEntries(repliedByDay(dialog))).toEqual({ "2025-03-01": 2, "2025-03-04": 1 });
  });

  it("is order-independent (messages come from the store in any order)", () => {
    const dialog = [cin("2025-03-01T11:00:00Z"), out("2025-03-01T10:00:00Z")];
    expect(Object.fromEntries(repliedByDay(dialog))).toEqual({ "2025-03-01": 1 });
  });
});

describe("first response", () => {
  it("measures from the customer's first message of the day to the branch's first human reply", () => {
    const dialog = [
      cin("2025-03-01T09:00:00Z"), // first of 03-01
      cin("2025-03-01T09:02:00Z"),
      out("2025-03-01T09:01:00Z", "automation"), // a bot does not count
      out("2025-03-01T09:10:00Z"), // 600 s
      out("2025-03-01T09:20:00Z"),
      cin("2025-03-02T22:00:00Z"), // first of 03-02 …
      out("2025-03-03T08:00:00Z", "api"), // … answered the next morning: 36000 s
      cin("2025-03-03T09:00:00Z"), // first of 03-03, never answered: no sample
    ];
    expect(Object.fromEntries(firstResponsesByDay(dialog))).toEqual({ "2025-03-01": [600], "2025-03-02": [36000] });
  });

  it("ignores a branch message sent before the customer wrote", () => {
    const dialog = [out("2025-03-01T08:00:00Z"), cin("2025-03-01T09:00:00Z"), out("2025-03-01T09:00:30Z")];
    expect(Object.fromEntries(firstResponsesByDay(dialog))).toEqual({ "2025-03-01": [30] });
  });
});

describe("rows and totals", () => {
  const branch = { id: "br_1", code: "ART", name: "Art Play" };

  it("fills a row from the day's counters", () => {
    const row = analyticsRow({
      branch,
      day: "2025-03-01",
      counts: {
        inbound: 12,
        outbound: 9,
        delivered: 8,
        read: 5,
        failed: 1,
        "pricing:marketing": 3,
        "pricing:utility": 2,
        "pricing:service:free": 4,
        "pricing:utility:free": 1,
        "pricing:brand_new": 1,
        "nps:promoter": 3,
        "nps:passive": 1,
        "nps:detractor": 1,
      },
      replied: 4,
      firstResponses: [30, 600, 90],
    });
    expect(row).toEqual({
      date: "2025-03-01",
      branch_id: "br_1",
      branch_code: "ART",
      branch_name: "Art Play",
      inbound: 12,
      outbound: 9,
      delivered: 8,
      read: 5,
      failed: 1,
      replied: 4,
      first_response_p50_seconds: 90,
      first_responses: 3,
      nps_promoters: 3,
      nps_passives: 1,
      nps_detractors: 1,
      nps_score: 40,
      pricing_marketing: 3,
      pricing_marketing_lite: 0,
      pricing_utility: 2,
      pricing_authentication: 0,
      pricing_authentication_international: 0,
      pricing_service: 0,
      pricing_referral_conversion: 0,
      pricing_other: 1,
      pricing_free: 5,
    });
    expect(Object.keys(row)).toEqual([...ANALYTICS_COLUMNS]);
  });

  it("has empty rates on a quiet day", () => {
    const row = analyticsRow({ branch, day: "2025-03-02", counts: {}, replied: 0, firstResponses: [] });
    expect(row.first_response_p50_seconds).toBeNull();
    expect(row.nps_score).toBeNull();
    expect(row.inbound).toBe(0);
  });

  it("sums counts and recomputes the median and NPS from everything, not from the rows' results", () => {
    const a = analyticsRow({ branch, day: "2025-03-01", counts: { inbound: 2, "nps:promoter": 1 }, replied: 1, firstResponses: [10] });
    const b = analyticsRow({ branch: { ...branch, id: "br_2" }, day: "2025-03-01", counts: { inbound: 3, "nps:detractor": 3 }, replied: 2, firstResponses: [20, 30, 40] });
    const totals = analyticsTotals([a, b], [10, 20, 30, 40]);
    expect(totals.inbound).toBe(5);
    expect(totals.replied).toBe(3);
    expect(totals.first_responses).toBe(4);
    expect(totals.first_response_p50_seconds).toBe(25); // a median of the rows' medians would be 20
    expect(totals.nps_score).toBe(-50); // 1 promoter, 3 detractors; a mean of scores would be 0
  });
});

describe("CSV", () => {
  it.each([
    ["plain", "plain"],
    ["a,b", '"a,b"'],
    ['say "hi"', '"say ""hi"""'],
    ["two\nlines", '"two\nlines"'],
    ["cr\rhere", '"cr\rhere"'],
    ["Салон «Арт»", "Салон «Арт»"],
    [1.5, "1.5"],
    [-33.3, "-33.3"],
    [0, "0"],
    [null, ""],
    [undefined, ""],
  ])("field %j is written as %s", (value, expected) => {
    expect(csvField(value)).toBe(expected);
  });

  it("writes a BOM, a header line and CRLF-terminated rows", () => {
    const csv = toCsv(["date", "name", "score"], [
      { date: "2025-03-01", name: 'Art "Play", Moscow', score: 12.5 },
      { date: "2025-03-02", name: "Lab", score: null },
    ]);
    expect(csv).toBe('\uFEFFdate,name,score\r\n2025-03-01,"Art ""Play"", Moscow",12.5\r\n2025-03-02,Lab,\r\n');
  });
});
