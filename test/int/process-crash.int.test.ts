import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { postWebhook, productionEnv, startReceiver, tempDir, waitFor, api } from "../builders/harness.js";
import { textWebhook } from "../builders/meta-payloads.js";

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function launch(env: Record<string, string>): { child: ChildProcess; output: () => string } {
  let out = "";
  const child = spawn(process.execPath, ["--import", "tsx", "backend/src/main.ts"], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  return { child, output: () => out };
}

// A child killed by a signal has `signalCode` set and `exitCode` null.
const exited = (child: ChildProcess) =>
  new Promise<number | null>((r) => (child.exitCode !== null || child.signalCode !== null ? r(child.exitCode) : child.once("exit", (code) => r(code))));

describe("the real process", () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it("stops at start-up with one line naming a bad setting", async () => {
    const { dir, remove } = await tempDir();
    cleanups.push(remove);
    const { child, output } = launch({ DATA_DIR: dir, PORT: "0", WHATSAPP_MPS: "lots" });
    expect(await exited(child)).toBe(1);
    const lines = output().trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^Configuration error: WHATSAPP_MPS: /);
  });

  it("after kill -9 under load, delivers every acknowledged message exactly once", { timeout: 90_000 }, async () => {
    const receiver = await startReceiver([200]);
    const { dir, remove } = await tempDir();
    cleanups.push(() => receiver.close(), remove);
    const port = await freePort();
    const env = { ...productionEnv(dir), PORT: String(port), ADMIN_TOKEN: "crash-test-admin-token" };
    const url = `http://127.0.0.1:${port}`;
    const healthy = async () => (await fetch(`${url}/readyz`).catch(() => undefined))?.status === 200;

    let proc = launch(env);
    await waitFor(healthy, "first start", 20_000);
    expect((await api(url, env.ADMIN_TOKEN, "POST", "/admin/api/branches", { name: "Art Play", code: "ARTPLAY", crm: "webhook", webhookUrl: receiver.url, isHq: true })).status).toBe(201);

    // 40 customers write concurrently; the process is killed while requests are in flight.
    const acked = new Set<string>();
    const sends = Array.from({ length: 40 }, async (_, i) => {
      const text = `message ${i}`;
      const res = await postWebhook(url, textWebhook({ from: `7916000${String(i).padStart(4, "0")}`, text })).catch(() => undefined);
      if (res?.status === 200) acked.add(text);
    });
    await waitFor(() => acked.size >= 10, "some acknowledgements", 20_000);
    proc.child.kill("SIGKILL");
    await Promise.all(sends);
    await exited(proc.child);

    proc = launch(env);
    cleanups.push(async () => {
      proc.child.kill("SIGTERM");
      await exited(proc.child);
    });
    await waitFor(healthy, "restart", 20_000);
    await waitFor(() => [...acked].every((t) => receiver.received.some((h) => h.body.message.text === t)), "every acknowledged message delivered", 20_000);
    await new Promise((r) => setTimeout(r, 500));
    // A delivery the CRM accepted just before the kill may be repeated after the restart, with the
    // same event id (the contract tells receivers to drop repeats by id). After that, each message
    // exists once: one event id per text, one text per event id.
    const byId = new Map<string, string>();
    for (const h of receiver.received) {
      const known = byId.get(h.body.id);
      if (known !== undefined) expect(known).toBe(h.body.message.text);
      byId.set(h.body.id, h.body.message.text);
    }
    const texts = [...byId.values()];
    expect(new Set(texts).size).toBe(texts.length);
    for (const t of acked) expect(texts).toContain(t);
  });
});
