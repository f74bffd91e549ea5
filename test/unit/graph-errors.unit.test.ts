import { describe, expect, it } from "vitest";
import {
  classifyGraphError,
  humanError,
  normalizeGraphError,
  pairRateDelayMs,
  type ErrorClass,
  type GraphError,
} from "../../backend/src/channels/whatsapp/graph-errors.js";

const T: ErrorClass = { kind: "transient" };
const X: ErrorClass = { kind: "terminal" };
const alarm = (a: Extract<ErrorClass, { kind: "account_alarm" }>["alarm"]): ErrorClass => ({ kind: "account_alarm", alarm: a });

/** A Graph envelope as Meta sends it (shape of the doc's §3.4 example). */
function envelope(code: number, title: string, details?: string) {
  return {
    error: {
      message: `(#${code}) ${title}`,
      type: "OAuthException",
      code,
      ...(details ? { error_data: { messaging_product: "whatsapp", details } } : {}),
      fbtrace_id: "Az8or2yhqkZfEZ-_4Qn_Bam",
    },
  };
}

describe("normalizeGraphError", () => {
  it("reads the Graph envelope of the doc's §3.4 example", () => {
    const body = {
      error: {
        message: "(#130429) Rate limit hit",
        type: "OAuthException",
        code: 130429,
        error_data: { messaging_product: "whatsapp", details: "Cloud API message throughput has been reached." },
        error_subcode: 2494055,
        fbtrace_id: "Az8or2yhqkZfEZ-_4Qn_Bam",
      },
    };
    expect(normalizeGraphError(400, body)).toStrictEqual({
      code: 130429,
      subcode: 2494055,
      title: "Rate limit hit",
      message: "(#130429) Rate limit hit",
      details: "Cloud API message throughput has been reached.",
      fbtraceId: "Az8or2yhqkZfEZ-_4Qn_Bam",
      httpStatus: 400,
      network: false,
    });
  });

  it("reads the same envelope when it arrives as a JSON string or a Buffer", () => {
    const raw = JSON.stringify(envelope(131047, "Re-engagement message", "Message failed to send because more than 24 hours have passed"));
    for (const body of [raw, Buffer.from(raw), ` \n${raw}\n`]) {
      expect(normalizeGraphError(400, body)).toMatchObject({ code: 131047, title: "Re-engagement message", httpStatus: 400, network: false });
    }
  });

  it("reads a webhook errors[] entry (no envelope) and a string error_data", () => {
    const webhook = { code: 131026, title: "Message undeliverable", message: "Message undeliverable", error_data: { details: "Message Undeliverable." } };
    expect(normalizeGraphError(undefined, webhook)).toStrictEqual({
      code: 131026,
      title: "Message undeliverable",
      message: "Message undeliverable",
      details: "Message Undeliverable.",
      network: false,
    });
    expect(normalizeGraphError(400, { error: { message: "Invalid OAuth access token.", code: "190", error_data: "token expired" } })).toMatchObject({
      code: 190,
      details: "token expired",
      message: "Invalid OAuth access token.",
    });
  });

  it.each([
    ["an HTML error page", 502, "<html><head><title>502</title><style>p{}</style></head><body><h1>502 Bad Gateway</h1></body></html>", "502 502 Bad Gateway"],
    ["garbage text", 500, "upstream connect error or disconnect/reset before headers", "upstream connect error or disconnect/reset before headers"],
    ["truncated JSON", 500, '{"error": {"message": "(#131000', '{"error": {"message": "(#131000'],
    ["JSON without an error", 400, { ok: false }, '{"ok":false}'],
  ])("survives %s", (_name, status, body, details) => {
    const e = normalizeGraphError(status, body);
    expect(e).toStrictEqual({ message: `Graph API answered HTTP ${status} with a body that is not a Graph error`, details, httpStatus: status, network: false });
  });

  it("keeps only an excerpt of a huge body", () => {
    const e = normalizeGraphError(503, "x".repeat(10_000));
    expect(e.details?.length).toBeLessThanOrEqual(301);
  });

  it("reads an empty body", () => {
    expect(normalizeGraphError(503, "")).toStrictEqual({ message: "Graph API answered HTTP 503", httpStatus: 503, network: false });
    expect(normalizeGraphError(500, undefined)).toStrictEqual({ message: "Graph API answered HTTP 500", httpStatus: 500, network: false });
  });

  it.each([
    ["an axios timeout", Object.assign(new Error("timeout of 50ms exceeded"), { code: "ECONNABORTED" }), "Graph API did not answer in time", "ECONNABORTED: timeout of 50ms exceeded"],
    ["ETIMEDOUT", Object.assign(new Error("connect ETIMEDOUT 157.240.0.1:443"), { code: "ETIMEDOUT" }), "Graph API did not answer in time", "ETIMEDOUT: connect ETIMEDOUT 157.240.0.1:443"],
    ["a connection reset", Object.assign(new Error("socket hang up"), { code: "ECONNRESET" }), "Graph API could not be reached", "ECONNRESET: socket hang up"],
    ["a plain string", "boom", "Graph API could not be reached", "boom"],
  ])("marks %s as a network error", (_name, err, message, details) => {
    expect(normalizeGraphError(undefined, undefined, err)).toStrictEqual({ message, details, network: true });
  });
});

