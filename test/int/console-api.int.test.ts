import nock from "nock";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, postWebhook, startReceiver, startTestServer, waitFor } from "../builders/harness.js";
import { NUMBER, envelope, textWebhook } from "../builders/meta-payloads.js";

type Server = Awaited<ReturnType<typeof startTestServer>>;
type Receiver = Awaited<ReturnType<typeof startReceiver>>;

const DAY_MS = 86_400_000;
const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** A statuses webhook value as the Cloud API doc §2.7 shows it. */
function statusWebhook(wamid: string, status: string, recipient: string, pricing?: Record<string, unknown>) {
  return envelope({
    messaging_product: "whatsapp",
    metadata: { display_phone_number: NUMBER.display, phone_number_id: NUMBER.phoneNumberId },
    statuses: [{ id: wamid, status, timestamp: String(Math.floor(Date.now() / 1000)), recipient_id: recipient, ...(pricing ? { pricing } : {}) }],
  });
}

/** RFC 4180 reader for the test's own check (quoted fields, doubled quotes, CRLF). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') (field += '"'), i++;
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") row.push(field), (field = "");
    else if (c === "\r" && text[i + 1] === "\n") {
      row.push(field);
      rows.push(row);
      (row = []), (field = ""), i++;
    } else field += c;
  }
  return rows;
}

describe("console admin API: branch health, routing tester, analytics", () => {
  let s: Server;
  let receiver: Receiver;
  const sent: any[] = [];
  const anna = "79161230001"; // writes a keyword → Art Play, gets a reply, answers it
  const boris = "79161230002"; // types the Lab's code → Lab (a webhook CRM that is down at first)
  const vera = "79161230003"; // says hello: no rule decides → menu
  let art: { id: string; apiKey: string };
  let lab: { id: string; apiKey: string };
  let amo: { id: string };
  let reply: { id: string; wamid: string };
  let annaInboundAt: number;
  const admin = (method: string, path: string, body?: unknown) => api(s.url, s.adminToken, method, path, body);
  const range = () => `from=${day(Date.now() - DAY_MS)}&to=${day(Date.now() + DAY_MS)}`;

  beforeAll(async () => {
    nock.disableNetConnect();
    nock.enableNetConnect(/127\.0\.0\.1|localhost/);
    nock("http://graph.test")
      .persist()
      .post(`/v25.0/${NUMBER.phoneNumberId}/messages`)
      .reply(200, (_uri, body: any) => {
        sent.push(body);
        return { messaging_product: "whatsapp", contacts: [{ input: body.to, wa_id: String(body.to).replace("+", "") }], messages: [{ id: `wamid.CONSOLE${sent.length}` }] };
      });
    nock("http://graph.test").persist().get(/message_templates/).reply(200, { data: [], paging: {} });
    receiver = await startReceiver([500, 500, 200]);
    s = await startTestServer({ DELIVERY_MAX_ATTEMPTS: "2", WHATSAPP_WABA_ID: NUMBER.waba });

    art = (await admin("POST", "/admin/api/branches", { name: "Art Play", code: "ARTPLAY", crm: "inbox", isHq: true, keywords: ["фотосессия"], city: "Moscow" })).body;
    lab = (await admin("POST", "/admin/api/branches", { name: "Persona Lab", code: "LAB", crm: "webhook", webhookUrl: receiver.url, city: "Kazan" })).body;
    amo = (await admin("POST", "/admin/api/branches", { name: "Amo Salon", code: "AMO", crm: "amocrm" })).body;
    await admin("PATCH", `/admin/api/branches/${amo.id}`, { adSourceIds: ["120208"] });
    // An amoCRM account that installed the integration and then lost its token (as the OAuth
    // manager records it); the health view must show its state and error, never its tokens.
    await s.store.transact(async (tx) => {
      await tx.put("crmConnections", {
        id: "amocrm:30123456",
        kind: "amocrm",
        account: "30123456",
        domain: "amosalon.amocrm.ru",
        branchId: amo.id,
        state: "connected",
        tokensSealed: "sealed-secret-tokens",
        refs: { amojoId: "a-1" },
        lastError: { code: "token_revoked", message: "refresh token was revoked", at: Date.now() },
        createdAt: Date.now(),
        updatedAt: Date.now(),
      });
    });

    annaInboundAt = (Math.floor(Date.now() / 1000) - 90) * 1000;
    await postWebhook(s.url, textWebhook({ from: anna, text: "Хочу фотосессию? Нет: фотосессия в субботу", timestamp: annaInboundAt / 1000 }));
    await postWebhook(s.url, textWebhook({ from: boris, text: "Hello LAB" }));
    await postWebhook(s.url, textWebhook({ from: vera, text: "hello" }));
    await waitFor(async () => (await api(s.url, art.apiKey, "GET", "/inbox/api/dialogs")).body.dialogs?.length === 1, "Anna in Art Play's inbox");

    const r = await fetch(`${s.url}/api/v1/messages`, { method: "POST", headers: { authorization: `Bearer ${art.apiKey}`, "content-type": "application/json" }, body: JSON.stringify({ to: `+${anna}`, text: "Ждём вас в субботу в 11:00" }) });
    expect(r.status).toBe(202);
    const id = ((await r.json()) as { id: string }).id;
    reply = await waitFor(async () => {
      const m = (await api(s.url, art.apiKey, "GET", `/api/v1/messages/${id}`)).body;
      return m.wamid && { id, wamid: m.wamid as string };
    }, "the reply sent");
    await postWebhook(s.url, statusWebhook(reply.wamid, "delivered", anna, { billable: false, pricing_model: "PMP", type: "free_customer_service", category: "service" }));
    await postWebhook(s.url, statusWebhook(reply.wamid, "read", anna));
    // Meta's timestamps have whole seconds: Anna answers a few seconds after the reply was accepted.
    const replyAt = (await s.store.read((tx) => tx.get("messages", reply.id)))!.sentAt;
    await postWebhook(s.url, textWebhook({ from: anna, text: "Спасибо!", context: { id: reply.wamid }, timestamp: Math.ceil(replyAt / 1000) + 5 }));
    await waitFor(async () => (await api(s.url, art.apiKey, "GET", `/api/v1/messages/${id}`)).body.status === "read", "read status");
    await waitFor(async () => (await admin("GET", "/admin/api/dead-letters")).body.deadLetters.length === 1, "Lab's delivery dead-lettered", 15_000);
    await waitFor(async () => (await s.store.read((tx) => tx.list("messages"))).filter((m) => m.direction === "in" && m.branchId === art.id).length === 2, "Anna's thanks routed");
  });

  afterAll(async () => {
    await s?.close();
    await receiver?.close();
    nock.cleanAll();
    nock.enableNetConnect();
  });

  it("serves the console page without a token, and its API only with the admin token", async () => {
    const page = await fetch(`${s.url}/admin`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toContain("text/html");
    expect(await page.text()).toContain('src="/assets/console.js"');
    for (const [method, path] of [
      ["GET", "/admin/api/health/branches"],
      ["POST", "/admin/api/routing/test"],
      ["GET", "/admin/api/analytics"],
    ] as const) {
      expect((await api(s.url, "wrong-token", method, path, method === "POST" ? { from: anna } : undefined)).status).toBe(401);
      expect((await fetch(`${s.url}${path}`, { method })).status).toBe(401);
      // A branch key is not an admin token.
      expect((await api(s.url, art.apiKey, method, path, method === "POST" ? { from: anna } : undefined)).status).toBe(401);
    }
  });

  describe("GET /admin/api/health/branches", () => {
    it("shows activity, delivery errors, dead letters and CRM state per branch", async () => {
      const r = await admin("GET", "/admin/api/health/branches");
      expect(r.status).toBe(200);
      expect(r.body.window).toBe("24h");
      const by = (id: string) => r.body.branches.find((b: any) => b.id === id);
      const stored = await s.store.read((tx) => tx.list("messages"));
      const newestIn = (branchId: string) => Math.max(...stored.filter((m) => m.direction === "in" && m.branchId === branchId).map((m) => m.createdAt));

      expect(by(art.id)).toMatchObject({ code: "ARTPLAY", crm: "inbox", enabled: true, isHq: true, deadLetters: 0, deliveries: null, crmConnections: [] });
      expect(by(art.id).lastInboundAt).toBe(newestIn(art.id));
      expect(by(art.id).lastDeliveredAt).toBe(newestIn(art.id)); // the inbox reads the store itself
      expect(by(art.id).lastOutboundAt).toBe(stored.find((m) => m.id === reply.id)!.createdAt);

      expect(by(lab.id)).toMatchObject({ code: "LAB", crm: "webhook", deadLetters: 1, lastDeliveredAt: null, lastOutboundAt: null });
      expect(by(lab.id).deliveries).toEqual({ total: 1, failed: 1, retrying: 0, errorRate: 1 });

      expect(by(amo.id)).toMatchObject({ crm: "amocrm", lastInboundAt: null, deadLetters: 0 });
      expect(by(amo.id).crmConnections).toEqual([
        { kind: "amocrm", domain: "amosalon.amocrm.ru", state: "connected", lastError: { code: "token_revoked", message: "refresh token was revoked", at: expect.any(Number) }, updatedAt: expect.any(Number) },
      ]);
      const raw = JSON.stringify(r.body);
      expect(raw).not.toContain("sealed-secret-tokens");
      expect(raw).not.toContain("keyHash");
      expect(raw).not.toContain(art.apiKey);
    });

    it("counts the delivery as done once the dead letter is retried and the CRM accepts it", async () => {
      const dead = (await admin("GET", "/admin/api/dead-letters")).body.deadLetters[0];
      expect((await admin("POST", `/admin/api/dead-letters/${dead.id}/retry`)).status).toBe(202);
      await waitFor(() => receiver.received.length === 1, "Lab's CRM got the message");
      const lab7d = await waitFor(async () => {
        const b = (await admin("GET", "/admin/api/health/branches?window=7d")).body.branches.find((x: any) => x.id === lab.id);
        return b.lastDeliveredAt !== null && b;
      }, "the delivery recorded");
      expect(lab7d).toMatchObject({ deadLetters: 0, deliveries: { total: 1, failed: 0, retrying: 0, errorRate: 0 } });
      expect(lab7d.lastDeliveredAt).toBe(lab7d.lastInboundAt);
    });

    it.each(["1y", "", "24H"])("refuses window=%j with 400 naming the parameter", async (w) => {
      const r = await admin("GET", `/admin/api/health/branches?window=${w}`);
      expect(r.status).toBe(400);
      expect(r.body.error.field).toBe("window");
    });
  });

  describe("POST /admin/api/routing/test", () => {
    const test = (body: unknown) => admin("POST", "/admin/api/routing/test", body);

    it("keeps a bound customer with the branch that has the open dialog, and says a code pointed elsewhere", async () => {
      const r = await test({ from: `+${anna}`, text: "Can I come to LAB instead?" });
      expect(r.status).toBe(200);
      expect(r.body.decision).toMatchObject({ kind: "route", rule: "open_binding", branchId: art.id, branchName: "Art Play" });
      expect(r.body.decision.describe.en).toContain("Routed to Art Play");
      expect(r.body.decision.describe.ru).toContain("Направлено в «Art Play»");
      expect(r.body.decision.notes).toEqual([expect.objectContaining({ type: "overridden", branchId: lab.id })]);
      expect(r.body.customer.known).toBe(true);
      expect(r.body.binding.branchId).toBe(art.id);
    });

    it.each([
      [{ text: "Hi, LAB here?" }, "route", "explicit_code", "lab"],
      [{ text: "нужна фотосессия" }, "route", "keyword", "art"],
      [{ referralSourceId: "120208" }, "route", "ad_referral", "amo"],
      [{ text: "hello" }, "ask", "menu", null],
    ] as const)("routes a new customer's %j by %s/%s", async (msg, kind, rule, branch) => {
      const r = await test({ from: "+7 916 555-00-11", ...msg });
      expect(r.status).toBe(200);
      const ids = { art: art.id, lab: lab.id, amo: amo.id } as Record<string, string>;
      expect(r.body.decision).toMatchObject({ kind, rule, branchId: branch ? ids[branch] : null });
      expect(r.body.customer).toEqual({ id: null, known: false });
      expect(r.body.binding).toBeNull();
      if (kind === "ask") expect(r.body.decision.menu.sections.flatMap((x: any) => x.rows.map((row: any) => row.title))).toEqual(expect.arrayContaining(["Art Play", "Persona Lab", "Amo Salon"]));
    });

    it("follows the reply context and a menu choice", async () => {
      const ctx = await test({ from: "79165550012", contextWamid: reply.wamid });
      expect(ctx.body.decision).toMatchObject({ rule: "reply_context", branchId: art.id });
      const menu = await test({ from: "79165550013", interactiveReplyId: `branch:${lab.id}` });
      expect(menu.body.decision).toMatchObject({ rule: "menu_reply", branchId: lab.id });
    });

    it("changes nothing: no customer, binding, message or send", async () => {
      const snapshot = () => s.store.read(async (tx) => JSON.stringify([await tx.list("customers"), await tx.list("bindings"), (await tx.list("messages")).length]));
      const before = await snapshot();
      const sentBefore = sent.length;
      await test({ from: "79165550099", text: "hello" }); // a menu would be sent for real
      await test({ from: `+${anna}`, text: "сменить филиал" }); // a change request would unbind for real
      await new Promise((r) => setTimeout(r, 100));
      expect(await snapshot()).toBe(before);
      expect(sent.length).toBe(sentBefore);
    });

    it.each([
      [{}, "from"],
      [{ from: "" }, "from"],
      [{ from: "not a phone" }, "from"],
      [{ from: "+7916", text: "x" }, "from"],
      [{ from: anna, text: 5 }, "text"],
      [{ from: anna, colour: "red" }, "colour"],
    ])("refuses %j with 400 naming %s", async (body, field) => {
      const r = await test(body);
      expect(r.status).toBe(400);
      expect(r.body.error.field).toBe(field);
    });
  });

  describe("GET /admin/api/analytics", () => {
    const sum = (rows: any[], branchId: string, col: string) => rows.filter((r) => r.branch_id === branchId).reduce((n, r) => n + (r[col] ?? 0), 0);

    it("has one row per branch per day, with the scenario's counts", async () => {
      const r = await admin("GET", `/admin/api/analytics?${range()}`);
      expect(r.status).toBe(200);
      expect(r.body.rows).toHaveLength(3 * 3);
      expect(new Set(r.body.rows.map((x: any) => `${x.branch_id}|${x.date}`)).size).toBe(9);
      const rows = r.body.rows;
      // Art Play: Anna wrote twice, got one reply (delivered free, read) and answered it.
      expect(sum(rows, art.id, "inbound")).toBe(2);
      expect(sum(rows, art.id, "outbound")).toBe(1);
      expect(sum(rows, art.id, "delivered")).toBe(1);
      expect(sum(rows, art.id, "read")).toBe(1);
      expect(sum(rows, art.id, "failed")).toBe(0);
      expect(sum(rows, art.id, "replied")).toBe(1);
      expect(sum(rows, art.id, "first_responses")).toBe(1);
      expect(sum(rows, art.id, "pricing_free")).toBe(1);
      expect(sum(rows, art.id, "pricing_service")).toBe(0);
      // Lab got Boris's message; Vera's is still waiting for her menu choice and counts nowhere.
      expect(sum(rows, lab.id, "inbound")).toBe(1);
      expect(sum(rows, amo.id, "inbound")).toBe(0);
      expect(r.body.totals.inbound).toBe(3);

      // First response = the reply's accept time − Anna's WhatsApp timestamp, on the day she wrote.
      const out = await s.store.read((tx) => tx.get("messages", reply.id));
      const expected = Math.round((out!.sentAt - annaInboundAt) / 100) / 10;
      const dayRow = rows.find((x: any) => x.branch_id === art.id && x.date === day(annaInboundAt));
      expect(dayRow.first_response_p50_seconds).toBe(expected);
      expect(r.body.totals.first_response_p50_seconds).toBe(expected);
      // No flow records NPS answers yet: zero counts and no score.
      expect(dayRow).toMatchObject({ nps_promoters: 0, nps_passives: 0, nps_detractors: 0, nps_score: null, branch_code: "ARTPLAY", branch_name: "Art Play" });
      // The per-day series the console charts add up to the totals.
      expect(r.body.byDay.map((d: any) => d.date)).toEqual([day(Date.now() - DAY_MS), day(Date.now()), day(Date.now() + DAY_MS)]);
      expect(r.body.byDay.reduce((n: number, d: any) => n + d.inbound, 0)).toBe(3);
    });

    it("filters by branch", async () => {
      const r = await admin("GET", `/admin/api/analytics?${range()}&branch=${lab.id}`);
      expect(r.status).toBe(200);
      expect(r.body.rows.map((x: any) => x.branch_id)).toEqual([lab.id, lab.id, lab.id]);
      expect(r.body.totals.inbound).toBe(1);
    });

    it("exports the same rows as CSV for Excel and Power BI", async () => {
      const [json, res] = await Promise.all([admin("GET", `/admin/api/analytics?${range()}`), fetch(`${s.url}/admin/api/analytics?${range()}&format=csv`, { headers: { authorization: `Bearer ${s.adminToken}` } })]);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("text/csv; charset=utf-8");
      expect(res.headers.get("content-disposition")).toMatch(/^attachment; filename="branchline-analytics-\d{4}-\d{2}-\d{2}-\d{4}-\d{2}-\d{2}\.csv"$/);
      const bytes = new Uint8Array(await res.arrayBuffer());
      expect([...bytes.slice(0, 3)]).toEqual([0xef, 0xbb, 0xbf]); // UTF-8 BOM
      const text = new TextDecoder("utf-8", { ignoreBOM: true }).decode(bytes).slice(1);
      expect(text.endsWith("\r\n")).toBe(true);
      const [header, ...lines] = parseCsv(text);
      expect(header).toEqual(json.body.columns);
      expect(lines).toHaveLength(json.body.rows.length);
      const records = lines.map((l) => Object.fromEntries(header!.map((h, i) => [h, l[i]])));
      for (const row of json.body.rows) {
        const rec = records.find((x) => x.branch_id === row.branch_id && x.date === row.date)!;
        for (const col of header!) expect(rec[col]).toBe(row[col] === null ? "" : String(row[col]));
      }
    });

    it.each([
      ["from=2025-02-30&to=2025-03-01", "from"],
      ["from=2025-03-01&to=01.03.2025", "to"],
      ["from=2025-03-02&to=2025-03-01", "from"],
      ["from=2024-01-01&to=2025-01-01", "to"], // 367 days
      ["from=2025-01-01&to=2025-01-02&format=xml", "format"],
      ["from=2025-01-01&to=2025-01-02&branch=br_nope", "branch"],
      ["from=2025-01-01&from=2025-01-02&to=2025-01-03", "from"],
    ])("refuses %s with 400 naming %s", async (query, field) => {
      const r = await admin("GET", `/admin/api/analytics?${query}`);
      expect(r.status).toBe(400);
      expect(r.body.error.field).toBe(field);
      expect(r.body.error.message).toContain(field);
    });

    it("accepts a full leap year (366 days)", async () => {
      const r = await admin("GET", `/admin/api/analytics?from=2024-01-01&to=2024-12-31&branch=${art.id}`);
      expect(r.status).toBe(200);
      expect(r.body.rows).toHaveLength(366);
    });
  });
});
