// Client for /sandbox/api/* (no auth: the sandbox only exists in sandbox mode).
import { JsonClient } from "../shared/http.js";
import type { MessagesResponse, PhonesResponse, SendBody, SendResponse } from "./types.js";

export const API_BASE = "/sandbox/api";

const http = new JsonClient({ base: API_BASE });
function request<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  return http.json<T>(method, path, body, signal);
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
