import { json, readBody, serveBenchChild } from "./child-server.js";

/**
 * A stand-in for the Cloud API's `POST /v25.0/{phone_number_id}/messages`, run as a CHILD process
 * (`node --import tsx bench/fake-graph-server.ts`, forked by `bench/outbound.ts`) so that the sender
 * process's CPU is measured alone. It answers every send with the doc's success payload and records
 * when each request arrived (`performance.timeOrigin + performance.now()`, comparable across
 * processes) and its `biz_opaque_callback_data` (our message id).
 *
 * Control endpoints for the parent (never called by the sender):
 * - `GET /__bench/now`     → `{ now }`: this process's clock, to measure the offset between processes;
 * - `GET /__bench/records` → `{ at: number[], id: string[], to: string[] }` since the last reset;
 * - `POST /__bench/reset`  → forgets the records.
 * On start it sends `{ type: "ready", port }` over IPC; `{ type: "exit" }` stops it.
 */

let at: number[] = [];
let ids: string[] = [];
let tos: string[] = [];
let wamidSeq = 0;
const SEND_PATH = /^\/v\d+\.\d+\/[^/]+\/messages$/;

serveBenchChild(
  async (req, res, url, arrived) => {
    try {
      if (req.method === "POST" && SEND_PATH.test(url)) {
        const body = JSON.parse((await readBody(req)) || "{}") as { to?: unknown; biz_opaque_callback_data?: unknown };
        const to = String(body.to ?? "");
        at.push(arrived);
        ids.push(typeof body.biz_opaque_callback_data === "string" ? body.biz_opaque_callback_data : "");
        tos.push(to);
        json(res, 200, { messaging_product: "whatsapp", contacts: [{ input: to, wa_id: to.replace("+", "") }], messages: [{ id: `wamid.BENCH${++wamidSeq}` }] });
        return;
      }
      if (req.method === "GET" && url === "/__bench/records") return json(res, 200, { at, id: ids, to: tos });
      if (req.method === "POST" && url === "/__bench/reset") {
        await readBody(req);
        at = [];
        ids = [];
        tos = [];
        return json(res, 200, { ok: true });
      }
      json(res, 404, { error: { message: `Unknown path ${req.method} ${url}`, type: "GraphMethodException", code: 100 } });
    } catch (err) {
      json(res, 400, { error: { message: `(#100) ${String(err)}`, type: "OAuthException", code: 100 } });
    }
  },
  (port) => `fake Graph on http://127.0.0.1:${port}/v25.0`,
);
