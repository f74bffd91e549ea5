import { createHmac } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import axios from "axios";
import { createApp } from "../../backend/src/app.js";
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
