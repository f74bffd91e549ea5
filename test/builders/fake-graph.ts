import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface GraphRequest {
  at: number;
  path: string;
  body: any;
}

/** What the fake answers to one send: a status and a body, `hang` (never answers), or the default success. */
export type GraphAnswer = { status: number; body: unknown } | "hang";

/**
 * A local stand-in for the Cloud API's `POST /{phone_number_id}/messages`, answering with the
 * payloads the WhatsApp doc shows (§3.4). `script` may answer any request differently.
 */
export async function startFakeGraph(script: (req: GraphRequest, n: number) => GraphAnswer | undefined = () => undefined) {
  const accepted: GraphRequest[] = [];
  const all: GraphRequest[] = [];
  const hung: ServerResponse[] = [];
  const server: Server = createServer(async (req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const request: GraphRequest = { at: performance.now(), path: req.url ?? "", body: JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}") };
    all.push(request);
    const answer = script(request, all.length);
    if (answer === "hang") {
      hung.push(res);
      return;
    }
    res.setHeader("content-type", "application/json");
    if (answer) {
      res.statusCode = answer.status;
      res.end(JSON.stringify(answer.body));
      return;
    }
    accepted.push(request);
    const to = String(request.body.to ?? "").replace("+", "");
    res.end(JSON.stringify({ messaging_product: "whatsapp", contacts: [{ input: request.body.to, wa_id: to }], messages: [{ id: `wamid.FAKE${accepted.length}` }] }));
  });
  // Idle connections stay open longer than any wait in the tests (a pair-rate wait is 6 s, past
  // Node's 5 s default): a send on a socket the server just closed would be an unknown outcome.
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v25.0`,
    accepted,
    all,
    /** Drops hung requests without an answer (the process that sent them is "dead"). */
    dropHung() {
      for (const r of hung.splice(0)) r.socket?.destroy();
    },
    close: () =>
      new Promise<void>((r) => {
        for (const h of hung.splice(0)) h.socket?.destroy();
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** Meta's error envelope (doc §3.4). */
export const graphError = (code: number, details: string, status = 400) => ({
  status,
  body: { error: { message: `(#${code}) ${details}`, type: "OAuthException", code, error_data: { messaging_product: "whatsapp", details }, error_subcode: 2494055, fbtrace_id: "Az8or2yhqkZfEZ-_4Qn_Bam" } },
});

/** The largest number of requests in any window of `windowMs` (server receive times). */
export function maxInWindow(times: number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let max = 0;
  let start = 0;
  for (let end = 0; end < sorted.length; end++) {
    while (sorted[end]! - sorted[start]! >= windowMs) start++;
    max = Math.max(max, end - start + 1);
  }
  return max;
}
