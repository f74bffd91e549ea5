import { createHmac } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import axios from "axios";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createApp } from "../../backend/src/app.js";
import { webhookConnector } from "../../backend/src/crm/webhook/webhook.adapter.js";
import type { CrmEvent } from "../../backend/src/crm/crm.port.js";
import type { Branch } from "../../backend/src/domain/types.js";
import { AppError } from "../../backend/src/errors.js";
import { loadConfig } from "../../backend/src/config.js";
import { createLogger } from "../../backend/src/ops/logger.js";
import { LowdbStore } from "../../backend/src/store/lowdb/lowdb.store.js";
import { APP_SECRET, api, postWebhook, productionEnv, startReceiver, startTestServer, tempDir, waitFor } from "../builders/harness.js";
import { textWebhook } from "../builders/meta-payloads.js";

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function webhookBranch(url: string, webhookUrl: string, adminToken: string, code = "ARTPLAY") {
  const r = await api(url, adminToken, "POST", "/admin/api/branches", { name: `Branch ${code}`, code, crm: "webhook", webhookUrl, isHq: true });
  expect(r.status).toBe(201);
  return r.body as { id: string; apiKey: string; webhookSecret: string };
}

describe("webhook connector", () => {
  it("signs each event with the branch secret and keeps a dialog's order through failures", async () => {
    const receiver = await startReceiver([500, 503, 200, 500, 200]);
    const s = await startTestServer();
    cleanups.push(() => s.close(), () => receiver.close());
    const branch = await webhookBranch(s.url, receiver.url, s.adminToken);
    for (const text of ["one", "two", "three"]) {
      expect((await postWebhook(s.url, textWebhook({ from: "79161110000", text }))).status).toBe(200);
    }
    await waitFor(() => receiver.received.length >= 3, "three deliveries", 15_000);
    expect(receiver.received.map((h) => h.body.message.text)).toEqual(["one", "two", "three"]);
    for (const hook of receiver.received) {
      const expected = `sha256=${createHmac("sha256", branch.webhookSecret).update(hook.raw).digest("hex")}`;
      expect(hook.signature).toBe(expected);
      expect(hook.body.branch.code).toBe("ARTPLAY");
      expect(hook.body.dialog.routing.rule).toBe("hq_fallback");
    }
    expect(receiver.calls).toBeGreaterThanOrEqual(5);
  });

  it("dead-letters after the configured attempts, shows it to the admin, and delivers on retry", async () => {
    const receiver = await startReceiver([500, 500, 200]);
    const s = await startTestServer({ DELIVERY_MAX_ATTEMPTS: "2" });
    cleanups.push(() => s.close(), () => receiver.close());
    await webhookBranch(s.url, receiver.url, s.adminToken);
    await postWebhook(s.url, textWebhook({ from: "79161110001", text: "eventually" }));
    const dead = await waitFor(async () => (await api(s.url, s.adminToken, "GET", "/admin/api/dead-letters")).body.deadLetters[0], "a dead letter");
    expect(dead).toMatchObject({ queue: "deliver", attempts: 2 });
    expect(dead.lastError).toMatch(/HTTP 500/);
    expect(receiver.received).toHaveLength(0);
    expect((await api(s.url, s.adminToken, "POST", `/admin/api/dead-letters/${dead.id}/retry`)).status).toBe(202);
    await waitFor(() => receiver.received[0], "delivery after retry");
    expect(receiver.received[0]!.body.message.text).toBe("eventually");
    expect((await api(s.url, s.adminToken, "GET", "/admin/api/dead-letters")).body.deadLetters).toHaveLength(0);
  });

  it("delivers a message exactly once when the process dies between the 200 and the routing", async () => {
    const receiver = await startReceiver([200]);
    const { dir, remove } = await tempDir();
    cleanups.push(() => receiver.close(), remove);
    const env = productionEnv(dir);
    const config = loadConfig(env);
    const logger = createLogger("silent");
    const deps = { config, logger, http: axios.create(), adminToken: "admin-token-0123456789", secretKey: "k".repeat(40), appSecret: APP_SECRET };

    // First life: the webhook is acknowledged, but the workers never run (the process "dies").
    const store1 = await LowdbStore.open({ dir });
    const app1 = createApp({ ...deps, store: store1 });
    const server1 = app1.express.listen(0);
    await new Promise((r) => server1.once("listening", r));
    const url1 = `http://127.0.0.1:${(server1.address() as { port: number }).port}`;
    await webhookBranch(url1, receiver.url, deps.adminToken);
    expect((await postWebhook(url1, textWebhook({ from: "79161110002", text: "survives" }))).status).toBe(200);
    server1.closeAllConnections();
    server1.close();
    // No store1.close(): nothing is flushed or compacted on the way down, as with kill -9.

    // Second life on the same data directory finishes the pending work.
    const store2 = await LowdbStore.open({ dir });
    const app2 = createApp({ ...deps, store: store2 });
    await app2.start();
    cleanups.push(async () => {
      await app2.stop();
      await store2.close();
    });
    await waitFor(() => receiver.received[0], "delivery after restart");
    await new Promise((r) => setTimeout(r, 300));
    expect(receiver.received.map((h) => h.body.message.text)).toEqual(["survives"]);
  });
});

