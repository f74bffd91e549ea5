import { AppError } from "../errors.js";
import type { CrmDefinition } from "./crm.port.js";

/**
 * amoCRM and Bitrix24 branches can be created now, but their connectors arrive with their own
 * issues. Until then deliveries wait in the durable queue (retried, then dead-lettered, never lost).
 */
export function notYetConnected<K extends "amocrm" | "bitrix24">(kind: K, title: string): CrmDefinition<K> {
  return {
    kind,
    title,
    capabilities: { crmOwnership: false },
    create: (branch) => ({
      async deliver() {
        throw new AppError({
          code: "crm_not_connected",
          message: `branch ${branch.code} has not connected its ${title} account yet`,
          retryable: true,
        });
      },
    }),
  };
}
