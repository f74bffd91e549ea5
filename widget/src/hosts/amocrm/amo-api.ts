// PanelApi over amoCRM's `self.$authorizedAjax`, which adds the X-Auth-Token JWT (doc §1.5) and
// returns a jQuery Deferred (done/fail only; its `then` differs between jQuery versions).
import { PanelApiError, type PanelApi } from "../../core/types.js";
import type { AmoAjaxOptions, AmoDeferred, AmoXhr } from "./amo.types.js";

function backendError(xhr: AmoXhr | undefined): { code?: string; message?: string } {
  let body: unknown = xhr?.responseJSON;
  if (body === undefined && typeof xhr?.responseText === "string" && xhr.responseText) {
    try {
      body = JSON.parse(xhr.responseText);
    } catch {
      body = undefined;
    }
  }
  const error = (body as { error?: unknown } | undefined)?.error;
  if (error && typeof error === "object") {
    const e = error as { code?: unknown; message?: unknown };
    return { code: typeof e.code === "string" ? e.code : undefined, message: typeof e.message === "string" ? e.message : undefined };
  }
  return typeof error === "string" ? { message: error } : {};
}

/** `base` is the backend's widget prefix, e.g. `https://api.example.com/amocrm/widget`. */
export function amoPanelApi(ajax: (opts: AmoAjaxOptions) => AmoDeferred, base: string): PanelApi {
  return {
    request<T>(method: "GET" | "POST", endpoint: string, opts: { query?: Record<string, string | number>; body?: unknown } = {}) {
      const qs = opts.query ? new URLSearchParams(Object.entries(opts.query).map(([k, v]) => [k, String(v)])).toString() : "";
      const ajaxOpts: AmoAjaxOptions = {
        url: `${base}/${endpoint}${qs ? `?${qs}` : ""}`,
        method,
        contentType: "application/json",
        dataType: "json",
      };
      if (opts.body !== undefined) ajaxOpts.data = JSON.stringify(opts.body);
      return new Promise<T>((resolve, reject) => {
        const d = ajax(ajaxOpts);
        d.done((data) => resolve(data as T));
        d.fail((xhr) => {
          const status = typeof xhr?.status === "number" ? xhr.status : 0;
          const e = backendError(xhr);
          // Only the backend's own message is shown as is; the panel words other failures itself.
          reject(new PanelApiError(status, e.code, e.message ?? ""));
        });
      });
    },
  };
}