describe("classifyGraphError", () => {
  // Every code of the doc's §4 table (ranges by their ends and notable members).
  it.each<[number, ErrorClass]>([
    [0, alarm("token")],
    [1, T],
    [2, T],
    [3, X],
    [4, T],
    [10, alarm("permission")],
    [100, X],
    [190, alarm("token")],
    [200, alarm("permission")],
    [250, alarm("permission")],
    [299, alarm("permission")],
    [368, alarm("restricted")],
    [80007, T],
    [130429, T],
    [130472, X],
    [131000, T],
    [131005, X],
    [131008, X],
    [131009, X],
    [131016, T],
    [131021, X],
    [131026, X],
    [131031, alarm("restricted")],
    [131042, alarm("billing")],
    [131045, X],
    [131047, { kind: "needs_template" }],
    [131048, alarm("quality")],
    [131049, X],
    [131050, X],
    [131051, X],
    [131052, X],
    [131053, X],
    [131056, { kind: "pair_rate" }],
    [131057, T],
    [131062, { kind: "needs_phone" }],
    [131064, X],
    [132000, X],
    [132001, X],
    [132005, X],
    [132007, X],
    [132012, X],
    [132015, alarm("template")],
    [132016, alarm("template")],
    [132018, X],
    [132068, X],
    [132069, X],
    [133000, X],
    [133004, T],
    [133010, alarm("not_registered")],
    [133016, X],
    [135000, X],
    [300, X],
    [999999, X],
  ])("code %i → %j", (code, expected) => {
    expect(classifyGraphError({ code, message: "m", httpStatus: 400, network: false })).toEqual(expected);
  });

  it("branches on the code, never on the HTTP status", () => {
    // 131045 comes with HTTP 500 in Meta's table but must not be retried; 130429 may come as 400 or 429.
    expect(classifyGraphError({ code: 131045, message: "m", httpStatus: 500, network: false })).toEqual(X);
    expect(classifyGraphError({ code: 3, message: "m", httpStatus: 500, network: false })).toEqual(X);
    expect(classifyGraphError({ code: 130429, message: "m", httpStatus: 400, network: false })).toEqual(T);
    expect(classifyGraphError({ code: 130429, message: "m", httpStatus: 429, network: false })).toEqual(T);
    expect(classifyGraphError({ code: 100, message: "m", httpStatus: 503, network: false })).toEqual(X);
  });

  it.each<[string, GraphError, ErrorClass]>([
    ["network error", { message: "m", network: true }, T],
    ["HTTP 500 without a code", { message: "m", httpStatus: 500, network: false }, T],
    ["HTTP 502 HTML page", normalizeGraphError(502, "<html>Bad Gateway</html>"), T],
    ["HTTP 503 without a code", { message: "m", httpStatus: 503, network: false }, T],
    ["HTTP 429 without a code", { message: "m", httpStatus: 429, network: false }, T],
    ["HTTP 400 without a code", { message: "m", httpStatus: 400, network: false }, X],
    ["HTTP 404 without a code", { message: "m", httpStatus: 404, network: false }, X],
    ["nothing at all", { message: "m", network: false }, X],
  ])("without a code: %s", (_name, e, expected) => {
    expect(classifyGraphError(e)).toEqual(expected);
  });
});

