import { z } from "zod";
import { AppError, notFound } from "../../errors.js";
import { normalizeCrmPhone } from "../../domain/phone.js";
import type { Branch, CrmConnection } from "../../domain/types.js";
import { issuerHost, verifyWidgetToken } from "../../crm/amocrm/amocrm.jwt.js";
import { amoConnectionId, type AmoKit } from "../../crm/amocrm/amocrm.kit.js";
import { hashApiKey } from "../../security/api-keys.js";
import type { Store } from "../../store/store.port.js";
import { branchRef, CardPanel, templateChoice, type Card, type CardPanelDeps, parseInput } from "../card-panel.js";

export interface PanelDeps extends CardPanelDeps {
  kit: AmoKit;
  store: Store;
}

const leadId = z.coerce.number().int().positive();
export const sendSchema = z.strictObject({ lead_id: leadId, template: templateChoice });
export const transferSchema = z.strictObject({ lead_id: leadId, branch_id: z.string().min(1) });
export const registerSchema = z.strictObject({ branch_key: z.string().trim().min(1, "enter the branch key").max(200) });

interface Session {
  connection: CrmConnection;
  branch?: Branch;
}

/**
 * What the widget in an amoCRM account may do. Every call carries amoCRM's disposable token; the
 * account it names decides the branch, so a widget only ever sees its own branch's dialogs.
 * @see amocrm.md §1.5
 */
export class AmoPanelService {
  private readonly panel: CardPanel;

  constructor(private readonly deps: PanelDeps) {
    this.panel = new CardPanel(deps);
  }

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
    const { branch_key } = parseInput(registerSchema, body);
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
    const card = rawLeadId === undefined || rawLeadId === "" ? undefined : await this.card(s.connection, parseInput(leadId, rawLeadId, "lead_id"));
    return this.panel.context(s.branch, card);
  }

  async send(token: string | undefined, body: unknown) {
    const input = parseInput(sendSchema, body);
    const { branch, connection } = await this.bound(token);
    return this.panel.send(branch, await this.card(connection, input.lead_id), input.template, { leadId: String(input.lead_id) });
  }

  async transfer(token: string | undefined, body: unknown) {
    const input = parseInput(transferSchema, body);
    const { branch, connection } = await this.bound(token);
    return this.panel.transfer(branch, await this.card(connection, input.lead_id), input.branch_id, "amoCRM");
  }

  /** The lead with its main contact (else the first) and that contact's first usable phone. */
  private async card(connection: CrmConnection, id: number): Promise<Card> {
    const api = this.deps.kit.api(connection);
    const lead = await api.getLead(id);
    if (!lead) throw notFound(`lead ${id}`);
    const contactId = lead.mainContactId ?? lead.contactIds[0];
    const contact = contactId ? await api.getContact(contactId) : undefined;
    const phone = contact?.phones.map((p) => normalizeCrmPhone(p)).find((p) => p.ok);
    return { lead, contact, phone: phone?.ok ? phone.e164 : undefined };
  }
}
