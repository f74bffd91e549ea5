import { z } from "zod";
import { AppError, notFound } from "../../errors.js";
import { normalizeCrmPhone } from "../../domain/phone.js";
import type { Branch, CrmConnection } from "../../domain/types.js";
import type { B24Api } from "../../crm/bitrix24/bitrix24.api.js";
import { b24ErrorCode } from "../../crm/bitrix24/bitrix24.api.js";
import type { B24Kit } from "../../crm/bitrix24/bitrix24.kit.js";
import type { Store } from "../../store/store.port.js";
import { CardPanel, templateChoice, type Card, type CardPanelDeps, parseInput } from "../card-panel.js";

export interface B24PanelDeps extends CardPanelDeps {
  kit: B24Kit;
  store: Store;
}

/** The card tab's entity: the placement it was opened in (CRM_LEAD_DETAIL_TAB / CRM_DEAL_DETAIL_TAB). */
export type B24Entity = "lead" | "deal";
export const isB24Entity = (v: unknown): v is B24Entity => v === "lead" || v === "deal";

const entityId = z.coerce.number().int().positive();
// The core panel names the card `lead_id` whatever its entity; the route names the entity.
export const sendSchema = z.strictObject({ lead_id: entityId, template: templateChoice });
export const transferSchema = z.strictObject({ lead_id: entityId, branch_id: z.string().min(1) });

/** What an iframe presents on every call: the placement's AUTH_ID and its portal. */
export interface B24Caller {
  memberId: string | undefined;
  token: string | undefined;
}

/**
 * The card tab's API. Every call carries the placement's access token and `member_id`; the portal
 * confirms the token (cached briefly) and the portal's binding decides the branch, so a tab only
 * ever sees its own branch's dialogs.
 * @see bitrix24.md §1.5, §2.5
 */
export class B24PanelService {
  private readonly panel: CardPanel;

  constructor(private readonly deps: B24PanelDeps) {
    this.panel = new CardPanel(deps);
  }

  private async session(caller: B24Caller): Promise<{ connection: CrmConnection; branch?: Branch }> {
    if (!caller.memberId || !caller.token) throw new AppError({ code: "unauthorized", message: "the card tab must send its access token and member_id", httpStatus: 401 });
    const connection = await this.deps.kit.connection(caller.memberId);
    if (!connection) throw new AppError({ code: "unknown_portal", message: "no portal with this member_id installed the app", httpStatus: 404 });
    if (connection.state === "disconnected") throw new AppError({ code: "not_installed", message: "the app was uninstalled from this portal", httpStatus: 409 });
    await this.deps.kit.verifyUser(connection, caller.token);
    const branch = connection.branchId && connection.state === "connected" ? await this.deps.store.read((tx) => tx.get("branches", connection.branchId!)) : undefined;
    return { connection, branch: branch?.enabled ? branch : undefined };
  }

  private async bound(caller: B24Caller): Promise<{ connection: CrmConnection; branch: Branch }> {
    const s = await this.session(caller);
    if (!s.branch) throw new AppError({ code: "not_bound", message: "this portal is not bound to a branch: open the app and enter the branch key", httpStatus: 409 });
    return s as { connection: CrmConnection; branch: Branch };
  }

  async context(caller: B24Caller, entity: B24Entity, rawId: unknown) {
    const s = await this.session(caller);
    if (!s.branch) return { bound: false as const };
    const card = rawId === undefined || rawId === "" ? undefined : await this.card(s.connection, entity, parseInput(entityId, rawId, "lead_id"));
    return this.panel.context(s.branch, card);
  }

  async send(caller: B24Caller, entity: B24Entity, body: unknown) {
    const input = parseInput(sendSchema, body);
    const { branch, connection } = await this.bound(caller);
    const refs: Record<string, string> = { b24Document: `${entity.toUpperCase()}_${input.lead_id}` };
    return this.panel.send(branch, await this.card(connection, entity, input.lead_id), input.template, refs);
  }

  async transfer(caller: B24Caller, entity: B24Entity, body: unknown) {
    const input = parseInput(transferSchema, body);
    const { branch, connection } = await this.bound(caller);
    return this.panel.transfer(branch, await this.card(connection, entity, input.lead_id), input.branch_id, "Bitrix24");
  }

  /**
   * The lead (its own name and phone, else its contact's) or the deal (its primary contact's),
   * read with the portal's stored admin tokens.
   */
  private async card(connection: CrmConnection, entity: B24Entity, id: number): Promise<Card> {
    const api = this.deps.kit.api(connection);
    const record = await get(api, entity === "lead" ? "crm.lead.get" : "crm.deal.get", id);
    if (!record) throw notFound(`${entity} ${id}`);
    const lead = { id, name: String(record.TITLE ?? ""), ...(Number(record.OPPORTUNITY) > 0 ? { price: Number(record.OPPORTUNITY) } : {}), fields: customFields(record) };
    let contactId: unknown = record.CONTACT_ID;
    if (entity === "deal") {
      const items = (await api.call<Array<{ CONTACT_ID?: unknown; IS_PRIMARY?: unknown }>>("crm.deal.contact.items.get", { id })) ?? [];
      contactId = (items.find((i) => i.IS_PRIMARY === "Y") ?? items[0])?.CONTACT_ID ?? contactId;
    }
    const contactRecord = Number(contactId) > 0 ? await get(api, "crm.contact.get", Number(contactId)) : undefined;
    const person = contactRecord ?? (entity === "lead" && (record.NAME || record.LAST_NAME) ? record : undefined);
    const contact = person
      ? {
          id: Number(contactRecord ? contactId : id),
          name: [person.NAME, person.LAST_NAME].filter((x) => typeof x === "string" && x).join(" "),
          ...(typeof person.NAME === "string" && person.NAME ? { firstName: person.NAME } : {}),
          fields: customFields(person),
        }
      : undefined;
    const phone = firstPhone(entity === "lead" ? record.PHONE : undefined) ?? firstPhone(contactRecord?.PHONE);
    return { lead, contact, phone };
  }
}

async function get(api: B24Api, method: string, id: number): Promise<Record<string, unknown> | undefined> {
  try {
    return await api.call<Record<string, unknown>>(method, { id });
  } catch (err) {
    if (b24ErrorCode(err) === "ERROR_ENTITY_NOT_FOUND" || b24ErrorCode(err) === "NOT_FOUND") return undefined;
    throw err;
  }
}

function firstPhone(list: unknown): string | undefined {
  for (const item of Array.isArray(list) ? list : []) {
    const v = (item as { VALUE?: unknown } | null)?.VALUE;
    const p = typeof v === "string" ? normalizeCrmPhone(v) : undefined;
    if (p?.ok) return p.e164;
  }
  return undefined;
}

/** User fields (`UF_CRM_…`) with plain values: a template parameter named like one gets its value. */
function customFields(record: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(record)) {
    if (!k.startsWith("UF_CRM_")) continue;
    if (typeof v === "string" && v) out[k] = v;
    else if (typeof v === "number") out[k] = String(v);
  }
  return out;
}
