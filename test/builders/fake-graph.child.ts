import { createHmac } from "node:crypto";
import { Agent, createServer, request as httpRequest, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { setPriority } from "node:os";
import { performance } from "node:perf_hooks";
import { readBody, sendJson as json } from "./http.js";

/**
 * The Cloud API's `POST /v25.0/{phone_number_id}/messages` in a process of its own (forked by
 * `startGraphProcess` in cluster.ts), so arrival times are taken by a process that does little
 * else: the rate check in the tests is computed from them. Like Meta, after accepting a send it
 * posts a signed `sent` status webhook (with `biz_opaque_callback_data`, doc §2.7) to one of the
 * instances, trying the next one until one answers 200.
 *
 * Faults: the next `count` sends are answered, in turn, with the given kinds — `500` (code 131000), `429` (code 130429), `html` (502 from a proxy), `garbage` (200 with a
 * body that is not JSON: the outcome is unknown to the sender), `reset` (socket destroyed after the
 * request arrived) or `hang` (no answer; socket destroyed after 1.5 s). None of them is accepted.
 *
 * Control (never called by the app): `GET /__fake/records`, `POST /__fake/faults {kinds, count}`,
 * `POST /__fake/targets {urls}`; `{ type: "ready", port }` over IPC once listening.
 */

type Fault = "500" | "429" | "html" | "garbage" | "reset" | "hang";
interface SendRecord {
  at: number;
  id: string;
  to: string;
  outcome: "accepted" | Fault;
}

const clock = () => performance.timeOrigin + performance.now();
const appSecret = process.env.FAKE_GRAPH_APP_SECRET ?? "";
const phoneNumberId = process.env.FAKE_GRAPH_PHONE_NUMBER_ID ?? "106540352242922";
const SEND_PATH = /^\/v\d+\.\d+\/[^/]+\/messages$/;

const records: SendRecord[] = [];
let faults: Fault[] = [];
let faultsLeft = 0;
let faultTurn = 0;
let targets: string[] = [];
let targetTurn = 0;
let wamidSeq = 0;
let statusesPending = 0;

try {
  setPriority(-10); // arrival times should not wait behind the instances' work
} catch {
  // not allowed here: run at normal priority
}

const metaError = (code: number, message: string) => ({ error: { message, type: "OAuthException", code, error_data: { messaging_product: "whatsapp", details: message }, fbtrace_id: "AbCdEfGh123" } });

function answerFault(res: ServerResponse, fault: Fault): void {
  switch (fault) {
    case "500":
      return json(res, 500, metaError(131000, "Something went wrong"));
    case "429":
      return json(res, 429, metaError(130429, "Rate limit hit"));
    case "html":
      res.writeHead(502, { "content-type": "text/html" });
      return void res.end("<html><body><h1>502 Bad Gateway</h1></body></html>");
    case "garbage":
      res.writeHead(200, { "content-type": "application/json" });
      return void res.end("{\"messaging_product\":\"whatsapp\",\"messa");
    case "reset":
      return void res.socket?.destroy();
    case "hang":
      setTimeout(() => res.socket?.destroy(), 1500);
      return;
  }
}

/** One signed POST on Node's plain HTTP client (lighter than fetch: this process must stay idle). */
function post(url: string, body: string, signature: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = httpRequest(url, { method: "POST", agent, timeout: 5000, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body), "x-hub-signature-256": signature } }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode === 200));
      res.on("error", () => resolve(false));
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(false));
    req.end(body);
  });
}
const agent = new Agent({ keepAlive: true });

/** Posts the `sent` status webhook to an instance, as Meta would, until one takes it. */
async function postStatus(wamid: string, to: string, ourId: string): Promise<void> {
  const body = JSON.stringify({
    object: "whatsapp_business_account",
    entry: [
      {
        id: "102290129340398",
        changes: [
          {
            field: "messages",
            value: {
              messaging_product: "whatsapp",
              metadata: { display_phone_number: "15550783881", phone_number_id: phoneNumberId },
              statuses: [{ id: wamid, status: "sent", timestamp: String(Math.floor(Date.now() / 1000)), recipient_id: to, ...(ourId ? { biz_opaque_callback_data: ourId } : {}) }],
            },
          },
        ],
      },
    ],
  });
  const signature = `sha256=${createHmac("sha256", appSecret).update(body).digest("hex")}`;
  statusesPending++;
  try {
    for (let attempt = 0; attempt < 600; attempt++) {
      const url = targets[targetTurn++ % Math.max(1, targets.length)];
      if (url) {
        const ok = await post(`${url}/webhooks/whatsapp`, body, signature);
        if (ok) return;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    statusesPending--;
  }
}

const server = createServer((req, res) => {
  const arrived = clock(); // headers parsed: the request has reached "Meta"
  const url = req.url ?? "";
  void (async () => {
    if (req.method === "POST" && SEND_PATH.test(url)) {
      const body = JSON.parse((await readBody(req)) || "{}") as { to?: unknown; biz_opaque_callback_data?: unknown };
      const to = String(body.to ?? "");
      const id = typeof body.biz_opaque_callback_data === "string" ? body.biz_opaque_callback_data : "";
      const fault = faultsLeft > 0 && faults.length > 0 ? faults[faultTurn++ % faults.length]! : undefined;
      if (fault) faultsLeft--;
      records.push({ at: arrived, id, to, outcome: fault ?? "accepted" });
      if (fault) return answerFault(res, fault);
      const wamid = `wamid.FAKEGRAPH${++wamidSeq}`;
      json(res, 200, { messaging_product: "whatsapp", contacts: [{ input: to, wa_id: to.replace("+", "") }], messages: [{ id: wamid }] });
      void postStatus(wamid, to.replace("+", ""), id);
      return;
    }
    if (req.method === "GET" && /\/message_templates/.test(url)) return json(res, 200, { data: [], paging: { cursors: {} } });
    if (req.method === "GET" && url === "/__fake/records") return json(res, 200, { records, statusesPending });
    if (req.method === "POST" && url === "/__fake/faults") {
      const b = JSON.parse(await readBody(req)) as { kinds: Fault[]; count: number };
      faults = b.kinds;
      faultTurn = 0;
      faultsLeft = b.count;
      return json(res, 200, { ok: true });
    }
    if (req.method === "POST" && url === "/__fake/targets") {
      targets = (JSON.parse(await readBody(req)) as { urls: string[] }).urls;
      return json(res, 200, { ok: true });
    }
    await readBody(req);
    json(res, 404, metaError(100, `Unknown path ${req.method} ${url}`));
  })().catch((err) => json(res, 400, metaError(100, String(err))));
});
server.keepAliveTimeout = 60_000;
server.headersTimeout = 65_000;

server.listen(0, "127.0.0.1", () => {
  const { port } = server.address() as AddressInfo;
  process.send?.({ type: "ready", port });
});
process.on("disconnect", () => process.exit(0));
