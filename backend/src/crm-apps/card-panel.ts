import { z } from "zod";
import { badRequest, notFound, unprocessable } from "../errors.js";
import { waIdCandidates } from "../domain/phone.js";
import { prefillParams, type CardFacts } from "../domain/template-prefill.js";
import { describeTemplate } from "../domain/templates.js";
import type { Branch, Customer, Job, MessageRecord, TemplateRecord } from "../domain/types.js";
import { windowState } from "../domain/window.js";
import { bindCustomer, dialogIdOf, ensureDialog } from "../inbound/bindings.js";
import { customerByPhone } from "../inbound/customers.js";
import { queueOutbound } from "../outbound/outbox.js";
import { prepareTemplate } from "../outbound/template-send.js";
import type { Store, Tx } from "../store/store.port.js";

/** A CRM card (amoCRM lead, Bitrix24 lead or deal) as the panel needs it. */
export interface Card {
  lead: { id: number | string; name: string; price?: number; fields?: Record<string, string> };
  contact?: { id: number | string; name: string; firstName?: string; fields?: Record<string, string> };
  /** E.164 phone of the card's client, when it has one. */
  phone?: string;
}

const param = z.union([z.string(), z.number()]).transform(String);
export const templateChoice = z.strictObject({
  name: z.string().min(1).max(512),
  language: z.string().min(2).max(15),
  params: z.union([z.array(param).max(100), z.record(z.string(), param)]).optional(),
});

export interface CardPanelDeps {
  store: Store;
  now: () => number;
  onQueued(job: Job): void;
}

export const branchRef = (b: Branch) => ({ id: b.id, code: b.code, name: b.name });

/**
 * The CRM-neutral half of the card panel (amoCRM lead card, Bitrix24 card tab): which dialog the
 * card's client has with this branch, the window, templates with suggested parameters, sending
 * and transferring. The CRM half authenticates and reads the card.
 */
export class CardPanel {
  constructor(private readonly deps: CardPanelDeps) {}

  async context(branch: Branch, card: Card | undefined) {
    const now = this.deps.now();
    const [templates, branches] = await this.deps.store.read(async (tx) => [await tx.list("templates"), await tx.list("branches")] as const);
    const base = { bound: true as const, branch: branchRef(branch), now, branches: branches.filter((b) => b.enabled && b.id !== branch.id).map(branchRef) };
    if (!card) return { ...base, templates: templatesFor(templates, { branchName: branch.name }) };
    const customer = card.phone ? await this.deps.store.read((tx) => findCustomer(tx, card.phone!)) : undefined;
    const view = customer ? await this.deps.store.read((tx) => dialogView(tx, branch.id, customer)) : undefined;
    const w = windowState(customer?.lastInboundAt, now);
    return {
      ...base,
      lead: { id: card.lead.id, name: card.lead.name },
      ...(card.contact ? { contact: { id: card.contact.id, name: card.contact.name, ...(card.phone ? { phone: card.phone } : {}) } } : {}),
      ...(view?.dialog ? { dialog: view.dialog } : {}),
      window: { open: w.open, ...(w.closesAt ? { closesAt: w.closesAt } : {}), ...(customer?.lastInboundAt ? { lastInboundAt: customer.lastInboundAt } : {}) },
      templates: templatesFor(templates, factsOf(card, branch)),
      statuses: view?.statuses ?? [],
    };
  }

  /** A template from the card: checked like any send and bound to this branch. */
  async send(branch: Branch, card: Card, template: z.infer<typeof templateChoice>, crmRefs: Record<string, string>) {
    if (!card.phone) throw unprocessable("invalid_phone", "the card has no client with a phone number", "lead_id");
    const now = this.deps.now();
    const { message, job } = await this.deps.store.transact(async (tx) => {
      const customer = await customerByPhone(tx, waIdCandidates(card.phone!), now);
      const prepared = await prepareTemplate(tx, template);
      return queueOutbound(tx, { customer, branchId: branch.id, content: prepared.content, template: prepared.template, origin: "reply", crmRefs, now });
    });
    this.deps.onQueued(job);
    return { id: message.id, status: "queued" as const };
  }

