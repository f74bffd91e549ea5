import { json, readBody, serveBenchChild } from "./child-server.js";

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

let at: number[] = [];
let wamids: string[] = [];
let paths: string[] = [];
let codes: string[] = [];
let other = 0;

serveBenchChild(
  async (req, res, url, arrived) => {
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
  },
  (port) => `CRM receiver on http://127.0.0.1:${port}/hook/<code>`,
);
