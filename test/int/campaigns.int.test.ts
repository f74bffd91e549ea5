import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type RunningServer } from "../../backend/src/server.js";
import { createLogger } from "../../backend/src/ops/logger.js";
import { startFakeGraph } from "../builders/fake-graph.js";
import { api, postWebhook, productionEnv, tempDir, waitFor } from "../builders/harness.js";
import { NUMBER, envelope, textWebhook } from "../builders/meta-payloads.js";

const WABA = NUMBER.waba;
const ADMIN = "campaign-test-admin-token";

/** Template objects as `GET /{WABA_ID}/message_templates` lists them (doc §6.1). */
const TEMPLATES = [
  {
    name: "spring_sale", parameter_format: "POSITIONAL", language: "ru", status: "APPROVED", category: "MARKETING", id: "3001",
    components: [{ type: "BODY", text: "{{1}}, весенняя скидка 20% на все услуги!", example: { body_text: [["Анна"]] } }],
  },
  {
    name: "visit_reminder", parameter_format: "NAMED", language: "ru", status: "APPROVED", category: "UTILITY", id: "3002",
    components: [{ type: "BODY", text: "{{first_name}}, ждём вас {{day}}.", example: { body_text_named_params: [{ param_name: "first_name", example: "Анна" }, { param_name: "day", example: "в пятницу" }] } }],
  },
];

type Graph = Awaited<ReturnType<typeof startFakeGraph>>;

async function fakeGraph(): Promise<Graph> {
  return startFakeGraph((req) => (req.path.includes("/message_templates") ? { status: 200, body: { data: TEMPLATES, paging: {} } } : undefined));
}

async function boot(graph: Graph, dir: string, extra: Record<string, string> = {}): Promise<RunningServer> {
  const s = await startServer(productionEnv(dir, { WHATSAPP_GRAPH_URL: graph.url, WHATSAPP_WABA_ID: WABA, ADMIN_TOKEN: ADMIN, ...extra }), { logger: createLogger("silent") });
  await waitFor(async () => (await api(s.url, ADMIN, "GET", "/admin/api/templates")).body.templates?.length === TEMPLATES.length, "templates synced");
  return s;
}

const statusWebhook = (wamid: string, status: string, recipient: string, errors?: unknown[]) =>
  envelope({ messaging_product: "whatsapp", metadata: { display_phone_number: NUMBER.display, phone_number_id: NUMBER.phoneNumberId }, statuses: [{ id: wamid, status, timestamp: String(Math.floor(Date.now() / 1000)), recipient_id: recipient, ...(errors ? { errors } : {}) }] });

/** `wamid` of the message the fake Graph accepted for `digits` (the n-th accepted request gets wamid.FAKE<n>). */
const wamidFor = (graph: Graph, digits: string, type = "template") => {
  const i = graph.accepted.findIndex((r) => r.body.to === `+${digits}` && r.body.type === type);
  return i < 0 ? undefined : `wamid.FAKE${i + 1}`;
};
const templatesTo = (graph: Graph, digits: string) => graph.accepted.filter((r) => r.body.to === `+${digits}` && r.body.type === "template");

async function createBranch(url: string, code: string, name: string) {
  const r = await api(url, ADMIN, "POST", "/admin/api/branches", { name, code, crm: "inbox" });
  expect(r.status).toBe(201);
  return r.body as { id: string; apiKey: string };
}

/** Reads `event: progress` frames of the campaign stream (server-sent events) as they come. */
function openStream(url: string, id: string) {
  const events: any[] = [];
  const ctrl = new AbortController();
  const done = (async () => {
    const res = await fetch(`${url}/admin/api/campaigns/${id}/stream`, { headers: { authorization: `Bearer ${ADMIN}` }, signal: ctrl.signal });
    expect(res.headers.get("content-type")).toMatch(/text\/event-stream/);
    const decoder = new TextDecoder();
    let buf = "";
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buf += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = buf.indexOf("\n\n")) >= 0) {
        const frame = buf.slice(0, end);
        buf = buf.slice(end + 2);
        const event = /^event: (.*)$/m.exec(frame)?.[1];
        const data = /^data: (.*)$/m.exec(frame)?.[1];
        if (event === "progress" && data) events.push(JSON.parse(data));
      }
    }
  })().catch(() => undefined);
  return { events, close: async () => (ctrl.abort(), await done) };
}

