import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { performance } from "node:perf_hooks";
import { sendJson as json } from "../test/builders/http.js";

/**
 * The shell of a recording HTTP server run as a bench CHILD process (the fake Graph API, the CRM
 * receiver): a clock comparable across processes, `GET /__bench/now` for the parent's clock-offset
 * measurement, keep-alive longer than the client's, `{ type: "ready", port }` over IPC once
 * listening, and `{ type: "exit" }` (or the parent going away) to stop.
 */

export { readBody, sendJson as json } from "../test/builders/http.js";

/** `performance.timeOrigin + performance.now()`: comparable across processes. */
export const clock = () => performance.timeOrigin + performance.now();

/**
 * Starts the child's server. `handle` gets every request but `GET /__bench/now`, with the time it
 * arrived (taken before the body is read); `banner` is printed when run by hand, without a parent.
 */
export function serveBenchChild(handle: (req: IncomingMessage, res: ServerResponse, url: string, arrived: number) => Promise<void>, banner: (port: number) => string): void {
  const server = createServer(async (req, res) => {
    const arrived = clock();
    const url = req.url ?? "";
    if (req.method === "GET" && url === "/__bench/now") return json(res, 200, { now: clock() });
    await handle(req, res, url, arrived);
  });
  // Longer than the client's idle-socket timeout: the client, not the server, closes idle keep-alive
  // sockets, so a reused socket is never reset under a request (that would be an unknown outcome).
  server.keepAliveTimeout = 60_000;
  server.headersTimeout = 65_000;

  server.listen(0, "127.0.0.1", () => {
    const { port } = server.address() as AddressInfo;
    if (process.send) process.send({ type: "ready", port });
    else console.log(banner(port));
  });

  process.on("message", (msg: { type?: string }) => {
    if (msg?.type === "exit") {
      server.closeAllConnections();
      server.close(() => process.exit(0));
    }
  });
  process.on("disconnect", () => process.exit(0));
}
