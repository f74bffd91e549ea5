import { execFileSync } from "node:child_process";
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { expectEachOnce, jobsLeft, launchInstance, runLoad, startFaultReceiver, startGraphProcess, type Instance } from "../builders/cluster.js";
import { APP_SECRET, api, postWebhook, productionEnv, tempDir, waitFor } from "../builders/harness.js";
import { NUMBER, textWebhook } from "../builders/meta-payloads.js";
import { findPostgres } from "../builders/postgres.js";

/**
 * Crash and fault tests on both stores, with the backend as a real process: kill -9 at random
 * moments under load, then restart; Graph and the branch's CRM failing in every way for a while,
 * then recovering; a data directory that cannot be written. After recovery every message is
 * delivered once, sent once, in order, and no job is left.
 */

const MPS = 10;
const ADMIN_TOKEN = "fault-test-admin-token";
const SECRET_KEY = "fault-test-secret-key-0123456789abcdef0123";
const pgFound = await findPostgres();
if (!pgFound.available) console.warn(`PostgreSQL not available: ${pgFound.reason} — the PostgreSQL fault tests are SKIPPED`);

const cleanups: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
  if (pgFound.available) await pgFound.server.stop();
});

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One instance's world: its env (store by kind), a fake Graph process and the branch's receiver. */
async function world(kind: "lowdb" | "postgres") {
  const graph = await startGraphProcess({ appSecret: APP_SECRET, phoneNumberId: NUMBER.phoneNumberId });
  cleanups.push(() => graph.close());
  const receiver = await startFaultReceiver();
  cleanups.push(() => receiver.close());
  const { dir, remove } = await tempDir(`branchline-fault-${kind}-`);
  cleanups.push(remove);
  const extra: Record<string, string> = {};
  if (kind === "postgres") {
    if (!pgFound.available) throw new Error("unreachable: postgres variants are skipped");
    const db = await pgFound.server.createDatabase();
    cleanups.push(() => db.drop());
    extra.DATABASE_URL = db.url;
  }
  const env = productionEnv(dir, { ...extra, ADMIN_TOKEN, SECRET_KEY, WHATSAPP_GRAPH_URL: graph.url, WHATSAPP_MPS: String(MPS), SEND_RECONCILE_SECONDS: "8", LOG_LEVEL: "warn" });
  let current: Instance | undefined;
  const start = async () => {
    current = await launchInstance(kind, env);
    const started = current;
    cleanups.push(() => started.stop());
    await graph.targets([started.url]);
    return started;
  };
  const instance = await start();
  const branch = await api(instance.url, ADMIN_TOKEN, "POST", "/admin/api/branches", { name: "Art Play", code: "ARTPLAY", crm: "webhook", webhookUrl: receiver.url, isHq: true });
  expect(branch.status).toBe(201);
  return {
    dir,
    graph,
    receiver,
    apiKey: branch.body.apiKey as string,
    instance: () => current!,
    urls: () => (current?.alive() ? [current.url] : []),
    restart: start,
  };
}

