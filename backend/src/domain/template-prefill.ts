/**
 * Suggests values for a template's parameters from what the CRM card knows, so a manager sending
 * "Hello {{1}}, your order {{2}} is ready" from a lead finds the client's name and the lead number
 * already filled in. Only suggestions: the manager sees and edits them before sending.
 */
export interface CardFacts {
  contactName?: string;
  contactFirstName?: string;
  phone?: string;
  leadId?: number | string;
  leadName?: string;
  price?: number;
  branchName?: string;
  /** Custom fields of the lead and the contact, by field name and by field code. */
  fields?: Record<string, string>;
}

type Fact = "name" | "lead" | "price" | "phone" | "branch";

/** Parameter names (NAMED templates) that mean the same fact, in ru and en habits. */
const NAME_HINTS: Array<[RegExp, Fact]> = [
  [/^(customer_?|client_?|contact_?|first_?)?name$|^имя|^клиент/i, "name"],
  [/^(lead|order|deal|booking|appointment)(_?(id|number|no))?$|^заказ|^сделк|^номер/i, "lead"],
  [/^(price|amount|sum|total|cost)$|^сумм|^цен|^стоимост/i, "price"],
  [/^(phone|tel|mobile)$|^телефон/i, "phone"],
  [/^(branch|salon|studio|shop|store|location)(_?name)?$|^филиал|^салон|^студи/i, "branch"],
];

/** Words right before a positional placeholder that tell what it holds. */
const CONTEXT_HINTS: Array<[RegExp, Fact]> = [
  [/(hello|hi|dear|hey|здравствуйте|привет|добрый день|добрый вечер|доброе утро|уважаем\S*)[\s,!]*$/i, "name"],
  [/(order|booking|appointment|deal|заказ|сделк\S*|запис\S*)\s*(no\.?|number|#|№|номер)?\s*$/i, "lead"],
  [/(№|#)\s*$/, "lead"],
  [/(sum|amount|total|price|сумм\S*|стоимост\S*|цен\S*)\s*(of|is|:|—|-)?\s*$/i, "price"],
  [/(phone|телефон\S*)\s*:?\s*$/i, "phone"],
];

function factValue(fact: Fact, facts: CardFacts): string | undefined {
  switch (fact) {
    case "name":
      return facts.contactFirstName || facts.contactName || undefined;
    case "lead":
      return facts.leadId === undefined ? undefined : String(facts.leadId);
    case "price":
      return facts.price ? String(facts.price) : undefined;
    case "phone":
      return facts.phone;
    case "branch":
      return facts.branchName;
  }
}

const norm = (s: string) => s.toLowerCase().replace(/[\s_-]+/g, "");

/**
 * `params`: '1', '2'… (POSITIONAL) or names (NAMED), as `describeTemplate` lists them; `text` is
 * the component text holding the placeholders. Returns a suggestion per key, or none.
 */
export function prefillParams(params: readonly string[], text: string, facts: CardFacts): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  const fields = new Map(Object.entries(facts.fields ?? {}).map(([k, v]) => [norm(k), v]));
  for (const key of params) {
    // A custom field named like the parameter wins: the network named them that way on purpose.
    const byField = /^\d+$/.test(key) ? undefined : fields.get(norm(key));
    if (byField) {
      out[key] = byField;
      continue;
    }
    const hint = /^\d+$/.test(key) ? contextFact(text, key) : NAME_HINTS.find(([re]) => re.test(key))?.[1];
    out[key] = hint ? factValue(hint, facts) : undefined;
  }
  return out;
}

function contextFact(text: string, key: string): Fact | undefined {
  const at = text.indexOf(`{{${key}}}`);
  if (at < 0) return undefined;
  const before = text.slice(Math.max(0, at - 40), at);
  return CONTEXT_HINTS.find(([re]) => re.test(before))?.[1];
}
