import { describe, expect, it } from "vitest";
import {
  describeTemplate,
  templateFromGraph,
  templateLanguagesOf,
  validateTemplateSend,
  type TemplateSendRequest,
} from "../../backend/src/domain/templates.js";
import type { TemplateRecord } from "../../backend/src/domain/types.js";
import { demoTemplates } from "../../backend/src/outbound/template-sync.js";

// ───────────────────────────────────────── builders ──────────────────────────────────────────

const NOW = Date.UTC(2026, 10, 20, 12, 0, 0);

function tpl(name: string, components: unknown[], over: Partial<TemplateRecord> = {}): TemplateRecord {
  const language = over.language ?? "ru";
  return {
    id: `${name}|${language}`,
    metaId: `10${name.length}${language.length}`,
    name,
    language,
    status: "APPROVED",
    category: "UTILITY",
    parameterFormat: "POSITIONAL",
    components,
    syncedAt: NOW,
    updatedAt: NOW,
    ...over,
  };
}

const ORDER = tpl("order_update", [
  { type: "HEADER", format: "IMAGE", example: { header_handle: ["https://scontent.whatsapp.net/v/t61..."] } },
  { type: "BODY", text: "Здравствуйте, {{1}}! Ваш заказ {{2}} готов к выдаче.", example: { body_text: [["Анна", "А-123"]] } },
  { type: "FOOTER", text: "Салон «Персона»" },
  {
    type: "BUTTONS",
    buttons: [
      { type: "QUICK_REPLY", text: "Подтвердить" },
      { type: "URL", text: "Отследить", url: "https://example.com/o/{{1}}", example: ["https://example.com/o/A-123"] },
      { type: "PHONE_NUMBER", text: "Позвонить", phone_number: "+74951234567" },
    ],
  },
]);
const ORDER_EN = tpl("order_update", ORDER.components, { language: "en_US" });
const ORDER_KK = tpl("order_update", ORDER.components, { language: "kk", status: "PAUSED" });
const ORDER_OLD = tpl("order_update", ORDER.components, { language: "uz", status: "DELETED" });

const OFFER = tpl(
  "vip_offer",
  [
    { type: "HEADER", format: "TEXT", text: "Подарок для {{first_name}}" },
    { type: "BODY", text: "{{first_name}}, дарим скидку {{discount}} до {{valid_until}}. Ждём вас, {{first_name}}!" },
    { type: "FOOTER", text: "Ответьте СТОП, чтобы отписаться" },
  ],
  { parameterFormat: "NAMED", category: "MARKETING" },
);

const PAYMENT = tpl("payment_due", [
  { type: "BODY", text: "К оплате {{1}} до {{2}}." },
  { type: "FOOTER", text: "Спасибо!" },
]);
const BODY_ONLY = tpl("free_text", [{ type: "BODY", text: "Сообщение: {{1}}" }]);
const FIXED_HEADER = tpl("welcome", [
  { type: "HEADER", format: "TEXT", text: "Добро пожаловать" },
  { type: "BODY", text: "Рады видеть вас в нашем салоне." },
]);
const TEXT_HEADER = tpl("order_ready", [
  { type: "HEADER", format: "TEXT", text: "Заказ {{1}}" },
  { type: "BODY", text: "Статус: {{1}}" },
]);
const LOCATION = tpl("our_address", [
  { type: "HEADER", format: "LOCATION" },
  { type: "BODY", text: "Мы переехали! Новый адрес на карте." },
]);
const INVOICE = tpl("invoice", [
  { type: "HEADER", format: "DOCUMENT" },
  { type: "BODY", text: "Счёт {{1}} во вложении." },
]);
const COUPON = tpl(
  "coupon",
  [
    { type: "BODY", text: "Ваш промокод на скидку готов." },
    { type: "BUTTONS", buttons: [{ type: "COPY_CODE", example: "SALE25" }, { type: "URL", text: "Записаться", url: "https://example.com/book" }] },
  ],
  { category: "MARKETING" },
);
const CAROUSEL = tpl("cards", [{ type: "BODY", text: "Смотрите" }, { type: "CAROUSEL", cards: [] }]);
const PROMO = tpl("promo", [{ type: "BODY", text: "Скидка" }], { status: "PAUSED" });
const GONE = tpl("old_news", [{ type: "BODY", text: "Старое" }], { status: "DELETED" });

const SEASONAL = demoTemplates(NOW).find((t) => t.name === "seasonal_offer")!;
const BOOKING = demoTemplates(NOW).find((t) => t.name === "booking_reminder")!;

const req = (t: TemplateRecord, over: Partial<TemplateSendRequest> = {}): TemplateSendRequest => ({ name: t.name, language: t.language, ...over });
const IMG = { type: "image", id: "1479537139650973" } as const;
const ORDER_OK = { header: IMG, params: ["Анна", "А-123"], buttons: [{ index: 1, text: "A-123" }] } satisfies Partial<TemplateSendRequest>;

// ──────────────────────────────────────── validation ────────────────────────────────────────

