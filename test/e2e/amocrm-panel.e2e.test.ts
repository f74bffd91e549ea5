import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildAmoWidgetFiles } from "../../scripts/build-amocrm-widget.js";
import { startAmoHostPage, type AmoHostPage } from "../builders/amocrm-host-page.js";
import { startFakeAmo, TEST_CHANNEL as CHANNEL, TEST_CLIENT as CLIENT, widgetToken, type FakeAccount, type FakeAmo } from "../builders/fake-amocrm.js";
import { loopbackOnly, nockGraph, openNetwork } from "../builders/graph-nock.js";
import { freePort } from "../builders/http.js";
import { api, postWebhook, startTestServer, waitFor } from "../builders/harness.js";
import { envelope, messagesValue, textMessage } from "../builders/meta-payloads.js";
import { hasChromium, hmsSeconds as seconds, launchChromium } from "./browser.js";

type Server = Awaited<ReturnType<typeof startTestServer>>;

const WABA = "102290129340398";
const REDIRECT = "https://branchline.example/amocrm/oauth";
const AUD = "https://branchline.example";
const DAY = 24 * 3600 * 1000;

/** An approved template as `GET /{WABA_ID}/message_templates` lists it (WhatsApp doc §6.1). */
const TEMPLATES = [
  {
    name: "order_ready", parameter_format: "POSITIONAL", language: "ru", status: "APPROVED", category: "UTILITY", id: "2001",
    components: [{ type: "BODY", text: "Здравствуйте, {{1}}! Ваш заказ {{2}} готов.", example: { body_text: [["Анна", "42"]] } }],
  },
];

