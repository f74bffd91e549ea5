import { describe, expect, it } from "vitest";
import { prefillParams, type CardFacts } from "../../backend/src/domain/template-prefill.js";
import { langOfDomain, managerText } from "../../backend/src/crm/manager-text.js";

const facts: CardFacts = {
  contactName: "Иван Петров",
  contactFirstName: "Иван",
  phone: "+79161234567",
  leadId: 15926745,
  leadName: "Фотосессия",
  price: 2500,
  branchName: "Art Play",
  fields: { "Дата визита": "пятница", visit_time: "18:00" },
};

describe("template parameter suggestions from the CRM card", () => {
  it.each([
    ["Здравствуйте, {{1}}! Ваш заказ №{{2}} готов.", ["1", "2"], { "1": "Иван", "2": "15926745" }],
    ["Hello {{1}}, your order {{2}} is ready", ["1", "2"], { "1": "Иван", "2": "15926745" }],
    ["Dear {{1}}, the total is {{2}}", ["1", "2"], { "1": "Иван", "2": "2500" }],
    ["Сумма: {{1}} руб.", ["1"], { "1": "2500" }],
    ["Your booking at {{1}} on {{2}}", ["1", "2"], { "1": undefined, "2": undefined }],
    ["Phone: {{1}}", ["1"], { "1": "+79161234567" }],
  ])("positional %s", (text, params, expected) => {
    expect(prefillParams(params, text, facts)).toEqual(expected);
  });

  it.each([
    ["customer_name", "Иван"],
    ["first_name", "Иван"],
    ["name", "Иван"],
    ["order_id", "15926745"],
    ["lead_number", "15926745"],
    ["amount", "2500"],
    ["branch_name", "Art Play"],
    ["salon", "Art Play"],
    ["visit_time", "18:00"],
    ["Дата визита", "пятница"],
    ["coupon", undefined],
  ])("named %s", (key, expected) => {
    expect(prefillParams([key], "", facts)[key]).toBe(expected);
  });

  it("suggests nothing it does not know", () => {
    expect(prefillParams(["1", "customer_name"], "Hello {{1}}", {})).toEqual({ "1": undefined, customer_name: undefined });
  });
});

describe("what a manager reads when a message did not go", () => {
  it.each([
    [{ code: "window_closed", message: "x" }, "ru", /24 часа/],
    [{ code: "window_closed", message: "x" }, "en", /24-hour window is closed: send a template/],
    [{ code: "131047", message: "Re-engagement message" }, "en", /send a template/],
    [{ code: "opted_out", message: "x" }, "en", /opted out/],
    [{ code: "template_params", message: "body parameter 2 is empty" }, "en", /parameters do not fit\. body parameter 2 is empty/],
    [{ code: "131000", message: "Something went wrong" }, "en", /^Not sent: Something went wrong$/],
    [undefined, "ru", /не доставлено/],
  ] as const)("%j in %s", (error, lang, expected) => {
    expect(managerText(error, lang)).toMatch(expected);
  });

  it.each([
    ["artplay.amocrm.ru", "ru"],
    ["artplay.kommo.com", "en"],
    ["127.0.0.1:5000", "en"],
  ])("%s reads %s", (domain, lang) => {
    expect(langOfDomain(domain)).toBe(lang);
  });
});