type Refusal = { code: "template_not_found" | "template_params"; field: string; message: string | RegExp };

const refusals: Array<[string, TemplateRecord | undefined, TemplateSendRequest, Refusal, TemplateRecord[]?]> = [
  // availability
  ["not synced at all", undefined, { name: "order_update", language: "ru" }, { code: "template_not_found", field: "template.name", message: "template 'order_update' (ru) is not synced from the WhatsApp account; check the name and language, or sync templates" }],
  [
    "not synced in this language, lists the languages that exist (not DELETED ones)",
    undefined,
    { name: "order_update", language: "en" },
    { code: "template_not_found", field: "template.language", message: "template 'order_update' is not synced in language 'en'; it exists in: en_US, kk (PAUSED), ru" },
    [ORDER, ORDER_EN, ORDER_KK, ORDER_OLD],
  ],
  ["record of another language passed", ORDER_EN, { name: "order_update", language: "ru" }, { code: "template_not_found", field: "template.name", message: /is not synced/ }],
  ["PAUSED", PROMO, req(PROMO), { code: "template_not_found", field: "template.name", message: "template 'promo' (ru) is PAUSED; only APPROVED templates can be sent" }],
  [
    "PAUSED, other languages named",
    ORDER_KK,
    req(ORDER_KK, ORDER_OK),
    { code: "template_not_found", field: "template.name", message: "template 'order_update' (kk) is PAUSED; only APPROVED templates can be sent; it exists in: en_US, ru" },
    [ORDER, ORDER_EN, ORDER_KK],
  ],
  ["PENDING", { ...PROMO, status: "PENDING" }, req(PROMO), { code: "template_not_found", field: "template.name", message: /is PENDING; only APPROVED/ }],
  ["REJECTED", { ...PROMO, status: "REJECTED" }, req(PROMO), { code: "template_not_found", field: "template.name", message: /is REJECTED; only APPROVED/ }],
  ["DISABLED", { ...PROMO, status: "DISABLED" }, req(PROMO), { code: "template_not_found", field: "template.name", message: /is DISABLED; only APPROVED/ }],
  ["DELETED", GONE, req(GONE), { code: "template_not_found", field: "template.name", message: "template 'old_news' (ru) was deleted from the WhatsApp account; only APPROVED templates can be sent" }],
  ["missing name", ORDER, { name: "", language: "ru" }, { code: "template_not_found", field: "template.name", message: "template.name is required" }],
  ["missing language", ORDER, { name: "order_update", language: "" }, { code: "template_not_found", field: "template.language", message: /template.language is required/ }],
  ["unsupported component", CAROUSEL, req(CAROUSEL), { code: "template_params", field: "template", message: "template 'cards' (ru) has a CAROUSEL component, which Branchline cannot send" }],

  // body parameter count, positional
  ["too few positional", ORDER, req(ORDER, { ...ORDER_OK, params: ["Анна"] }), { code: "template_params", field: "template.params", message: "template 'order_update' (ru) expects 2 body parameters, got 1" }],
  ["too many positional", ORDER, req(ORDER, { ...ORDER_OK, params: ["Анна", "А-1", "лишний"] }), { code: "template_params", field: "template.params", message: "template 'order_update' (ru) expects 2 body parameters, got 3" }],
  ["no params at all", ORDER, req(ORDER, { ...ORDER_OK, params: undefined }), { code: "template_params", field: "template.params", message: "template 'order_update' (ru) expects 2 body parameters, got none" }],
  ["params for a template without any", FIXED_HEADER, req(FIXED_HEADER, { params: ["x"] }), { code: "template_params", field: "template.params", message: "template 'welcome' (ru) expects 0 body parameters, got 1" }],
  ["object for a positional template", ORDER, req(ORDER, { ...ORDER_OK, params: { "1": "Анна", "2": "А-1" } }), { code: "template_params", field: "template.params", message: /uses positional parameters .*send template.params as an array/ }],

  // body parameter count, named
  ["named: too few in an array, names listed", OFFER, req(OFFER, { header: { type: "text", text: "Анны" }, params: ["Анна", "20%"] }), { code: "template_params", field: "template.params", message: "template 'vip_offer' (ru) expects 3 body parameters (first_name, discount, valid_until), got 2" }],
  [
    "named: missing and unknown names",
    OFFER,
    req(OFFER, { header: { type: "text", text: "Анны" }, params: { first_name: "Анна", discont: "20%" } }),
    { code: "template_params", field: "template.params", message: "template 'vip_offer' (ru) body parameters do not match: missing discount, valid_until; unknown discont (expected: first_name, discount, valid_until)" },
  ],
  ["named: keys are case-sensitive", SEASONAL, req(SEASONAL, { header: IMG, params: { First_Name: "Анна", discount: "20%" } }), { code: "template_params", field: "template.params", message: /missing first_name; unknown First_Name/ }],

  // text parameter rules
  ["newline in a body param", ORDER, req(ORDER, { ...ORDER_OK, params: ["Анна", "А-1\nА-2"] }), { code: "template_params", field: "template.params[1]", message: "parameter 2 contains a newline; WhatsApp refuses new-line/tab characters or more than 4 consecutive spaces" }],
  ["carriage return", ORDER, req(ORDER, { ...ORDER_OK, params: ["Анна\r", "А-1"] }), { code: "template_params", field: "template.params[0]", message: /parameter 1 contains a newline/ }],
  ["tab", ORDER, req(ORDER, { ...ORDER_OK, params: ["Анна", "А\t1"] }), { code: "template_params", field: "template.params[1]", message: /parameter 2 contains a tab; WhatsApp refuses/ }],
  ["5 consecutive spaces", ORDER, req(ORDER, { ...ORDER_OK, params: ["Анна     Иванова", "А-1"] }), { code: "template_params", field: "template.params[0]", message: /parameter 1 contains more than 4 consecutive spaces/ }],
  ["empty param", ORDER, req(ORDER, { ...ORDER_OK, params: ["", "А-1"] }), { code: "template_params", field: "template.params[0]", message: "parameter 1 is empty; WhatsApp refuses empty parameters" }],
  ["blank param", ORDER, req(ORDER, { ...ORDER_OK, params: ["Анна", "   "] }), { code: "template_params", field: "template.params[1]", message: /parameter 2 is empty/ }],
  ["named param newline, field by name", SEASONAL, req(SEASONAL, { header: IMG, params: { first_name: "Анна", discount: "20%\n" } }), { code: "template_params", field: "template.params.discount", message: /parameter discount contains a newline/ }],
  ["text object param with newline", ORDER, req(ORDER, { ...ORDER_OK, params: ["Анна", { type: "text", text: "a\nb" }] }), { code: "template_params", field: "template.params[1]", message: /parameter 2 contains a newline/ }],
  ["body param over 1024", ORDER, req(ORDER, { ...ORDER_OK, params: ["Я".repeat(1025), "А-1"] }), { code: "template_params", field: "template.params[0]", message: "parameter 1 is 1025 characters long; the limit is 1024" }],
  ["body-only template: param over 32768", BODY_ONLY, req(BODY_ONLY, { params: ["я".repeat(32769)] }), { code: "template_params", field: "template.params[0]", message: /is 32769 characters long; the limit is 32768/ }],
  ["body-only template: a 1500-char param is within 32768 but the hydrated body is not", BODY_ONLY, req(BODY_ONLY, { params: ["я".repeat(1500)] }), { code: "template_params", field: "template.params", message: "template 'free_text' (ru) body would be 1511 characters long with these parameters; WhatsApp allows at most 1024" }],
  ["hydrated body over 1024", ORDER, req(ORDER, { ...ORDER_OK, params: ["Я".repeat(600), "Ж".repeat(500)] }), { code: "template_params", field: "template.params", message: /body would be 11\d\d characters long with these parameters; WhatsApp allows at most 1024/ }],
  ["param of a wrong type", ORDER, req(ORDER, { ...ORDER_OK, params: ["Анна", 42 as unknown as string] }), { code: "template_params", field: "template.params[1]", message: /must be a string or/ }],
  ["param of an unknown type", ORDER, req(ORDER, { ...ORDER_OK, params: ["Анна", { type: "image" } as never] }), { code: "template_params", field: "template.params[1]", message: /has type "image"; expected 'text', 'currency' or 'date_time'/ }],

  // currency / date_time
  ["currency amount not an integer", PAYMENT, req(PAYMENT, { params: [{ type: "currency", fallback: "1 500,50 ₽", code: "RUB", amount1000: 1500.5 }, "1 декабря"] }), { code: "template_params", field: "template.params[0]", message: /currency amount1000 must be an integer .*got 1500.5/ }],
  ["currency code lowercase", PAYMENT, req(PAYMENT, { params: [{ type: "currency", fallback: "1 500 ₽", code: "rub", amount1000: 1500000 }, "1 декабря"] }), { code: "template_params", field: "template.params[0]", message: /currency code must be 3 uppercase letters .*got "rub"/ }],
  ["currency code too long", PAYMENT, req(PAYMENT, { params: [{ type: "currency", fallback: "1 500 ₽", code: "RUBL", amount1000: 1500000 }, "1 декабря"] }), { code: "template_params", field: "template.params[0]", message: /3 uppercase letters/ }],
  ["currency fallback empty", PAYMENT, req(PAYMENT, { params: [{ type: "currency", fallback: "", code: "RUB", amount1000: 1 }, "x"] }), { code: "template_params", field: "template.params[0]", message: /parameter 1 \(currency fallback\) is empty/ }],
  ["date_time fallback with a tab", PAYMENT, req(PAYMENT, { params: ["100 ₽", { type: "date_time", fallback: "1\tдекабря" }] }), { code: "template_params", field: "template.params[1]", message: /parameter 2 \(date_time fallback\) contains a tab/ }],

  // headers
  ["media header missing", ORDER, req(ORDER, { ...ORDER_OK, header: undefined }), { code: "template_params", field: "template.header", message: "template 'order_update' (ru) has an IMAGE header; template.header {type: 'image', id or link} is required" }],
  ["media header of the wrong type", ORDER, req(ORDER, { ...ORDER_OK, header: { type: "video", id: "1" } }), { code: "template_params", field: "template.header", message: "template 'order_update' (ru) has an IMAGE header; template.header must have type 'image', got type 'video'" }],
  ["image without id or link", ORDER, req(ORDER, { ...ORDER_OK, header: { type: "image" } }), { code: "template_params", field: "template.header", message: "image header needs an uploaded media id or a link" }],
  ["image with both id and link", ORDER, req(ORDER, { ...ORDER_OK, header: { type: "image", id: "1", link: "https://x/y.jpg" } }), { code: "template_params", field: "template.header", message: /either id or link, not both/ }],
  ["image link not http(s)", ORDER, req(ORDER, { ...ORDER_OK, header: { type: "image", link: "ftp://x/y.jpg" } }), { code: "template_params", field: "template.header", message: /link must be an http\(s\) URL/ }],
  ["filename on an image", ORDER, req(ORDER, { ...ORDER_OK, header: { type: "image", id: "1", filename: "a.jpg" } }), { code: "template_params", field: "template.header", message: /filename is only for document headers/ }],
  ["document header missing", INVOICE, req(INVOICE, { params: ["№ 17"] }), { code: "template_params", field: "template.header", message: /has a DOCUMENT header; template.header \{type: 'document', id or link\} is required/ }],
  ["location header missing", LOCATION, req(LOCATION), { code: "template_params", field: "template.header", message: /has a LOCATION header; template.header \{type: 'location', latitude, longitude/ }],
  ["location latitude out of range", LOCATION, req(LOCATION, { header: { type: "location", latitude: 95, longitude: 37.6 } }), { code: "template_params", field: "template.header", message: /latitude must be a number from -90 to 90, got 95/ }],
  ["location given as an image", LOCATION, req(LOCATION, { header: IMG }), { code: "template_params", field: "template.header", message: /has a LOCATION header; template.header must have type 'location', got type 'image'/ }],
  ["header for a template without one", PAYMENT, req(PAYMENT, { header: IMG, params: ["1 ₽", "завтра"] }), { code: "template_params", field: "template.header", message: "template 'payment_due' (ru) has no header; remove template.header" }],
  ["header param for a fixed text header", FIXED_HEADER, req(FIXED_HEADER, { header: { type: "text", text: "x" } }), { code: "template_params", field: "template.header", message: 'template \'welcome\' (ru) has a fixed text header ("Добро пожаловать"); remove template.header' }],
  ["text header param missing", TEXT_HEADER, req(TEXT_HEADER, { params: ["готов"] }), { code: "template_params", field: "template.header", message: /has a text header with a parameter \("Заказ \{\{1\}\}"\); send template.header \{type: 'text', text\}/ }],
  ["text header given an image", TEXT_HEADER, req(TEXT_HEADER, { header: IMG, params: ["готов"] }), { code: "template_params", field: "template.header", message: /has a TEXT header; template.header must be \{type: 'text', text\}, got type 'image'/ }],
  ["text header param over 60", TEXT_HEADER, req(TEXT_HEADER, { header: { type: "text", text: "З".repeat(61) }, params: ["готов"] }), { code: "template_params", field: "template.header", message: "header parameter is 61 characters long; the limit is 60" }],
  ["text header param with a newline", TEXT_HEADER, req(TEXT_HEADER, { header: { type: "text", text: "А\n1" }, params: ["готов"] }), { code: "template_params", field: "template.header", message: /header parameter contains a newline/ }],

  // buttons
  ["URL button suffix missing", ORDER, req(ORDER, { ...ORDER_OK, buttons: [] }), { code: "template_params", field: "template.buttons", message: /button 1 \(URL "Отследить"\) needs a parameter: send \{index: 1, text: the URL suffix for https:\/\/example.com\/o\/\{\{1\}\}\}/ }],
  ["URL button entry without text", ORDER, req(ORDER, { ...ORDER_OK, buttons: [{ index: 1 }] }), { code: "template_params", field: "template.buttons[0]", message: /button 1 \(URL "Отследить"\) needs text: the URL suffix/ }],
  ["button index out of range", ORDER, req(ORDER, { ...ORDER_OK, buttons: [{ index: 1, text: "A" }, { index: 3, payload: "x" }] }), { code: "template_params", field: "template.buttons[1]", message: "button index 3 is out of range; template 'order_update' (ru) has 3 buttons (index 0–2)" }],
  ["button index on a template without buttons", PAYMENT, req(PAYMENT, { params: ["1 ₽", "завтра"], buttons: [{ index: 0, payload: "x" }] }), { code: "template_params", field: "template.buttons[0]", message: "button index 0 is out of range; template 'payment_due' (ru) has 0 buttons" }],
  ["negative / fractional index", ORDER, req(ORDER, { ...ORDER_OK, buttons: [{ index: 0.5 }] }), { code: "template_params", field: "template.buttons[0]", message: /button index must be an integer/ }],
  ["same button twice", ORDER, req(ORDER, { ...ORDER_OK, buttons: [{ index: 1, text: "a" }, { index: 1, text: "b" }] }), { code: "template_params", field: "template.buttons[1]", message: "button 1 is given twice" }],
  ["quick reply given a coupon", ORDER, req(ORDER, { ...ORDER_OK, buttons: [{ index: 0, couponCode: "X" }, { index: 1, text: "a" }] }), { code: "template_params", field: "template.buttons[0]", message: /button 0 \(QUICK_REPLY "Подтвердить"\) takes payload, not couponCode/ }],
  ["phone button takes nothing", ORDER, req(ORDER, { ...ORDER_OK, buttons: [{ index: 1, text: "a" }, { index: 2, text: "x" }] }), { code: "template_params", field: "template.buttons[1]", message: /button 2 \(PHONE_NUMBER "Позвонить"\) takes no parameters, not text/ }],
  ["fixed URL takes nothing", COUPON, req(COUPON, { buttons: [{ index: 0, couponCode: "SALE25" }, { index: 1, text: "x" }] }), { code: "template_params", field: "template.buttons[1]", message: /button 1 \(URL "Записаться"\) takes no parameters/ }],
  ["COPY_CODE without couponCode", COUPON, req(COUPON), { code: "template_params", field: "template.buttons", message: /button 0 \(COPY_CODE "Copy offer code"\) needs a parameter: send \{index: 0, couponCode/ }],
  ["COPY_CODE given text", COUPON, req(COUPON, { buttons: [{ index: 0, text: "SALE25" }] }), { code: "template_params", field: "template.buttons[0]", message: /takes couponCode, not text/ }],
  ["coupon code over 15", COUPON, req(COUPON, { buttons: [{ index: 0, couponCode: "SALE2025WINTER16" }] }), { code: "template_params", field: "template.buttons[0]", message: /coupon code is 16 characters long; the limit is 15/ }],
  ["URL suffix with a newline", ORDER, req(ORDER, { ...ORDER_OK, buttons: [{ index: 1, text: "A\n1" }] }), { code: "template_params", field: "template.buttons[0]", message: /URL suffix contains a newline/ }],
];

describe("validateTemplateSend refusals", () => {
  it.each(refusals)("%s", (_title, t, request, want, siblings) => {
    const got = validateTemplateSend(t, request, siblings);
    expect(got.ok).toBe(false);
    if (got.ok) return;
    expect({ code: got.code, field: got.field }).toEqual({ code: want.code, field: want.field });
    if (typeof want.message === "string") expect(got.message).toBe(want.message);
    else expect(got.message).toMatch(want.message);
  });
});

type Accepted = { components: unknown[]; preview: string | RegExp };

const accepted: Array<[string, TemplateRecord, TemplateSendRequest, Accepted]> = [
  [
    "positional body + image header + quick reply + URL button (Graph JSON exactly)",
    ORDER,
    req(ORDER, {
      header: { type: "image", id: "1479537139650973" },
      params: ["Анна", "А-123"],
      buttons: [
        { index: 1, text: "A-123" },
        { index: 0, payload: "confirm:order-123" },
      ],
    }),
    {
      components: [
        { type: "header", parameters: [{ type: "image", image: { id: "1479537139650973" } }] },
        { type: "body", parameters: [{ type: "text", text: "Анна" }, { type: "text", text: "А-123" }] },
        { type: "button", sub_type: "quick_reply", index: "0", parameters: [{ type: "payload", payload: "confirm:order-123" }] },
        { type: "button", sub_type: "url", index: "1", parameters: [{ type: "text", text: "A-123" }] },
      ],
      preview: "Здравствуйте, Анна! Ваш заказ А-123 готов к выдаче.\n\nСалон «Персона»",
    },
  ],
  [
    "quick-reply payload is optional (omitted by default), image by link",
    ORDER,
    req(ORDER, { header: { type: "image", link: "https://cdn.example.com/a.jpg" }, params: [{ type: "text", text: "Анна" }, "А-1"], buttons: [{ index: 1, text: "A-1" }, { index: 0 }] }),
    {
      components: [
        { type: "header", parameters: [{ type: "image", image: { link: "https://cdn.example.com/a.jpg" } }] },
        { type: "body", parameters: [{ type: "text", text: "Анна" }, { type: "text", text: "А-1" }] },
        { type: "button", sub_type: "url", index: "1", parameters: [{ type: "text", text: "A-1" }] },
      ],
      preview: /^Здравствуйте, Анна!/,
    },
  ],
  [
    "named params as an object (order does not matter), text header with parameter_name",
    OFFER,
    req(OFFER, { header: { type: "text", text: "Анны" }, params: { valid_until: "31 декабря", discount: "20%", first_name: "Анна" } }),
    {
      components: [
        { type: "header", parameters: [{ type: "text", text: "Анны", parameter_name: "first_name" }] },
        {
          type: "body",
          parameters: [
            { type: "text", text: "Анна", parameter_name: "first_name" },
            { type: "text", text: "20%", parameter_name: "discount" },
            { type: "text", text: "31 декабря", parameter_name: "valid_until" },
          ],
        },
      ],
      preview: "Подарок для Анны\n\nАнна, дарим скидку 20% до 31 декабря. Ждём вас, Анна!\n\nОтветьте СТОП, чтобы отписаться",
    },
  ],
  [
    "named params as an array in order of first appearance",
    SEASONAL,
    req(SEASONAL, { header: { type: "image", id: "55" }, params: ["Мария", "15%"] }),
    {
      components: [
        { type: "header", parameters: [{ type: "image", image: { id: "55" } }] },
        {
          type: "body",
          parameters: [
            { type: "text", text: "Мария", parameter_name: "first_name" },
            { type: "text", text: "15%", parameter_name: "discount" },
          ],
        },
      ],
      preview: /^Здравствуйте, Мария! Только в этом месяце — скидка 15% на все услуги салона\..*\n\nЧтобы отписаться, ответьте СТОП$/,
    },
  ],
  [
    "currency and date_time render their fallback",
    PAYMENT,
    req(PAYMENT, { params: [{ type: "currency", fallback: "1 500,50 ₽", code: "RUB", amount1000: 1500500 }, { type: "date_time", fallback: "1 декабря 2026" }] }),
    {
      components: [
        {
          type: "body",
          parameters: [
            { type: "currency", currency: { fallback_value: "1 500,50 ₽", code: "RUB", amount_1000: 1500500 } },
            { type: "date_time", date_time: { fallback_value: "1 декабря 2026" } },
          ],
        },
      ],
      preview: "К оплате 1 500,50 ₽ до 1 декабря 2026.\n\nСпасибо!",
    },
  ],
  [
    "named currency carries parameter_name",
    OFFER,
    req(OFFER, { header: { type: "text", text: "Анны" }, params: { first_name: "Анна", discount: { type: "currency", fallback: "500 ₽", code: "RUB", amount1000: 500000 }, valid_until: { type: "date_time", fallback: "пятницы" } } }),
    {
      components: [
        { type: "header", parameters: [{ type: "text", text: "Анны", parameter_name: "first_name" }] },
        {
          type: "body",
          parameters: [
            { type: "text", text: "Анна", parameter_name: "first_name" },
            { type: "currency", currency: { fallback_value: "500 ₽", code: "RUB", amount_1000: 500000 }, parameter_name: "discount" },
            { type: "date_time", date_time: { fallback_value: "пятницы" }, parameter_name: "valid_until" },
          ],
        },
      ],
      preview: /дарим скидку 500 ₽ до пятницы/,
    },
  ],
  [
    "4 consecutive spaces are fine",
    BODY_ONLY,
    req(BODY_ONLY, { params: ["а    б"] }),
    { components: [{ type: "body", parameters: [{ type: "text", text: "а    б" }] }], preview: "Сообщение: а    б" },
  ],
  [
    "positional text header",
    TEXT_HEADER,
    req(TEXT_HEADER, { header: { type: "text", text: "А-7" }, params: ["готов"] }),
    {
      components: [
        { type: "header", parameters: [{ type: "text", text: "А-7" }] },
        { type: "body", parameters: [{ type: "text", text: "готов" }] },
      ],
      preview: "Заказ А-7\n\nСтатус: готов",
    },
  ],
  [
    "fixed text header, no params: no components, header in preview",
    FIXED_HEADER,
    req(FIXED_HEADER),
    { components: [], preview: "Добро пожаловать\n\nРады видеть вас в нашем салоне." },
  ],
  [
    "location header",
    LOCATION,
    req(LOCATION, { header: { type: "location", latitude: 55.7558, longitude: 37.6173, name: "Персона", address: "Тверская, 1" } }),
    {
      components: [{ type: "header", parameters: [{ type: "location", location: { latitude: 55.7558, longitude: 37.6173, name: "Персона", address: "Тверская, 1" } }] }],
      preview: "Мы переехали! Новый адрес на карте.",
    },
  ],
  [
    "document header with filename",
    INVOICE,
    req(INVOICE, { header: { type: "document", link: "https://example.com/invoice-17.pdf", filename: "Счёт-17.pdf" }, params: ["№ 17"] }),
    {
      components: [
        { type: "header", parameters: [{ type: "document", document: { link: "https://example.com/invoice-17.pdf", filename: "Счёт-17.pdf" } }] },
        { type: "body", parameters: [{ type: "text", text: "№ 17" }] },
      ],
      preview: "Счёт № 17 во вложении.",
    },
  ],
  [
    "COPY_CODE coupon",
    COUPON,
    req(COUPON, { buttons: [{ index: 0, couponCode: "SALE25" }] }),
    {
      components: [{ type: "button", sub_type: "copy_code", index: "0", parameters: [{ type: "coupon_code", coupon_code: "SALE25" }] }],
      preview: "Ваш промокод на скидку готов.",
    },
  ],
  [
    "body-only template: a 1000-char param (hydrated 1011)",
    BODY_ONLY,
    req(BODY_ONLY, { params: ["б".repeat(1000)] }),
    { components: [{ type: "body", parameters: [{ type: "text", text: "б".repeat(1000) }] }], preview: `Сообщение: ${"б".repeat(1000)}` },
  ],
  [
    "hydrated length counts characters, not UTF-16 units (emoji)",
    BODY_ONLY,
    req(BODY_ONLY, { params: ["🎉".repeat(1000)] }),
    { components: [{ type: "body", parameters: [{ type: "text", text: "🎉".repeat(1000) }] }], preview: `Сообщение: ${"🎉".repeat(1000)}` },
  ],
  [
    "demo booking_reminder (Cyrillic, quick replies without payloads)",
    BOOKING,
    req(BOOKING, { params: ["Анна", "салон на Тверской", "25 ноября, 14:00"] }),
    {
      components: [{ type: "body", parameters: [{ type: "text", text: "Анна" }, { type: "text", text: "салон на Тверской" }, { type: "text", text: "25 ноября, 14:00" }] }],
      preview: "Здравствуйте, Анна! Напоминаем о записи в салон на Тверской на 25 ноября, 14:00.",
    },
  ],
];

describe("validateTemplateSend accepts", () => {
  it.each(accepted)("%s", (_title, t, request, want) => {
    const got = validateTemplateSend(t, request);
    if (!got.ok) throw new Error(`refused: ${got.field}: ${got.message}`);
    expect(got.components).toEqual(want.components);
    if (typeof want.preview === "string") expect(got.preview).toBe(want.preview);
    else expect(got.preview).toMatch(want.preview);
  });

  it("emits JSON exactly as Graph expects (no undefined keys, index as a string)", () => {
    const got = validateTemplateSend(ORDER, req(ORDER, { ...ORDER_OK, buttons: [{ index: 1, text: "A-123" }, { index: 0, payload: "yes" }] }));
    expect(got.ok).toBe(true);
    if (!got.ok) return;
    expect(JSON.stringify(got.components)).toBe(
      '[{"type":"header","parameters":[{"type":"image","image":{"id":"1479537139650973"}}]},' +
        '{"type":"body","parameters":[{"type":"text","text":"Анна"},{"type":"text","text":"А-123"}]},' +
        '{"type":"button","sub_type":"quick_reply","index":"0","parameters":[{"type":"payload","payload":"yes"}]},' +
        '{"type":"button","sub_type":"url","index":"1","parameters":[{"type":"text","text":"A-123"}]}]',
    );
  });

  it("every demo template is APPROVED, ru, and sendable", () => {
    const demos = demoTemplates(NOW);
    expect(demos.map((t) => [t.id, t.status, t.category, t.parameterFormat])).toEqual([
      ["booking_reminder|ru", "APPROVED", "UTILITY", "POSITIONAL"],
      ["seasonal_offer|ru", "APPROVED", "MARKETING", "NAMED"],
      ["salon_closed|ru", "APPROVED", "UTILITY", "POSITIONAL"],
    ]);
    const closed = demos[2]!;
    const got = validateTemplateSend(closed, { name: "salon_closed", language: "ru", params: ["на Тверской"] });
    expect(got).toEqual({
      ok: true,
      components: [{ type: "body", parameters: [{ type: "text", text: "на Тверской" }] }],
      preview: "Салон на Тверской сейчас закрыт. Ответьте 1, чтобы записаться онлайн.",
    });
  });
});

// ───────────────────────────────────────── describe ─────────────────────────────────────────

describe("describeTemplate", () => {
  it("lists header, body params, footer and buttons", () => {
    expect(describeTemplate(ORDER)).toEqual({
      header: { format: "IMAGE", params: [] },
      body: { text: "Здравствуйте, {{1}}! Ваш заказ {{2}} готов к выдаче.", params: ["1", "2"] },
      footer: "Салон «Персона»",
      buttons: [
        { index: 0, type: "QUICK_REPLY", text: "Подтвердить", hasParam: false },
        { index: 1, type: "URL", text: "Отследить", url: "https://example.com/o/{{1}}", hasParam: true },
        { index: 2, type: "PHONE_NUMBER", text: "Позвонить", hasParam: false },
      ],
    });
  });

  it("named params in order of first appearance, each once", () => {
    expect(describeTemplate(OFFER)).toEqual({
      header: { format: "TEXT", text: "Подарок для {{first_name}}", params: ["first_name"] },
      body: { text: OFFER.components[1] && (OFFER.components[1] as { text: string }).text, params: ["first_name", "discount", "valid_until"] },
      footer: "Ответьте СТОП, чтобы отписаться",
      buttons: [],
    });
  });

  it("positional params in numeric order", () => {
    const t = tpl("odd", [{ type: "BODY", text: "{{2}} и {{1}}, снова {{2}}; {{10}}" }]);
    expect(describeTemplate(t).body.params).toEqual(["1", "2", "10"]);
  });

  it("copy-code and fixed URL buttons; unsupported parts are reported", () => {
    expect(describeTemplate(COUPON).buttons).toEqual([
      { index: 0, type: "COPY_CODE", text: "Copy offer code", hasParam: true },
      { index: 1, type: "URL", text: "Записаться", url: "https://example.com/book", hasParam: false },
    ]);
    expect(describeTemplate(CAROUSEL).unsupported).toEqual(["a CAROUSEL component"]);
    expect(describeTemplate(COUPON).unsupported).toBeUndefined();
  });

  it("survives junk components", () => {
    const t = tpl("junk", [null, 7, { type: "BODY" }, { type: "BUTTONS", buttons: "nope" }] as unknown[]);
    expect(describeTemplate(t)).toEqual({ body: { text: "", params: [] }, buttons: [] });
  });
});

// ─────────────────────────────────────── from Graph ────────────────────────────────────────

/** doc §6.1 list example (one `data[]` object). */
const DOC_EXAMPLE = {
  name: "reservation_confirmation",
  parameter_format: "NAMED",
  components: [
    { type: "HEADER", format: "IMAGE", example: { header_handle: ["https://scontent.whatsapp.net/v/t61..."] } },
    {
      type: "BODY",
      text: "*You're all set!*\n\nYour reservation for {{number_of_guests}} … on {{day}}, {{date}}, at {{time}}, is confirmed.",
      example: { body_text_named_params: [{ param_name: "number_of_guests", example: "4" }] },
    },
  ],
  language: "en_US",
  status: "APPROVED",
  category: "UTILITY",
  id: "1259544702043867",
};

describe("templateFromGraph", () => {
  it("reads the doc §6.1 example", () => {
    const t = templateFromGraph(DOC_EXAMPLE, NOW);
    expect(t).toEqual({
      id: "reservation_confirmation|en_US",
      metaId: "1259544702043867",
      name: "reservation_confirmation",
      language: "en_US",
      status: "APPROVED",
      category: "UTILITY",
      parameterFormat: "NAMED",
      components: DOC_EXAMPLE.components,
      syncedAt: NOW,
      updatedAt: NOW,
    });
    expect(describeTemplate(t!)).toEqual({
      header: { format: "IMAGE", params: [] },
      body: { text: DOC_EXAMPLE.components[1]!.text, params: ["number_of_guests", "day", "date", "time"] },
      buttons: [],
    });
    const sent = validateTemplateSend(t, {
      name: "reservation_confirmation",
      language: "en_US",
      header: { type: "image", id: "9" },
      params: { number_of_guests: "4", day: "Friday", date: "May 1", time: "7 pm" },
    });
    expect(sent.ok && sent.preview).toBe("*You're all set!*\n\nYour reservation for 4 … on Friday, May 1, at 7 pm, is confirmed.");
  });

  it("reads quality_score, rejected_reason, numeric ids; NONE is no reason", () => {
    const t = templateFromGraph(
      { ...DOC_EXAMPLE, id: 1689556908129835, status: "rejected", category: "marketing", quality_score: { score: "YELLOW", date: 1751247548 }, rejected_reason: "INVALID_FORMAT" },
      NOW,
    );
    expect(t).toMatchObject({ metaId: "1689556908129835", status: "REJECTED", category: "MARKETING", qualityScore: "YELLOW", rejectedReason: "INVALID_FORMAT" });
    expect(templateFromGraph({ ...DOC_EXAMPLE, rejected_reason: "NONE" }, NOW)).not.toHaveProperty("rejectedReason");
  });

  it("infers the parameter format when the field is missing", () => {
    const { parameter_format: _omit, ...noFormat } = DOC_EXAMPLE;
    expect(templateFromGraph(noFormat, NOW)?.parameterFormat).toBe("NAMED");
    expect(templateFromGraph({ ...noFormat, components: [{ type: "BODY", text: "Hi {{1}}" }] }, NOW)?.parameterFormat).toBe("POSITIONAL");
  });

  it.each([null, "x", 1, [], {}, { name: "a" }, { language: "ru" }, { name: "", language: "ru" }, { name: 5, language: "ru" }])("refuses %j", (raw) => {
    expect(templateFromGraph(raw, NOW)).toBeUndefined();
  });

  it("defaults what is missing and drops non-object components", () => {
    expect(templateFromGraph({ name: "x", language: "ru", components: [1, { type: "BODY", text: "a" }] }, NOW)).toEqual({
      id: "x|ru",
      name: "x",
      language: "ru",
      status: "UNKNOWN",
      category: "UNKNOWN",
      parameterFormat: "POSITIONAL",
      components: [{ type: "BODY", text: "a" }],
      syncedAt: NOW,
      updatedAt: NOW,
    });
  });
});

describe("templateLanguagesOf", () => {
  it("lists the languages of a name, without DELETED ones", () => {
    const all = [ORDER, ORDER_EN, ORDER_KK, ORDER_OLD, PROMO];
    expect(templateLanguagesOf(all, "order_update")).toEqual(["en_US", "kk", "ru"]);
    expect(templateLanguagesOf(all, "order_update", { approvedOnly: true })).toEqual(["en_US", "ru"]);
    expect(templateLanguagesOf(all, "nope")).toEqual([]);
  });
});
