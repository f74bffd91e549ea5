import type { Server } from "node:http";
import axios from "axios";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp, type App } from "../../backend/src/app.js";
import { loadConfig } from "../../backend/src/config.js";
import { createLogger } from "../../backend/src/ops/logger.js";
import { LowdbStore } from "../../backend/src/store/lowdb/lowdb.store.js";
import { APP_SECRET, api, postWebhook, productionEnv, tempDir, waitFor } from "../builders/harness.js";
import { loopbackOnly, nockGraph, openNetwork, type GraphSend } from "../builders/graph-nock.js";
import { envelope, messagesValue, NUMBER, textMessage } from "../builders/meta-payloads.js";

/** Template objects as `GET /{WABA_ID}/message_templates` lists them (doc §6.1). */
const TEMPLATES = [
  {
    name: "operator_alert",
    parameter_format: "POSITIONAL",
    components: [{ type: "BODY", text: "Клиент {{1}} ждёт ответа: {{2}}", example: { body_text: [["Анна (+79160000000)", "https://example.com/inbox"]] } }],
    language: "ru",
    status: "APPROVED",
    category: "UTILITY",
    id: "4001",
  },
];

const MIN = 60_000;
const ADMIN = "admin-token-0123456789";
const says = (from: string, text: string, name: string) => envelope(messagesValue([textMessage({ from, text })], { [from]: name }));

/**
 * The app built directly (as main.ts does) with a clock the test moves: re-notify and escalation
 * timers are durable jobs due at clock time, so minutes pass without waiting for them.
 */
