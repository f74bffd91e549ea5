// Client for /inbox/api/*. Every call carries `Authorization: Bearer <branch key>`.
import { JsonClient, bearer, loadSession, saveSession } from "../shared/http.js";
import type { DialogsResponse, MeResponse, MessagesResponse, SendResponse } from "./types.js";

export { ApiError, NetworkError, UnauthorizedError } from "../shared/http.js";

export const KEY_STORAGE = "branchline.key";
export const API_BASE = "/inbox/api";

export const loadKey = (): string | null => loadSession(KEY_STORAGE);
export const saveKey = (key: string | null): void => saveSession(KEY_STORAGE, key);
export const authHeaders = bearer;

export class InboxApi {
  private readonly http: JsonClient;

  constructor(
    key: string,
    /** Called once per 401, before the promise rejects with UnauthorizedError. */
    onUnauthorized: () => void = () => {},
  ) {
    this.http = new JsonClient({ base: API_BASE, token: key, onUnauthorized });
  }

  me(signal?: AbortSignal): Promise<MeResponse> {
    return this.http.json("GET", "/me", undefined, signal);
  }

  dialogs(signal?: AbortSignal): Promise<DialogsResponse> {
    return this.http.json("GET", "/dialogs", undefined, signal);
  }

  messages(dialogId: string, signal?: AbortSignal): Promise<MessagesResponse> {
    return this.http.json("GET", `/dialogs/${encodeURIComponent(dialogId)}/messages`, undefined, signal);
  }

  send(dialogId: string, text: string): Promise<SendResponse> {
    return this.http.json("POST", `/dialogs/${encodeURIComponent(dialogId)}/messages`, { text });
  }

  markRead(dialogId: string): Promise<void> {
    return this.http.json("POST", `/dialogs/${encodeURIComponent(dialogId)}/read`);
  }

  /** Media behind the API (same-origin /inbox/api/… URLs) fetched with the Bearer header. */
  async blob(url: string): Promise<Blob> {
    return (await this.http.fetchOk(url)).blob();
  }
}
