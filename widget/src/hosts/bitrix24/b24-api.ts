// PanelApi for the Bitrix24 card tab: our routes on the page's own origin, authenticated with the
// frame's access token and member_id (the backend checks them at the portal). A 401 gets one
// retry with a token fresh from the parent window (`refreshAuth`).
import { PanelApiError, type PanelApi, type PanelEndpoint } from "../../core/types.js";

/** What the host needs from `B24Frame.auth`. */
export interface FrameAuth {
  getAuthData(): false | { access_token: string | null; member_id: string | null };
  refreshAuth(): Promise<false | { access_token: string | null; member_id: string | null }>;
}

async function errorOf(res: Response): Promise<{ code?: string; message?: string }> {
  try {
    const body = (await res.json()) as { error?: { code?: unknown; message?: unknown } };
    const e = body?.error;
    return { code: typeof e?.code === "string" ? e.code : undefined, message: typeof e?.message === "string" ? e.message : undefined };
  } catch {
    return {};
  }
}

/** `base` is e.g. `/bitrix24/app/deal`: the entity the tab was opened for is part of the route. */
export function b24PanelApi(auth: FrameAuth, base: string, fetchFn: typeof fetch = fetch): PanelApi {
  const call = async (method: string, url: string, body: string | undefined, fresh: boolean): Promise<Response> => {
    const data = fresh ? await auth.refreshAuth() : auth.getAuthData();
    const headers: Record<string, string> = { accept: "application/json" };
    if (data && data.access_token) headers["x-b24-auth"] = data.access_token;
    if (data && data.member_id) headers["x-b24-member"] = data.member_id;
    if (body !== undefined) headers["content-type"] = "application/json";
    return fetchFn(url, { method, headers, body, credentials: "omit" });
  };
  return {
    async request<T>(method: "GET" | "POST", endpoint: PanelEndpoint, opts: { query?: Record<string, string | number>; body?: unknown } = {}): Promise<T> {
      const qs = opts.query ? new URLSearchParams(Object.entries(opts.query).map(([k, v]) => [k, String(v)])).toString() : "";
      const url = `${base}/${endpoint}${qs ? `?${qs}` : ""}`;
      const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
      let res: Response;
      try {
        res = await call(method, url, body, false);
        // The token expired while the tab was open: ask the portal for a fresh one, once.
        if (res.status === 401) res = await call(method, url, body, true);
      } catch {
        throw new PanelApiError(0, undefined, "");
      }
      if (!res.ok) {
        const e = await errorOf(res);
        throw new PanelApiError(res.status, e.code, e.message ?? "");
      }
      return (await res.json()) as T;
    },
  };
}
