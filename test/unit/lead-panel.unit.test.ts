import { describe, expect, it } from "vitest";
import { clockOffset, formatHms, windowView } from "../../widget/src/core/countdown.js";
import { fill, panelStrings, resolveStrings } from "../../widget/src/core/strings.js";
import { fillPlaceholders, findTemplate, initialValues, missingParams, paramsPayload, renderPreview, templateKey } from "../../widget/src/core/template.js";
import type { PanelTemplate } from "../../widget/src/core/types.js";
import { salesbotBotJson, salesbotSetting, splitSalesbotParams } from "../../widget/src/hosts/amocrm/salesbot.js";

const HOUR = 3_600_000;

const orderReady: PanelTemplate = {
  name: "order_ready",
  language: "ru",
  category: "UTILITY",
  parameterFormat: "POSITIONAL",
  header: "Order {{2}}",
  body: "Hello {{1}}, order {{2}} is ready",
  footer: "Art Play",
  params: [
    { key: "2", example: "123" },
    { key: "1", example: "Ivan", prefill: "Анна" },
  ],
};

const named: PanelTemplate = {
  name: "seasonal_offer",
  language: "en",
  parameterFormat: "NAMED",
  body: "{{first_name}}, {{ discount }} off for you!",
  params: [
    { key: "first_name", example: "Anna", prefill: "Maria" },
    { key: "discount", example: "10%" },
  ],
};

describe("24-hour window countdown", () => {
  it.each([
    [0, "00:00:00"],
    [999, "00:00:00"],
    [1000, "00:00:01"],
    [61_000, "00:01:01"],
    [24 * HOUR - 1, "23:59:59"],
    [24 * HOUR, "24:00:00"],
    [10 * HOUR + 5 * 60_000 + 9_500, "10:05:09"],
    [-5000, "00:00:00"],
  ])("formatHms(%d) = %s", (ms, text) => {
    expect(formatHms(ms)).toBe(text);
  });

  it("counts down to closesAt on the server's clock, not the local one", () => {
    const lastInboundAt = Date.UTC(2026, 0, 10, 12, 0, 0);
    const win = { open: true, lastInboundAt, closesAt: lastInboundAt + 24 * HOUR };
    // The manager's computer is 7 minutes fast: the offset taken at fetch time cancels it.
    const serverNow = lastInboundAt + 90_000;
    const localNow = serverNow + 7 * 60_000;
    const offset = clockOffset(serverNow, localNow);
    expect(offset).toBe(-7 * 60_000);
    const tenSecondsLater = localNow + 10_000;
    expect(windowView(win, tenSecondsLater + offset)).toEqual({ open: true, leftMs: 24 * HOUR - 100_000, text: "23:58:20" });
  });

  it.each([
    ["closed by the server", { open: false, closesAt: 2_000_000 }, 1_000_000],
    ["open but closesAt unknown", { open: true }, 1_000_000],
    ["closesAt already passed", { open: true, closesAt: 1_000_000 }, 1_000_000],
    ["less than a second left", { open: true, closesAt: 1_000_500 }, 1_000_000],
    ["no window at all", undefined, 1_000_000],
  ])("closed when %s", (_what, win, now) => {
    expect(windowView(win, now)).toEqual({ open: false });
  });

  it("has no offset when the server sent no clock", () => {
    expect(clockOffset(undefined, 123)).toBe(0);
  });
});