describe("campaigns against the fake Graph API", () => {
  let graph: Graph;
  let s: RunningServer;
  let dir: { dir: string; remove(): Promise<void> };
  let artplay: { id: string; apiKey: string };
  let lab: { id: string; apiKey: string };

  beforeAll(async () => {
    graph = await fakeGraph();
    dir = await tempDir();
    s = await boot(graph, dir.dir);
    artplay = await createBranch(s.url, "ARTPLAY", "Art Play");
    lab = await createBranch(s.url, "LAB", "Lab");
  });
  afterAll(async () => {
    await s.close();
    await graph.close();
    await dir.remove();
  });

  it("imports a CSV for two branches, sends, and counts progress as statuses and a reply arrive", async () => {
    // Customer 003 opted out with a stop word; 009 is bound to LAB because LAB wrote to it;
    // Meta refused 012 a marketing template with 131049 (per-user marketing limit) an hour ago.
    await postWebhook(s.url, textWebhook({ from: "79160000003", text: "стоп" }));
    const labMsg = await api(s.url, lab.apiKey, "POST", "/api/v1/messages", { to: "+79160000009", template: { name: "visit_reminder", language: "ru", params: { first_name: "Зоя", day: "завтра" } } });
    expect(labMsg.status).toBe(202);
    const limited = await api(s.url, artplay.apiKey, "POST", "/api/v1/messages", { to: "+79160000012", template: { name: "spring_sale", language: "ru", params: ["Олег"] } });
    const limitedWamid = await waitFor(() => wamidFor(graph, "79160000012"), "the earlier offer");
    await postWebhook(s.url, statusWebhook(limitedWamid, "failed", "79160000012", [{ code: 131049, title: "This message was not delivered to maintain healthy ecosystem engagement.", message: "This message was not delivered to maintain healthy ecosystem engagement.", error_data: { details: "In order to maintain a healthy ecosystem engagement, the message failed to be delivered." } }]));
    await waitFor(async () => (await api(s.url, artplay.apiKey, "GET", `/api/v1/messages/${limited.body.id}`)).body.status === "failed", "the 131049 failure");
    await waitFor(async () => (await api(s.url, ADMIN, "GET", "/admin/api/customers/wa:79160000003")).body.customer?.marketingOptOut, "opt-out");

    const csv = [
      "\uFEFFphone;1;branch",
      "+7 916 000-00-01;Анна;ARTPLAY",
      "+79160000002;Борис;lab",
      "+79160000003;Вера;ARTPLAY",
      "8 (916) 000-00-01;Анна снова;ARTPLAY",
      "not-a-phone;Х;ARTPLAY",
      "+79160000005;Дима",
      "+79160000006;Ева;NOPE",
      "+79160000007;;ARTPLAY",
      "+79160000008;Жанна;",
      "+79160000009;Зоя;",
      '+79160000010;"Иванова; Инна";ARTPLAY',
      "+79160000011;Кира;ARTPLAY",
      "+79160000012;Олег;ARTPLAY",
    ].join("\r\n");
    const query = new URLSearchParams({ name: "Весна", template: "spring_sale", language: "ru", branchIds: `${artplay.id},${lab.id}` });
    const preview = await fetch(`${s.url}/admin/api/campaigns/preview?${query}`, { method: "POST", headers: { authorization: `Bearer ${ADMIN}`, "content-type": "text/csv" }, body: csv }).then((r) => r.json());
    expect(preview).toMatchObject({ total: 13, recipients: 5, messagingLimit: { ok: true, limit: 1000 } });
    expect((await api(s.url, ADMIN, "GET", "/admin/api/campaigns")).body.campaigns).toEqual([]); // the preview created nothing

    const res = await fetch(`${s.url}/admin/api/campaigns?${query}`, { method: "POST", headers: { authorization: `Bearer ${ADMIN}`, "content-type": "text/csv" }, body: csv });
    const created = await res.json();
    expect(res.status).toBe(201);
    expect(created.import.skipped).toEqual({ opted_out: 1, duplicate: 1, invalid_phone: 1, invalid_row: 1, invalid_branch: 1, invalid_params: 1, no_branch: 1, marketing_limit: 1 });
    expect(created.importErrors.map((e: any) => [e.line, e.code])).toEqual([
      [5, "duplicate"],
      [6, "invalid_phone"],
      [7, "invalid_row"],
      [8, "invalid_branch"],
      [9, "invalid_params"],
      [10, "no_branch"],
    ]);
    expect(created.importErrors[0].reason).toContain("line 2");
    const stream = openStream(s.url, created.id);

    const done = await waitFor(async () => {
      const c = (await api(s.url, ADMIN, "GET", `/admin/api/campaigns/${created.id}`)).body;
      return c.state === "done" && c;
    }, "campaign done");
    expect(done.progress).toMatchObject({ total: 13, pending: 0, queued: 0, sent: 5, failed: 0, skipped: 8 });
    for (const d of ["79160000001", "79160000002", "79160000009", "79160000010", "79160000011"]) expect(templatesTo(graph, d), d).toHaveLength(d === "79160000009" ? 2 : 1);
    for (const d of ["79160000003", "79160000007", "79160000008"]) expect(templatesTo(graph, d)).toHaveLength(0);
    expect(templatesTo(graph, "79160000012")).toHaveLength(1); // only the earlier refused one
    const toInna = graph.accepted.find((r) => r.body.to === "+79160000010")!.body;
    expect(toInna.template).toEqual({ name: "spring_sale", language: { code: "ru" }, components: [{ type: "body", parameters: [{ type: "text", text: "Иванова; Инна" }] }] });

    const recipients = (await api(s.url, ADMIN, "GET", `/admin/api/campaigns/${created.id}/recipients`)).body;
    expect(recipients.items.map((r: any) => [r.phone, r.branchId])).toEqual([
      ["+79160000001", artplay.id],
      ["+79160000002", lab.id],
      ["+79160000009", lab.id],
      ["+79160000010", artplay.id],
      ["+79160000011", artplay.id],
    ]);
    const wamid = (phone: string) => recipients.items.find((r: any) => r.phone === phone).wamid as string;

    for (const d of ["79160000001", "79160000002", "79160000009"]) await postWebhook(s.url, statusWebhook(wamid(`+${d}`), "delivered", d));
    await postWebhook(s.url, statusWebhook(wamid("+79160000001"), "read", "79160000001"));
    // Meta skipped `delivered` for 011: read implies it.
    await postWebhook(s.url, statusWebhook(wamid("+79160000011"), "read", "79160000011"));
    await postWebhook(s.url, statusWebhook(wamid("+79160000010"), "failed", "79160000010", [{ code: 131026, title: "Message undeliverable", message: "Message undeliverable", error_data: { details: "Message Undeliverable." } }]));
    await postWebhook(s.url, textWebhook({ from: "79160000001", text: "Хочу записаться!", context: { id: wamid("+79160000001") } }));

    const expected = { total: 13, pending: 0, queued: 0, sent: 4, delivered: 4, read: 2, replied: 1, failed: 1, skipped: 8 };
    await waitFor(async () => {
      const p = (await api(s.url, ADMIN, "GET", `/admin/api/campaigns/${created.id}`)).body.progress;
      return Object.entries(expected).every(([k, v]) => p[k] === v);
    }, "progress after statuses");
    // The live stream showed the same numbers, having started from fewer.
    await waitFor(() => stream.events.some((e) => e.progress.replied === 1 && e.progress.failed === 1), "the stream's last progress");
    await stream.close();
    expect(stream.events[0].progress.sent).toBeLessThan(5);
    expect(stream.events.at(-1).progress).toMatchObject(expected);
    // The reply went to the branch that sent the campaign message.
    const customer = (await api(s.url, ADMIN, "GET", "/admin/api/customers/wa:79160000001")).body;
    expect(customer.binding.current.branchId).toBe(artplay.id);
    const list = (await api(s.url, ADMIN, "GET", "/admin/api/campaigns")).body.campaigns;
    expect(list.map((c: any) => [c.id, c.state, c.progress.sent])).toEqual([[created.id, "done", 4]]);
  });

  it("takes recipients as JSON with named parameters for one branch", async () => {
    const r = await api(s.url, ADMIN, "POST", "/admin/api/campaigns", {
      name: "Напоминание",
      template: { name: "visit_reminder", language: "ru" },
      branchIds: [lab.id],
      recipients: [
        { phone: "+79160000021", params: { first_name: "Анна", day: "в пятницу" } },
        { phone: "+79160000022", params: { first_name: "Борис" } },
        { phone: "+79160000003", params: { first_name: "Вера", day: "в субботу" } }, // opted out of marketing only: utility goes
      ],
    });
    expect(r.status).toBe(201);
    expect(r.body.importErrors).toEqual([{ index: 1, code: "invalid_params", reason: expect.stringContaining("day") }]);
    await waitFor(async () => (await api(s.url, ADMIN, "GET", `/admin/api/campaigns/${r.body.id}`)).body.progress.sent === 2, "sent");
    const body = graph.accepted.find((x) => x.body.to === "+79160000021")!.body;
    expect(body.template.components).toEqual([{ type: "body", parameters: [{ type: "text", text: "Анна", parameter_name: "first_name" }, { type: "text", text: "в пятницу", parameter_name: "day" }] }]);
    expect(templatesTo(graph, "79160000003")).toHaveLength(1);
  });

  it("waits for its start time and through quiet hours; pause, resume and cancel", async () => {
    const before = graph.accepted.length;
    const later = Date.now() + 3_600_000;
    const scheduled = await api(s.url, ADMIN, "POST", "/admin/api/campaigns", { name: "Завтра", template: { name: "spring_sale", language: "ru" }, branchIds: [artplay.id], recipients: [{ phone: "+79160000031", params: ["Юля"] }, { phone: "+79160000032", params: ["Яна"] }], schedule: { startAt: new Date(later).toISOString() } });
    expect(scheduled.status).toBe(201);
    expect(scheduled.body).toMatchObject({ state: "scheduled", nextRunAt: later, schedule: { startAt: later, quietHours: null } });

    // Quiet hours around the current UTC time.
    const hhmm = (t: number) => new Date(t).toISOString().slice(11, 16);
    const quiet = { from: hhmm(Date.now() - 3_600_000), to: hhmm(Date.now() + 3_600_000), timezone: "UTC" };
    const hushed = await api(s.url, ADMIN, "POST", "/admin/api/campaigns", { name: "Ночь", template: { name: "spring_sale", language: "ru" }, branchIds: [artplay.id], recipients: [{ phone: "+79160000033", params: ["Ира"] }], schedule: { quietHours: quiet } });
    expect(hushed.status).toBe(201);
    expect(hushed.body.state).toBe("quiet_hours");
    expect(hushed.body.nextRunAt).toBeGreaterThan(Date.now());

    await new Promise((r) => setTimeout(r, 1500));
    expect(graph.accepted.length).toBe(before);

    const paused = await api(s.url, ADMIN, "POST", `/admin/api/campaigns/${scheduled.body.id}/pause`);
    expect(paused.body).toMatchObject({ state: "paused", pausedAt: expect.any(Number) });
    expect((await api(s.url, ADMIN, "POST", `/admin/api/campaigns/${scheduled.body.id}/pause`)).status).toBe(409);
    const resumed = await api(s.url, ADMIN, "POST", `/admin/api/campaigns/${scheduled.body.id}/resume`);
    expect(resumed.body).toMatchObject({ state: "scheduled", pausedAt: null });
    for (const c of [scheduled.body, hushed.body]) {
      const cancelled = await api(s.url, ADMIN, "POST", `/admin/api/campaigns/${c.id}/cancel`);
      expect(cancelled.body.state).toBe("cancelled");
      expect(cancelled.body.progress).toMatchObject({ pending: 0, sent: 0, skippedByReason: { cancelled: c.progress.total } });
    }
    expect((await api(s.url, ADMIN, "POST", `/admin/api/campaigns/${scheduled.body.id}/resume`)).body.error.code).toBe("invalid_state");
    await new Promise((r) => setTimeout(r, 500));
    expect(graph.accepted.length).toBe(before);
  });

  it.each([
    [{ name: "x", template: { name: "spring_sale", language: "ru" }, branchIds: ["br_nope"], recipients: [{ phone: "+79160000041" }] }, 422, "unknown_branch"],
    [{ name: "x", template: { name: "nope", language: "ru" }, branchIds: ["ARTPLAY"], recipients: [{ phone: "+79160000041" }] }, 422, "template_not_found"],
    [{ name: "x", template: { name: "spring_sale", language: "ru" }, branchIds: ["ARTPLAY"], recipients: [{ phone: "bad" }] }, 422, "no_recipients"],
    [{ name: "x", template: { name: "spring_sale", language: "ru" }, branchIds: ["ARTPLAY"] }, 400, "invalid_request"],
    [{ name: "x", template: { name: "spring_sale", language: "ru" }, branchIds: ["ARTPLAY"], recipients: [], csv: "phone" }, 400, "invalid_request"],
    [{ name: "x", template: { name: "spring_sale", language: "ru" }, branchIds: ["ARTPLAY"], recipients: [{ phone: "+79160000041" }], schedule: { quietHours: { from: "21:00", to: "09:00", timezone: "Moon/Base" } } }, 400, "invalid_request"],
    [{ name: "x", template: { name: "spring_sale", language: "ru" }, branchIds: ["ARTPLAY"], recipients: [{ phone: "+79160000041" }], schedule: { startAt: "next tuesday" } }, 400, "invalid_request"],
  ])("refuses %j with %i %s", async (body, status, code) => {
    const fixed = JSON.parse(JSON.stringify(body).replaceAll('"ARTPLAY"', JSON.stringify(artplay.id)));
    const r = await api(s.url, ADMIN, "POST", "/admin/api/campaigns", fixed);
    expect(r.status).toBe(status);
    expect(r.body.error.code).toBe(code);
  });

  it("needs the admin token", async () => {
    expect((await api(s.url, "wrong-token-wrong-token", "GET", "/admin/api/campaigns")).status).toBe(401);
    expect((await api(s.url, artplay.apiKey, "POST", "/admin/api/campaigns", {})).status).toBe(401);
  });
});

