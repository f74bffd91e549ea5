import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildWeb } from "../../scripts/build-web.js";
import { startServer, type RunningServer } from "../../backend/src/server.js";
import { createLogger } from "../../backend/src/ops/logger.js";
import { api, tempDir, waitFor } from "../builders/harness.js";
import { hasChromium, launchChromium } from "./browser.js";

/** The page is wider than the phone: something forces sideways scrolling. */
const overflowsX = (page: Page) => page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);

describe.skipIf(!hasChromium)("franchisor console in a real browser (phone-sized)", () => {
  let server: RunningServer;
  let browser: Browser;
  let removeDir: () => Promise<void>;

  beforeAll(async () => {
    // Always rebuild: an existing dist/web/console.js may predate the newer tabs.
    await buildWeb();
    const { dir, remove } = await tempDir("branchline-console-e2e-");
    removeDir = remove;
    server = await startServer({ PORT: "0", DATA_DIR: dir, LOG_LEVEL: "silent" }, { logger: createLogger("silent") });
    browser = await launchChromium();
    // A customer writes from the sandbox phone with Art Play's code: one inbound message to chart.
    const r = await fetch(`${server.url}/sandbox/api/phones/79161234567/messages`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "Anna", text: "Hello ARTPLAY" }) });
    expect(r.status).toBe(202);
    await waitFor(async () => (await api(server.url, server.adminToken, "GET", "/admin/api/analytics")).body.totals?.inbound === 1, "the message counted");
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await removeDir?.();
  });

  it("logs in, creates a branch and shows its key once, tests routing, charts analytics", async () => {
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, locale: "en-US" });
    const page = await context.newPage();
    await page.goto(`${server.url}/admin`);

    // A wrong token is refused; the right one opens the console.
    await page.getByTestId("token-input").fill("not-the-token");
    await page.getByTestId("login-button").click();
    await expect.poll(() => page.getByTestId("login-error").textContent()).toContain("Invalid admin token");
    await page.getByTestId("token-input").fill(server.adminToken);
    await page.getByTestId("login-button").click();
    await expect.poll(() => page.getByTestId("branch-card").count()).toBe(2);
    const artCard = page.locator('[data-testid="branch-card"][data-code="ARTPLAY"]');
    await expect.poll(() => artCard.getByTestId("last-inbound").textContent()).not.toBe("never");

    // Create a branch: the key is shown once, with how to connect it.
    await page.getByTestId("new-name").fill("Nails Kazan");
    await page.getByTestId("new-code").fill("NAILS");
    await page.getByTestId("new-keywords").fill("маникюр, ногти");
    await page.getByTestId("new-city").fill("Kazan");
    await page.getByTestId("create-button").click();
    const keyText = (await page.getByTestId("new-api-key").textContent()) ?? "";
    expect(keyText).toMatch(/^bl_[A-Za-z0-9_-]{43}$/);
    expect(await page.getByTestId("install-steps").textContent()).toContain(`${server.url}/inbox`);
    await expect.poll(() => page.getByTestId("branch-card").count()).toBe(3);
    // The key is real: it opens the new branch's inbox API.
    expect((await api(server.url, keyText, "GET", "/inbox/api/me")).body.branch.code).toBe("NAILS");
    expect(await overflowsX(page)).toBe(false);

    // After a reload the session stays, the key does not.
    await page.reload();
    await expect.poll(() => page.getByTestId("branch-card").count()).toBe(3);
    expect(await page.getByTestId("one-time-secret").count()).toBe(0);
    expect(await page.content()).not.toContain(keyText);

    // Where would this message go? A new customer naming the new branch's keyword …
    await page.getByTestId("nav-routing").click();
    await page.getByTestId("test-from").fill("+7 916 000-00-42");
    await page.getByTestId("test-text").fill("Нужен маникюр в субботу");
    await page.getByTestId("run-test").click();
    const decision = page.getByTestId("decision");
    await expect.poll(() => decision.getAttribute("data-rule")).toBe("keyword");
    expect(await page.getByTestId("decision-branch").textContent()).toBe("Nails Kazan");
    expect(await page.getByTestId("decision-reason").textContent()).toContain("маникюр");
    // … and Anna, who already talks to Art Play, stays there.
    await page.getByTestId("test-from").fill("+79161234567");
    await page.getByTestId("run-test").click();
    await expect.poll(() => decision.getAttribute("data-rule")).toBe("open_binding");
    expect(await page.getByTestId("decision-branch").textContent()).toBe("Art Play");
    expect(await overflowsX(page)).toBe(false);

    // Analytics: a chart per metric with totals.
    await page.getByTestId("nav-analytics").click();
    await expect.poll(() => page.getByTestId("total-messages").textContent()).toBe("1 / 0");
    const inboundLine = page.getByTestId("chart-messages").locator("svg path").first();
    expect(await inboundLine.getAttribute("d")).toMatch(/^M[\d.]+,[\d.]+(L[\d.]+,[\d.]+)+$/);
    expect(await page.locator('[data-testid="chart-svg"]').count()).toBe(6);
    expect(await page.getByTestId("branch-totals").locator("tbody tr").count()).toBe(3);
    expect(await overflowsX(page)).toBe(false);

    // Russian on demand.
    await page.getByTestId("lang-switch").selectOption("ru");
    expect(await page.getByTestId("nav-analytics").textContent()).toBe("Аналитика");
    await context.close();
  });

  it("installs the NPS flow, names the step of a broken definition, and manages operators and alerts", async () => {
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, locale: "en-US" });
    const page = await context.newPage();
    page.on("dialog", (d) => void d.accept());
    await page.goto(`${server.url}/admin#/flows`);
    await page.getByTestId("token-input").fill(server.adminToken);
    await page.getByTestId("login-button").click();

    // The NPS example, at most once per customer per 14 days.
    await page.getByTestId("nps-days").fill("14");
    await page.getByTestId("nps-install").click();
    await expect.poll(() => page.getByTestId("nps-installed").textContent()).toBe("Installed as nps");
    // In the sandbox nps_invite is not a synced template: installed, with a warning naming the step.
    expect(await page.getByTestId("install-nps").locator('[data-testid="flow-problem"][data-step="invite"]').count()).toBe(1);
    const row = page.locator('[data-testid="flow-row"][data-id="nps"]');
    await expect.poll(() => row.count()).toBe(1);
    expect((await api(server.url, server.adminToken, "GET", "/admin/api/flows/nps")).body.definition.oncePerDays).toBe(14);

    // Open it in the editor and break it: a step that goes nowhere.
    await row.getByTestId("flow-edit").click();
    const editor = page.getByTestId("flow-json");
    await expect.poll(() => editor.inputValue()).toContain('"wait_invite"');
    const definition = JSON.parse(await editor.inputValue());
    definition.steps.wait_invite.next = "no_such_step";
    await editor.fill(JSON.stringify(definition, null, 2));
    await page.getByTestId("flow-check-button").click();
    const problem = page.getByTestId("flow-problems").getByTestId("flow-problem");
    await expect.poll(() => problem.count()).toBe(1);
    expect(await problem.getAttribute("data-step")).toBe("wait_invite");
    expect(await problem.getAttribute("data-field")).toBe("next");
    expect(await problem.textContent()).toContain("step wait_invite");
    expect(await problem.textContent()).toContain("no_such_step");
    // Saving it is refused with the same problem; the stored flow is unchanged.
    await page.getByTestId("flow-save").click();
    await expect.poll(() => page.getByTestId("flow-error").count()).toBe(1);
    expect(await page.getByTestId("flow-problems").getByTestId("flow-problem").getAttribute("data-step")).toBe("wait_invite");
    expect((await api(server.url, server.adminToken, "GET", "/admin/api/flows/nps")).body.version).toBe(1);
    // Not JSON at all is caught before asking the server.
    await editor.fill('{"name": ');
    await page.getByTestId("flow-check-button").click();
    await expect.poll(() => page.getByTestId("flow-error").textContent()).toContain("Not valid JSON");
    // Disable and enable.
    await row.getByTestId("flow-toggle").click();
    await expect.poll(() => row.getAttribute("data-enabled")).toBe("false");
    expect((await api(server.url, server.adminToken, "GET", "/admin/api/flows/nps")).body.enabled).toBe(false);
    expect(await overflowsX(page)).toBe(false);

    // Operators of Art Play: add one, then stop their WhatsApp alerts.
    await page.getByTestId("nav-operators").click();
    const artplay = (await api(server.url, server.adminToken, "GET", "/admin/api/branches")).body.find((b: { code: string }) => b.code === "ARTPLAY");
    await page.getByTestId("operators-branch").selectOption(artplay.id);
    await expect.poll(() => page.getByTestId("no-operators").count()).toBe(1);
    await page.getByTestId("op-name").fill("Ольга");
    await page.getByTestId("op-phone").fill("+7 916 555-00-11");
    await page.getByTestId("operator-add").click();
    const op = page.getByTestId("operator");
    await expect.poll(() => op.count()).toBe(1);
    expect(await op.getAttribute("data-phone")).toBe("+79165550011");
    expect(await op.getByTestId("operator-notify").getAttribute("data-on")).toBe("true");
    expect((await api(server.url, server.adminToken, "GET", `/admin/api/branches/${artplay.id}/operators`)).body.operators).toMatchObject([{ name: "Ольга", phone: "+79165550011", notifyWhatsApp: true }]);
    await op.getByTestId("operator-edit-button").click();
    await page.getByTestId("edit-op-notify").uncheck();
    await page.getByTestId("operator-save").click();
    await expect.poll(() => page.getByTestId("operator").getByTestId("operator-notify").getAttribute("data-on")).toBe("false");
    // A bad phone is refused with the server's reason.
    await page.getByTestId("op-name").fill("Bad");
    await page.getByTestId("op-phone").fill("12");
    await page.getByTestId("operator-add").click();
    await expect.poll(() => page.getByTestId("operator-error").count()).toBe(1);
    expect(await page.getByTestId("operator").count()).toBe(1);

    // Alert settings: the escalation must come after the reminder.
    await page.getByTestId("alerts-renotify").fill("30");
    await page.getByTestId("alerts-escalate").fill("20");
    await page.getByTestId("alerts-save").click();
    await expect.poll(() => page.getByTestId("alerts-error").textContent()).toContain("escalateAfterMinutes");
    await page.getByTestId("alerts-escalate").fill("90");
    await page.getByTestId("alerts-template").fill("operator_alert:ru");
    await page.getByTestId("alerts-save").click();
    await expect.poll(async () => (await api(server.url, server.adminToken, "GET", "/admin/api/settings/alerts")).body).toEqual({ renotifyAfterMinutes: 30, escalateAfterMinutes: 90, template: "operator_alert:ru" });
    expect(await overflowsX(page)).toBe(false);

    // Russian: the new tabs are translated.
    await page.getByTestId("lang-switch").selectOption("ru");
    expect(await page.getByTestId("nav-operators").textContent()).toBe("Операторы и оповещения");
    expect(await page.getByTestId("nav-campaigns").textContent()).toBe("Рассылки");
    expect(await overflowsX(page)).toBe(false);
    await context.close();
  });

  it("starts in Russian for a Russian browser", async () => {
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, locale: "ru-RU" });
    const page = await context.newPage();
    await page.goto(`${server.url}/admin`);
    await expect.poll(() => page.getByTestId("login-button").textContent()).toBe("Войти");
    await context.close();
  });
});
