import { describe, expect, it } from "vitest";
import { panelStrings, resolveStrings } from "../../widget/src/core/strings.js";
import { strings as consoleStrings, labelOf } from "../../widget/src/pages/console/strings.js";
import { strings as inboxStrings } from "../../widget/src/pages/inbox/strings.js";
import { strings as sandboxStrings } from "../../widget/src/pages/sandbox/strings.js";
import { fill, keyMismatch, overlayStrings, pickLang } from "../../widget/src/pages/shared/i18n.js";
import { STATUS_RANK, formatPhone, laterStatus, statusLabel, statusTick } from "../../widget/src/pages/shared/format.js";

const tables = { console: consoleStrings, inbox: inboxStrings, sandbox: sandboxStrings, panel: panelStrings };

describe("string tables", () => {
  it.each(Object.entries(tables))("%s: ru and en have the same keys, none empty", (_name, t) => {
    expect(keyMismatch(t.en, t.ru)).toEqual([]);
    for (const lang of ["en", "ru"] as const) for (const [k, v] of Object.entries(t[lang])) expect(v, `${lang}.${k}`).not.toBe("");
  });

  it("console: every key:label list names the same keys in both languages", () => {
    const lists = Object.keys(consoleStrings.en).filter((k) => /^[a-z_]+:[^|]+(\|[a-z_]+:[^|]+)+$/.test((consoleStrings.en as Record<string, string>)[k]!));
    expect(lists).toEqual(expect.arrayContaining(["ruleNames", "skipReasons", "campaignStates", "rStates", "hStates", "hStages"]));
    const keys = (s: string) => s.split("|").map((p) => p.slice(0, p.indexOf(":")));
    for (const k of lists) expect(keys((consoleStrings.ru as Record<string, string>)[k]!), k).toEqual(keys((consoleStrings.en as Record<string, string>)[k]!));
    expect(labelOf(consoleStrings.ru.skipReasons, "opted_out")).toBe("отписался");
    expect(labelOf(consoleStrings.en.skipReasons, "something_new")).toBe("something_new");
  });

  it("console: placeholders are the same in both languages", () => {
    const names = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
    for (const k of Object.keys(consoleStrings.en) as (keyof typeof consoleStrings.en)[]) expect(names(consoleStrings.ru[k]), k).toEqual(names(consoleStrings.en[k]));
  });
});

describe("shared language helpers", () => {
  it("picks Russian for any ru locale and English otherwise", () => {
    expect(["ru", "ru-RU", "RU"].map(pickLang)).toEqual(["ru", "ru", "ru"]);
    expect(["en-US", "de", "", undefined].map(pickLang)).toEqual(["en", "en", "en", "en"]);
  });

  it("overlays only string values of known keys", () => {
    expect(overlayStrings({ a: "A", b: "B" }, { a: "Ä", b: 3, c: "C" })).toEqual({ a: "Ä", b: "B" });
    expect(resolveStrings("ru-RU", { title: "WA" }).retry).toBe(panelStrings.ru.retry);
  });

  it("fills known placeholders and leaves unknown ones", () => {
    expect(fill("{done} of {total} {x}", { done: 3, total: "5" })).toBe("3 of 5 {x}");
  });
});

describe("shared status display", () => {
  it("moves status forward only; failed is final; unknown ones are taken", () => {
    expect(laterStatus("read", "delivered")).toBe("read");
    expect(laterStatus("sent", "delivered")).toBe("delivered");
    expect(laterStatus("failed", "read")).toBe("failed");
    expect(laterStatus(undefined, "sent")).toBe("sent");
    expect(laterStatus("sent", "weird")).toBe("weird");
    expect(Object.keys(STATUS_RANK)).toContain("accepted");
  });

  it("ticks, labels and phones", () => {
    expect(["queued", "sent", "delivered", "read", "failed", "x"].map(statusTick)).toEqual(["⏱", "✓", "✓✓", "✓✓", "⚠", ""]);
    expect(statusLabel("accepted", inboxStrings.ru)).toBe(inboxStrings.ru.statusQueued);
    expect(statusLabel("played", consoleStrings.en)).toBe("played");
    expect(formatPhone("79161234567")).toBe("+79161234567");
    expect(formatPhone("+7 916")).toBe("+7 916");
  });
});
