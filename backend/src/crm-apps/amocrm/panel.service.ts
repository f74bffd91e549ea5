import { z } from "zod";
import { AppError, badRequest, notFound, unprocessable } from "../../errors.js";
import { normalizeCrmPhone, waIdCandidates } from "../../domain/phone.js";
import { prefillParams, type CardFacts } from "../../domain/template-prefill.js";
import { describeTemplate } from "../../domain/templates.js";
import type { Branch, CrmConnection, Customer, Job, MessageRecord, TemplateRecord } from "../../domain/types.js";
import { windowState } from "../../domain/window.js";
import type { AmoContact, AmoLead } from "../../crm/amocrm/amocrm.api.js";
import { issuerHost, verifyWidgetToken } from "../../crm/amocrm/amocrm.jwt.js";
import { amoConnectionId, type AmoKit } from "../../crm/amocrm/amocrm.kit.js";
import { bindCustomer, dialogIdOf, ensureDialog } from "../../inbound/bindings.js";
import { customerByPhone } from "../../inbound/customers.js";
import { queueOutbound } from "../../outbound/outbox.js";
import { prepareTemplate } from "../../outbound/template-send.js";
import { hashApiKey } from "../../security/api-keys.js";
import type { Store, Tx } from "../../store/store.port.js";

export interface PanelDeps {
  kit: AmoKit;
  store: Store;
  now: () => number;
  onQueued(job: Job): void;
}

const leadId = z.coerce.number().int().positive();
const param = z.union([z.string(), z.number()]).transform(String);
export const sendSchema = z.strictObject({
  lead_id: leadId,
  template: z.strictObject({
    name: z.string().min(1).max(512),
    language: z.string().min(2).max(15),
    params: z.union([z.array(param).max(100), z.record(z.string(), param)]).optional(),
  }),
});
export const transferSchema = z.strictObject({ lead_id: leadId, branch_id: z.string().min(1) });
export const registerSchema = z.strictObject({ branch_key: z.string().trim().min(1, "enter the branch key").max(200) });

interface Session {
  connection: CrmConnection;
  branch?: Branch;
}

const branchRef = (b: Branch) => ({ id: b.id, code: b.code, name: b.name });

/**
 * What the widget in an amoCRM account may do. Every call carries amoCRM's disposable token; the
 * account it names decides the branch, so a widget only ever sees its own branch's dialogs.
 * @see amocrm.md §1.5
 */
export class AmoPanelService {
  constructor(private readonly deps: PanelDeps) {}

  private async session(token: string | undefined, opts: { needInstall: boolean }): Promise<Session | undefined> {
    const oauth = this.deps.kit.oauth();
    const claims = verifyWidgetToken(token, { clientId: oauth.clientId, clientSecret: oauth.clientSecret, audience: new URL(this.deps.kit.settings.redirectUri).origin, now: this.deps.now });
    const connection = await this.deps.store.read((tx) => tx.get("crmConnections", amoConnectionId(claims.accountId)));
    if (!connection || connection.state === "disconnected") {
      if (opts.needInstall) throw new AppError({ code: "not_installed", message: "this amoCRM account has not completed the installation: reinstall the widget", httpStatus: 409 });
      return undefined;
    }
    if (issuerHost(claims) !== connection.domain) throw new AppError({ code: "invalid_token", message: "the token's issuer is not this account's domain", httpStatus: 401 });
    const branch = connection.branchId ? await this.deps.store.read((tx) => tx.get("branches", connection.branchId!)) : undefined;
    return { connection, branch: branch?.enabled ? branch : undefined };
  }

  private async bound(token: string | undefined): Promise<Required<Session>> {
    const s = await this.session(token, { needInstall: true });
    if (!s?.branch) throw new AppError({ code: "not_bound", message: "this amoCRM account is not bound to a branch: enter the branch key in the widget settings", httpStatus: 409 });
    return s as Required<Session>;
  }

  /** Binds the account to the branch whose key the admin entered; a branch has one account. */
  async register(token: string | undefined, body: unknown) {
    const { branch_key } = parse(registerSchema, body);
    const s = await this.session(token, { needInstall: true });
    const now = this.deps.now();
    const branch = await this.deps.store.transact(async (tx) => {
      const found = (await tx.byIndex("branches", "keyHash", hashApiKey(branch_key)))[0];
      if (!found || !found.enabled) throw new AppError({ code: "unknown_branch_key", message: "no active branch has this key", httpStatus: 403, field: "branch_key" });
      if (found.crm !== "amocrm") throw new AppError({ code: "unknown_branch_key", message: `branch ${found.code} is set up for ${found.crm}, not amoCRM`, httpStatus: 403, field: "branch_key" });
      for (const other of await tx.byIndex("crmConnections", "branchId", found.id)) {
        if (other.id !== s!.connection.id) await tx.put("crmConnections", { ...other, branchId: undefined, updatedAt: now });
      }
      const current = (await tx.get("crmConnections", s!.connection.id))!;
      await tx.put("crmConnections", { ...current, branchId: found.id, updatedAt: now });
      return found;
    });
    return { branch: branchRef(branch) };
  }