describe("webhook connector: what the branch endpoint answers", () => {
  const T = Date.UTC(2026, 10, 26, 9, 0, 0);
  const event: CrmEvent = {
    type: "status",
    id: "status:out_1:delivered",
    branch: { id: "br_1", code: "ARTPLAY", name: "Art Play" },
    dialogId: "br_1:wa:79161110009",
    messageId: "out_1",
    wamid: "wamid.HBgLNzkxNjExMTAwMDkVAgARGBI5QUZCNTQ2QzQ2NjQzMEQ2OTQA",
    status: "delivered",
    at: T,
  } as CrmEvent;

  /** A branch endpoint on loopback answering `status` (or never, for `hang`); records what it got. */
  async function endpoint(answer: number | "hang", headers: Record<string, string> = {}) {
    const got: { raw: string; signature?: string; event?: string }[] = [];
    const server: Server = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      got.push({ raw: Buffer.concat(chunks).toString("utf8"), signature: req.headers["x-signature-256"] as string, event: req.headers["x-branchline-event"] as string });
      if (answer === "hang") return;
      res.writeHead(answer, headers).end("ignored body");
    });
    let connections = 0;
    server.on("connection", () => connections++);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    cleanups.push(() => {
      server.closeAllConnections();
      return new Promise((r) => server.close(r));
    });
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
      got,
      get connections() {
        return connections;
      },
    };
  }

  const branchAt = (webhookUrl: string): Branch => ({
    id: "br_1", name: "Art Play", code: "ARTPLAY", crm: "webhook", enabled: true, isHq: true, keywords: [], adSourceIds: [],
    webhookUrl, webhookSecretSealed: "sealed-secret", keyHash: "h", keyPrefix: "k", createdAt: T, updatedAt: T,
  });
  const deliverTo = (url: string, timeoutMs = 2000) =>
    webhookConnector({ openSecret: (sealed) => `opened:${sealed}`, timeoutMs }).create(branchAt(url)).deliver(event);
  const failure = (p: Promise<unknown>) => p.then(() => undefined, (err: unknown) => err as AppError);

  it("posts the event once, signed over the exact bytes, reusing the connection for the next one", async () => {
    const ep = await endpoint(204);
    await deliverTo(ep.url);
    await deliverTo(ep.url);
    expect(ep.got).toHaveLength(2);
    expect(JSON.parse(ep.got[0]!.raw)).toEqual(event);
    expect(ep.got[0]!.signature).toBe(`sha256=${createHmac("sha256", "opened:sealed-secret").update(ep.got[0]!.raw).digest("hex")}`);
    expect(ep.got[0]!.event).toBe("status");
    expect(ep.connections).toBe(1);
  });

  it.each([
    [410, false],
    [400, false],
    [408, true],
    [429, true],
    [500, true],
    [503, true],
  ])("HTTP %i is refused with retryable=%s", async (status, retryable) => {
    const ep = await endpoint(status);
    const err = await failure(deliverTo(ep.url));
    expect(err).toBeInstanceOf(AppError);
    expect(err).toMatchObject({ code: "webhook_refused", retryable });
    expect(err!.message).toContain(`HTTP ${status}`);
  });

  it("does not follow a redirect: a 301 is a failure to retry, and the other URL is never called", async () => {
    const elsewhere = await endpoint(200);
    const ep = await endpoint(301, { location: elsewhere.url });
    expect(await failure(deliverTo(ep.url))).toMatchObject({ code: "webhook_refused", retryable: true });
    expect(elsewhere.got).toHaveLength(0);
  });

  it("an endpoint that never answers fails after the timeout as unreachable (retried), without the secret in the message", async () => {
    const ep = await endpoint("hang");
    const err = await failure(deliverTo(ep.url, 300));
    expect(err).toMatchObject({ code: "webhook_unreachable", retryable: true });
    expect(err!.message).toMatch(/timeout/);
    expect(err!.message).not.toContain("sealed-secret");
    expect(ep.got).toHaveLength(1);
  });

  it("an endpoint that refuses connections fails as unreachable (retried)", async () => {
    const ep = await endpoint(200);
    for (const c of cleanups.splice(0)) await c();
    expect(await failure(deliverTo(ep.url))).toMatchObject({ code: "webhook_unreachable", retryable: true });
  });
});
