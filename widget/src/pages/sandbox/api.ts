// Client for /sandbox/api/* (no auth: the sandbox only exists in sandbox mode).
import type { MessagesResponse, PhonesResponse, SendBody, SendResponse } from "./types.js";

export const API_BASE = "/sandbox/api";

export class SandboxApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = "SandboxApiError";
  }
}

async function request<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(API_BASE + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: "no-store",
    signal,
  });
  if (!res.ok) {
    let message = `${res.status} ${res.statusText}`.trim();
    try {
      const j = (await res.json()) as { error?: { message?: string } | string };
      const e = j?.error;
      if (typeof e === "string" && e) message = e;
      else if (e && typeof e === "object" && typeof e.message === "string" && e.message) message = e.message;
    } catch {
      /* not JSON */
    }
    throw new SandboxApiError(res.status, message);
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

const phonePath = (phone: string) => `/phones/${encodeURIComponent(phone)}/messages`;

export const sandboxApi = {
  phones: (signal?: AbortSignal) => request<PhonesResponse>("GET", "/phones", undefined, signal),
  messages: (phone: string, signal?: AbortSignal) =>
    request<MessagesResponse>("GET", phonePath(phone), undefined, signal),
  send: (phone: string, body: SendBody) => request<SendResponse>("POST", phonePath(phone), body),
  streamUrl: (phone: string) => `${API_BASE}/stream?phone=${encodeURIComponent(phone)}`,
};

/** Keep digits only: "+7 (916) 123-45-67" → "79161234567". */
export function normalizePhone(input: string): string {
  return input.replace(/\D+/g, "");
}

export function isValidPhone(digits: string): boolean {
  return /^\d{7,15}$/.test(digits);
}
