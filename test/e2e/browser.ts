import { existsSync } from "node:fs";
import { chromium, type Browser } from "playwright-core";

/** Debian's chromium (installed by .ci/run); never a downloaded browser. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const hasChromium = existsSync(CHROMIUM);

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

/** A countdown as pages show it, "23:59:07", in seconds. */
export function hmsSeconds(hms: string): number {
  const [h, m, s] = hms.split(":").map(Number);
  return h! * 3600 + m! * 60 + s!;
}

if (!hasChromium) console.warn(`[e2e] SKIPPED: no Chromium at ${CHROMIUM} (apt-get install chromium; .ci/run does this)`);
