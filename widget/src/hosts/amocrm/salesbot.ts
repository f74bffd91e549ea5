// The Salesbot step "send WhatsApp template": the bot code our widget hands to the designer
// (doc amocrm.md §5.2) and the `widget_request` data fixed in contract.md.

export const SALESBOT_HANDLER = "send_wa_template";

/**
 * A designer setting's value. Typed-in ("manual") values may arrive under the field name, as
 * `{value_manual}` under it, or in a `value_manual` object keyed by field (doc §5.2, [PRAC]).
 */
export function salesbotSetting(params: unknown, field: string): string | undefined {
  if (!params || typeof params !== "object") return undefined;
  const p = params as Record<string, unknown>;
  const pick = (v: unknown): string | undefined => {
    if (typeof v === "string") return v;
    if (typeof v === "number") return String(v);
    if (v && typeof v === "object") {
      const o = v as Record<string, unknown>;
      return pick(o.value_manual) ?? pick(o.value);
    }
    return undefined;
  };
  const direct = pick(p[field]);
  if (direct !== undefined) return direct;
  const manual = p.value_manual;
  if (manual && typeof manual === "object") return pick((manual as Record<string, unknown>)[field]);
  return undefined;
}

/** Parameters typed one per line or separated by `|`; amoCRM markers ({{contact.name}}) pass through. */
export function splitSalesbotParams(text: string | undefined): string[] {
  if (!text) return [];
  return text
    .split(/\r?\n|\|/)
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

/** The bot JSON string for `onSalesbotDesignerSave`; "[]" for a handler that is not ours. */
export function salesbotBotJson(handlerCode: string, params: unknown, backendUrl: string): string {
  if (handlerCode !== SALESBOT_HANDLER) return "[]";
  const data = {
    template: (salesbotSetting(params, "template") ?? "").trim(),
    language: (salesbotSetting(params, "language") ?? "").trim() || "ru",
    params: splitSalesbotParams(salesbotSetting(params, "params")),
    lead_id: "{{lead.id}}",
    contact_id: "{{contact.id}}",
  };
  // Handlers must sit inside `question` blocks: other shapes save but never fire (doc §5.2).
  return JSON.stringify([
    {
      question: [
        { handler: "widget_request", params: { url: `${backendUrl.replace(/\/+$/, "")}/amocrm/salesbot`, data } },
        { handler: "goto", params: { type: "question", step: 1 } },
      ],
    },
    {
      question: [
        {
          handler: "conditions",
          params: {
            logic: "and",
            conditions: [{ term1: "{{json.status}}", term2: "success", operation: "=" }],
            result: [{ handler: "exits", params: { value: "success" } }],
          },
        },
        { handler: "exits", params: { value: "fail" } },
      ],
    },
  ]);
}