describe.each(["lowdb", "postgres"] as const)("faults on the %s store", (kind) => {
  const skip = kind === "postgres" && !pgFound.available;

  it.skipIf(skip)("kill -9 at random moments under load, then restart: nothing lost, nothing twice, order kept", { timeout: 150_000 }, async () => {
    const w = await world(kind);
    const load = runLoad({ urls: w.urls, apiKey: w.apiKey, receiver: w.receiver, prefix: kind === "lowdb" ? "7916610" : "7916620", customers: 8, inbound: 5, outbound: 3 });
    // Two crashes at random moments: during inbound routing, sends and CRM deliveries alike.
    for (let k = 0; k < 2; k++) {
      await waitFor(async () => (await w.graph.records()).records.length >= 3 * (k + 1) || w.receiver.accepted.length >= 10 * (k + 1), "load under way", 60_000);
      await pause(200 + Math.random() * 1500);
      await w.instance().kill();
      await w.restart();
    }
    await load.done;
    await expectEachOnce({ receiver: w.receiver, graph: w.graph, acked: load.acked, accepted: load.accepted, mps: MPS, jobsLeft: () => jobsLeft(w.instance().url) });
    expect(load.accepted.size).toBe(8 * 3);
  });

  it.skipIf(skip)("Graph and the CRM answer 500, 429, garbage, resets and hangs for a while, then recover: everything delivered once", { timeout: 150_000 }, async () => {
    const w = await world(kind);
    const load = runLoad({ urls: w.urls, apiKey: w.apiKey, receiver: w.receiver, prefix: kind === "lowdb" ? "7916630" : "7916640", customers: 8, inbound: 5, outbound: 3 });
    await waitFor(async () => (await w.graph.records()).records.length >= 2, "sends under way", 60_000);
    // Every kind of failure, twice over, before either side answers properly again.
    await w.graph.faults(["500", "429", "html", "garbage", "reset", "hang"], 12);
    w.receiver.faults(["500", "429", "garbage", "reset", "hang"], 10);
    await load.done;
    await expectEachOnce({ receiver: w.receiver, graph: w.graph, acked: load.acked, accepted: load.accepted, mps: MPS, jobsLeft: () => jobsLeft(w.instance().url) });
    // The faults did happen, of every kind.
    const { records } = await w.graph.records();
    expect(records.filter((r) => r.outcome !== "accepted").map((r) => r.outcome)).toEqual(["500", "429", "html", "garbage", "reset", "hang", "500", "429", "html", "garbage", "reset", "hang"]);
    expect(w.receiver.refused).toBe(10);
    expect(load.accepted.size).toBe(8 * 3);
  });
});

describe("a data directory that cannot be written (lowdb)", () => {
  const prlimit = (args: string[]) => execFileSync("prlimit", args, { encoding: "utf8" }).trim();
  let canLimit = false;
  try {
    canLimit = /^\S+$/.test(prlimit(["--pid", String(process.pid), "--fsize", "--output=SOFT", "--noheadings"]));
  } catch {
    canLimit = false;
  }

  // Root ignores file permissions, so a full disk is made real with RLIMIT_FSIZE on the server
  // process: writes past the limit are cut short and fail with EFBIG, as on a full disk.
  it.skipIf(!canLimit)("a full disk: webhooks get 503 and /readyz fails; once writes succeed again, Meta's retries land and are delivered once", { timeout: 90_000 }, async () => {
    const w = await world("lowdb");
    const url = w.instance().url;
    const acked = new Set<string>();
    const say = async (text: string) => {
      const res = await postWebhook(url, textWebhook({ from: "79166500001", text, wamid: `wamid.disk.${text.replace(/\W+/g, "_")}` }));
      if (res.status === 200) acked.add(text);
      return res.status;
    };
    expect(await say("79166500001 m0")).toBe(200);
    await waitFor(() => w.receiver.accepted.some((h) => h.body.message?.text === "79166500001 m0"), "the first message delivered");

    const pid = String(w.instance().child.pid);
    // Room for a few more bytes of the journal (every commit appends to it): the next commit fails.
    const journal = (await stat(join(w.dir, "journal.log")).catch(() => undefined))?.size ?? 0;
    prlimit(["--pid", pid, `--fsize=${journal + 16}:`]);
    try {
      // Meta keeps retrying a webhook that gets no 200: here, for as long as the disk is full.
      const refused = await waitFor(async () => ((await say("79166500001 m1")) === 503 ? true : undefined), "a webhook refused with 503", 20_000);
      expect(refused).toBe(true);
      expect((await fetch(`${url}/readyz`)).status).toBe(503);
      expect(await say("79166500001 m1")).toBe(503);
    } finally {
      prlimit(["--pid", pid, "--fsize=unlimited:unlimited"]);
    }
    await waitFor(async () => (await fetch(`${url}/readyz`)).status === 200, "/readyz to recover", 30_000);
    await waitFor(async () => (await say("79166500001 m1")) === 200, "Meta's retry to be acknowledged", 30_000);
    expect(await say("79166500001 m2")).toBe(200);
    await expectEachOnce({ receiver: w.receiver, graph: w.graph, acked, accepted: new Set(), mps: MPS, jobsLeft: () => jobsLeft(url) });
    expect([...acked].sort()).toEqual(["79166500001 m0", "79166500001 m1", "79166500001 m2"]);
  });
});
