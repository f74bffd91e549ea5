import { inspect } from "node:util";
import axios from "axios";
import nock from "nock";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createGraphClient, GraphCallError, graphSender, TEMPLATE_FIELDS, type GraphClient } from "../../backend/src/channels/whatsapp/graph.client.js";
import { toGraphMessage } from "../../backend/src/channels/whatsapp/graph-payload.js";
import { AppError } from "../../backend/src/errors.js";

const HOST = "http://graph.test";
const GRAPH_URL = `${HOST}/v25.0`;
const PHONE_NUMBER_ID = "106540352242922";
const WABA_ID = "102290129340398";
const TOKEN = "EAAG-very-secret-system-user-token";
const MESSAGES = `/v25.0/${PHONE_NUMBER_ID}/messages`;
const WAMID = "wamid.HBgLMTY0NjcwNDM1OTUVAgARGBI1RjQyNUE3NEYxMzAzMzQ5MkEA";

const message = toGraphMessage({ waId: "16505551234" }, { kind: "template", name: "order_update", language: "en_US", components: [] }, { callbackData: "branch-017:outbox-88121" });

function client(over: Partial<Parameters<typeof createGraphClient>[0]> = {}): GraphClient {
  return createGraphClient({ http: axios.create(), graphUrl: GRAPH_URL, phoneNumberId: PHONE_NUMBER_ID, wabaId: WABA_ID, accessToken: TOKEN, timeoutMs: 2_000, ...over });
}

/** The Graph error envelope exactly as in the doc's §3.4 example, for any code. */
function graphError(code: number, title: string, details: string, subcode?: number) {
  return {
    error: {
      message: `(#${code}) ${title}`,
      type: "OAuthException",
      code,
      error_data: { messaging_product: "whatsapp", details },
      ...(subcode ? { error_subcode: subcode } : {}),
      fbtrace_id: "Az8or2yhqkZfEZ-_4Qn_Bam",
    },
  };
}

async function failure(p: Promise<unknown>): Promise<GraphCallError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(GraphCallError);
  expect(err).toBeInstanceOf(AppError);
  const e = err as GraphCallError;
  // The token never leaves in anything a log could print.
  for (const text of [e.message, String(e.stack), JSON.stringify(e), inspect(e, { depth: 10 }), JSON.stringify(e.details)]) expect(text).not.toContain(TOKEN);
  return e;
}

const graph = () => nock(HOST).matchHeader("authorization", `Bearer ${TOKEN}`);

beforeAll(() => {
  nock.disableNetConnect();
  nock.enableNetConnect(/127\.0\.0\.1|localhost/);
});
afterEach(() => {
  const pending = nock.pendingMocks();
  nock.cleanAll();
  expect(pending).toEqual([]);
});
afterAll(() => {
  nock.enableNetConnect();
});