  async context(token: string | undefined, rawLeadId: unknown) {
    const s = await this.session(token, { needInstall: false });
    if (!s?.branch) return { bound: false as const };
    const { branch, connection } = s;
    const now = this.deps.now();
    const [templates, branches] = await this.deps.store.read(async (tx) => [await tx.list("templates"), await tx.list("branches")] as const);
    const base = {
      bound: true as const,
      branch: branchRef(branch),
      now,
      branches: branches.filter((b) => b.enabled && b.id !== branch.id).map(branchRef),
    };
    if (rawLeadId === undefined || rawLeadId === "") return { ...base, templates: templatesFor(templates, { branchName: branch.name }) };
    const id = parse(leadId, rawLeadId, "lead_id");
    const card = await this.card(connection, id);
    const facts = factsOf(card, branch);
    const customer = card.phone ? await this.deps.store.read((tx) => findCustomer(tx, card.phone!)) : undefined;
    const view = customer ? await this.deps.store.read((tx) => dialogView(tx, branch.id, customer)) : undefined;
    const w = windowState(customer?.lastInboundAt, now);
    return {
      ...base,
      lead: { id: card.lead.id, name: card.lead.name },
      ...(card.contact ? { contact: { id: card.contact.id, name: card.contact.name, ...(card.phone ? { phone: card.phone } : {}) } } : {}),
      ...(view?.dialog ? { dialog: view.dialog } : {}),
      window: { open: w.open, ...(w.closesAt ? { closesAt: w.closesAt } : {}), ...(customer?.lastInboundAt ? { lastInboundAt: customer.lastInboundAt } : {}) },
      templates: templatesFor(templates, facts),
      statuses: view?.statuses ?? [],
    };
  }

  /** A template from the card: checked like any send, bound to this branch, shown in the chat once sent. */
  async send(token: string | undefined, body: unknown) {
    const input = parse(sendSchema, body);
    const { branch, connection } = await this.bound(token);
    const card = await this.card(connection, input.lead_id);
    if (!card.phone) throw unprocessable("invalid_phone", "the lead has no contact with a phone number", "lead_id");
    const now = this.deps.now();
    const { message, job } = await this.deps.store.transact(async (tx) => {
      const customer = await customerByPhone(tx, waIdCandidates(card.phone!), now);
      const prepared = await prepareTemplate(tx, input.template);
      return queueOutbound(tx, { customer, branchId: branch.id, content: prepared.content, template: prepared.template, origin: "reply", crmRefs: { leadId: String(input.lead_id) }, now });
    });
    this.deps.onQueued(job);
    return { id: message.id, status: "queued" as const };
  }

  /** Hands the lead's WhatsApp customer to another branch: their next message goes there. */
  async transfer(token: string | undefined, body: unknown) {
    const input = parse(transferSchema, body);
    const { branch, connection } = await this.bound(token);
    const card = await this.card(connection, input.lead_id);
    if (!card.phone) throw unprocessable("invalid_phone", "the lead has no contact with a phone number", "lead_id");
    const now = this.deps.now();
    const target = await this.deps.store.transact(async (tx) => {
      const to = await tx.get("branches", input.branch_id);
      if (!to || !to.enabled) throw notFound(`branch ${input.branch_id}`);
      if (to.id === branch.id) throw unprocessable("same_branch", "the dialog already belongs to this branch", "branch_id");
      const customer = await findCustomer(tx, card.phone!);
      if (!customer) throw unprocessable("no_dialog", "this contact has not written on WhatsApp yet: nothing to transfer", "lead_id");
      const reason = `transferred by ${branch.name} from amoCRM`;
      await bindCustomer(tx, customer.id, { branchId: to.id, rule: "transfer", reason, now });
      await ensureDialog(tx, to.id, customer.id, now, { rule: "transfer", reason });
      return to;
    });
    return { branch: branchRef(target) };
  }

  private async card(connection: CrmConnection, id: number): Promise<{ lead: AmoLead; contact?: AmoContact; phone?: string }> {
    const api = this.deps.kit.api(connection);
    const lead = await api.getLead(id);
    if (!lead) throw notFound(`lead ${id}`);
    const contactId = lead.mainContactId ?? lead.contactIds[0];
    const contact = contactId ? await api.getContact(contactId) : undefined;
    const phone = contact?.phones.map((p) => normalizeCrmPhone(p)).find((p) => p.ok);
    return { lead, contact, phone: phone?.ok ? phone.e164 : undefined };
  }
}

function parse<S extends z.ZodType>(schema: S, input: unknown, field?: string): z.infer<S> {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const path = [field, ...issue.path].filter((p) => p !== undefined && p !== "").join(".");
  throw badRequest(path ? `${path}: ${issue.message}` : issue.message, path || undefined);
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

function factsOf(card: { lead: AmoLead; contact?: AmoContact; phone?: string }, branch: Branch): CardFacts {
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
