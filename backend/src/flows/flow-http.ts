import type { AxiosInstance } from "axios";
import type { HttpRequestSpec } from "../domain/flows/flow-engine.js";

/** The raw outcome of a flow's HTTP call; the engine decides what is an error (domain/flows). */
export type HttpCallResult = { status: number; body: string } | { error: string };

/** Responses larger than this are refused (a booking API answers a few KB). */
const MAX_BODY_BYTES = 1_000_000;

/**
 * Calls an external API for an http step: the step's timeout covers the whole exchange, any status
 * is returned as it came (the engine treats non-2xx as the error path), and the body is returned as
 * text so the engine can tell JSON from garbage. Never throws.
 */
export async function callHttp(http: AxiosInstance, spec: HttpRequestSpec): Promise<HttpCallResult> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), spec.timeoutMs);
  try {
    const res = await http.request<string>({
      method: spec.method,
      url: spec.url,
      headers: { accept: "application/json", ...(spec.body !== undefined ? { "content-type": "application/json" } : {}), ...spec.headers },
      data: spec.body === undefined ? undefined : JSON.stringify(spec.body),
      timeout: spec.timeoutMs,
      signal: controller.signal,
      responseType: "text",
      transformResponse: [(d: unknown) => d],
      validateStatus: () => true,
      maxContentLength: MAX_BODY_BYTES,
      maxRedirects: 0,
    });
    return { status: res.status, body: typeof res.data === "string" ? res.data : String(res.data ?? "") };
  } catch (err) {
    const e = err as { code?: string; message?: string };
    if (controller.signal.aborted || e.code === "ECONNABORTED" || e.code === "ETIMEDOUT" || e.code === "ERR_CANCELED") return { error: `no answer within ${spec.timeoutMs} ms` };
    // The message of a network error names the host, never the headers (which may hold API keys).
    return { error: `request failed: ${e.code ?? "network error"}` };
  } finally {
    clearTimeout(timer);
  }
}