describe("send", () => {
  it("posts the message with the bearer token and reads the §3.4 success answer", async () => {
    let body: unknown;
    graph()
      .post(MESSAGES, (b) => ((body = b), true))
      .reply(200, {
        messaging_product: "whatsapp",
        contacts: [{ input: "+16505551234", wa_id: "16505551234" }],
        messages: [{ id: WAMID, message_status: "accepted" }],
      });
    expect(await client().send(message)).toStrictEqual({ wamid: WAMID, waId: "16505551234", messageStatus: "accepted" });
    expect(body).toStrictEqual(message);
  });

  it("omits what the answer does not carry (BSUID send: no wa_id; no message_status)", async () => {
    graph()
      .post(MESSAGES)
      .reply(200, { messaging_product: "whatsapp", contacts: [{ input: "US.13491208655302741918", user_id: "US.13491208655302741918" }], messages: [{ id: WAMID }] });
    expect(await client().send(message)).toStrictEqual({ wamid: WAMID });
  });

  it.each([
    ["transient", 400, 130429, "Rate limit hit", "Cloud API message throughput has been reached.", { kind: "transient" }, true, 503],
    ["transient (service)", 503, 131016, "Service unavailable", "A service is temporarily unavailable.", { kind: "transient" }, true, 503],
    ["pair rate", 400, 131056, "(Business Account, Consumer Account) pair rate limit hit", "Message failed to send because there were too many messages sent from this phone number to the same phone number in a short period of time.", { kind: "pair_rate" }, true, 503],
    ["needs template", 400, 131047, "Re-engagement message", "Message failed to send because more than 24 hours have passed since the customer last replied to this number.", { kind: "needs_template" }, false, 422],
    ["needs phone", 400, 131062, "BSUID recipients not supported for this message", "Use the phone number.", { kind: "needs_phone" }, false, 422],
    ["terminal", 400, 131026, "Message undeliverable", "Message Undeliverable.", { kind: "terminal" }, false, 422],
    ["terminal (bad param)", 400, 100, "Invalid parameter", "Param template['name'] is not valid.", { kind: "terminal" }, false, 422],
    ["token alarm", 401, 190, "Access token has expired", "Error validating access token: Session has expired.", { kind: "account_alarm", alarm: "token" }, false, 502],
    ["permission alarm", 403, 200, "Requires whatsapp_business_messaging permission", "The app lacks the permission.", { kind: "account_alarm", alarm: "permission" }, false, 502],
    ["restricted alarm", 403, 368, "Temporarily blocked for policies violations", "Blocked.", { kind: "account_alarm", alarm: "restricted" }, false, 502],
    ["billing alarm", 400, 131042, "Business eligibility payment issue", "Payment method missing.", { kind: "account_alarm", alarm: "billing" }, false, 502],
    ["not registered alarm", 400, 133010, "Phone number not registered", "Register the number first.", { kind: "account_alarm", alarm: "not_registered" }, false, 502],
    ["quality alarm", 400, 131048, "Spam rate limit hit", "Too many messages were blocked or flagged as spam.", { kind: "account_alarm", alarm: "quality" }, false, 502],
    ["template alarm", 400, 132015, "Template is paused", "Template paused due to low quality.", { kind: "account_alarm", alarm: "template" }, false, 502],
  ])("%s: HTTP %i code %i", async (_name, status, code, title, details, errorClass, retryable, httpStatus) => {
    graph().post(MESSAGES).reply(status, graphError(code, title, details, 2494055));
    const e = await failure(client().send(message));
    expect(e.code).toBe(`graph_${code}`);
    expect(e.errorClass).toEqual(errorClass);
    expect(e.retryable).toBe(retryable);
    expect(e.httpStatus).toBe(httpStatus);
    expect(e.unknownOutcome).toBe(false);
    expect(e.graph).toStrictEqual({ code, subcode: 2494055, title, message: `(#${code}) ${title}`, details, fbtraceId: "Az8or2yhqkZfEZ-_4Qn_Bam", httpStatus: status, network: false });
    expect(e.message).toBe(e.human("en"));
    expect(e.human("ru")).not.toBe(e.human("en"));
  });

  it("says the 24-hour window is closed in the manager's language", async () => {
    graph().post(MESSAGES).reply(400, graphError(131047, "Re-engagement message", "More than 24 hours have passed."));
    const e = await failure(client().send(message));
    expect(e.message).toBe("The 24-hour window is closed: send an approved template.");
    expect(e.human("ru")).toBe("24-часовое окно закрыто: отправьте одобренный шаблон.");
  });

  it("treats an HTML 502 page as transient and keeps an excerpt", async () => {
    graph().post(MESSAGES).reply(502, "<html><head><title>Error</title></head><body><h1>502 Bad Gateway</h1></body></html>", { "content-type": "text/html" });
    const e = await failure(client().send(message));
    expect(e.code).toBe("graph_http_502");
    expect(e.errorClass).toEqual({ kind: "transient" });
    expect(e.retryable).toBe(true);
    expect(e.graph).toMatchObject({ httpStatus: 502, network: false, details: "Error 502 Bad Gateway" });
  });

  it("treats a garbage 400 body as terminal", async () => {
    graph().post(MESSAGES).reply(400, "definitely not json", { "content-type": "text/plain" });
    const e = await failure(client().send(message));
    expect(e.code).toBe("graph_http_400");
    expect(e.errorClass).toEqual({ kind: "terminal" });
    expect(e.retryable).toBe(false);
    expect(e.message).toBe("WhatsApp refused the message (HTTP 400): definitely not json.");
  });

  it("redacts the token if an error page echoes it", async () => {
    graph().post(MESSAGES).reply(500, `<pre>Authorization: Bearer ${TOKEN}</pre>`);
    const e = await failure(client().send(message));
    expect(e.graph.details).toBe("Authorization: Bearer [redacted]");
  });

  it("flags a timeout after the request was written as unknown outcome", async () => {
    graph().post(MESSAGES).delay(500).reply(200, { messages: [{ id: WAMID }] });
    const e = await failure(client({ timeoutMs: 40 }).send(message));
    expect(e.code).toBe("graph_network");
    expect(e.unknownOutcome).toBe(true);
    expect(e.errorClass).toEqual({ kind: "transient" });
    expect(e.retryable).toBe(true);
    expect(e.graph).toMatchObject({ network: true, message: "Graph API did not answer in time", details: expect.stringContaining("ECONNABORTED") });
    expect(e.message).toMatch(/It is not known whether WhatsApp accepted the message\.$/);
    expect(e.details).toMatchObject({ unknownOutcome: true });
  });

  it("flags a connection reset as unknown outcome", async () => {
    graph().post(MESSAGES).replyWithError(Object.assign(new Error("socket hang up"), { code: "ECONNRESET" }));
    const e = await failure(client().send(message));
    expect(e.unknownOutcome).toBe(true);
    expect(e.graph).toStrictEqual({ message: "Graph API could not be reached", details: "ECONNRESET: socket hang up", network: true });
  });

  it("knows a refused connection sent nothing", async () => {
    graph().post(MESSAGES).replyWithError(Object.assign(new Error("connect ECONNREFUSED 157.240.0.1:443"), { code: "ECONNREFUSED" }));
    const e = await failure(client().send(message));
    expect(e.unknownOutcome).toBe(false);
    expect(e.retryable).toBe(true);
    expect(e.code).toBe("graph_network");
  });

  it("flags a 200 without a wamid as unknown outcome, not to be retried", async () => {
    graph().post(MESSAGES).reply(200, { messaging_product: "whatsapp" });
    const e = await failure(client().send(message));
    expect(e.unknownOutcome).toBe(true);
    expect(e.retryable).toBe(false);
  });

  it("graphSender keeps implementing the WhatsAppSender port", async () => {
    graph().post(MESSAGES).reply(200, { messaging_product: "whatsapp", contacts: [{ input: "+16505551234", wa_id: "16505551234" }], messages: [{ id: WAMID }] });
    const sender = graphSender({ http: axios.create(), graphUrl: GRAPH_URL, phoneNumberId: PHONE_NUMBER_ID, accessToken: TOKEN });
    await expect(sender.send(message)).resolves.toMatchObject({ wamid: WAMID });
  });
});

