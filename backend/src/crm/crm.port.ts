import type { Branch, Customer, Dialog, MessageRecord } from "../domain/types.js";

/** What a connector is told. Each event has a stable `id`: receivers use it to drop repeats. */
export type CrmEvent =
  | {
      type: "message";
      id: string;
      branch: Pick<Branch, "id" | "code" | "name">;
      dialog: Pick<Dialog, "id" | "routing">;
      customer: Pick<Customer, "id" | "waId" | "userId" | "name" | "username">;
      message: MessageRecord;
    }
  | {
      type: "status";
      id: string;
      branch: Pick<Branch, "id" | "code" | "name">;
      dialogId: string;
      messageId: string;
      wamid?: string;
      status: string;
      error?: { code: string; message: string };
      at: number;
    };

/**
 * One branch's CRM connection. Built per branch and per call; holds no shared mutable state.
 */
export interface CrmAdapter {
  /**
   * Hands one event to the CRM. Resolves when the CRM accepted it; throws an `AppError`
   * (`retryable` true for outages, false for permanent refusals) otherwise.
   */
  deliver(event: CrmEvent): Promise<void>;
  /** Capability `crmOwnership`: does this branch's CRM already know the customer's phone? */
  knowsPhone?(phone: string): Promise<boolean>;
}

export interface CrmDefinition<K extends Branch["crm"] = Branch["crm"]> {
  kind: K;
  /** Human name for the console. */
  title: string;
  capabilities: { crmOwnership: boolean };
  create(branch: Branch): CrmAdapter;
}
