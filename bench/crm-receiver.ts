import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { performance } from "node:perf_hooks";

/**
 * The branches' CRM endpoint for the end-to-end benchmark, run as a CHILD process
 * (`node --import tsx bench/crm-receiver.ts`, forked by `bench/e2e-latency.ts`) so that receiving
 * costs the server process nothing. Every branch's `webhookUrl` points here (`/hook/<code>`); it
 * answers 200 and records when each `message` event arrived (`performance.timeOrigin +
 * performance.now()`, comparable across processes) with the message's wamid and the branch code
 * the event named. The signature is not checked: that is the CRM's CPU, not ours.
 *
 * Control endpoints for the parent:
 * - `GET /__bench/now`     → `{ now }` (clock offset between processes);
 * - `GET /__bench/count`   → `{ count }` message events since the last reset;
 * - `GET /__bench/records` → `{ at: number[], wamid: string[], path: string[], code: string[] }`;
 * - `POST /__bench/reset`.
 * On start it sends `{ type: "ready", port }` over IPC; `{ type: "exit" }` stops it.
 */

const clock = () => performance.timeOrigin + performance.now();

let at: number[] = [];
let wamids: string[] = [];
let paths: string[] = [];
let codes: string[] = [];
let other = 0;

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

const server = createServer(async (req, res) => {
  const arrived = clock();
  const url = req.url ?? "";
  try {
    if (req.method === "POST" && url.startsWith("/hook/")) {
      const event = JSON.parse(await readBody(req)) as { type?: string; branch?: { code?: string }; message?: { wamid?: string } };
      if (event.type === "message" && event.message?.wamid) {
        at.push(arrived);
        wamids.push(event.message.wamid);
        paths.push(url.slice("/hook/".length));
        codes.push(event.branch?.code ?? "");
      } else other++;
      res.writeHead(200, { "content-length": 0 });
      res.end();
      return;
    }
    if (req.method === "GET" && url === "/__bench/now") return json(res, 200, { now: clock() });
    if (req.method === "GET" && url === "/__bench/count") return json(res, 200, { count: at.length, other });
    if (req.method === "GET" && url === "/__bench/records") return json(res, 200, { at, wamid: wamids, path: paths, code: codes });
    if (req.method === "POST" && url === "/__bench/reset") {
      await readBody(req);
      at = [];
      wamids = [];
      paths = [];
      codes = [];
      other = 0;
      return json(res, 200, { ok: true });
    }
    json(res, 404, { error: "not found" });
  } catch (err) {
    json(res, 400, { error: String(err) });
  }
});
server.keepAliveTimeout = 60_000;
server.headersTimeout = 65_000;

server.listen(0, "127.0.0.1", () => {
  const { port } = server.address() as AddressInfo;
  if (process.send) process.send({ type: "ready", port });
  else console.log(`CRM receiver on http://127.0.0.1:${port}/hook/<code>`);
});

process.on("message", (msg: { type?: string }) => {
  if (msg?.type === "exit") {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  }
});
process.on("disconnect", () => process.exit(0));
