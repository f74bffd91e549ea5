import nock from "nock";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, postWebhook, startTestServer, waitFor } from "../builders/harness.js";
import { envelope, messagesValue, NUMBER, textMessage, textWebhook } from "../builders/meta-payloads.js";

type Server = Awaited<ReturnType<typeof startTestServer>>;

/** Meta's Graph API, faked at the HTTP boundary: records every send and answers like the docs. */
const reads: string[] = [];

function fakeGraph() {
  const sent: any[] = [];
  nock("http://graph.test")
    .persist()
    .post(`/v25.0/${NUMBER.phoneNumberId}/messages`)
    .matchHeader("authorization", "Bearer test-token")
    .reply(200, (_uri, body) => {
      if ((body as { status?: string }).status === "read") {
        reads.push((body as { message_id: string }).message_id);
        return { success: true };
      }
      sent.push(body);
      const to = (body as { to: string }).to.replace("+", "");
      return { messaging_product: "whatsapp", contacts: [{ input: `+${to}`, wa_id: to }], messages: [{ id: `wamid.OUT${sent.length}` }] };
    });
  return sent;
}

describe("routing ladder through the inbox connector", () => {
  let s: Server;
  let graph: any[];
  let hq: { id: string; apiKey: string };
  let lab: { id: string; apiKey: string };
  const phone = "79165550001";

  beforeAll(async () => {
    nock.disableNetConnect();
    nock.enableNetConnect(/127\.0\.0\.1|localhost/);
    graph = fakeGraph();
    s = await startTestServer();
    hq = (await api(s.url, s.adminToken, "POST", "/admin/api/branches", { name: "Persona HQ", code: "HQ", crm: "inbox", isHq: true })).body;
    lab = (await api(s.url, s.adminToken, "POST", "/admin/api/branches", { name: "Persona Lab", code: "LAB", crm: "inbox", keywords: ["фотосессия"] })).body;
  });
  afterAll(async () => {
    await s.close();
    nock.cleanAll();
    nock.enableNetConnect();
  });

  const inbox = (key: string, method: string, path: string, body?: unknown) => api(s.url, key, method, `/inbox/api${path}`, body);
  const dialogsOf = async (key: string) => (await inbox(key, "GET", "/dialogs")).body.dialogs as any[];

  it("asks an unknown customer to choose, then routes the choice and what came before it", async () => {
    await postWebhook(s.url, textWebhook({ from: phone, text: "Здравствуйте!", name: "Anna" }));
    const menu = await waitFor(() => graph.find((b) => b.type === "interactive"), "the branch menu sent to Graph");
    expect(menu).toMatchObject({ messaging_product: "whatsapp", recipient_type: "individual", to: `+${phone}`, interactive: { type: "list" } });
    const rows = menu.interactive.action.sections.flatMap((sec: any) => sec.rows);
    expect(rows.map((r: any) => r.title)).toEqual(["Persona HQ", "Persona Lab"]);
    expect(await dialogsOf(lab.apiKey)).toHaveLength(0);

    const labRow = rows.find((r: any) => r.title === "Persona Lab");
    const reply = {
      from: phone, id: "wamid.CHOICE1", timestamp: String(Math.floor(Date.now() / 1000)), type: "interactive",
      context: { from: NUMBER.display, id: "wamid.OUT1" },
      interactive: { type: "list_reply", list_reply: { id: labRow.id, title: labRow.title } },
    };
    await postWebhook(s.url, envelope(messagesValue([reply as any])));
    const [dialog] = await waitFor(async () => {
      const d = await dialogsOf(lab.apiKey);
      return d.length > 0 && d;
    }, "the dialog in Persona Lab's inbox");
    expect(dialog.routing).toEqual({ rule: "menu_reply", reason: "chose Persona Lab in the menu" });
    const thread = (await inbox(lab.apiKey, "GET", `/dialogs/${dialog.id}/messages`)).body.messages;
    expect(thread.map((m: any) => m.text)).toEqual(["Здравствуйте!", "Persona Lab"]);
    expect(await dialogsOf(hq.apiKey)).toHaveLength(0);
  });

  it("never shows one branch's dialog to another", async () => {
    const [dialog] = await dialogsOf(lab.apiKey);
    expect((await inbox(hq.apiKey, "GET", `/dialogs/${dialog.id}/messages`)).status).toBe(404);
    expect((await inbox(hq.apiKey, "POST", `/dialogs/${dialog.id}/messages`, { text: "hijack" })).status).toBe(404);
    expect((await inbox(hq.apiKey, "POST", `/dialogs/${dialog.id}/read`)).status).toBe(404);
    expect((await inbox("bl_not-a-key", "GET", "/dialogs")).status).toBe(401);
  });

  it("sends a branch reply through the number and applies statuses in any order", async () => {
    const [dialog] = await dialogsOf(lab.apiKey);
    // Opening the dialog marks the customer's messages read on their phone.
    expect((await inbox(lab.apiKey, "POST", `/dialogs/${dialog.id}/read`)).status).toBe(204);
    await waitFor(() => reads.includes("wamid.CHOICE1"), "the read receipt at Graph");
    expect((await dialogsOf(lab.apiKey))[0].unread).toBe(0);
    const bad = await inbox(lab.apiKey, "POST", `/dialogs/${dialog.id}/messages`, { text: "   " });
    expect(bad.status).toBe(400);
    const queued = await inbox(lab.apiKey, "POST", `/dialogs/${dialog.id}/messages`, { text: "Добрый день, Анна!" });
    expect(queued.status).toBe(202);
    const sent = await waitFor(() => graph.find((b) => b.type === "text"), "the reply at Graph");
    expect(sent).toMatchObject({ to: `+${phone}`, text: { body: "Добрый день, Анна!" }, biz_opaque_callback_data: queued.body.id });
    const wamid = `wamid.OUT${graph.indexOf(sent) + 1}`;
    const status = (st: string) => envelope({ messaging_product: "whatsapp", metadata: { display_phone_number: NUMBER.display, phone_number_id: NUMBER.phoneNumberId }, statuses: [{ id: wamid, status: st, timestamp: String(Math.floor(Date.now() / 1000)), recipient_id: phone }] });
    await postWebhook(s.url, status("read"));
    await postWebhook(s.url, status("delivered"));
    await postWebhook(s.url, status("sent"));
    const mine = await waitFor(async () => {
      const m = (await inbox(lab.apiKey, "GET", `/dialogs/${dialog.id}/messages`)).body.messages.find((x: any) => x.id === queued.body.id);
      return m?.status === "read" && m;
    }, "status read");
    await new Promise((r) => setTimeout(r, 200));
    expect((await inbox(lab.apiKey, "GET", `/dialogs/${dialog.id}/messages`)).body.messages.find((x: any) => x.id === mine.id).status).toBe("read");
  });

  it("keeps the customer with the bound branch, also when they quote its message", async () => {
    await postWebhook(s.url, textWebhook({ from: phone, text: "А в субботу можно? HQ" }));
    await postWebhook(s.url, textWebhook({ from: phone, text: "ответ на ваше сообщение", context: { id: "wamid.OUT2" } }));
    const thread = await waitFor(async () => {
      const [d] = await dialogsOf(lab.apiKey);
      const msgs = (await inbox(lab.apiKey, "GET", `/dialogs/${d.id}/messages`)).body.messages;
      return msgs.length >= 5 && msgs;
    }, "two more messages at Persona Lab");
    const rules = thread.filter((m: any) => m.direction === "in").slice(-2).map((m: any) => m.routing.rule);
    expect(rules).toEqual(["open_binding", "reply_context"]);
    expect(await dialogsOf(hq.apiKey)).toHaveLength(0);
  });

  it("lets the customer ask for another branch, keeping the binding history", async () => {
    const before = graph.length;
    await postWebhook(s.url, textWebhook({ from: phone, text: "Хочу сменить филиал" }));
    await waitFor(() => graph.slice(before).find((b) => b.type === "interactive"), "a new menu");
    const customer = await api(s.url, s.adminToken, "GET", `/admin/api/customers/wa:${phone}`);
    expect(customer.body.binding.current).toBeUndefined();
    expect(customer.body.binding.history).toEqual([expect.objectContaining({ branchId: lab.id, rule: "menu_reply", endReason: "the customer asked to change branch" })]);
  });

  it("sends a message replayed after an outage (older than the window) to HQ instead of asking", async () => {
    const before = graph.length;
    const old = Math.floor(Date.now() / 1000) - 3 * 86_400;
    await postWebhook(s.url, envelope(messagesValue([textMessage({ from: "79165550003", text: "hello?", timestamp: old })])));
    const [dialog] = await waitFor(async () => {
      const d = (await dialogsOf(hq.apiKey)).filter((x) => x.customer.phone === "+79165550003");
      return d.length > 0 && d;
    }, "the stale message at HQ");
    expect(dialog.routing.rule).toBe("hq_fallback");
    expect(graph.slice(before).filter((b) => b.to === "+79165550003")).toHaveLength(0);
  });

  it("refuses free text outside the 24-hour window before calling Graph", async () => {
    const old = Math.floor(Date.now() / 1000) - 2 * 86_400;
    await postWebhook(s.url, envelope(messagesValue([textMessage({ from: "79165550002", text: "фотосессия", timestamp: old })])));
    const [dialog] = await waitFor(async () => {
      const d = (await dialogsOf(lab.apiKey)).filter((x) => x.customer.phone === "+79165550002");
      return d.length > 0 && d;
    }, "keyword routing to Persona Lab");
    expect(dialog.routing.rule).toBe("keyword");
    const before = graph.length;
    const r = await inbox(lab.apiKey, "POST", `/dialogs/${dialog.id}/messages`, { text: "Hello?" });
    expect(r.status).toBe(422);
    expect(r.body.error.code).toBe("window_closed");
    await new Promise((res) => setTimeout(res, 200));
    expect(graph.length).toBe(before);
  });
});
