import { createServer, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { leanPost } from "../../backend/src/ops/lean-post.js";

let server: Server | undefined;
afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

/** A server that answers the first request on a connection and resets the connection on the next. */
async function resettingServer(): Promise<{ url: string; seen: Array<{ connection: number; body: string }> }> {
  const seen: Array<{ connection: number; body: string }> = [];
  const connections = new Map<Socket, number>();
  const served = new Set<Socket>();
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (!connections.has(req.socket)) connections.set(req.socket, connections.size + 1);
      seen.push({ connection: connections.get(req.socket)!, body: Buffer.concat(chunks).toString() });
      if (served.has(req.socket)) return void req.socket.destroy(); // as a server that closed it while idle
      served.add(req.socket);
      res.end("ok");
    });
  });
  await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", () => resolve()));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, seen };
}

describe("leanPost", () => {
  it("retries once on a fresh connection when a kept-alive socket is reset before any answer", async () => {
    const { url, seen } = await resettingServer();
    expect(await leanPost(url, "first", {}, 2000)).toEqual({ status: 200, text: "ok" });
    expect(await leanPost(url, "second", {}, 2000)).toEqual({ status: 200, text: "ok" });
    // The second went out twice: on the reused socket (reset), then on a new one (answered).
    expect(seen).toEqual([
      { connection: 1, body: "first" },
      { connection: 1, body: "second" },
      { connection: 2, body: "second" },
    ]);
  });

  it("does not retry a reset on a fresh connection: the caller decides", async () => {
    server = createServer((req) => req.socket.destroy());
    await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", () => resolve()));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    await expect(leanPost(url, "x", {}, 2000)).rejects.toMatchObject({ code: "ECONNRESET" });
  });
});
