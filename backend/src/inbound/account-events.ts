import type { ParsedWebhook } from "../channels/whatsapp/webhook.types.js";
import type { Tx } from "../store/store.port.js";
import { setMarketingOptOut } from "./customers.js";
import { applyTemplateEvent, TEMPLATE_EVENT_FIELDS } from "../outbound/template-sync.js";

/**
 * Keeps every non-message field (template status/quality/category, phone quality, account alerts,
 * user preferences…) and value-level errors, and acts on the ones this release understands:
 * `user_preferences` opt a customer out of (or back into) marketing messages, and template status,
 * quality and category changes apply at once to the synced template (the caller also re-syncs).
 */
export async function recordAccountEvents(tx: Tx, parsed: ParsedWebhook, payloadId: string, now: number): Promise<{ templatesChanged: boolean }> {
  const records = [
    ...parsed.errors.map((e) => ({ field: "errors", wabaId: e.wabaId, path: e.path, value: { code: e.code, title: e.title, message: e.message, details: e.details, phoneNumberId: e.phoneNumberId } })),
    ...parsed.managementEvents.map((e) => ({ field: e.field, wabaId: e.wabaId, path: e.path, value: e })),
  ];
  for (const r of records) {
    const id = `${payloadId.slice(0, 16)}:${r.path}`;
    await tx.insertIfAbsent("managementEvents", { id, field: r.field, wabaId: r.wabaId, receivedAt: now, value: r.value });
  }
  for (const event of parsed.managementEvents) {
    await applyTemplateEvent(tx, event, now); // a no-op for other fields
    for (const p of event.preferences ?? []) {
      if (p.category && p.category !== "marketing_messages") continue;
      const value = p.value?.toLowerCase();
      if (value !== "stop" && value !== "resume") continue;
      await setMarketingOptOut(tx, { waId: p.waId, userId: p.userId }, value === "stop", "user_preferences", p.timestamp ?? now);
    }
  }
  return { templatesChanged: parsed.managementEvents.some((e) => TEMPLATE_FIELDS.has(e.field)) };
}

/** Fields after which the synced templates are re-read (components changes carry nothing to apply directly). */
const TEMPLATE_FIELDS = new Set<string>([...TEMPLATE_EVENT_FIELDS, "message_template_components_update"]);