describe("markRead", () => {
  it("posts the read receipt", async () => {
    let body: unknown;
    graph()
      .post(MESSAGES, (b) => ((body = b), true))
      .reply(200, { success: true });
    await client().markRead("wamid.IN1");
    expect(body).toStrictEqual({ messaging_product: "whatsapp", status: "read", message_id: "wamid.IN1" });
  });

  it("throws a classified error", async () => {
    graph().post(MESSAGES).reply(400, graphError(100, "Invalid parameter", "Message id is not valid."));
    const e = await failure(client().markRead("wamid.NOPE"));
    expect(e.code).toBe("graph_100");
  });
});

describe("media", () => {
  const MEDIA_URL_PATH = "/v/t62.7118-24/12345_n.jpg";
  const MEDIA_HOST = "https://lookaside.fbsbx.test";
  const JPEG = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46]);

  it("uploads a file as multipart/form-data with messaging_product=whatsapp", async () => {
    let body = "";
    let contentType = "";
    graph()
      .post(`/v25.0/${PHONE_NUMBER_ID}/media`)
      .reply(200, function (_uri, b) {
        body = typeof b === "string" ? b : JSON.stringify(b);
        contentType = String(this.req.headers["content-type"]);
        return { id: "1479537139650973" };
      });
    expect(await client().uploadMedia(Buffer.from("%PDF-1.4 invoice"), "application/pdf", "invoice-123.pdf")).toBe("1479537139650973");
    const boundary = /multipart\/form-data; boundary=(.+)$/.exec(contentType)?.[1];
    expect(boundary).toBeTruthy();
    const parts = body.split(`--${boundary}`).slice(1, -1);
    const field = (name: string) => parts.find((p) => p.includes(`name="${name}"`));
    expect(field("messaging_product")).toBe('\r\nContent-Disposition: form-data; name="messaging_product"\r\n\r\nwhatsapp\r\n');
    expect(field("type")).toContain("\r\n\r\napplication/pdf\r\n");
    expect(field("file")).toBe('\r\nContent-Disposition: form-data; name="file"; filename="invoice-123.pdf"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.4 invoice\r\n');
  });

  it("reports a refused upload (mismatched MIME)", async () => {
    graph().post(`/v25.0/${PHONE_NUMBER_ID}/media`).reply(400, graphError(131053, "Media upload error", "Unsupported MIME type."));
    const e = await failure(client().uploadMedia(Buffer.from("x"), "image/png", "x.png"));
    expect(e.code).toBe("graph_131053");
    expect(e.message).toMatch(/file/);
  });

  it("resolves a media id to its URL and downloads it with the bearer token", async () => {
    graph()
      .get("/v25.0/1479537139650973")
      .reply(200, {
        messaging_product: "whatsapp",
        url: `${MEDIA_HOST}${MEDIA_URL_PATH}?ext=1&hash=abc`,
        mime_type: "image/jpeg",
        sha256: "HnCy2JO5y8FyNm8nbVzIP9AZF2ka4pRKCvJsdUJwc4s=",
        file_size: "303833",
        id: "1479537139650973",
      });
    nock(MEDIA_HOST).matchHeader("authorization", `Bearer ${TOKEN}`).get(MEDIA_URL_PATH).query({ ext: "1", hash: "abc" }).reply(200, JPEG, { "content-type": "image/jpeg" });
    const c = client();
    const info = await c.getMediaUrl("1479537139650973");
    expect(info).toStrictEqual({ url: `${MEDIA_HOST}${MEDIA_URL_PATH}?ext=1&hash=abc`, mimeType: "image/jpeg", sha256: "HnCy2JO5y8FyNm8nbVzIP9AZF2ka4pRKCvJsdUJwc4s=", fileSize: 303833 });
    const file = await c.downloadMedia(info.url);
    expect(file.mimeType).toBe("image/jpeg");
    expect(Buffer.isBuffer(file.data)).toBe(true);
    expect(file.data.equals(JPEG)).toBe(true);
  });

  it.each([404, 401])("says media_url_expired when the URL answers %i", async (status) => {
    nock(MEDIA_HOST).get(MEDIA_URL_PATH).reply(status, "Not Found");
    const e = await failure(client().downloadMedia(`${MEDIA_HOST}${MEDIA_URL_PATH}`));
    expect(e.code).toBe("media_url_expired");
    expect(e.retryable).toBe(true);
    expect(e.graph.httpStatus).toBe(status);
  });

  it("reports an unknown media id", async () => {
    graph().get("/v25.0/999").reply(400, graphError(100, "Invalid parameter", "Unsupported get request. Object with ID '999' does not exist."));
    const e = await failure(client().getMediaUrl("999"));
    expect(e.code).toBe("graph_100");
    expect(e.message).toContain("does not exist");
  });
});