describe("campaigns: the messaging limit", () => {
  let graph: Graph;
  let s: RunningServer;
  let dir: { dir: string; remove(): Promise<void> };
  let branch: { id: string; apiKey: string };

  beforeAll(async () => {
    graph = await fakeGraph();
    dir = await tempDir();
    s = await boot(graph, dir.dir, { WHATSAPP_MESSAGING_LIMIT: "5" });
    branch = await createBranch(s.url, "ARTPLAY", "Art Play");
  });
  afterAll(async () => {
    await s.close();
    await graph.close();
    await dir.remove();
  });

  const campaign = (phones: string[]) => ({ name: "Лимит", template: { name: "spring_sale", language: "ru" }, branchIds: [branch.id], recipients: phones.map((phone) => ({ phone, params: ["Гость"] })) });

  it("refuses a campaign over the number's 24-hour limit up front, with the numbers", async () => {
    // Two customers were reached today with templates outside their window; one wrote to us first (window open: free, not counted).
    for (const to of ["+79160000051", "+79160000052"]) expect((await api(s.url, branch.apiKey, "POST", "/api/v1/messages", { to, template: { name: "spring_sale", language: "ru", params: ["Гость"] } })).status).toBe(202);
    await postWebhook(s.url, textWebhook({ from: "79160000053", text: "Здравствуйте" }));
    await waitFor(async () => (await api(s.url, branch.apiKey, "GET", "/api/v1/window?to=%2B79160000053")).body.open, "window");
    expect((await api(s.url, branch.apiKey, "POST", "/api/v1/messages", { to: "+79160000053", template: { name: "spring_sale", language: "ru", params: ["Гость"] } })).status).toBe(202);

    await waitFor(() => ["79160000051", "79160000052", "79160000053"].every((d) => templatesTo(graph, d).length === 1), "the three templates sent");
    await new Promise((res) => setTimeout(res, 300));
    const before = graph.accepted.length;
    const r = await api(s.url, ADMIN, "POST", "/admin/api/campaigns", campaign(["+79160000061", "+79160000062", "+79160000063", "+79160000064"]));
    expect(r.status).toBe(422);
    expect(r.body.error.code).toBe("messaging_limit");
    expect(r.body.error.details).toEqual({ ok: false, limit: 5, usedLast24h: 2, reservedByCampaigns: 0, available: 3, recipients: 4 });
    expect(r.body.error.message).toMatch(/4 new customers.*limit is 5.*2 were reached.*3 are left/);
    const preview = await api(s.url, ADMIN, "POST", "/admin/api/campaigns/preview", campaign(["+79160000061", "+79160000062", "+79160000063", "+79160000064"]));
    expect(preview.body.messagingLimit).toEqual(r.body.error.details);
    expect((await api(s.url, ADMIN, "GET", "/admin/api/campaigns")).body.campaigns).toEqual([]);
    await new Promise((res) => setTimeout(res, 300));
    expect(graph.accepted.length).toBe(before);

    // Customers reached today cost nothing again: 2 old + 2 new fits in 3.
    const fits = await api(s.url, ADMIN, "POST", "/admin/api/campaigns", campaign(["+79160000051", "+79160000052", "+79160000061", "+79160000062"]));
    expect(fits.status).toBe(201);
    expect(fits.body.import.messagingLimit).toMatchObject({ ok: true, recipients: 2, available: 3 });
    // Now 4 of 5 are used (or waiting in the first campaign): two more new ones do not fit.
    const over = await api(s.url, ADMIN, "POST", "/admin/api/campaigns", campaign(["+79160000071", "+79160000072"]));
    expect(over.status).toBe(422);
    expect(over.body.error.details).toMatchObject({ limit: 5, available: 1, recipients: 2 });
    expect(over.body.error.details.usedLast24h + over.body.error.details.reservedByCampaigns).toBe(4);
  });
});