describe.skipIf(!hasChromium)("amoCRM lead card panel in a real browser, against the real backend", () => {
  let s: Server;
  let amo: FakeAmo;
  let acc: FakeAccount;
  let host: AmoHostPage;
  let browser: Browser;
  let page: Page;
  let leadId: number;
  let branch: { id: string; apiKey: string; code: string; name: string };
  let hq: { id: string; name: string };
  let inboundMs: { lo: number; hi: number };
  let graph: any[];
  const phone = "79161234567";

  beforeAll(async () => {
    loopbackOnly();
    graph = nockGraph({ templates: TEMPLATES, wamidPrefix: "E2E" }).bodies;

    amo = await startFakeAmo({ ...CLIENT, redirectUri: REDIRECT, ...CHANNEL });
    acc = await amo.addAccount({ id: 30441694, subdomain: "artplay" });
    const contact = acc.addContact({ name: "Иван Петров", firstName: "Иван", phone: "8 (916) 123-45-67" });
    leadId = acc.addLead({ name: "Фотосессия", contactId: contact, price: 2500 });

    // The page's origin must be allowed before the backend starts, and the page's script needs the backend URL.
    const pagePort = await freePort();
    s = await startTestServer({
      WHATSAPP_WABA_ID: WABA,
      ...amo.env,
      AMOCRM_ALLOWED_ORIGINS: `http://127.0.0.1:${pagePort}`,
    });
    hq = (await api(s.url, s.adminToken, "POST", "/admin/api/branches", { name: "Persona HQ", code: "HQ", crm: "inbox", isHq: true })).body;
    branch = (await api(s.url, s.adminToken, "POST", "/admin/api/branches", { name: "Art Play", code: "ARTPLAY", crm: "amocrm" })).body;
    await waitFor(async () => (await api(s.url, s.adminToken, "GET", "/admin/api/templates")).body.templates.length === TEMPLATES.length, "templates synced");

    // The branch admin installs the integration: amoCRM calls our Redirect URI with a code.
    const installed = await fetch(`${s.url}/amocrm/oauth?code=${encodeURIComponent(acc.issueCode())}&referer=${encodeURIComponent(acc.domain)}&from_widget=1`);
    expect(installed.status).toBe(200);
    await waitFor(() => amo.connections.get(acc.amojoId)?.connected, "the chat channel connected");

    const files = new Map((await buildAmoWidgetFiles({ backendUrl: s.url })).map((f) => [f.name, f.data.toString("utf8")] as const));
    host = await startAmoHostPage({
      port: pagePort,
      scriptJs: files.get("script.js")!,
      styleCss: files.get("style.css")!,
      i18n: JSON.parse(files.get("i18n/en.json")!),
      token: widgetToken({ account: acc, ...CLIENT, aud: AUD }),
      account: { id: acc.id, subdomain: acc.subdomain, amojo_id: acc.amojoId },
      leadId,
      lang: "en",
    });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  });
  afterAll(async () => {
    await browser?.close();
    await host?.close();
    await s?.close();
    await amo?.close();
    openNetwork();
  });

  it("tells an unbound account to enter the branch key, and binds it from the widget settings", async () => {
    await page.goto(host.url);
    await expect.poll(() => page.getByTestId("not-bound").textContent(), { timeout: 15_000 }).toContain("Enter the branch key in the widget settings");

    await page.evaluate(() => (window as any).amoHost.openSettings());
    const refused = await page.evaluate(() => (window as any).amoHost.save({ branch_key: "bk_not_a_key" }));
    expect(refused.ok).toBe(false);
    const shown = await page.getByTestId("settings-message").textContent();
    expect(shown).toBe(refused.message);
    expect(shown!.length).toBeGreaterThan(0);

    const saved = await page.evaluate((key) => (window as any).amoHost.save({ branch_key: key }), branch.apiKey);
    expect(saved).toEqual({ ok: true, value: true });
    expect(await page.getByTestId("settings-message").textContent()).toContain("Art Play");
    await expect.poll(() => page.getByTestId("account-branch").textContent()).toContain("Art Play");

    // The widget's own settings page shows the binding and what the branch can send.
    await page.evaluate(() => (window as any).amoHost.openAdvanced());
    const advanced = page.locator("#list_page_holder");
    await expect.poll(() => advanced.getByTestId("account-branch").textContent()).toContain("Art Play");
    expect(await advanced.getByTestId("account-templates").textContent()).toBe(String(TEMPLATES.length));
  });

  it("shows the branch, the routing reason, the live window, prefilled parameters and the preview; sends the template", async () => {
    // The customer writes with the branch code: routed to Art Play, the 24-hour window opens.
    const timestamp = Math.floor(Date.now() / 1000);
    const before = Date.now();
    await postWebhook(s.url, envelope(messagesValue([textMessage({ from: phone, text: "Здравствуйте! ARTPLAY", timestamp })], { [phone]: "Ivan" })));
    await waitFor(() => amo.messages.find((m) => m.body.payload.message.text === "Здравствуйте! ARTPLAY"), "the message in the amoCRM chat");
    inboundMs = { lo: Math.min(timestamp * 1000, before), hi: Date.now() };

    await page.goto(host.url);
    await expect.poll(() => page.getByTestId("branch-name").textContent(), { timeout: 15_000 }).toContain("Art Play");
    expect(await page.getByTestId("routing-reason").textContent()).toContain("ARTPLAY");

    // The countdown: 24 h after the inbound message, on the server's clock (same machine here).
    const countdown = page.getByTestId("window-countdown");
    expect(await countdown.getAttribute("data-state")).toBe("open");
    const readFrom = Date.now();
    const shownLeft = seconds((await countdown.textContent())!.trim());
    const readTo = Date.now();
    expect(shownLeft).toBeGreaterThanOrEqual(Math.floor((inboundMs.lo + DAY - readTo) / 1000) - 1);
    expect(shownLeft).toBeLessThanOrEqual(Math.ceil((inboundMs.hi + DAY - readFrom) / 1000));
    // It ticks: a later reading is smaller.
    await expect.poll(async () => seconds((await countdown.textContent())!.trim()), { timeout: 5_000 }).toBeLessThan(shownLeft);

    // The only template is preselected; its parameters come prefilled from the contact and the lead.
    const select = page.getByTestId("template-select");
    if ((await select.inputValue()) === "") await select.selectOption("order_ready|ru");
    const params = page.getByTestId("template-param");
    await expect.poll(() => params.count()).toBe(2);
    expect(await page.locator('[data-testid="template-param"][data-key="1"]').inputValue()).toBe("Иван");
    expect(await page.locator('[data-testid="template-param"][data-key="2"]').inputValue()).toBe(String(leadId));
    expect(await page.getByTestId("template-preview").textContent()).toBe(`Здравствуйте, Иван! Ваш заказ ${leadId} готов.`);

    // The manager edits a parameter: the preview follows.
    await page.locator('[data-testid="template-param"][data-key="1"]').fill("Иван Петрович");
    await expect.poll(() => page.getByTestId("template-preview").textContent()).toBe(`Здравствуйте, Иван Петрович! Ваш заказ ${leadId} готов.`);

    await page.getByTestId("send-button").click();
    const result = page.getByTestId("send-result");
    await expect.poll(() => result.count(), { timeout: 15_000 }).toBe(1);
    const id = await result.getAttribute("data-message-id");
    expect(id).toBeTruthy();

    // The backend recorded it for this branch and sent it to WhatsApp as the template with these params.
    const recorded = await api(s.url, branch.apiKey, "GET", `/api/v1/messages/${id}`);
    expect(recorded.status).toBe(200);
    expect(recorded.body.id).toBe(id);
    const sent = await waitFor(() => graph.find((b) => b.type === "template" && b.template?.name === "order_ready"), "the template at Graph");
    expect(sent.to).toBe(`+${phone}`);
    expect(sent.template.components[0].parameters.map((p: any) => p.text)).toEqual(["Иван Петрович", String(leadId)]);

    // The latest statuses list shows it.
    await page.getByTestId("refresh").click();
    await expect
      .poll(() => page.locator('[data-testid="status-row"][data-direction="out"]').allTextContents(), { timeout: 15_000 })
      .toEqual(expect.arrayContaining([expect.stringMatching(/Здравствуйте, Иван Петрович|order_ready/)]));
  });

  it("transfers the dialog to another branch after a confirmation", async () => {
    await page.getByTestId("transfer-select").selectOption(hq.id);
    await page.getByTestId("transfer-button").click();
    await page.getByTestId("transfer-confirm").click();
    await expect.poll(() => page.getByTestId("transfer-result").textContent(), { timeout: 15_000 }).toContain(hq.name);

    // Leaving the card: amoCRM calls destroy and the panel is gone.
    await page.evaluate(() => (window as any).amoHost.destroy());
    expect(await page.getByTestId("branchline-panel").count()).toBe(0);
  });
});
