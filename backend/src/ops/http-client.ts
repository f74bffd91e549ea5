import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders, type RequestOptions } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import axios, { type AxiosInstance } from "axios";

/**
 * The one outbound HTTP client (Graph API, CRMs, branch webhooks): keep-alive sockets, because at
 * 80–1,000 sends a second a new TLS connection per request costs more than the request. Proxy
 * variables are not read (`proxy: false`): the deployments this serves reach Meta directly, and
 * axios looks them up on every request otherwise.
 */
export function createHttpClient(): AxiosInstance {
  return axios.create({
    httpAgent: new HttpAgent({ keepAlive: true, maxSockets: 256 }),
    httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets: 256 }),
    proxy: false,
  });
}

export interface RawPostOptions {
  headers: Record<string, string>;
  timeoutMs: number;
}

/**
 * POSTs a ready body on the keep-alive sockets of `client` and answers with the status once the
 * answer's body is drained (so the socket is reused). For hot paths that need nothing of axios
 * (branch webhooks at 1,000 a second): no config merging, interceptors or response parsing.
 * Redirects are not followed; a network failure or `timeoutMs` without an answer rejects.
 */
export function postRaw(client: AxiosInstance, url: string, body: string | Buffer, opts: RawPostOptions): Promise<{ status: number; headers: IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    let target: URL;
    try {
      target = new URL(url);
    } catch (err) {
      reject(err);
      return;
    }
    const secure = target.protocol === "https:";
    if (!secure && target.protocol !== "http:") {
      reject(new Error(`unsupported protocol ${target.protocol}`));
      return;
    }
    const agent = (secure ? client.defaults.httpsAgent : client.defaults.httpAgent) as HttpAgent | undefined;
    const payload = typeof body === "string" ? Buffer.from(body) : body;
    const options: RequestOptions = {
      method: "POST",
      headers: { ...opts.headers, "content-length": String(payload.length) },
      ...(agent ? { agent } : {}),
    };
    let settled = false;
    const req = (secure ? httpsRequest : httpRequest)(target, options, (res) => {
      // The status is the answer. The body is drained (the socket returns to the pool once it
      // ends); a body cut short still leaves the status that arrived.
      const done = () => {
        clearTimeout(timer);
        if (settled) return;
        settled = true;
        resolve({ status: res.statusCode ?? 0, headers: res.headers });
      };
      res.on("error", () => undefined);
      res.once("end", done);
      res.once("close", done);
      res.resume();
    });
    function fail(err: Error): void {
      clearTimeout(timer);
      if (settled) return;
      settled = true;
      reject(err);
    }
    const timer = setTimeout(() => req.destroy(new Error(`timeout of ${opts.timeoutMs}ms exceeded`)), opts.timeoutMs);
    req.once("error", fail);
    req.end(payload);
  });
}
