import { z } from "zod";
import { AppError, badRequest } from "../../errors.js";
import { normalizeCrmPhone } from "../../domain/phone.js";
import type { Job } from "../../domain/types.js";
import type { AmoApi } from "../../crm/amocrm/amocrm.api.js";
import { issuerHost, verifyBotToken } from "../../crm/amocrm/amocrm.jwt.js";
import { amoConnectionId, type AmoKit } from "../../crm/amocrm/amocrm.kit.js";
import type { JobHandler } from "../../jobs/job-runner.js";
import type { Logger } from "../../ops/logger.js";
import type { Store } from "../../store/store.port.js";
import { queueTemplateStep, templateStepHandler } from "../template-step.js";

export const AMO_SALESBOT_QUEUE = "amocrm.salesbot";

/** An id amoCRM filled in, or a marker it could not resolve (`{{contact.id}}` on a lead without contact). */
const entityId = z
  .union([z.string(), z.number()])
  .optional()
  .transform((v) => (v !== undefined && /^\d+$/.test(String(v)) ? Number(v) : undefined));

/** Our Salesbot step's `data` (contract: "Salesbot step"). Params may come as a list or one text. */
const stepSchema = z.object({
  template: z.string().trim().min(1, "must name the template"),
  language: z.string().trim().min(2).max(15).default("ru"),
  params: z
    .union([z.array(z.union([z.string(), z.number()])), z.string(), z.record(z.string(), z.union([z.string(), z.number()]))])
    .optional()
    .transform((p) => {
      if (p === undefined) return undefined;
      if (typeof p === "string") return p.split(/\r?\n|\|/).map((s) => s.trim()).filter(Boolean);
      if (Array.isArray(p)) return p.map(String);
      return Object.fromEntries(Object.entries(p).map(([k, v]) => [k, String(v)]));
    }),
  lead_id: entityId,
  contact_id: entityId,
  phone: z.string().trim().optional(),
}).loose();

const requestSchema = z.object({
  token: z.string().min(1),
  return_url: z.url(),
  data: z.union([z.string(), z.record(z.string(), z.unknown())]),
}).loose();

interface SalesbotPayload {
  connectionId: string;
  returnUrl: string;
  step: z.infer<typeof stepSchema>;
  /** The bot's entity (a lead, usually) from the token, when the step named none. */
  entity?: { type?: string; id?: number };
}

export interface SalesbotDeps {
  kit: AmoKit;
  store: Store;
  now: () => number;
  logger: Logger;
  onQueued(job: Job): void;
}

/**
 * `widget_request` from our Salesbot step: checked and stored within amoCRM's 2 seconds; the job
 * then sends the template and the bot is continued once WhatsApp accepted or refused it.
 * @see amocrm.md §5.3, §5.4
 */
export async function acceptSalesbotRequest(deps: SalesbotDeps, body: unknown): Promise<"queued" | "repeat"> {
  const parsed = requestSchema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw badRequest(`${issue.path.join(".")}: ${issue.message}`, issue.path.join("."));
  }
  const { token, return_url: returnUrl } = parsed.data;
  const oauth = deps.kit.oauth();
  const claims = verifyBotToken(token, { clientId: oauth.clientId, clientSecret: oauth.clientSecret, audiences: audiencesOf(deps.kit), now: deps.now });
  const connectionId = amoConnectionId(claims.accountId);
  const connection = await deps.store.read((tx) => tx.get("crmConnections", connectionId));
  if (!connection || connection.state !== "connected") throw new AppError({ code: "not_installed", message: `amoCRM account ${claims.accountId} has not installed the widget`, httpStatus: 409 });
  if (issuerHost(claims) !== connection.domain) throw new AppError({ code: "invalid_token", message: "the token's issuer is not this account's domain", httpStatus: 401 });
  if (!connection.branchId) throw new AppError({ code: "not_bound", message: "this amoCRM account is not bound to a branch: enter the branch key in the widget settings", httpStatus: 409 });
  const step = stepSchema.safeParse(typeof parsed.data.data === "string" ? safeJson(parsed.data.data) : parsed.data.data);
  if (!step.success) {
    const issue = step.error.issues[0]!;
    throw badRequest(`data.${issue.path.join(".")}: ${issue.message}`, `data.${issue.path.join(".")}`);
  }
  const now = deps.now();
  const payload: SalesbotPayload = { connectionId, returnUrl, step: step.data, entity: { type: claims.entityType, id: claims.entityId ? Number(claims.entityId) : undefined } };
  // amoCRM fires the request again when it did not get the continue call: one send per bot step.
  return queueTemplateStep(deps.store, { queue: AMO_SALESBOT_QUEUE, seenPrefix: "amo:bot", stepKey: returnUrl, payload, branchId: connection.branchId, now });
}

const safeJson = (s: string): unknown => {
  try {
    return JSON.parse(s);
  } catch {
    return s;
  }
};

function audiencesOf(kit: AmoKit): string[] {
  return [...new Set([kit.settings.publicUrl, kit.settings.redirectUri].map((u) => new URL(u).origin))];
}

export function salesbotHandler(deps: SalesbotDeps): JobHandler {
  return templateStepHandler<SalesbotPayload>(AMO_SALESBOT_QUEUE, deps, (p, connection) => {
    const api = deps.kit.api(connection);
    return {
      template: { name: p.step.template, language: p.step.language, params: p.step.params },
      findPhone: () => phoneOf(api, p),
      noPhone: "the lead has no contact with a phone number",
      crmRefs: { salesbotReturnUrl: p.returnUrl, ...(p.step.lead_id ? { leadId: String(p.step.lead_id) } : {}) },
      refusedStatuses: [422],
      reportFailure: (text) => api.continueBot(p.returnUrl, { data: { status: "fail", error: text } }),
    };
  });
}

/** The phone the step names, else the contact's, else the lead's main contact's. */
async function phoneOf(api: AmoApi, p: SalesbotPayload): Promise<string | undefined> {
  const direct = p.step.phone ? normalizeCrmPhone(p.step.phone) : undefined;
  if (direct?.ok) return direct.e164;
  const leadId = p.step.lead_id ?? (p.entity?.type === "2" || p.entity?.type === "lead" || p.entity?.type === "leads" ? p.entity.id : undefined);
  let contactId = p.step.contact_id;
  if (!contactId && leadId) {
    const lead = await api.getLead(leadId);
    contactId = lead?.mainContactId ?? lead?.contactIds[0];
  }
  if (!contactId) return undefined;
  const contact = await api.getContact(contactId);
  for (const raw of contact?.phones ?? []) {
    const phone = normalizeCrmPhone(raw);
    if (phone.ok) return phone.e164;
  }
  return undefined;
}

