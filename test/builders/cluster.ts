import { fork, spawn, type ChildProcess } from "node:child_process";
import { createServer as createHttpServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { expect } from "vitest";
import { maxInWindow } from "./fake-graph.js";
import { freePort } from "./http.js";
import { postWebhook, waitFor } from "./harness.js";
import { textWebhook } from "./meta-payloads.js";

/**
 * Helpers for tests that run the backend as real processes: instances (`backend/src/main.ts`),
 * a fake Graph API in a process of its own, and a branch's webhook receiver that can misbehave.
 */

export { freePort };

/** A child killed by a signal has `signalCode` set and `exitCode` null. */
export const exited = (child: ChildProcess) =>
  new Promise<void>((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once("exit", () => r())));

export interface Instance {
  name: string;
  url: string;
  env: Record<string, string>;
  child: ChildProcess;
  output(): string;
  alive(): boolean;
  /** kill -9: no shutdown code runs. */
  kill(): Promise<void>;
  /** SIGTERM and wait (the graceful path). */
  stop(): Promise<void>;
}

/** Starts `backend/src/main.ts` as its own process on a free port; resolves once /readyz says ready. */
export async function launchInstance(name: string, env: Record<string, string>, opts: { readyTimeoutMs?: number } = {}): Promise<Instance> {
  const port = await freePort();
  const full = { ...env, PORT: String(port), PUBLIC_URL: env.PUBLIC_URL ?? `http://127.0.0.1:${port}` };
  let out = "";
  const child = spawn(process.execPath, ["--import", "tsx", "backend/src/main.ts"], { env: { ...process.env, ...full }, stdio: ["ignore", "pipe", "pipe"] });
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  const url = `http://127.0.0.1:${port}`;
  const instance: Instance = {
    name,
    url,
    env: full,
    child,
    output: () => out,
    alive: () => child.exitCode === null && child.signalCode === null,
    async kill() {
      child.kill("SIGKILL");
      await exited(child);
    },
    async stop() {
      if (!instance.alive()) return;
      child.kill("SIGTERM");
      await exited(child);
    },
  };
  try {
    await waitFor(
      async () => {
        if (!instance.alive()) throw new Error(`instance ${name} exited at start:\n${out.slice(-3000)}`);
        return (await fetch(`${url}/readyz`).catch(() => undefined))?.status === 200;
      },
      `instance ${name} to be ready`,
      opts.readyTimeoutMs ?? 30_000,
    );
  } catch (err) {
    child.kill("SIGKILL");
    throw err;
  }
  return instance;
}

export interface GraphRecord {
  at: number;
  id: string;
  to: string;
  outcome: string;
}

export interface GraphProcess {
  url: string;
  records(): Promise<{ records: GraphRecord[]; statusesPending: number }>;
  /** The next `count` sends are answered with `kinds` in turn (see fake-graph.child.ts). */
  faults(kinds: string[], count: number): Promise<void>;
  /** Where `sent` status webhooks go (any live instance will do). */
  targets(urls: string[]): Promise<void>;
  close(): Promise<void>;
}

/** The fake Graph API in a process of its own (its arrival times are what the rate check reads). */
export async function startGraphProcess(env: { appSecret: string; phoneNumberId: string }): Promise<GraphProcess> {
  const child = fork("test/builders/fake-graph.child.ts", [], {
    execArgv: ["--import", "tsx"],
    env: { ...process.env, FAKE_GRAPH_APP_SECRET: env.appSecret, FAKE_GRAPH_PHONE_NUMBER_ID: env.phoneNumberId },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once("message", (m: { type?: string; port?: number }) => (m.type === "ready" ? resolve(m.port!) : reject(new Error("fake Graph did not start"))));
    child.once("exit", () => reject(new Error("fake Graph exited at start")));
  });
  const base = `http://127.0.0.1:${port}`;
  const post = async (path: string, body: unknown) => {
    const res = await fetch(`${base}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    if (res.status !== 200) throw new Error(`fake Graph control ${path}: ${res.status}`);
  };
  return {
    url: `${base}/v25.0`,
    records: async () => (await (await fetch(`${base}/__fake/records`)).json()) as { records: GraphRecord[]; statusesPending: number },
    faults: (kinds, count) => post("/__fake/faults", { kinds, count }),
    targets: (urls) => post("/__fake/targets", { urls }),
    async close() {
      child.kill("SIGKILL");
      await exited(child);
    },
  };
}

export interface Hook {
  body: any;
  at: number;
}

export type ReceiverFault = "500" | "429" | "garbage" | "reset" | "hang";

/**
 * A branch's webhook endpoint (the `webhook` connector's receiver) that records every event it
 * accepts and answers the next `count` calls after `faults()` with the given faults in turn: 500,
 * 429, garbage (bytes that are not HTTP), a reset, or a hang (socket destroyed after 1.5 s).
 */
export async function startFaultReceiver() {
  const accepted: Hook[] = [];
  let faults: ReceiverFault[] = [];
  let faultsLeft = 0;
  let turn = 0;
  let refused = 0;
  const sockets = new Set<Socket>();
  const server: Server = createHttpServer(async (req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const fault = faultsLeft > 0 && faults.length > 0 ? faults[turn++ % faults.length]! : undefined;
    if (fault) faultsLeft--;
    if (!fault) {
      accepted.push({ body: JSON.parse(Buffer.concat(chunks).toString("utf8")), at: Date.now() });
      res.statusCode = 200;
      res.end();
      return;
    }
    refused++;
    switch (fault) {
      case "500":
      case "429":
        res.statusCode = Number(fault);
        res.end(fault === "429" ? "slow down" : "oops");
        return;
      case "garbage":
        res.socket?.end("NOT HTTP AT ALL \u0000\u0001\r\n\r\n");
        return;
      case "reset":
        res.socket?.destroy();
        return;
      case "hang":
        setTimeout(() => res.socket?.destroy(), 1500);
        return;
    }
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    accepted,
    get refused() {
      return refused;
    },
    faults(kinds: ReceiverFault[], count: number) {
      faults = kinds;
      turn = 0;
      faultsLeft = count;
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** Customer phone numbers (wa_id) for test `i`. */
export const phoneOf = (prefix: string, i: number) => `${prefix}${String(i).padStart(4, "0")}`;

/**
 * One customer's messages, sent one after another, each to the next live instance until one
 * acknowledges it — as Meta retries a webhook that got no 200, with the same wamid.
 */
export async function writeInOrder(urls: () => string[], from: string, texts: string[], acked: Set<string>, opts: { stopAt?: () => boolean } = {}): Promise<void> {
  let turn = from.length;
  for (const text of texts) {
    if (opts.stopAt?.()) return;
    const body = textWebhook({ from, text, wamid: `wamid.${from}.${text.replace(/\W+/g, "_")}` });
    const deadline = Date.now() + 60_000;
    for (;;) {
      const list = urls();
      const url = list[turn++ % list.length];
      const res = url ? await postWebhook(url, body).catch(() => undefined) : undefined;
      if (res?.status === 200) {
        acked.add(text);
        break;
      }
      if (Date.now() > deadline) throw new Error(`no instance acknowledged ${text}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/**
 * The `message` events a receiver accepted: text by event id (first one wins), the event ids each
 * text arrived under, and per dialog the texts in order of first arrival.
 */
export function deliveredMessages(hooks: Hook[]): { byId: Map<string, string>; textIds: Map<string, Set<string>>; orderByDialog: Map<string, string[]> } {
  const byId = new Map<string, string>();
  const textIds = new Map<string, Set<string>>();
  const orderByDialog = new Map<string, string[]>();
  for (const h of hooks) {
    if (h.body.type !== "message") continue;
    const text: string = h.body.message?.text;
    if (!textIds.has(text)) textIds.set(text, new Set());
    textIds.get(text)!.add(h.body.id);
    if (byId.has(h.body.id)) continue;
    byId.set(h.body.id, text);
    const dialog = String(h.body.dialog?.id);
    if (!orderByDialog.has(dialog)) orderByDialog.set(dialog, []);
    orderByDialog.get(dialog)!.push(text);
  }
  return { byId, textIds, orderByDialog };
}

/** True when `texts` (one customer's, named `<customer> m<k>`) come in increasing k. */
export function inOrder(texts: string[]): boolean {
  const ks = texts.map((t) => Number(/ m(\d+)$/.exec(t)?.[1] ?? NaN));
  return ks.every((k, i) => i === 0 || k > ks[i - 1]!);
}

/**
 * The branch API at `urls` with `apiKey`: sends `text` to `to`, retrying on any other answer or a
 * dead connection with the same Idempotency-Key (as a careful client would), until one instance
 * accepts it (202). Returns our message id.
 */
export async function sendViaApi(urls: () => string[], apiKey: string, to: string, text: string): Promise<string> {
  const deadline = Date.now() + 60_000;
  for (let turn = 0; ; turn++) {
    const list = urls();
    const url = list[turn % Math.max(1, list.length)];
    const res = url
      ? await fetch(`${url}/api/v1/messages`, {
          method: "POST",
          headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json", "idempotency-key": `idem-${text}` },
          body: JSON.stringify({ to: `+${to}`, text }),
        }).catch(() => undefined)
      : undefined;
    if (res?.status === 202) return ((await res.json()) as { id: string }).id;
    if (Date.now() > deadline) throw new Error(`the branch API never accepted ${text}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Customers writing in (each one's messages in order, `<phone> m<k>`) and, once a customer's first
 * message reached the CRM (its 24-hour window is open), the branch sending it `outbound` messages
 * through the API, all spread over `urls()`. `acked` and `accepted` fill as instances answer.
 */
export function runLoad(opts: { urls: () => string[]; apiKey: string; receiver: { accepted: Hook[] }; prefix: string; customers: number; inbound: number; outbound: number }) {
  const acked = new Set<string>();
  const accepted = new Set<string>();
  const phones = Array.from({ length: opts.customers }, (_, i) => phoneOf(opts.prefix, i));
  const done = Promise.all(
    phones.map(async (phone) => {
      const texts = Array.from({ length: opts.inbound }, (_, k) => `${phone} m${k}`);
      await writeInOrder(opts.urls, phone, texts.slice(0, 1), acked);
      await waitFor(() => opts.receiver.accepted.some((h) => h.body.message?.text === texts[0]), `first message of ${phone} delivered`, 60_000);
      const outbound = Array.from({ length: opts.outbound }, (_, k) => sendViaApi(opts.urls, opts.apiKey, phone, `to ${phone} #${k}`).then((id) => void accepted.add(id)));
      await writeInOrder(opts.urls, phone, texts.slice(1), acked);
      await Promise.all(outbound);
    }),
  );
  return { acked, accepted, done };
}

/** Live and dead-lettered jobs of every queue, from an instance's `/metrics`. */
export async function jobsLeft(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let n = 0;
  for (const line of text.split("\n")) {
    const m = /^branchline_(?:queue_depth|dead_letters)\{[^}]*\} (\d+)/.exec(line);
    if (m) n += Number(m[1]);
  }
  return n;
}

/**
 * Waits (bounded) until every acknowledged inbound message reached the CRM, every accepted branch
 * API message reached Graph and no job is left, then checks what a user would: each inbound message
 * under one event id (repeats of that id are allowed by the contract), in order per dialog; each
 * accepted message sent exactly once (by our id in `biz_opaque_callback_data`) and no message sent
 * twice; never more than `mps` requests at Graph in any one-second window; no live or dead job.
 */
export async function expectEachOnce(o: { receiver: { accepted: Hook[] }; graph: GraphProcess; acked: Set<string>; accepted: Set<string>; mps: number; jobsLeft: () => Promise<number>; waitMs?: number }): Promise<void> {
  const texts = [...o.acked];
  await waitFor(
    async () => {
      const { records } = await o.graph.records();
      const sent = new Set(records.filter((r) => r.outcome === "accepted").map((r) => r.id));
      const delivered = new Set(o.receiver.accepted.map((h) => h.body.message?.text));
      return texts.every((t) => delivered.has(t)) && [...o.accepted].every((id) => sent.has(id)) && (await o.jobsLeft()) === 0;
    },
    "every message delivered and sent, and no job left",
    o.waitMs ?? 60_000,
  );

  const { byId, textIds, orderByDialog } = deliveredMessages(o.receiver.accepted);
  for (const t of texts) expect(textIds.get(t)?.size, `event ids of ${t}`).toBe(1);
  expect(new Set(byId.values()).size, "texts delivered under two event ids").toBe(byId.size);

  const { records } = await o.graph.records();
  const sentIds = records.filter((r) => r.outcome === "accepted").map((r) => r.id);
  for (const id of o.accepted) expect(sentIds.filter((x) => x === id), `sends of ${id}`).toHaveLength(1);
  expect(sentIds.length - new Set(sentIds).size, "messages sent twice").toBe(0);
  expect(maxInWindow(records.map((r) => r.at), 1000), `requests at Graph in one second: ${densest(records)}`).toBeLessThanOrEqual(o.mps);
  expect(await o.jobsLeft(), "jobs left").toBe(0);

  for (const [dialog, list] of orderByDialog) expect(inOrder(list), `order in dialog ${dialog}: ${list.join(", ")}`).toBe(true);
}

/** The busiest second at Graph, for the failure message: offsets (ms), outcomes and ids. */
function densest(records: GraphRecord[]): string {
  const sorted = [...records].sort((a, b) => a.at - b.at);
  let best: GraphRecord[] = [];
  for (let i = 0, j = 0; j < sorted.length; j++) {
    while (sorted[j]!.at - sorted[i]!.at >= 1000) i++;
    if (j - i + 1 > best.length) best = sorted.slice(i, j + 1);
  }
  return best.map((r) => `+${Math.round(r.at - best[0]!.at)} ${r.outcome} ${r.id.slice(-6)}`).join(", ");
}
