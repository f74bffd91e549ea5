import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dayOf } from "../../backend/src/domain/day.js";
import { api, postWebhook, startTestServer, waitFor } from "../builders/harness.js";
import { loopbackOnly, nockGraph, openNetwork, type GraphSend } from "../builders/graph-nock.js";
import { envelope, messagesValue, NUMBER, textMessage } from "../builders/meta-payloads.js";

type Server_ = Awaited<ReturnType<typeof startTestServer>>;

/** Template objects as `GET /{WABA_ID}/message_templates` lists them (doc §6.1). */
const TEMPLATES = [
  {
    name: "nps_invite",
    parameter_format: "POSITIONAL",
    components: [
      { type: "BODY", text: "{{1}}, спасибо за визит в {{2}}! Оцените нас — это займёт минуту.", example: { body_text: [["Анна", "Art Play"]] } },
      { type: "BUTTONS", buttons: [{ type: "QUICK_REPLY", text: "Оценить" }] },
    ],
    language: "ru",
    status: "APPROVED",
    category: "UTILITY",
    id: "3001",
  },
];

const now_s = () => String(Math.floor(Date.now() / 1000));

/** Profile names Meta sends with each message (`contacts[].profile.name`). */
const NAMES: Record<string, string> = {};
/** The customer's text, as Meta posts it. */
const says = (from: string, text: string, name?: string) => {
  if (name) NAMES[from] = name;
  return envelope(messagesValue([textMessage({ from, text })], NAMES));
};

/** The customer taps a row of our list (doc §2.5, interactive list_reply). */
function picksRow(from: string, listWamid: string, row: { id: string; title: string }) {
  const m = { from, id: `wamid.IN.${Math.random()}`, timestamp: now_s(), type: "interactive", context: { from: NUMBER.display, id: listWamid }, interactive: { type: "list_reply", list_reply: row } };
  return envelope(messagesValue([m as any], NAMES));
}

/** The customer taps a reply button of our interactive message (doc §2.5, button_reply). */
function tapsButton(from: string, wamid: string, button: { id: string; title: string }) {
  const m = { from, id: `wamid.IN.${Math.random()}`, timestamp: now_s(), type: "interactive", context: { from: NUMBER.display, id: wamid }, interactive: { type: "button_reply", button_reply: button } };
  return envelope(messagesValue([m as any], NAMES));
}

/** The customer taps a template's quick-reply button (doc §2.5, type button). */
function tapsTemplateButton(from: string, wamid: string, text: string) {
  const m = { from, id: `wamid.IN.${Math.random()}`, timestamp: now_s(), type: "button", context: { from: NUMBER.display, id: wamid }, button: { payload: text, text } };
  return envelope(messagesValue([m as any], NAMES));
}