describe("template picker", () => {
  it("keys templates by name and language", () => {
    const other = { ...orderReady, language: "en" };
    expect(templateKey(orderReady)).toBe("order_ready|ru");
    expect(findTemplate([orderReady, other], "order_ready|en")).toBe(other);
    expect(findTemplate([orderReady], "order_ready|kk")).toBeUndefined();
  });

  it("starts from the backend's prefill, else empty", () => {
    expect(initialValues(orderReady)).toEqual({ "1": "Анна", "2": "" });
    expect(missingParams(orderReady, initialValues(orderReady))).toEqual(["2"]);
    expect(missingParams(orderReady, { "1": "Анна", "2": "  " })).toEqual(["2"]);
    expect(missingParams(orderReady, { "1": "Анна", "2": "77" })).toEqual([]);
  });

  it("previews header and body with values; empty values keep their placeholder", () => {
    expect(renderPreview(orderReady, { "1": "Анна", "2": "A-17" })).toEqual({ header: "Order A-17", body: "Hello Анна, order A-17 is ready", footer: "Art Play" });
    expect(renderPreview(orderReady, { "1": "Анна", "2": "" }).body).toBe("Hello Анна, order {{2}} is ready");
    expect(renderPreview(named, { first_name: "Maria", discount: "15%" })).toEqual({ body: "Maria, 15% off for you!" });
  });

  it("does not expand placeholders that appear inside a value", () => {
    expect(fillPlaceholders("{{1}} and {{2}}", { "1": "{{2}}", "2": "x" })).toBe("{{2}} and x");
  });

  it("sends POSITIONAL params as an array in key order, NAMED as an object", () => {
    expect(paramsPayload(orderReady, { "2": " A-17 ", "1": "Анна" })).toEqual(["Анна", "A-17"]);
    const ten: PanelTemplate = { ...orderReady, params: ["10", "2", "1"].map((key) => ({ key })) };
    expect(paramsPayload(ten, { "1": "a", "2": "b", "10": "j" })).toEqual(["a", "b", "j"]);
    expect(paramsPayload(named, { first_name: "Maria", discount: "15%" })).toEqual({ first_name: "Maria", discount: "15%" });
    expect(paramsPayload({ ...orderReady, params: [] }, {})).toEqual([]);
  });
});

describe("panel strings", () => {
  it("ru has exactly the keys of en", () => {
    expect(Object.keys(panelStrings.ru).sort()).toEqual(Object.keys(panelStrings.en).sort());
  });

  it("overlays the host's strings on the language defaults", () => {
    const t = resolveStrings("ru", { send: "Отправить шаблон", unknown: "x", title: 42 });
    expect(t.send).toBe("Отправить шаблон");
    expect(t.title).toBe(panelStrings.ru.title);
    expect(t.cancel).toBe("Отмена");
    expect(resolveStrings("de").cancel).toBe("Cancel");
    expect(fill("Transfer to {name}? {other}", { name: "City Mall" })).toBe("Transfer to City Mall? {other}");
  });
});

describe("Salesbot step code", () => {
  const BACKEND = "https://wa.example.com/";

  it("splits parameters on new lines and |, keeping amoCRM markers", () => {
    expect(splitSalesbotParams("{{contact.name}}\r\n{{lead.cf.123}} | 10%\n\n|")).toEqual(["{{contact.name}}", "{{lead.cf.123}}", "10%"]);
    expect(splitSalesbotParams(undefined)).toEqual([]);
  });

  it.each([
    ["under the field name", { template: "order_ready" }],
    ["as {value_manual} under the field", { template: { value_manual: "order_ready" } }],
    ["in a value_manual object", { value_manual: { template: "order_ready" } }],
  ])("reads a manual value %s", (_how, params) => {
    expect(salesbotSetting(params, "template")).toBe("order_ready");
  });

  it("wraps widget_request and the success/fail exits in question blocks", () => {
    const bot = JSON.parse(salesbotBotJson("send_wa_template", { template: " order_ready ", language: "", params: "{{contact.name}}|{{lead.id}}" }, BACKEND));
    expect(bot).toEqual([
      {
        question: [
          {
            handler: "widget_request",
            params: {
              url: "https://wa.example.com/amocrm/salesbot",
              data: { template: "order_ready", language: "ru", params: ["{{contact.name}}", "{{lead.id}}"], lead_id: "{{lead.id}}", contact_id: "{{contact.id}}" },
            },
          },
          { handler: "goto", params: { type: "question", step: 1 } },
        ],
      },
      {
        question: [
          {
            handler: "conditions",
            params: {
              logic: "and",
              conditions: [{ term1: "{{json.status}}", term2: "success", operation: "=" }],
              result: [{ handler: "exits", params: { value: "success" } }],
            },
          },
          { handler: "exits", params: { value: "fail" } },
        ],
      },
    ]);
  });

  it("takes the language typed in and values that arrived as value_manual", () => {
    const bot = JSON.parse(salesbotBotJson("send_wa_template", { value_manual: { template: "promo", language: "en", params: "a\nb" } }, BACKEND));
    expect(bot[0].question[0].params.data).toEqual({ template: "promo", language: "en", params: ["a", "b"], lead_id: "{{lead.id}}", contact_id: "{{contact.id}}" });
  });

  it("generates nothing for a handler that is not ours", () => {
    expect(salesbotBotJson("other_handler", { template: "x" }, BACKEND)).toBe("[]");
  });
});
