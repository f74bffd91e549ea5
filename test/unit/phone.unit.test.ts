import { describe, expect, it } from "vitest";
import { normalizePhone, samePhone, waIdCandidates } from "../../backend/src/domain/phone.js";

describe("normalizePhone", () => {
  it.each([
    // Russia
    ["+7 916 123-45-67", "+79161234567"],
    ["+7 (916) 123-45-67", "+79161234567"],
    ["8 (916) 123-45-67", "+79161234567"],
    ["89161234567", "+79161234567"],
    ["79161234567", "+79161234567"],
    ["0079161234567", "+79161234567"],
    ["00 7 916 123 45 67", "+79161234567"],
    ["  +7.916.123.45.67  ", "+79161234567"],
    // Brazil: with and without the extra mobile 9
    ["+55 11 98765-4321", "+5511987654321"],
    ["+55 (11) 8765-4321", "+551187654321"],
    ["5511987654321", "+5511987654321"],
    // Mexico: with and without the legacy mobile 1
    ["+52 55 1234 5678", "+525512345678"],
    ["+52 1 55 1234 5678", "+5215512345678"],
    // USA
    ["+1 (650) 555-1234", "+16505551234"],
    ["1-650-555-1234", "+16505551234"],
    ["16505551234", "+16505551234"],
    // elsewhere
    ["+44 20 7946 0958", "+442079460958"],
    ["+49 30 901820", "+4930901820"],
    ["+86 138 0013 8000", "+8613800138000"],
  ])("%s → %s", (input, e164) => {
    expect(normalizePhone(input)).toEqual({ ok: true, e164, digits: e164.slice(1) });
  });

  it.each([
    ["", /empty/],
    ["   ", /empty/],
    ["+7 916 ABC-45-67", /characters/],
    ["call me: 89161234567", /characters/],
    ["+7 916 123 45 67 ext. 5", /characters/],
    ["7+9161234567", /\+ is only allowed at the start/],
    ["++79161234567", /\+ is only allowed at the start/],
    ["+", /no digits/],
    ["()-.", /no digits/],
    ["+7 916 12", /too short/],
    ["1234567", /too short/],
    ["+1234567890123456", /too long/],
    ["0916123456", /country code/],
    ["+0 916 123 45 67", /country code/],
    ["000 916 123 45 67", /country code/],
    ["+280 1234 5678", /not a country code/],
    ["+7 916 123 45 678", /11 digits/],
    ["+1 650 555 123", /11 digits/],
  ])("refuses %j", (input, reason) => {
    const r = normalizePhone(input);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(reason);
  });
});

describe("waIdCandidates", () => {
  it.each([
    ["+79161234567", ["79161234567"]],
    ["+16505551234", ["16505551234"]],
    ["16505551234", ["16505551234"]],
    // Brazil mobile: E.164 has the 9, an old account's wa_id doesn't (and the other way round)
    ["+5511987654321", ["5511987654321", "551187654321"]],
    ["+551187654321", ["551187654321", "5511987654321"]],
    // Brazil landline (subscriber part starts with 2–5): no 9 is ever added
    ["+551133334444", ["551133334444"]],
    // Mexico: E.164 without the 1, wa_id often with it (and the other way round)
    ["+525512345678", ["525512345678", "5215512345678"]],
    ["+5215512345678", ["5215512345678", "525512345678"]],
    ["", []],
  ])("%s → %j", (e164, candidates) => {
    expect(waIdCandidates(e164)).toEqual(candidates);
  });
});

describe("samePhone", () => {
  it.each([
    ["8 (916) 123-45-67", "79161234567", true],
    ["+7 916 123 45 67", "+79161234567", true],
    ["+7 916 123 45 67", "+79161234568", false],
    ["+55 11 98765-4321", "551187654321", true],
    ["551187654321", "+5511987654321", true],
    ["+55 11 98765-4321", "5511987654322", false],
    ["+52 55 1234 5678", "5215512345678", true],
    ["5215512345678", "+525512345678", true],
    ["+1 (650) 555-1234", "16505551234", true],
    ["+1 (650) 555-1234", "+7 650 555 1234", false],
    // a Korean wa_id that also looks like a Russian domestic number
    ["82311234567", "+82 31 123 4567", true],
    ["82311234567", "+7 231 123 4567", true],
    ["not a phone", "not a phone", false],
    ["", "", false],
  ])("%s ~ %s → %s", (a, b, same) => {
    expect(samePhone(a, b)).toBe(same);
    expect(samePhone(b, a)).toBe(same);
  });
});