  /** Hands the card's WhatsApp client to another branch: their next message goes there. */
  async transfer(branch: Branch, card: Card, targetId: string, crmTitle: string) {
    if (!card.phone) throw unprocessable("invalid_phone", "the card has no client with a phone number", "lead_id");
    const now = this.deps.now();
    const target = await this.deps.store.transact(async (tx) => {
      const to = await tx.get("branches", targetId);
      if (!to || !to.enabled) throw notFound(`branch ${targetId}`);
      if (to.id === branch.id) throw unprocessable("same_branch", "the dialog already belongs to this branch", "branch_id");
      const customer = await findCustomer(tx, card.phone!);
      if (!customer) throw unprocessable("no_dialog", "this client has not written on WhatsApp yet: nothing to transfer", "lead_id");
      const reason = `transferred by ${branch.name} from ${crmTitle}`;
      await bindCustomer(tx, customer.id, { branchId: to.id, rule: "transfer", reason, now });
      await ensureDialog(tx, to.id, customer.id, now, { rule: "transfer", reason });
      return to;
    });
    return { branch: branchRef(target) };
  }
}

async function findCustomer(tx: Tx, e164: string): Promise<Customer | undefined> {
  for (const waId of waIdCandidates(e164)) {
    const c = (await tx.byIndex("customers", "waId", waId))[0];
    if (c) return c;
  }
  return undefined;
}

async function dialogView(tx: Tx, branchId: string, customer: Customer) {
  const dialog = await tx.get("dialogs", dialogIdOf(branchId, customer.id));
  if (!dialog) return undefined;
  const messages = await tx.byIndex("messages", "dialogId", dialog.id, { newestFirst: true, limit: 10 });
  return { dialog: { id: dialog.id, ...(dialog.routing ? { routing: dialog.routing } : {}) }, statuses: messages.map(statusView) };
}

function statusView(m: MessageRecord) {
  return {
    id: m.id,
    direction: m.direction,
    ...(m.text ? { text: m.text } : {}),
    ...(m.template ? { template: m.template.name } : {}),
    status: m.status === "sending" ? "queued" : m.status,
    at: m.updatedAt,
    ...(m.error ? { error: m.error } : {}),
  };
}

function factsOf(card: Card, branch: Branch): CardFacts {
  return {
    contactName: card.contact?.name,
    contactFirstName: card.contact?.firstName,
    phone: card.phone,
    leadId: card.lead.id,
    leadName: card.lead.name,
    price: card.lead.price,
    branchName: branch.name,
    fields: { ...card.contact?.fields, ...card.lead.fields },
  };
}

/** Approved templates as the panel shows them, with examples and suggested values per parameter. */
function templatesFor(all: readonly TemplateRecord[], facts: CardFacts) {
  return all
    .filter((t) => t.status === "APPROVED")
    .map((t) => {
      const d = describeTemplate(t);
      const examples = bodyExamples(t);
      const prefill = prefillParams(d.body.params, d.body.text, facts);
      return {
        name: t.name,
        language: t.language,
        category: t.category,
        parameterFormat: t.parameterFormat,
        ...(d.header?.text ? { header: d.header.text } : {}),
        body: d.body.text,
        ...(d.footer ? { footer: d.footer } : {}),
        params: d.body.params.map((key, i) => ({ key, ...(examples[key] ?? examples[String(i + 1)] ? { example: examples[key] ?? examples[String(i + 1)] } : {}), ...(prefill[key] ? { prefill: prefill[key] } : {}) })),
      };
    });
}

/** The example values Meta keeps with the BODY component (positional or named). */
function bodyExamples(t: TemplateRecord): Record<string, string> {
  const body = (t.components as Array<{ type?: string; example?: { body_text?: string[][]; body_text_named_params?: Array<{ param_name: string; example: string }> } }>).find((c) => c.type?.toUpperCase() === "BODY");
  const out: Record<string, string> = {};
  body?.example?.body_text?.[0]?.forEach((v, i) => (out[String(i + 1)] = v));
  for (const p of body?.example?.body_text_named_params ?? []) out[p.param_name] = p.example;
  return out;
}

/** A panel request's input checked against its schema: a 400 naming the field (under `field`, when given) on the first issue. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown, field?: string): z.infer<S> {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const path = [field, ...issue.path].filter((p) => p !== undefined && p !== "").join(".");
  throw badRequest(path ? `${path}: ${issue.message}` : issue.message, path || undefined);
}
