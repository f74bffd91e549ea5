import { fork, spawn, type ChildProcess } from "node:child_process";
import { createServer as createHttpServer, type IncomingMessage, type Server } from "node:http";
import { createServer } from "node:net";
import type { AddressInfo, Socket } from "node:net";
import { postWebhook, waitFor } from "./harness.js";
import { textWebhook } from "./meta-payloads.js";

/**
 * Helpers for tests that run the backend as real processes: instances (`backend/src/main.ts`),
 * a fake Graph API in a process of its own, and a branch's webhook receiver that can misbehave.
 */

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

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
  /** For `forMs`, every send is answered with the next of `kinds` (see fake-graph.child.ts). */
  faults(kinds: string[], forMs: number): Promise<void>;
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
    faults: (kinds, forMs) => post("/__fake/faults", { kinds, forMs }),
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
 * accepts and, while a fault window is open, answers each call with the next fault: 500, 429,
 * garbage (bytes that are not HTTP), a reset, or a hang (socket destroyed after 1.5 s).
 */
export async function startFaultReceiver() {
  const accepted: Hook[] = [];
  let faults: ReceiverFault[] = [];
  let faultUntil = 0;
  let turn = 0;
  let refused = 0;
  const sockets = new Set<Socket>();
  const server: Server = createHttpServer(async (req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const fault = Date.now() < faultUntil && faults.length > 0 ? faults[turn++ % faults.length]! : undefined;
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
    faults(kinds: ReceiverFault[], forMs: number) {
      faults = kinds;
      turn = 0;
      faultUntil = Date.now() + forMs;
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
    for (let attempt = 0; attempt < 200; attempt++) {
      const list = urls();
      const url = list[turn++ % list.length]!;
      const res = await postWebhook(url, body).catch(() => undefined);
      if (res?.status === 200) {
        acked.add(text);
        break;
      }
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
