import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildWeb } from "../../scripts/build-web.js";
import { startServer, type RunningServer } from "../../backend/src/server.js";
import { createLogger } from "../../backend/src/ops/logger.js";
import { tempDir } from "../builders/harness.js";
import { hasChromium, launchChromium } from "./browser.js";

describe.skipIf(!hasChromium)("sandbox demo in a real browser", () => {
  let server: RunningServer;
  let browser: Browser;
  let removeDir: () => Promise<void>;

  beforeAll(async () => {
    await buildWeb({ onlyIfMissing: true });
    const { dir, remove } = await tempDir("branchline-e2e-");
    removeDir = remove;
    server = await startServer({ PORT: "0", DATA_DIR: dir, LOG_LEVEL: "silent" }, { logger: createLogger("silent") });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await removeDir?.();
  });

  it("phone → menu → branch inbox → reply → phone", async () => {
    expect(server.demoBranches.map((b) => b.name)).toEqual(["Art Play", "Persona Lab"]);
    const artPlay = server.demoBranches[0]!;

    const phone = await browser.newPage({ viewport: { width: 390, height: 800 } });
    await phone.goto(`${server.url}/sandbox`);
    await phone.getByTestId("phone-input").fill("79161234567");
    await phone.getByTestId("name-input").fill("Anna");
    await phone.getByTestId("open-phone").click();
    await phone.getByTestId("chat-input").fill("Hello, I'd like to book a photo shoot");
    await phone.getByTestId("chat-send").click();

    // Two demo branches and no rule decided: the phone gets the branch menu as a list.
    await phone.getByTestId("list-open").click();
    await phone.locator('[data-testid="list-row"]', { hasText: "Art Play" }).click();

    const inbox = await browser.newPage();
    await inbox.goto(`${server.url}/inbox`);
    await inbox.getByTestId("key-input").fill(artPlay.apiKey);
    await inbox.getByTestId("login-button").click();
    await inbox.getByTestId("dialog-row").first().click();
    await expect.poll(() => inbox.getByTestId("message").allTextContents(), { timeout: 15_000 }).toEqual(
      expect.arrayContaining([expect.stringContaining("Hello, I'd like to book a photo shoot")]),
    );
    expect(await inbox.getByTestId("routing-reason").textContent()).toContain("chose Art Play in the menu");

    await inbox.getByTestId("reply-input").fill("Welcome to Art Play, Anna!");
    await inbox.getByTestId("send-button").click();

    // The reply reaches the phone live, and the phone's open chat marks it read in the inbox.
    await expect
      .poll(() => phone.locator('[data-testid="bubble"][data-from="business"]').allTextContents(), { timeout: 15_000 })
      .toEqual(expect.arrayContaining([expect.stringContaining("Welcome to Art Play, Anna!")]));
    const outgoing = inbox.locator('[data-testid="message"][data-direction="out"]').last();
    await expect.poll(() => outgoing.getAttribute("data-status"), { timeout: 15_000 }).toBe("read");

    // A second message from the phone appears in the open inbox without a reload.
    await phone.getByTestId("chat-input").fill("Saturday at 11?");
    await phone.getByTestId("chat-send").click();
    await expect.poll(() => inbox.getByTestId("message").allTextContents(), { timeout: 15_000 }).toEqual(
      expect.arrayContaining([expect.stringContaining("Saturday at 11?")]),
    );
  });
});
