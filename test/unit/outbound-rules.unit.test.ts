import { describe, expect, it } from "vitest";
import { optChangeOf, DEFAULT_OPT_IN_WORDS, DEFAULT_OPT_OUT_WORDS } from "../../backend/src/domain/opt-out.js";
import { META_PAIR_RULE, Pacer, SlidingWindow, newPairState, pairFreeAt, pairRefused, takePair } from "../../backend/src/domain/rate-limits.js";
import { nextStatus } from "../../backend/src/domain/status.js";
import type { MessageStatus } from "../../backend/src/domain/types.js";
import { WINDOW_MS, windowState } from "../../backend/src/domain/window.js";

const T = 1_780_000_000_000;

describe("the 24-hour window", () => {
  it.each([
    [undefined, T, false],
    [T, T, true],
    [T, T + WINDOW_MS - 1, true],
    [T, T + WINDOW_MS, false],
    [T, T + 2 * WINDOW_MS, false],
  ])("last customer message at %s, now %s → open %s", (last, now, open) => {
    expect(windowState(last, now).open).toBe(open);
    if (last !== undefined) expect(windowState(last, now).closesAt).toBe(last + WINDOW_MS);
  });
});

describe("status order", () => {
  it.each<[MessageStatus, string, MessageStatus | undefined]>([
    ["queued", "sent", "sent"],
    ["sending", "sent", "sent"],
    ["sent", "delivered", "delivered"],
    ["sent", "read", "read"],
    ["read", "delivered", undefined],
    ["delivered", "sent", undefined],
    ["read", "played", "played"],
    ["sent", "failed", "failed"],
    ["delivered", "failed", "failed"],
    ["read", "failed", undefined],
    ["failed", "delivered", undefined],
    ["sent", "sent", undefined],
    ["sent", "deleted", undefined],
    ["sent", "queued", undefined],
  ])("%s + %s → %s", (current, incoming, expected) => {
    expect(nextStatus(current, incoming)).toBe(expected);
  });
});

describe("opt-out words", () => {
  const words = { optOut: DEFAULT_OPT_OUT_WORDS, optIn: DEFAULT_OPT_IN_WORDS };
  it.each([
    ["STOP", "opt_out"],
    [" Стоп! ", "opt_out"],
    ["отписаться.", "opt_out"],
    ["start", "opt_in"],
    ["Старт", "opt_in"],
    ["stop by tomorrow?", undefined],
    ["не стоп", undefined],
    ["", undefined],
    [undefined, undefined],
  ])("%j → %s", (text, change) => {
    expect(optChangeOf(text, words)).toBe(change);
  });
});

describe("rate limits", () => {
  it("a sliding window admits exactly `limit` per window", () => {
    const w = new SlidingWindow(3, 1000);
    expect([0, 1, 2, 3].map((t) => w.tryTake(t))).toEqual([true, true, true, false]);
    expect(w.freeAt()).toBe(1000);
    expect(w.tryTake(999)).toBe(false);
    expect(w.tryTake(1000)).toBe(true);
  });

  it("the pacer spaces events evenly after its burst", () => {
    const p = new Pacer(10, 1, 0);
    expect(p.tryTake(0)).toBe(true);
    expect(p.tryTake(50)).toBe(false);
    expect(p.freeAt(50)).toBeCloseTo(100);
    expect(p.tryTake(100)).toBe(true);
  });

  it("the pair rate allows the documented burst, then one message per 6 s", () => {
    const s = newPairState(META_PAIR_RULE, 0);
    for (let i = 0; i < 45; i++) expect(takePair(s, META_PAIR_RULE, 0)).toBe(true);
    expect(takePair(s, META_PAIR_RULE, 0)).toBe(false);
    expect(pairFreeAt(s, META_PAIR_RULE, 0)).toBe(6000);
    expect(takePair(s, META_PAIR_RULE, 6000)).toBe(true);
  });

  it("131056 holds the recipient back 1, 4, 16 … seconds", () => {
    const s = newPairState(META_PAIR_RULE, 0);
    expect(pairRefused(s, 0)).toBe(1000);
    expect(pairRefused(s, 1000)).toBe(4000);
    expect(pairRefused(s, 5000)).toBe(16000);
    expect(pairFreeAt(s, META_PAIR_RULE, 5000)).toBeGreaterThanOrEqual(21000);
  });
});
