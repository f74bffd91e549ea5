import type { Browser, FrameLocator, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildBitrix24App } from "../../scripts/build-bitrix24-app.js";
import { startB24HostPage, type B24HostPage } from "../builders/bitrix24-host-page.js";
import { installForm, startFakeBitrix24, type FakeBitrix24, type FakePortal } from "../builders/fake-bitrix24.js";
import { loopbackOnly, nockGraph, openNetwork } from "../builders/graph-nock.js";
import { freePort } from "../builders/http.js";
import { api, postWebhook, startTestServer, waitFor } from "../builders/harness.js";
import { envelope, messagesValue, textMessage } from "../builders/meta-payloads.js";
import { hasChromium, hmsSeconds as seconds, launchChromium } from "./browser.js";

type Server = Awaited<ReturnType<typeof startTestServer>>;

const WABA = "102290129340398";
const DAY = 24 * 3600 * 1000;

/** An approved template as `GET /{WABA_ID}/message_templates` lists it (WhatsApp doc §6.1). */
const TEMPLATES = [
  {
    name: "order_ready", parameter_format: "POSITIONAL", language: "en", status: "APPROVED", category: "UTILITY", id: "2001",
    components: [{ type: "BODY", text: "Hello {{1}}, your order {{2}} is ready.", example: { body_text: [["Ana", "42"]] } }],
  },
];

