import type { AxiosInstance } from "axios";
import { AppError } from "../../errors.js";
import type { Branch } from "../../domain/types.js";
import type { CrmAdapter, CrmDefinition, CrmEvent } from "../crm.port.js";
import { signBranchWebhook } from "./webhook.signature.js";

export interface WebhookDeps {
  http: AxiosInstance;
  /** Opens the branch's sealed webhook secret. */
  openSecret(sealed: string): string;
  timeoutMs?: number;
}

/**
 * The `webhook` connector: POSTs each event as JSON to the branch's URL, signed with
 * `X-Signature-256: sha256=<hex HMAC-SHA256(webhookSecret, raw body)>`. Any 2xx is success; 4xx
 * other than 408/429 is a permanent refusal; everything else is retried by the job runner.
 */
export function webhookConnector(deps: WebhookDeps): CrmDefinition<"webhook"> {
  return {
    kind: "webhook",
    title: "Webhook",
    capabilities: { crmOwnership: false },
    create: (branch) => createAdapter(branch, deps),
  };
}

function createAdapter(branch: Branch, deps: WebhookDeps): CrmAdapter {
  return {
    async deliver(event: CrmEvent) {
      if (!branch.webhookUrl || !branch.webhookSecretSealed) {
        throw new AppError({ code: "webhook_not_configured", message: `branch ${branch.code} has no webhookUrl`, retryable: false });
      }
      const body = JSON.stringify(event);
      const signature = signBranchWebhook(deps.openSecret(branch.webhookSecretSealed), body);
      let status: number;
      try {
        const res = await deps.http.post(branch.webhookUrl, body, {
          headers: { "content-type": "application/json", "x-signature-256": signature, "x-branchline-event": event.type },
          timeout: deps.timeoutMs ?? 10_000,
          validateStatus: () => true,
          maxRedirects: 0,
          transformRequest: (d: unknown) => d,
        });
        status = res.status;
      } catch (err) {
        throw new AppError({ code: "webhook_unreachable", message: `branch webhook unreachable: ${(err as Error).message}`, retryable: true, cause: err });
      }
      if (status >= 200 && status < 300) return;
      const permanent = status >= 400 && status < 500 && status !== 408 && status !== 429;
      throw new AppError({ code: "webhook_refused", message: `branch webhook answered HTTP ${status}`, retryable: !permanent });
    },
  };
}
