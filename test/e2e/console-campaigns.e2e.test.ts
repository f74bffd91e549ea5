import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildWeb } from "../../scripts/build-web.js";
import { startServer, type RunningServer } from "../../backend/src/server.js";
import { createLogger } from "../../backend/src/ops/logger.js";
import { startFakeGraph } from "../builders/fake-graph.js";
import { api, postWebhook, productionEnv, tempDir, waitFor } from "../builders/harness.js";
import { NUMBER, envelope } from "../builders/meta-payloads.js";
import { hasChromium, launchChromium } from "./browser.js";

const ADMIN = "console-campaigns-admin-token";

/** Template objects as `GET /{WABA_ID}/message_templates` lists them (doc §6.1). */
const TEMPLATES = [
  {
    name: "spring_sale", parameter_format: "POSITIONAL", language: "ru", status: "APPROVED", category: "MARKETING", id: "4001",
    components: [{ type: "BODY", text: "{{1}}, весенняя скидка 20% на все услуги!", example: { body_text: [["Анна"]] } }],
  },
  {
    name: "salon_closed", parameter_format: "POSITIONAL", language: "ru", status: "APPROVED", category: "UTILITY", id: "4002",
    components: [{ type: "BODY", text: "Салон {{1}} сейчас закрыт. Ответьте 1, чтобы записаться онлайн.", example: { body_text: [["Art Play"]] } }],
  },
  {
    name: "nps_invite", parameter_format: "POSITIONAL", language: "ru", status: "APPROVED", category: "UTILITY", id: "4003",
    components: [
      { type: "BODY", text: "{{1}}, спасибо за визит в {{2}}! Оцените нас — это займёт минуту.", example: { body_text: [["Анна", "Art Play"]] } },
      { type: "BUTTONS", buttons: [{ type: "QUICK_REPLY", text: "Оценить" }] },
    ],
  },
];

/** A status webhook for one message (doc §2.5). */
const statusWebhook = (wamid: string, status: string, recipient: string, errors?: unknown[]) =>
  envelope({ messaging_product: "whatsapp", metadata: { display_phone_number: NUMBER.display, phone_number_id: NUMBER.phoneNumberId }, statuses: [{ id: wamid, status, timestamp: String(Math.floor(Date.now() / 1000)), recipient_id: recipient, ...(errors ? { errors } : {}) }] });

const overflowsX = (page: Page) => page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);

/** Width of one part of the campaign view's progress bar, in % of the bar. */
const partWidth = (page: Page, part: string) =>
  page.getByTestId("campaign-view").getByTestId("progress-bar").locator(`i[data-part="${part}"]`).evaluate((el) => (el.getBoundingClientRect().width / el.parentElement!.getBoundingClientRect().width) * 100);
const count = async (page: Page, name: string) => Number(await page.getByTestId(`count-${name}`).getAttribute("data-value"));

