import axios from "axios";
import { afterEach, describe, expect, it } from "vitest";
import { createApp } from "../../backend/src/app.js";
import { loadConfig } from "../../backend/src/config.js";
import { INBOUND_QUEUE } from "../../backend/src/inbound/inbound.worker.js";
import { createLogger } from "../../backend/src/ops/logger.js";
import { LowdbStore } from "../../backend/src/store/lowdb/lowdb.store.js";
import { APP_SECRET, api, postWebhook, productionEnv, startReceiver, tempDir, waitFor } from "../builders/harness.js";

/**
 * Meta's webhook route queues each body for the inbound worker; bodies of one customer are worked
 * one at a time, in the order they were acknowledged. A customer is the BSUID when Meta sends one
 * (2026+: `messages[].from_user_id`; the phone `from` may be missing for username users).
 */

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const meta = { display_phone_number: "15550783881", phone_number_id: "106540352242922" };
const body = (contact: Record<string, unknown>, msg: Record<string, unknown>) => ({
  object: "whatsapp_business_account",
  entry: [{ id: "102290129340398", changes: [{ field: "messages", value: { messaging_product: "whatsapp", metadata: meta, contacts: [{ profile: { name: "Sheena" }, ...contact }], messages: [{ timestamp: String(Math.floor(Date.now() / 1000)), type: "text", ...msg }] } }] }],
});

describe("webhook route: one line per customer", () => {
  it("queues a username user's bodies (BSUID only) in the same line as the bodies with phone and BSUID, and routes them to one customer in order", async () => {
    const receiver = await startReceiver([200]);
    const { dir, remove } = await tempDir();
    cleanups.push(() => receiver.close(), remove);
    const config = loadConfig(productionEnv(dir));
    const store = await LowdbStore.open({ dir });
    const app = createApp({ config, logger: createLogger("silent"), http: axios.create(), adminToken: "admin-token-0123456789", secretKey: "k".repeat(40), appSecret: APP_SECRET, store });
    const server = app.express.listen(0);
    await new Promise((r) => server.once("listening", r));
    cleanups.push(async () => {
      await app.stop();
      server.closeAllConnections();
      server.close();
      await store.close();
    });
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    const branch = await api(url, "admin-token-0123456789", "POST", "/admin/api/branches", { name: "Art Play", code: "ARTPLAY", crm: "webhook", webhookUrl: receiver.url, isHq: true });
    expect(branch.status).toBe(201);

    // Workers not started yet: the bodies wait in the queue.
    const bsuid = "RU.1234567890";
    expect((await postWebhook(url, body({ wa_id: "79160000060", user_id: bsuid }, { from: "79160000060", from_user_id: bsuid, id: "wamid.O1", text: { body: "one" } }))).status).toBe(200);
    expect((await postWebhook(url, body({ user_id: bsuid, profile: { name: "Sheena", username: "sheena" } }, { from_user_id: bsuid, id: "wamid.O2", text: { body: "two" } }))).status).toBe(200);
    expect((await postWebhook(url, body({ wa_id: "79160000060", user_id: bsuid }, { from: "79160000060", from_user_id: bsuid, id: "wamid.O3", text: { body: "three" } }))).status).toBe(200);
    const queued = await store.read((tx) => tx.byIndex("jobs", "queue", INBOUND_QUEUE));
    expect(queued).toHaveLength(3);
    expect(new Set(queued.map((j) => j.orderKey))).toEqual(new Set([`customer:${bsuid}`]));

    await app.start();
    const hooks = await waitFor(() => {
      const h = receiver.received.filter((x) => x.body.type === "message");
      return h.length === 3 && h;
    }, "three messages");
    expect(hooks.map((h) => h.body.message.text)).toEqual(["one", "two", "three"]);
    expect(new Set(hooks.map((h) => h.body.customer.id))).toEqual(new Set([bsuid]));
  });
});
