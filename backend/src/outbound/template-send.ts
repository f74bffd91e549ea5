import { unprocessable } from "../errors.js";
import { templateRecordId, validateTemplateSend, type TemplateSendRequest } from "../domain/templates.js";
import type { Tx } from "../store/store.port.js";
import type { OutboundContent } from "../channels/whatsapp/graph-payload.js";

/**
 * Checks a template send against the synced definition (only APPROVED ones go) and returns what
 * the outbox needs. Refusals are the contract's 422 codes, naming the field and what is wrong.
 */
export async function prepareTemplate(tx: Tx, req: TemplateSendRequest): Promise<{ content: OutboundContent; template: { name: string; language: string; category: string; params?: unknown } }> {
  const record = await tx.get("templates", templateRecordId(req.name, req.language));
  const siblings = await tx.byIndex("templates", "name", req.name);
  const result = validateTemplateSend(record, req, siblings);
  if (!result.ok) throw unprocessable(result.code, result.message, result.field);
  return {
    content: { kind: "template", name: req.name, language: req.language, components: result.components, preview: result.preview },
    template: { name: req.name, language: req.language, category: record!.category, params: req.params },
  };
}