describe("listTemplates", () => {
  const PATH = `/v25.0/${WABA_ID}/message_templates`;
  const first = { fields: TEMPLATE_FIELDS, limit: "100" };
  const tpl = (name: string) => ({ name, parameter_format: "POSITIONAL", components: [{ type: "BODY", text: "Hi {{1}}" }], language: "en_US", status: "APPROVED", category: "UTILITY", id: `id_${name}` });

  async function all(c: GraphClient) {
    const out: Array<Record<string, unknown>> = [];
    for await (const t of c.listTemplates()) out.push(t);
    return out;
  }

  it("walks all pages: paging.next, then cursors.after when next is absent", async () => {
    graph()
      .get(PATH)
      .query(first)
      .reply(200, { data: [tpl("a1"), tpl("a2")], paging: { cursors: { before: "B1", after: "A1" }, next: `${GRAPH_URL}/${WABA_ID}/message_templates?fields=${TEMPLATE_FIELDS}&limit=100&after=A1` } });
    graph()
      .get(PATH)
      .query({ ...first, after: "A1" })
      .reply(200, { data: [tpl("b1"), tpl("b2")], paging: { cursors: { before: "B2", after: "A2" } } });
    graph()
      .get(PATH)
      .query({ ...first, after: "A2" })
      .reply(200, { data: [tpl("c1")] });
    const templates = await all(client());
    expect(templates.map((t) => t.name)).toEqual(["a1", "a2", "b1", "b2", "c1"]);
    expect(templates[0]).toStrictEqual(tpl("a1"));
  });

  it("stops at an empty page and at a repeated cursor", async () => {
    graph().get(PATH).query(first).reply(200, { data: [tpl("a1")], paging: { cursors: { before: "B1", after: "A1" } } });
    graph().get(PATH).query({ ...first, after: "A1" }).reply(200, { data: [tpl("b1")], paging: { cursors: { before: "B2", after: "A1" } } });
    expect((await all(client())).map((t) => t.name)).toEqual(["a1", "b1"]);

    graph().get(PATH).query(first).reply(200, { data: [tpl("a1")], paging: { cursors: { before: "B1", after: "A1" } } });
    graph().get(PATH).query({ ...first, after: "A1" }).reply(200, { data: [], paging: { cursors: {} } });
    expect((await all(client())).map((t) => t.name)).toEqual(["a1"]);
  });

  it("throws a classified error from a page (management rate limit)", async () => {
    graph().get(PATH).query(first).reply(200, { data: [tpl("a1")], paging: { next: `${GRAPH_URL}/${WABA_ID}/message_templates?after=A1` } });
    graph().get(PATH).query({ after: "A1" }).reply(400, graphError(80007, "Rate limit issues", "WABA rate limit reached."));
    const seen: string[] = [];
    const e = await failure(
      (async () => {
        for await (const t of client().listTemplates()) seen.push(String(t.name));
      })(),
    );
    expect(seen).toEqual(["a1"]);
    expect(e.code).toBe("graph_80007");
    expect(e.retryable).toBe(true);
  });

  it("needs the WABA id", async () => {
    const c = client({ wabaId: undefined });
    await expect(all(c)).rejects.toMatchObject({ code: "config_missing" });
  });
});
