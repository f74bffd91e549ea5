import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { signMetaPayload } from "../../backend/src/channels/whatsapp/webhook-signature.js";
import { startServer, type RunningServer } from "../../backend/src/server.js";
import { createLogger } from "../../backend/src/ops/logger.js";

export const APP_SECRET = "test_app_secret";
export const VERIFY_TOKEN = "verify-me";

/** Production-mode environment (not sandbox): Graph calls go to a host only nock answers. */
export function productionEnv(dataDir: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PORT: "0",
    DATA_DIR: dataDir,
    LOG_LEVEL: "silent",
    WHATSAPP_ACCESS_TOKEN: "test-token",
    WHATSAPP_APP_SECRET: APP_SECRET,
    WHATSAPP_VERIFY_TOKEN: VERIFY_TOKEN,
    WHATSAPP_PHONE_NUMBER_ID: "106540352242922",
    WHATSAPP_GRAPH_URL: "http://graph.test/v25.0",
    DELIVERY_BACKOFF_MS: "30",
    ...extra,
  };
}

export async function tempDir(prefix = "branchline-test-"): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

export async function startTestServer(extra: Record<string, string> = {}): Promise<RunningServer & { dataDir: string }> {
  const { dir, remove } = await tempDir();
  const server = await startServer(productionEnv(dir, extra), { logger: createLogger("silent") });
  return {
    ...server,
    dataDir: dir,
    close: async () => {
      await server.close();
      await remove();
    },
  };
}

/** POSTs a body to our Meta webhook as Meta would: raw bytes, signed. */
export async function postWebhook(baseUrl: string, body: unknown, opts: { secret?: string | null; raw?: string } = {}): Promise<Response> {
  const raw = opts.raw ?? JSON.stringify(body);
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (opts.secret !== null) headers["x-hub-signature-256"] = signMetaPayload(raw, opts.secret ?? APP_SECRET);
  return fetch(`${baseUrl}/webhooks/whatsapp`, { method: "POST", headers, body: raw });
}

export async function api(baseUrl: string, token: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, body: parsed };
}

export async function waitFor<T>(probe: () => Promise<T | undefined | false> | T | undefined | false, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export const fixture = (name: string) => readFile(join("test/fixtures/whatsapp", `${name}.json`), "utf8");

export interface ReceivedHook {
  raw: string;
  body: any;
  signature: string | undefined;
}

/**
 * A branch's own webhook endpoint on loopback. `plan` says what to answer to each call in turn
 * (the last entry repeats); every request is recorded.
 */
export async function startReceiver(plan: number[] = [200]): Promise<{ url: string; received: ReceivedHook[]; calls: number; close(): Promise<void> }> {
  const received: ReceivedHook[] = [];
  let calls = 0;
  const server: Server = createServer(async (req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString("utf8");
    const status = plan[Math.min(calls, plan.length - 1)]!;
    calls++;
    if (status >= 200 && status < 300) received.push({ raw, body: JSON.parse(raw), signature: req.headers["x-signature-256"] as string | undefined });
    res.statusCode = status;
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    get calls() {
      return calls;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