describe("pairRateDelayMs", () => {
  it.each([
    [0, 1_000],
    [1, 1_000],
    [2, 4_000],
    [3, 16_000],
    [4, 64_000],
    [5, 256_000],
    [6, 900_000],
    [7, 900_000],
    [50, 900_000],
    [Number.MAX_SAFE_INTEGER, 900_000],
  ])("after %i failures → %i ms", (n, ms) => {
    expect(pairRateDelayMs(n)).toBe(ms);
  });
});

describe("humanError", () => {
  const say = (code: number, lang: "en" | "ru", details?: string) => {
    const e = normalizeGraphError(400, envelope(code, "Title", details));
    return humanError(e, classifyGraphError(e), lang);
  };

  it.each([
    [131047, "The 24-hour window is closed: send an approved template.", "24-часовое окно закрыто: отправьте одобренный шаблон."],
    [131026, "The customer cannot receive WhatsApp messages (not a WhatsApp user, or an old app).", "Клиент не может получать сообщения WhatsApp (не пользуется WhatsApp или у него старая версия приложения)."],
  ])("%i in both languages", (code, en, ru) => {
    expect(say(code, "en")).toBe(en);
    expect(say(code, "ru")).toBe(ru);
  });

  it.each([
    [131049, /marketing message.*24 hours/],
    [131050, /stopped marketing messages/],
    [132001, /template does not exist/],
    [130429, /sending limit.*retried/],
    [131056, /Too many messages to this customer/],
    [0, /access token/],
    [190, /access token is invalid or expired/],
    [10, /lacks a permission/],
    [200, /lacks a permission/],
    [368, /blocked or locked/],
    [131031, /blocked or locked/],
    [131042, /payment/],
    [133010, /not registered/],
    [131048, /spam/],
    [132015, /paused/],
    [132016, /disabled/],
    [131062, /phone number/],
    [131053, /file/],
  ])("%i says %s", (code, re) => {
    expect(say(code, "en")).toMatch(re);
    expect(say(code, "ru")).not.toBe(say(code, "en"));
  });

  it("names the code and quotes Meta's details for anything else", () => {
    expect(say(100, "en", "Param to must be a valid phone number.")).toBe("WhatsApp refused the message (error 100): Param to must be a valid phone number.");
    expect(say(100, "ru", "Param to must be a valid phone number.")).toBe("WhatsApp отклонил сообщение (ошибка 100): Param to must be a valid phone number.");
    expect(say(135000, "en")).toBe("WhatsApp refused the message (error 135000): Title.");
  });

  it("explains network trouble, outages and bodies without a code", () => {
    const net = normalizeGraphError(undefined, undefined, Object.assign(new Error("socket hang up"), { code: "ECONNRESET" }));
    expect(humanError(net, classifyGraphError(net), "en")).toMatch(/could not be reached.*retried/);
    expect(humanError(net, classifyGraphError(net), "ru")).toMatch(/Не удалось связаться/);
    const down = normalizeGraphError(503, envelope(2, "Service temporarily unavailable"));
    expect(humanError(down, classifyGraphError(down), "en")).toBe("WhatsApp is temporarily unavailable (error 2); sending will be retried.");
    const html = normalizeGraphError(404, "<html><body>Not Found</body></html>");
    expect(humanError(html, classifyGraphError(html), "en")).toBe("WhatsApp refused the message (HTTP 404): Not Found.");
  });
});
