import http, { type IncomingMessage } from "node:http";
import https from "node:https";

const agents = {
  "http:": new http.Agent({ keepAlive: true, maxSockets: 512 }),
  "https:": new https.Agent({ keepAlive: true, maxSockets: 512 }),
};

/**
 * POSTs a ready body on Node's own HTTP client with keep-alive sockets and reads the answer as
 * text. For the hot paths — message sends to Graph, events to branch webhooks — where axios cost
 * more CPU per request (~0.85 ms measured for sends, ~3× for webhook posts) than all our
 * bookkeeping around it. Everything else uses the axios client (`http-client.ts`).
 *
 * Redirects are not followed. Resolves with the status and the body text (what arrived, if the
 * answer was cut short after its status); rejects with Node's error (its `code`, e.g.
 * ECONNREFUSED) or, after `timeoutMs`, an error with code `ECONNABORTED` (as axios).
 */
export function leanPost(url: string, body: string | Buffer, headers: Record<string, string>, timeoutMs: number): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    let target: URL;
    try {
      target = new URL(url);
    } catch (err) {
      reject(Object.assign(new Error(`invalid URL ${url}`), { code: "ERR_INVALID_URL", cause: err }));
      return;
    }
    const agent = agents[target.protocol as keyof typeof agents];
    if (!agent) {
      reject(Object.assign(new Error(`unsupported protocol ${target.protocol}`), { code: "ERR_INVALID_PROTOCOL" }));
      return;
    }
    const payload = typeof body === "string" ? Buffer.from(body, "utf8") : body;
    let settled = false;
    const settle = (fn: () => void) => {
      clearTimeout(timer);
      if (settled) return;
      settled = true;
      fn();
    };
    // Looked up at call time (not imported by name), so HTTP-level test fakes can hook it.
    const send = target.protocol === "https:" ? https.request : http.request;
    const req = send(target, { method: "POST", agent, headers: { ...headers, "content-length": String(payload.length) } }, (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      const done = () => settle(() => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("error", () => undefined); // a cut-short body: "close" still settles with the status
      res.once("end", done);
      res.once("close", done);
    });
    const timer = setTimeout(() => req.destroy(Object.assign(new Error(`timeout of ${timeoutMs} ms exceeded`), { code: "ECONNABORTED" })), timeoutMs);
    req.once("error", (err) => settle(() => reject(err)));
    req.end(payload);
  });
}