describe("campaigns: batches, pause and a restart in the middle", () => {
  let graph: Graph;
  let s: RunningServer;
  let dir: { dir: string; remove(): Promise<void> };
  let branch: { id: string; apiKey: string };
  // 2 messages per second: batches of 10, so the campaign is still running when we act.
  const env = { WHATSAPP_MPS: "2" };

  beforeAll(async () => {
    graph = await fakeGraph();
    dir = await tempDir();
    s = await boot(graph, dir.dir, env);
    branch = await createBranch(s.url, "ARTPLAY", "Art Play");
  });
  afterAll(async () => {
    await s.close();
    await graph.close();
    await dir.remove();
  });

  const phones = (from: number, n: number) => Array.from({ length: n }, (_, i) => `+7916100${String(from + i).padStart(4, "0")}`);
  const create = async (list: string[]) => {
    const r = await api(s.url, ADMIN, "POST", "/admin/api/campaigns", { name: "Пачки", template: { name: "spring_sale", language: "ru" }, branchIds: [branch.id], recipients: list.map((phone) => ({ phone, params: ["Гость"] })) });
    expect(r.status).toBe(201);
    return r.body.id as string;
  };
  const progress = async (id: string) => (await api(s.url, ADMIN, "GET", `/admin/api/campaigns/${id}`)).body;
  const sentTo = (list: string[]) => list.map((p) => graph.accepted.filter((r) => r.body.to === p).length);

  it("feeds the outbox in batches and stops feeding while paused", { timeout: 60_000 }, async () => {
    const list = phones(0, 20);
    const id = await create(list);
    let maxQueued = 0;
    let sawPending = false;
    await waitFor(async () => {
      const [sender, c] = await Promise.all([api(s.url, ADMIN, "GET", "/admin/api/sender"), progress(id)]);
      maxQueued = Math.max(maxQueued, sender.body.queued.campaign);
      if (c.progress.pending > 0) sawPending = true;
      return c.progress.sent >= 3;
    }, "first sends", 20_000);
    expect(sawPending).toBe(true);
    expect(maxQueued).toBeLessThanOrEqual(10);

    const paused = await api(s.url, ADMIN, "POST", `/admin/api/campaigns/${id}/pause`);
    expect(paused.body.state).toBe("paused");
    // What was already in the outbox may still go; nothing more is fed.
    await waitFor(async () => (await progress(id)).progress.queued === 0, "the outbox drained", 20_000);
    const atPause = await progress(id);
    expect(atPause.progress.pending).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 1500));
    expect((await progress(id)).progress).toMatchObject({ pending: atPause.progress.pending, sent: atPause.progress.sent });

    expect((await api(s.url, ADMIN, "POST", `/admin/api/campaigns/${id}/resume`)).body.state).toBe("running");
    await waitFor(async () => (await progress(id)).state === "done", "done", 30_000);
    expect(sentTo(list)).toEqual(list.map(() => 1));
  });

  it("continues after a restart in the middle without sending anyone twice", { timeout: 60_000 }, async () => {
    const list = phones(100, 16);
    const id = await create(list);
    await waitFor(async () => (await progress(id)).progress.sent >= 3, "first sends", 20_000);
    await s.close();
    const sentBefore = sentTo(list).reduce((a, b) => a + b, 0);
    expect(sentBefore).toBeLessThan(list.length);

    s = await boot(graph, dir.dir, env);
    const after = await waitFor(async () => {
      const c = await progress(id);
      return c.state === "done" && c;
    }, "done after the restart", 30_000);
    expect(after.progress).toMatchObject({ total: 16, sent: 16, pending: 0, queued: 0, failed: 0 });
    expect(sentTo(list)).toEqual(list.map(() => 1));
  });
});
