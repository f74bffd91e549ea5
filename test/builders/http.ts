import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";

/** What a JSON endpoint answered: status, headers, and the parsed body (undefined for a 204). */
export interface JsonAnswer {
  status: number;
  headers: Headers;
  body: any;
}

/**
 * One request as a browser or CRM would send it: `body` goes as JSON (a string as it is, for
 * malformed input), with its content type; the answer must be JSON (or a 204).
 */
export async function requestJson(url: string, opts: { method?: string; headers?: Record<string, string>; body?: unknown } = {}): Promise<JsonAnswer> {
  const res = await fetch(url, {
    method: opts.method ?? "GET",
    headers: { ...(opts.body === undefined ? {} : { "content-type": "application/json" }), ...opts.headers },
    body: opts.body === undefined ? undefined : typeof opts.body === "string" ? opts.body : JSON.stringify(opts.body),
  });
  return { status: res.status, headers: res.headers, body: res.status === 204 ? undefined : await res.json() };
}

/** A port that was free a moment ago: lets a test tell the backend an origin before the server behind it exists. */
export async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((r) => probe.close(() => r()));
  return port;
}

/** A fake server's JSON answer, with its length (keep-alive clients need it). */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

/** A request's whole body as text. */
export async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}