/** A branch's booking system on loopback: answers per `mode`, records each request's URL. */
async function startBooking() {
  let mode: "ok" | "hang" | "garbage" = "ok";
  const requests: string[] = [];
  const hung: ServerResponse[] = [];
  const server: Server = createServer((req, res) => {
    requests.push(req.url ?? "");
    if (mode === "hang") {
      hung.push(res);
      return;
    }
    if (mode === "garbage") {
      res.setHeader("content-type", "text/html");
      res.end("<html><body>502 Bad Gateway (nginx)</body></html>");
      return;
    }
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ client: { name: "Анна" }, last_visit: { service: "стрижка", master: "Ольга", date: "2026-11-19" } }));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    set mode(m: "ok" | "hang" | "garbage") {
      mode = m;
    },
    close: () =>
      new Promise<void>((r) => {
        for (const h of hung) h.destroy();
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

describe("flows through the real webhook path", () => {
  let s: Server_;
  let graph: GraphSend[];
  let art: { id: string; apiKey: string };
  let booking: Awaited<ReturnType<typeof startBooking>>;
  const OPERATOR = "79035550101";

  const toPhone = (phone: string) => graph.filter((m) => m.body.to === `+${phone}`);
  const waitSent = (phone: string, what: string, pred: (m: GraphSend) => boolean) => waitFor(() => toPhone(phone).find(pred), what);
  const runsOf = async (flowId: string) => (await api(s.url, s.adminToken, "GET", `/admin/api/flows/${flowId}/runs`)).body.runs as any[];
  const runFor = async (flowId: string, phone: string) => (await runsOf(flowId)).find((r) => r.customerId === `wa:${phone}`);
  const stats = (branchId: string) => s.store.read(async (tx) => (await tx.get("dailyStats", `${branchId}|${dayOf(Date.now())}`))?.counts ?? {});
  const startNps = (phone: string) => api(s.url, s.adminToken, "POST", "/admin/api/flows/nps/start", { phone: `+${phone}`, branchId: art.id });

  beforeAll(async () => {
    loopbackOnly();
    graph = nockGraph({ templates: TEMPLATES, wamidPrefix: "FLOW", paging: { cursors: { before: "b", after: "a" } } }).sends;
    booking = await startBooking();
    s = await startTestServer({ WHATSAPP_WABA_ID: NUMBER.waba });
    art = (await api(s.url, s.adminToken, "POST", "/admin/api/branches", { name: "Art Play", code: "ART", crm: "inbox", isHq: true })).body;
    await api(s.url, s.adminToken, "POST", "/admin/api/templates/sync");
    // The operator wrote to the number today, so the alert may be free text (their window is open).
    expect((await api(s.url, s.adminToken, "POST", `/admin/api/branches/${art.id}/operators`, { name: "Ольга", phone: `+${OPERATOR}`, notifyWhatsApp: true })).status).toBe(201);
    await postWebhook(s.url, says(OPERATOR, "ART это Ольга, администратор"));
    await waitFor(async () => (await api(s.url, art.apiKey, "GET", "/inbox/api/dialogs")).body.dialogs.length > 0, "the operator's own message routed");
    const installed = await api(s.url, s.adminToken, "POST", "/admin/api/flows/examples/nps", {});
    expect(installed.status).toBe(201);
    expect(installed.body).toMatchObject({ id: "nps", oncePerDays: 30, enabled: true, warnings: [] });
  });
  afterAll(async () => {
    await s.close();
    await booking.close();
    openNetwork();
  });

  it("NPS: a detractor picks a score in the list, comments, is handed over, and the operator is alerted on their phone", async () => {
    const phone = "79165550011";
    await postWebhook(s.url, says(phone, "ART добрый день", "Мария"));
    await waitFor(async () => (await api(s.url, art.apiKey, "GET", "/inbox/api/dialogs")).body.dialogs.some((d: any) => d.customer.phone === `+${phone}`), "the customer's dialog");

    const started = await startNps(phone);
    expect(started.status).toBe(201);
    expect(started.body).toMatchObject({ flowId: "nps", status: "active", branchId: art.id });

    const list = await waitSent(phone, "the score list", (m) => m.body.type === "interactive");
    expect(list.body.interactive.type).toBe("list");
    expect(list.body.interactive.body.text).toMatch(/^Мария, оцените/);
    expect(list.body.interactive.body.text).toContain("Art Play");
    const rows = list.body.interactive.action.sections[0].rows;
    expect(rows.map((r: any) => r.title)).toEqual(["10", "9", "8", "7", "6", "5", "4", "3", "2", "1"]);

    const three = rows.find((r: any) => r.title === "3");
    await postWebhook(s.url, picksRow(phone, list.wamid, { id: three.id, title: three.title }));
    const askComment = await waitSent(phone, "the comment question", (m) => m.body.type === "text" && m.body.text.body.startsWith("Спасибо за оценку 3"));
    expect(askComment).toBeDefined();
    await postWebhook(s.url, says(phone, "Долго ждала мастера"));

    const alert = await waitSent(OPERATOR, "the operator's alert", (m) => m.body.type === "text");
    expect(alert.body.text.body).toContain("Мария (+79165550011)");
    expect(alert.body.text.body).toContain("NPS 3: Долго ждала мастера");
    expect(alert.body.text.body).toContain(`${s.config.PUBLIC_URL}/inbox`);
    const sorry = await waitSent(phone, "the apology", (m) => m.body.type === "text" && m.body.text.body.startsWith("Нам жаль"));
    expect(sorry).toBeDefined();

    const run = await waitFor(async () => {
      const r = await runFor("nps", phone);
      return r?.status === "done" && r;
    }, "the run to end");
    expect(run).toMatchObject({ outcome: "handed_over", vars: { score: 3, comment: "Долго ждала мастера" } });
    expect((await stats(art.id))["nps:detractor"]).toBe(1);

    // The answers are ordinary messages too: the branch sees them in its inbox.
    const dialog = (await api(s.url, art.apiKey, "GET", "/inbox/api/dialogs")).body.dialogs.find((d: any) => d.customer.phone === `+${phone}`);
    const thread = (await api(s.url, art.apiKey, "GET", `/inbox/api/dialogs/${dialog.id}/messages`)).body.messages.filter((m: any) => m.direction === "in").map((m: any) => m.text);
    expect(thread).toEqual(["ART добрый день", "3", "Долго ждала мастера"]);

    const handovers = (await api(s.url, s.adminToken, "GET", `/admin/api/handovers?branchId=${art.id}`)).body.handovers;
    expect(handovers).toEqual([expect.objectContaining({ dialogId: dialog.id, source: "flow", state: "waiting", notifications: [expect.objectContaining({ phone: `+${OPERATOR}`, via: "text", stage: "notified" })] })]);
  });

  it("NPS: a promoter types the number (after one unreadable try) and is counted, not handed over", async () => {
    const phone = "79165550012";
    await postWebhook(s.url, says(phone, "ART привет", "Олег"));
    await waitFor(async () => (await api(s.url, art.apiKey, "GET", "/inbox/api/dialogs")).body.dialogs.some((d: any) => d.customer.phone === `+${phone}`), "the dialog");
    const operatorBefore = toPhone(OPERATOR).length;
    const promotersBefore = (await stats(art.id))["nps:promoter"] ?? 0;
    expect((await startNps(phone)).status).toBe(201);
    await waitSent(phone, "the score list", (m) => m.body.type === "interactive");

    await postWebhook(s.url, says(phone, "десять"));
    await waitSent(phone, "the retry prompt", (m) => m.body.type === "text" && m.body.text.body === "Пожалуйста, ответьте числом от 0 до 10.");
    await postWebhook(s.url, says(phone, "10"));
    await waitSent(phone, "the comment question", (m) => m.body.type === "text" && m.body.text.body.startsWith("Спасибо за оценку 10"));
    await postWebhook(s.url, says(phone, "Всё отлично"));
    await waitSent(phone, "the thanks", (m) => m.body.type === "text" && m.body.text.body.startsWith("Спасибо! Будем рады"));

    const run = await waitFor(async () => {
      const r = await runFor("nps", phone);
      return r?.status === "done" && r;
    }, "the run to end");
    expect(run).toMatchObject({ outcome: "completed", vars: { score: 10, comment: "Всё отлично" } });
    expect((await stats(art.id))["nps:promoter"]).toBe(promotersBefore + 1);
    expect(toPhone(OPERATOR).length).toBe(operatorBefore);
  });

  it("NPS: at most one survey per customer per period, from the admin API and from the branch API", async () => {
    const again = await startNps("79165550012");
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe("flow_too_soon");
    expect(again.body.error.message).toContain("30 days");
    const viaBranch = await api(s.url, art.apiKey, "POST", "/api/v1/flows/nps/start", { phone: "+79165550012" });
    expect(viaBranch.status).toBe(409);
    expect(viaBranch.body.error.code).toBe("flow_too_soon");
  });

  it("NPS outside the 24-hour window starts with the approved template; the quick reply opens the list", async () => {
    const phone = "79165550013";
    const started = await api(s.url, art.apiKey, "POST", "/api/v1/flows/nps/start", { phone: `+${phone}` });
    expect(started.status).toBe(201);
    const invite = await waitSent(phone, "the invitation template", (m) => m.body.type === "template");
    expect(invite.body.template).toMatchObject({ name: "nps_invite", language: { code: "ru" }, components: [{ type: "body", parameters: [{ type: "text", text: "клиент" }, { type: "text", text: "Art Play" }] }] });
    expect(toPhone(phone).some((m) => m.body.type !== "template")).toBe(false);

    // Started from the branch API: the customer is now that branch's.
    const customer = (await api(s.url, s.adminToken, "GET", `/admin/api/customers/wa:${phone}`)).body;
    expect(customer.binding.current).toMatchObject({ branchId: art.id, rule: "outbound" });

    await postWebhook(s.url, tapsTemplateButton(phone, invite.wamid, "Оценить"));
    const list = await waitSent(phone, "the score list", (m) => m.body.type === "interactive");
    expect(list.body.interactive.type).toBe("list");
  });

  it("a stop word ends the survey instead of being read as an answer", async () => {
    const phone = "79165550015";
    await postWebhook(s.url, says(phone, "ART здравствуйте", "Ян"));
    await waitFor(async () => (await api(s.url, art.apiKey, "GET", "/inbox/api/dialogs")).body.dialogs.some((d: any) => d.customer.phone === `+${phone}`), "the dialog");
    expect((await startNps(phone)).status).toBe(201);
    await waitSent(phone, "the score list", (m) => m.body.type === "interactive");
    await postWebhook(s.url, says(phone, "стоп"));
    const run = await waitFor(async () => {
      const r = await runFor("nps", phone);
      return r?.status === "done" && r;
    }, "the run to end");
    expect(run.outcome).toBe("cancelled");
    await new Promise((r) => setTimeout(r, 300));
    expect(toPhone(phone).filter((m) => m.body.type === "text")).toHaveLength(0);
  });

  it("refuses a flow whose steps are wrong, naming the step and field", async () => {
    const bad = await api(s.url, s.adminToken, "POST", "/admin/api/flows", {
      id: "visit-check",
      definition: {
        name: "Visit check",
        window: "open",
        start: "ask",
        steps: {
          ask: { type: "ask", text: "Придёте?", buttons: [{ id: "y", title: "Да" }, { id: "n", title: "Нет" }, { id: "m", title: "Может быть" }, { id: "x", title: "Не знаю" }], var: "come", timeoutSeconds: 600, next: "done" },
          done: { type: "send", text: "ok", next: "nowhere" },
        },
      },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe("invalid_flow");
    expect(bad.body.error.field).toBe("definition.steps.ask.buttons");
    expect(bad.body.error.details.problems.map((p: any) => p.step)).toContain("ask");
  });

  it("a button reply answers an ask step with buttons", async () => {
    const phone = "79165550014";
    const created = await api(s.url, s.adminToken, "POST", "/admin/api/flows", {
      id: "visit-check",
      definition: {
        name: "Visit check",
        window: "open",
        start: "ask",
        steps: {
          ask: { type: "ask", text: "{{customer.name}}, ждём вас завтра. Придёте?", buttons: [{ id: "yes", title: "Да" }, { id: "no", title: "Нет" }], var: "come", validate: { type: "choice" }, timeoutSeconds: 600, next: "route" },
          route: { type: "branch", cases: [{ when: { var: "come", op: "eq", value: "yes" }, next: "see" }], default: "sad" },
          see: { type: "send", text: "До встречи!" },
          sad: { type: "send", text: "Жаль! Перенесём?" },
        },
      },
    });
    expect(created.status).toBe(201);
    await postWebhook(s.url, says(phone, "ART", "Ира"));
    await waitFor(async () => (await api(s.url, art.apiKey, "GET", "/inbox/api/dialogs")).body.dialogs.some((d: any) => d.customer.phone === `+${phone}`), "the dialog");
    expect((await api(s.url, art.apiKey, "POST", "/api/v1/flows/visit-check/start", { phone: `+${phone}` })).status).toBe(201);
    const q = await waitSent(phone, "the buttons", (m) => m.body.type === "interactive");
    expect(q.body.interactive).toMatchObject({ type: "button", body: { text: "Ира, ждём вас завтра. Придёте?" } });
    await postWebhook(s.url, tapsButton(phone, q.wamid, { id: "yes", title: "Да" }));
    await waitSent(phone, "the answer to yes", (m) => m.body.type === "text" && m.body.text.body === "До встречи!");
  });

  describe("an HTTP step against the branch's booking system", () => {
    beforeAll(async () => {
      const r = await api(s.url, s.adminToken, "POST", "/admin/api/flows", {
        id: "booking-lookup",
        definition: {
          name: "Booking lookup",
          window: "open",
          start: "lookup",
          steps: {
            lookup: {
              type: "http",
              method: "GET",
              url: `${booking.url}/clients?phone={{customer.phone}}`,
              headers: { "X-Branch": "{{branch.code}}" },
              timeoutMs: 300,
              map: { master: "last_visit.master", service: "last_visit.service" },
              next: "greet",
              onError: "fallback",
            },
            greet: { type: "send", text: "{{customer.name}}, как прошла {{service}} у мастера {{master}}?" },
            fallback: { type: "send", text: "Как прошёл ваш визит?" },
          },
        },
      });
      expect(r.status).toBe(201);
    });

    const runLookup = async (phone: string) => {
      await postWebhook(s.url, says(phone, "ART", "Анна"));
      await waitFor(async () => (await api(s.url, art.apiKey, "GET", "/inbox/api/dialogs")).body.dialogs.some((d: any) => d.customer.phone === `+${phone}`), "the dialog");
      expect((await api(s.url, s.adminToken, "POST", "/admin/api/flows/booking-lookup/start", { phone: `+${phone}`, branchId: art.id })).status).toBe(201);
      const sent = await waitSent(phone, "the flow's message", (m) => m.body.type === "text");
      const run = await waitFor(async () => {
        const r = await runFor("booking-lookup", phone);
        return r?.status === "done" && r;
      }, "the run to end");
      return { text: sent.body.text.body as string, run };
    };

    it("maps the JSON answer into the message", async () => {
      booking.mode = "ok";
      const { text } = await runLookup("79165550021");
      expect(text).toBe("Анна, как прошла стрижка у мастера Ольга?");
      expect(booking.requests.at(-1)).toBe("/clients?phone=%2B79165550021");
    });

    it("takes the error path when the API does not answer in time", async () => {
      booking.mode = "hang";
      const { text, run } = await runLookup("79165550022");
      expect(text).toBe("Как прошёл ваш визит?");
      expect(run.vars.error).toEqual({ code: "http", message: "no answer within 300 ms", step: "lookup" });
    });

    it("takes the error path when the API answers garbage", async () => {
      booking.mode = "garbage";
      const { text, run } = await runLookup("79165550023");
      expect(text).toBe("Как прошёл ваш визит?");
      expect(run.vars.error.message).toBe("the response is not JSON");
    });
  });
});