describe.skipIf(!hasChromium)("console: campaigns, call trigger and flow runs in a real browser (phone-sized)", () => {
  let graph: Awaited<ReturnType<typeof startFakeGraph>>;
  let server: RunningServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let dir: { dir: string; remove(): Promise<void> };
  let branch: { id: string; apiKey: string };

  beforeAll(async () => {
    // Always rebuild: an existing dist/web/console.js may predate these tabs.
    await buildWeb();
    graph = await startFakeGraph((req) => (req.path.includes("/message_templates") ? { status: 200, body: { data: TEMPLATES, paging: {} } } : undefined));
    dir = await tempDir("branchline-console-campaigns-");
    server = await startServer(productionEnv(dir.dir, { WHATSAPP_GRAPH_URL: graph.url, WHATSAPP_WABA_ID: NUMBER.waba, ADMIN_TOKEN: ADMIN }), { logger: createLogger("silent") });
    await waitFor(async () => (await api(server.url, ADMIN, "GET", "/admin/api/templates")).body.templates?.length === TEMPLATES.length, "templates synced");
    const r = await api(server.url, ADMIN, "POST", "/admin/api/branches", { name: "Art Play", code: "ARTPLAY", crm: "inbox" });
    expect(r.status).toBe(201);
    branch = r.body;
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 390, height: 844 }, locale: "en-US" });
    page = await context.newPage();
    page.on("dialog", (d) => void d.accept());
    await page.goto(`${server.url}/admin`);
    await page.getByTestId("token-input").fill(ADMIN);
    await page.getByTestId("login-button").click();
    await page.getByTestId("branch-card").first().waitFor();
  });
  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await server?.close();
    await graph?.close();
    await dir?.remove();
  });

  it("previews a CSV upload with its bad rows, starts it, and the progress bar follows Meta's status webhooks", async () => {
    await page.getByTestId("nav-campaigns").click();
    await expect.poll(() => page.getByTestId("campaign-template").locator("option").count()).toBe(TEMPLATES.length + 1);
    await page.getByTestId("campaign-name").fill("Весна");
    await page.getByTestId("campaign-template").selectOption("spring_sale|ru");
    await page.getByTestId("campaign-branches").locator('input[data-code="ARTPLAY"]').check();
    const csv = ["phone;1", "+7 916 000-01-01;Анна", "+79160000102;Борис", "+79160000103;Вера", "not-a-phone;Х", "8 (916) 000-01-01;Анна снова"].join("\r\n");
    await page.getByTestId("campaign-csv-file").setInputFiles({ name: "spring.csv", mimeType: "text/csv", buffer: Buffer.from(`\uFEFF${csv}`, "utf8") });
    // The file is read asynchronously (FileReader): wait for the textarea to show it; a textarea keeps LF.
    await expect.poll(() => page.getByTestId("campaign-csv").inputValue()).toBe(csv.replaceAll("\r\n", "\n"));

    // Start waits for a preview of exactly this form.
    expect(await page.getByTestId("campaign-start").isDisabled()).toBe(true);
    await page.getByTestId("campaign-preview").click();
    const report = page.getByTestId("import-report");
    await expect.poll(() => report.getByTestId("report-total").getAttribute("data-value")).toBe("5");
    expect(await report.getByTestId("report-good").getAttribute("data-value")).toBe("3");
    expect(await report.getByTestId("report-skipped").getAttribute("data-value")).toBe("2");
    const bad = report.getByTestId("report-error");
    expect(await bad.evaluateAll((rows) => rows.map((r) => [r.getAttribute("data-line"), r.getAttribute("data-code")]))).toEqual([
      ["5", "invalid_phone"],
      ["6", "duplicate"],
    ]);
    expect(await bad.nth(1).textContent()).toContain("line 2");
    expect(await report.getByTestId("limit-state").getAttribute("data-ok")).toBe("true");
    expect(await report.getByTestId("report-limit").textContent()).toContain("1,000");
    expect((await api(server.url, ADMIN, "GET", "/admin/api/campaigns")).body.campaigns).toEqual([]); // the preview created nothing
    expect(await overflowsX(page)).toBe(false);

    await page.getByTestId("campaign-start").click();
    const view = page.getByTestId("campaign-view");
    await expect.poll(() => view.getAttribute("data-id")).toMatch(/^cmp_/);
    const id = (await view.getAttribute("data-id"))!;
    // The three good rows go out (the fake Graph accepts them); the two bad ones count as skipped.
    const bar = view.getByTestId("progress-bar");
    await expect.poll(() => bar.getAttribute("data-done"), { timeout: 15_000 }).toBe("5");
    expect(await bar.getAttribute("data-total")).toBe("5");
    expect(await page.getByTestId("processed").textContent()).toBe("5 of 5 processed");
    await expect.poll(() => view.getByTestId("campaign-state").getAttribute("data-state")).toBe("done");
    expect(await count(page, "sent")).toBe(3);
    expect(await count(page, "delivered")).toBe(0);
    const deliveredBefore = (await partWidth(page, "read")) + (await partWidth(page, "delivered"));
    expect(deliveredBefore).toBe(0);
    await expect.poll(() => page.getByTestId("recipient-row").count()).toBe(3);

    // Meta reports deliveries, a read and a failure: the page follows from its event stream.
    const recipients = (await api(server.url, ADMIN, "GET", `/admin/api/campaigns/${id}/recipients`)).body.items as { phone: string; wamid: string }[];
    const wamid = (phone: string) => recipients.find((r) => r.phone === phone)!.wamid;
    for (const d of ["79160000101", "79160000102"]) expect((await postWebhook(server.url, statusWebhook(wamid(`+${d}`), "delivered", d))).status).toBe(200);
    await expect.poll(() => count(page, "delivered"), { timeout: 10_000 }).toBe(2);
    const deliveredAfter = (await partWidth(page, "read")) + (await partWidth(page, "delivered"));
    expect(deliveredAfter).toBeGreaterThan(deliveredBefore);
    expect(Math.round(deliveredAfter)).toBe(40); // 2 of 5 rows

    await postWebhook(server.url, statusWebhook(wamid("+79160000101"), "read", "79160000101"));
    await postWebhook(server.url, statusWebhook(wamid("+79160000103"), "failed", "79160000103", [{ code: 131026, title: "Message undeliverable", message: "Message undeliverable", error_data: { details: "Message Undeliverable." } }]));
    await expect.poll(() => count(page, "failed"), { timeout: 10_000 }).toBe(1);
    await expect.poll(() => count(page, "read")).toBe(1);
    expect(await count(page, "sent")).toBe(2);
    expect(Math.round(await partWidth(page, "read"))).toBe(20);
    expect(Math.round(await partWidth(page, "failed"))).toBe(20);
    // The recipients table follows too.
    await expect.poll(() => page.locator('[data-testid="recipient-row"][data-phone="+79160000103"]').getAttribute("data-status")).toBe("failed");
    expect(await overflowsX(page)).toBe(false);

    await page.getByTestId("campaign-back").click();
    await expect.poll(() => page.getByTestId("campaign-row").count()).toBe(1);
    expect(await page.getByTestId("campaign-row").getByTestId("campaign-state").textContent()).toBe("done");
  });

  it("pauses and resumes a scheduled campaign, then cancels it", async () => {
    await page.getByTestId("campaign-name").fill("Завтра");
    await page.getByTestId("campaign-template").selectOption("spring_sale|ru");
    await page.getByTestId("campaign-branches").locator('input[data-code="ARTPLAY"]').check();
    await page.getByTestId("campaign-csv").fill("phone,1\n+79160000201,Юля\n+79160000202,Яна");
    const later = new Date(Date.now() + 7 * 86_400_000);
    const two = (n: number) => String(n).padStart(2, "0");
    await page.getByTestId("campaign-start-at").fill(`${later.getFullYear()}-${two(later.getMonth() + 1)}-${two(later.getDate())}T10:00`);
    await page.getByTestId("campaign-preview").click();
    await expect.poll(() => page.getByTestId("report-good").getAttribute("data-value")).toBe("2");
    await page.getByTestId("campaign-start").click();

    const state = page.getByTestId("campaign-view").getByTestId("campaign-state");
    await expect.poll(() => state.getAttribute("data-state")).toBe("scheduled");
    const id = (await page.getByTestId("campaign-view").getAttribute("data-id"))!;
    await page.getByTestId("campaign-pause").click();
    await expect.poll(() => state.getAttribute("data-state")).toBe("paused");
    expect((await api(server.url, ADMIN, "GET", `/admin/api/campaigns/${id}`)).body.state).toBe("paused");
    expect(await page.getByTestId("campaign-pause").count()).toBe(0);
    await page.getByTestId("campaign-resume").click();
    await expect.poll(() => state.getAttribute("data-state")).toBe("scheduled");
    expect((await api(server.url, ADMIN, "GET", `/admin/api/campaigns/${id}`)).body.state).toBe("scheduled");
    await page.getByTestId("campaign-cancel").click();
    await expect.poll(() => state.getAttribute("data-state")).toBe("cancelled");
    await expect.poll(() => page.getByTestId("count-skipped").getAttribute("data-value")).toBe("2");
    expect(await page.getByTestId("campaign-cancel").count()).toBe(0);
    expect(graph.accepted.filter((r) => ["+79160000201", "+79160000202"].includes(r.body.to))).toHaveLength(0);
  });

  it("sets a branch's call trigger from the branch editor", async () => {
    await page.getByTestId("nav-branches").click();
    const card = page.getByTestId("call-trigger");
    await card.getByTestId("ct-on").check();
    await card.getByTestId("ct-template").selectOption("salon_closed|ru");
    await card.getByTestId("ct-params").fill("Art Play");
    await card.getByTestId("ct-cooldown").fill("12");
    await card.getByTestId("ct-event-incoming").check();
    await card.getByTestId("ct-save").click();
    await expect.poll(() => card.getByTestId("ct-saved").count()).toBe(1);
    const saved = (await api(server.url, ADMIN, "GET", `/admin/api/branches/${branch.id}`)).body;
    expect(saved.callTrigger).toEqual({ template: "salon_closed", language: "ru", params: ["Art Play"], cooldownHours: 12, events: ["incoming", "missed"] });
    // The trigger works: a reported call sends the template.
    const call = await api(server.url, branch.apiKey, "POST", "/api/v1/calls", { caller: "+79160000301", event: "incoming" });
    expect(call.body.status).toBe("queued");
    // After a reload the form shows what is stored; switching it off clears it.
    await page.reload();
    await expect.poll(() => page.getByTestId("ct-cooldown").inputValue()).toBe("12");
    await page.getByTestId("ct-on").uncheck();
    await page.getByTestId("ct-save").click();
    await expect.poll(async () => (await api(server.url, ADMIN, "GET", `/admin/api/branches/${branch.id}`)).body.callTrigger).toBeUndefined();
    expect(await overflowsX(page)).toBe(false);
  });

  it("starts the NPS flow for a customer and lists the run waiting on its step", async () => {
    await page.getByTestId("nav-flows").click();
    await page.getByTestId("nps-install").click();
    await expect.poll(() => page.locator('[data-testid="flow-row"][data-id="nps"]').count()).toBe(1);
    await page.locator('[data-testid="flow-row"][data-id="nps"]').getByTestId("flow-runs").click();
    await page.getByTestId("run-phone").fill("+7 916 000-04-01");
    await page.getByTestId("run-start").click();
    // Outside the window the survey opens with the invitation template, then waits for the button.
    const run = page.getByTestId("run-row").first();
    await expect.poll(() => run.getAttribute("data-status")).toBe("active");
    expect(await run.locator("code").textContent()).toBe("wait_invite");
    await waitFor(() => graph.accepted.some((r) => r.body.to === "+79160000401" && r.body.template?.name === "nps_invite"), "the invitation sent");
    // A second start within the period is refused, and the page says why.
    await page.getByTestId("run-start").click();
    await expect.poll(() => page.getByTestId("run-error").count()).toBe(1);
    expect(await page.getByTestId("run-row").count()).toBe(1);
    expect(await overflowsX(page)).toBe(false);
  });
});
