import { AppError } from "../../errors.js";
import { leanPost } from "../../ops/lean-post.js";
import type { Branch } from "../../domain/types.js";
import type { CrmAdapter, CrmDefinition, CrmEvent } from "../crm.port.js";
import { signBranchWebhook } from "./webhook.signature.js";

export interface WebhookDeps {
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
  // Opening a sealed secret (AES-GCM) for every event cost more than signing it. Keyed by the sealed
  // value, so a rotated secret is a new entry; bounded, so rotations cannot grow it without end.
  const opened = new Map<string, string>();
  const openSecret = (sealed: string): string => {
    let secret = opened.get(sealed);
    if (secret === undefined) {
      secret = deps.openSecret(sealed);
      if (opened.size >= 1000) opened.delete(opened.keys().next().value!);
      opened.set(sealed, secret);
    }
    return secret;
  };
  const adapterDeps: WebhookDeps = { ...deps, openSecret };
  return {
    kind: "webhook",
    title: "Webhook",
    capabilities: { crmOwnership: false },
    create: (branch) => createAdapter(branch, adapterDeps),
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
        // The lean client: this runs for every routed message, and only the status matters.
        ({ status } = await leanPost(branch.webhookUrl, body, { "content-type": "application/json", "x-signature-256": signature, "x-branchline-event": event.type }, deps.timeoutMs ?? 10_000));
      } catch (err) {
        throw new AppError({ code: "webhook_unreachable", message: `branch webhook unreachable: ${(err as Error).message}`, retryable: true, cause: err });
      }
      if (status >= 200 && status < 300) return;
      const permanent = status >= 400 && status < 500 && status !== 408 && status !== 429;
      throw new AppError({ code: "webhook_refused", message: `branch webhook answered HTTP ${status}`, retryable: !permanent });
    },
  };
}