describe("operator alerts", () => {
  let clock = Date.now();
  const now = () => clock;
  let dir: { dir: string; remove(): Promise<void> };
  let store: LowdbStore;
  let app: App;
  let server: Server;
  let url: string;
  let graph: GraphSend[];
  let hq: { id: string; apiKey: string };
  let art: { id: string; apiKey: string };
  const OLGA = "79035550101"; // Art Play, wants WhatsApp alerts, wrote to the number today
  const PETR = "79035550102"; // Art Play, does not want them
  const IRINA = "79035550201"; // HQ, never wrote: her window is closed

  async function boot(): Promise<void> {
    const config = loadConfig(productionEnv(dir.dir, { WHATSAPP_WABA_ID: NUMBER.waba, ALERT_TEMPLATE: "operator_alert:ru", PUBLIC_URL: "https://branchline.example" }));
    store = await LowdbStore.open({ dir: dir.dir });
    app = createApp({ config, store, logger: createLogger("silent"), http: axios.create(), adminToken: ADMIN, secretKey: "k".repeat(40), appSecret: APP_SECRET, now });
    server = app.express.listen(0);
    await new Promise((r) => server.once("listening", r));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    await app.start();
  }
  async function shutdown(): Promise<void> {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    await app.stop();
    await store.close();
  }

  const toPhone = (phone: string) => graph.filter((m) => m.body.to === `+${phone}`);
  const handover = async (id: string) => (await api(url, ADMIN, "GET", "/admin/api/handovers")).body.handovers.find((h: any) => h.id === id);
  const dialogOf = async (key: string, phone: string) => (await api(url, key, "GET", "/inbox/api/dialogs")).body.dialogs.find((d: any) => d.customer.phone === `+${phone}`);
  async function customerWrites(phone: string, text: string, name: string, key: string) {
    await postWebhook(url, says(phone, text, name));
    return waitFor(() => dialogOf(key, phone), `the dialog of ${phone}`);
  }

  beforeAll(async () => {
    loopbackOnly();
    graph = nockGraph({ templates: TEMPLATES, wamidPrefix: "ALERT", paging: { cursors: { before: "b", after: "a" } } }).sends;
    dir = await tempDir();
    await boot();
    hq = (await api(url, ADMIN, "POST", "/admin/api/branches", { name: "Persona HQ", code: "HQ", crm: "inbox", isHq: true })).body;
    art = (await api(url, ADMIN, "POST", "/admin/api/branches", { name: "Art Play", code: "ART", crm: "inbox" })).body;
    await api(url, ADMIN, "POST", "/admin/api/templates/sync");
    for (const [branch, name, phone, notifyWhatsApp] of [[art, "Ольга", OLGA, true], [art, "Пётр", PETR, false], [hq, "Ирина", IRINA, true]] as const) {
      expect((await api(url, ADMIN, "POST", `/admin/api/branches/${branch.id}/operators`, { name, phone: `+${phone}`, notifyWhatsApp })).status).toBe(201);
    }
    await customerWrites(OLGA, "ART Ольга на связи", "Ольга", art.apiKey);
  });
  afterAll(async () => {
    await shutdown();
    await dir.remove();
    openNetwork();
  });

  it("keeps the alert settings consistent", async () => {
    const bad = await api(url, ADMIN, "PATCH", "/admin/api/settings/alerts", { renotifyAfterMinutes: 30, escalateAfterMinutes: 20 });
    expect(bad.status).toBe(400);
    expect(bad.body.error.field).toBe("escalateAfterMinutes");
    const ok = await api(url, ADMIN, "PATCH", "/admin/api/settings/alerts", { renotifyAfterMinutes: 10, escalateAfterMinutes: 20 });
    expect(ok.body).toEqual({ renotifyAfterMinutes: 10, escalateAfterMinutes: 20, template: "operator_alert:ru" });
    const badOp = await api(url, ADMIN, "POST", `/admin/api/branches/${art.id}/operators`, { name: "X", phone: "12" });
    expect(badOp.status).toBe(422);
    expect(badOp.body.error.field).toBe("phone");
  });

  it("alerts the branch's operators, re-notifies, then escalates to HQ while nobody answers", async () => {
    const phone = "79165550031";
    await customerWrites(phone, "ART позовите администратора", "Вера", art.apiKey);
    const r = await api(url, art.apiKey, "POST", "/api/v1/handover", { phone: `+${phone}`, reason: "просит администратора" });
    expect(r.status).toBe(201);

    const first = await waitFor(() => toPhone(OLGA).find((m) => m.body.text?.body.includes("Вера")), "Olga's alert");
    expect(first.body.type).toBe("text");
    expect(first.body.text.body).toContain("Вера (+79165550031)");
    expect(first.body.text.body).toContain("просит администратора");
    expect(first.body.text.body).toContain("https://branchline.example/inbox");
    expect(toPhone(PETR)).toHaveLength(0);
    expect(toPhone(IRINA)).toHaveLength(0);

    clock += 11 * MIN;
    const second = await waitFor(() => toPhone(OLGA).find((m) => m !== first && m.body.text?.body.includes("Вера")), "Olga's reminder");
    expect(second.body.text.body).toMatch(/Напоминание/);
    expect(toPhone(IRINA)).toHaveLength(0);

    clock += 10 * MIN;
    // Irina never wrote to the number: free text would be refused, so the alert template goes.
    const escalated = await waitFor(() => toPhone(IRINA)[0], "the escalation to HQ");
    expect(escalated.body.type).toBe("template");
    expect(escalated.body.template).toMatchObject({
      name: "operator_alert",
      language: { code: "ru" },
      components: [{ type: "body", parameters: [{ type: "text", text: "Вера (+79165550031)" }, { type: "text", text: "https://branchline.example/inbox" }] }],
    });
    const h = await waitFor(async () => {
      const x = await handover(r.body.id);
      return x?.state === "unanswered" && x;
    }, "the handover marked unanswered");
    expect(h.notifications.map((n: any) => [n.stage, n.phone, n.via])).toEqual([
      ["notified", `+${OLGA}`, "text"],
      ["renotified", `+${OLGA}`, "text"],
      ["escalated", `+${IRINA}`, "template"],
    ]);
  });

  it("stops alerting once someone of the branch writes in the dialog", async () => {
    const phone = "79165550032";
    const dialog = await customerWrites(phone, "ART есть вопрос", "Глеб", art.apiKey);
    const r = await api(url, ADMIN, "POST", `/admin/api/dialogs/${encodeURIComponent(dialog.id)}/handover`, { reason: "VIP" });
    expect(r.status).toBe(201);
    await waitFor(() => toPhone(OLGA).find((m) => m.body.text?.body.includes("Глеб")), "Olga's alert");
    expect((await api(url, art.apiKey, "POST", `/inbox/api/dialogs/${dialog.id}/messages`, { text: "Глеб, здравствуйте! Слушаю вас." })).status).toBe(202);
    await waitFor(() => toPhone(phone).find((m) => m.body.type === "text"), "the branch reply at Graph");

    clock += 11 * MIN;
    await waitFor(async () => (await handover(r.body.id))?.state === "answered", "the handover marked answered");
    clock += 10 * MIN;
    await new Promise((res) => setTimeout(res, 500));
    expect(toPhone(OLGA).filter((m) => m.body.text?.body.includes("Глеб"))).toHaveLength(1);
    expect(toPhone(IRINA).filter((m) => JSON.stringify(m.body).includes("Глеб"))).toHaveLength(0);
  });

  it("a second handover of a waiting dialog does not alert twice", async () => {
    const phone = "79165550033";
    await customerWrites(phone, "ART срочно", "Дина", art.apiKey);
    const a = await api(url, art.apiKey, "POST", "/api/v1/handover", { phone: `+${phone}` });
    const b = await api(url, art.apiKey, "POST", "/api/v1/handover", { phone: `+${phone}` });
    expect([a.status, b.status]).toEqual([201, 200]);
    expect(b.body.id).toBe(a.body.id);
    await waitFor(() => toPhone(OLGA).find((m) => m.body.text?.body.includes("Дина")), "Olga's alert");
    await new Promise((res) => setTimeout(res, 300));
    expect(toPhone(OLGA).filter((m) => m.body.text?.body.includes("Дина"))).toHaveLength(1);
    expect((await api(url, hq.apiKey, "POST", "/api/v1/handover", { phone: `+${phone}` })).status).toBe(404);
  });

  it("keeps its timers across a restart", async () => {
    const phone = "79165550034";
    await customerWrites(phone, "ART ау", "Лев", art.apiKey);
    expect((await api(url, art.apiKey, "POST", "/api/v1/handover", { phone: `+${phone}` })).status).toBe(201);
    await waitFor(() => toPhone(OLGA).find((m) => m.body.text?.body.includes("Лев")), "Olga's alert");

    await shutdown();
    clock += 11 * MIN;
    await boot();
    const reminder = await waitFor(() => toPhone(OLGA).find((m) => m.body.text?.body.includes("Лев") && m.body.text.body.includes("Напоминание")), "the reminder after the restart");
    expect(reminder).toBeDefined();
  });
});