describe.skipIf(!hasChromium)("Bitrix24 installer and card tab in a real browser, inside a page playing the portal", () => {
  let s: Server;
  let world: FakeBitrix24;
  let portal: FakePortal;
  let host: B24HostPage;
  let browser: Browser;
  let page: Page;
  let leadId: number;
  let branch: { id: string; apiKey: string; code: string; name: string };
  let graph: any[];
  const phone = "79161234567";

  /** The parent page's init data for a user of the portal (a fresh token pair at the fake). */
  const initData = (extra: Record<string, unknown>, userId = 1) => {
    const pair = portal.issueTokens(userId);
    return { AUTH_ID: pair.access_token, REFRESH_ID: pair.refresh_token, AUTH_EXPIRES: "3600", MEMBER_ID: portal.memberId, IS_ADMIN: userId === 1, INSTALL: false, FIRST_RUN: false, ...extra };
  };
  const frame = (): FrameLocator => page.frameLocator("#app-frame");

  beforeAll(async () => {
    loopbackOnly();
    graph = nockGraph({ templates: TEMPLATES, wamidPrefix: "E2E" }).bodies;
    world = await startFakeBitrix24();
    portal = await world.addPortal();
    leadId = portal.addLead({ TITLE: "Photo session", NAME: "Ivan", LAST_NAME: "Petrov", PHONE: [{ VALUE: "+7 916 123-45-67", VALUE_TYPE: "MOBILE" }] });

    // The page's origin must be allowed to frame our pages before the backend starts.
    const hostPort = await freePort();
    s = await startTestServer({
      WHATSAPP_WABA_ID: WABA,
      ...world.env,
      BITRIX24_FRAME_ORIGINS: `http://127.0.0.1:${hostPort}`,
    });
    await buildBitrix24App({ publicUrl: s.url });
    branch = (await api(s.url, s.adminToken, "POST", "/admin/api/branches", { name: "Art Shop", code: "B24SHOP", crm: "bitrix24" })).body;
    await api(s.url, s.adminToken, "POST", "/admin/api/branches", { name: "Persona HQ", code: "HQ", crm: "inbox", isHq: true });
    await waitFor(async () => (await api(s.url, s.adminToken, "GET", "/admin/api/templates")).body.templates.length === TEMPLATES.length, "templates synced");
    host = await startB24HostPage({ port: hostPort });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1000, height: 1000 } });
  });
  afterAll(async () => {
    await browser?.close();
    await host?.close();
    await s?.close();
    await world?.close();
    openNetwork();
  });

  it("installs from the installer page: the admin enters the branch key, everything is registered, installFinish is called", async () => {
    const form = installForm(portal);
    await page.goto(host.open({ action: `${s.url}/bitrix24/install`, fields: form.fields, initData: initData({ INSTALL: true }) }));
    const key = frame().getByTestId("branch-key");
    await expect.poll(() => key.count(), { timeout: 20_000 }).toBe(1);
    await frame().getByTestId("install-submit").click();
    await expect.poll(() => frame().getByTestId("install-result").textContent(), { timeout: 10_000 }).toContain("Enter the branch key");

    await key.fill("bl_not_a_key");
    await frame().getByTestId("install-submit").click();
    await expect.poll(() => frame().getByTestId("install-result").getAttribute("role"), { timeout: 10_000 }).toBe("alert");
    expect(await frame().getByTestId("install-result").textContent()).toContain("no active branch has this key");

    await key.fill(branch.apiKey);
    await frame().getByTestId("install-submit").click();
    await expect.poll(() => frame().getByTestId("install-result").textContent(), { timeout: 20_000 }).toContain("Connected to Art Shop");
    const commands: Array<{ command: string }> = await page.evaluate(() => (window as any).b24Host.commands);
    expect(commands.map((c) => c.command)).toContain("setInstallFinish");
    expect(commands[0]!.command).toBe("getInitData");
    const regs = portal.registrations();
    expect(Object.keys(regs.placements).sort()).toEqual([`CRM_DEAL_DETAIL_TAB ${s.config.PUBLIC_URL}/bitrix24/placement`, `CRM_LEAD_DETAIL_TAB ${s.config.PUBLIC_URL}/bitrix24/placement`]);
    expect(regs.robots).toEqual({ wa_send_template: 1 });
  });

  it("shows the card tab: branch, routing reason, live countdown, prefilled parameters and preview; sends the template", async () => {
    const timestamp = Math.floor(Date.now() / 1000);
    const before = Date.now();
    await postWebhook(s.url, envelope(messagesValue([textMessage({ from: phone, text: "Hello B24SHOP", timestamp })], { [phone]: "Ivan" })));
    await waitFor(() => portal.state.inbound.find((m) => m.message.message.text === "Hello B24SHOP"), "the message in Open Lines");
    const inbound = { lo: Math.min(timestamp * 1000, before), hi: Date.now() };

    const tab = installForm(portal, { userId: 7, placement: "CRM_LEAD_DETAIL_TAB", placementOptions: { ID: String(leadId) } });
    await page.goto(host.open({ action: `${s.url}/bitrix24/placement`, fields: tab.fields, initData: initData({ PLACEMENT: "CRM_LEAD_DETAIL_TAB", PLACEMENT_OPTIONS: { ID: String(leadId) } }, 7) }));
    const f = frame();
    await expect.poll(() => f.getByTestId("branch-name").textContent(), { timeout: 20_000 }).toContain("Art Shop");
    expect(await f.getByTestId("routing-reason").textContent()).toContain("B24SHOP");
    expect(await f.getByTestId("contact").textContent()).toContain("Ivan Petrov");

    // The countdown: 24 h after the customer's message, on the server's clock (same machine here).
    const countdown = f.getByTestId("window-countdown");
    expect(await countdown.getAttribute("data-state")).toBe("open");
    const readFrom = Date.now();
    const shownLeft = seconds((await countdown.textContent())!.trim());
    const readTo = Date.now();
    expect(shownLeft).toBeGreaterThanOrEqual(Math.floor((inbound.lo + DAY - readTo) / 1000) - 1);
    expect(shownLeft).toBeLessThanOrEqual(Math.ceil((inbound.hi + DAY - readFrom) / 1000));
    await expect.poll(async () => seconds((await countdown.textContent())!.trim()), { timeout: 5_000 }).toBeLessThan(shownLeft);

    // The only template is preselected; its parameters come prefilled from the lead.
    const select = f.getByTestId("template-select");
    if ((await select.inputValue()) === "") await select.selectOption("order_ready|en");
    await expect.poll(() => f.getByTestId("template-param").count()).toBe(2);
    expect(await f.locator('[data-testid="template-param"][data-key="1"]').inputValue()).toBe("Ivan");
    expect(await f.locator('[data-testid="template-param"][data-key="2"]').inputValue()).toBe(String(leadId));
    expect(await f.getByTestId("template-preview").textContent()).toBe(`Hello Ivan, your order ${leadId} is ready.`);
    await f.locator('[data-testid="template-param"][data-key="1"]').fill("Ivan Petrovich");
    await expect.poll(() => f.getByTestId("template-preview").textContent()).toBe(`Hello Ivan Petrovich, your order ${leadId} is ready.`);

    await f.getByTestId("send-button").click();
    await expect.poll(() => f.getByTestId("send-result").count(), { timeout: 15_000 }).toBe(1);
    const id = await f.getByTestId("send-result").getAttribute("data-message-id");
    const recorded = await api(s.url, branch.apiKey, "GET", `/api/v1/messages/${id}`);
    expect(recorded).toMatchObject({ status: 200, body: { id } });
    const sent = await waitFor(() => graph.find((b) => b.type === "template" && b.template?.name === "order_ready"), "the template at Graph");
    expect(sent.to).toBe(`+${phone}`);
    expect(sent.template.components[0].parameters.map((p: any) => p.text)).toEqual(["Ivan Petrovich", String(leadId)]);

    await f.getByTestId("refresh").click();
    await expect
      .poll(() => f.locator('[data-testid="status-row"][data-direction="out"]').allTextContents(), { timeout: 15_000 })
      .toEqual(expect.arrayContaining([expect.stringMatching(/Hello Ivan Petrovich|order_ready/)]));
  });
});
