import type { AxiosInstance } from "axios";
import { AppError } from "../../errors.js";
import type { WhatsAppSender } from "../../outbound/sender.port.js";
import type { GraphMessage } from "./graph-payload.js";

export interface GraphClientOptions {
  http: AxiosInstance;
  graphUrl: string;
  phoneNumberId: string;
  accessToken: string;
}

/**
 * Minimal Cloud API sender: POST /{phone_number_id}/messages. Network failures and 5xx are
 * retryable; Meta's 4xx refusals are not (the outbound issue refines this per error code).
 */
export function graphSender(opts: GraphClientOptions): WhatsAppSender {
  return {
    async send(message: GraphMessage) {
      let res;
      try {
        res = await opts.http.post(`${opts.graphUrl}/${opts.phoneNumberId}/messages`, message, {
          headers: { authorization: `Bearer ${opts.accessToken}` },
          validateStatus: () => true,
          timeout: 20_000,
        });
      } catch (err) {
        throw new AppError({ code: "graph_unreachable", message: `Graph API unreachable: ${(err as Error).message}`, retryable: true, cause: err });
      }
      const wamid = res.data?.messages?.[0]?.id;
      if (res.status >= 200 && res.status < 300 && typeof wamid === "string") return { wamid };
      const error = res.data?.error ?? {};
      throw new AppError({
        code: `graph_${error.code ?? res.status}`,
        message: String(error.error_data?.details ?? error.message ?? `Graph API answered HTTP ${res.status}`),
        retryable: res.status >= 500 || res.status === 429,
        details: { status: res.status, code: error.code, subcode: error.error_subcode, fbtraceId: error.fbtrace_id },
      });
    },
  };
}
