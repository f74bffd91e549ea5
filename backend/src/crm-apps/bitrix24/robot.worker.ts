import { AppError, badRequest } from "../../errors.js";
import { normalizeCrmPhone } from "../../domain/phone.js";
import type { Job } from "../../domain/types.js";
import type { B24Api } from "../../crm/bitrix24/bitrix24.api.js";
import { b24ErrorCode } from "../../crm/bitrix24/bitrix24.api.js";
import type { B24Kit } from "../../crm/bitrix24/bitrix24.kit.js";
import { parseNestedForm } from "../../crm/bitrix24/form-body.js";
import { parseDocumentId, parseTemplateOption, ROBOT_CODE } from "../../crm/bitrix24/imconnector-mapping.js";
import type { JobHandler } from "../../jobs/job-runner.js";
import type { Logger } from "../../ops/logger.js";
import { safeEqual } from "../../security/api-keys.js";
import type { Store } from "../../store/store.port.js";
import { queueTemplateStep, templateStepHandler } from "../template-step.js";
import { newJob } from "../../jobs/new-job.js";
import { syncRobotTemplates } from "./install.service.js";

export const B24_ROBOT_QUEUE = "bitrix24.robot";
export const B24_ROBOT_SYNC_QUEUE = "bitrix24.robot-sync";

interface RobotPayload {
  connectionId: string;
  eventToken: string;
  document: { entity: "lead" | "deal" | "contact" | "company"; id: number };
  /** `"name|language"` as the robot's select stored it. */
  template: string;
  phone?: string;
  vars: string[];
}

export interface B24RobotDeps {
  kit: B24Kit;
  store: Store;
  logger: Logger;
  now: () => number;
  onQueued(job: Job): void;
}

const str = (v: unknown): string | undefined => (typeof v === "string" && v.trim() ? v.trim() : typeof v === "number" ? String(v) : undefined);

/** `properties[vars]`: a multiple property arrives as a list (or an indexed map); one value as a string. */
function varsOf(v: unknown): string[] {
  if (v === undefined || v === null || v === "") return [];
  if (typeof v === "string" || typeof v === "number") return [String(v)];
  const list = Array.isArray(v) ? v : typeof v === "object" ? Object.keys(v as object).sort((a, b) => Number(a) - Number(b)).map((k) => (v as Record<string, unknown>)[k]) : [];
  const out = list.map((x) => (typeof x === "string" || typeof x === "number" ? String(x) : ""));
  // The robot form keeps an empty last row: drop trailing empties, keep the order of the rest.
  while (out.length > 0 && out[out.length - 1]!.trim() === "") out.pop();
  return out;
}

/**
 * The robot handler (contract: robot `wa_send_template`; bitrix24.md §5.2): form-encoded, checked by
 * the portal's application token, stored as a job before the 200. Bitrix24 may call again for the
 * same step: one send per `event_token`.
 */
export async function acceptRobotCall(deps: B24RobotDeps, raw: string): Promise<"queued" | "repeat"> {
  let body: Record<string, unknown>;
  try {
    body = parseNestedForm(raw);
  } catch (err) {
    if (err instanceof AppError) throw badRequest(err.message, err.field, "bad_form");
    throw err;
  }
  const auth = (body.auth && typeof body.auth === "object" ? body.auth : {}) as Record<string, unknown>;
  const memberId = str(auth.member_id);
  if (!memberId) throw badRequest("robot call without auth[member_id]", "auth[member_id]");
  const connection = await deps.kit.connection(memberId);
  if (!connection) throw new AppError({ code: "unknown_portal", message: "no portal with this member_id installed the app", httpStatus: 404 });
  const expected = deps.kit.applicationToken(connection);
  const given = str(auth.application_token);
  if (!expected || !given || !safeEqual(given, expected)) throw new AppError({ code: "unauthorized", message: "auth[application_token] does not match this portal's application token", httpStatus: 401 });
  if (str(body.code) !== ROBOT_CODE) throw badRequest(`unknown robot code ${JSON.stringify(String(body.code ?? "")).slice(0, 80)}`, "code");
  const eventToken = str(body.event_token);
  if (!eventToken) throw badRequest("robot call without event_token", "event_token");
  const docId = Array.isArray(body.document_id) ? body.document_id[2] : (body.document_id as Record<string, unknown> | undefined)?.["2"];
  const document = parseDocumentId(docId);
  if (!document) throw badRequest("document_id[2] is not a lead, deal or contact", "document_id");
  const props = (body.properties && typeof body.properties === "object" ? body.properties : {}) as Record<string, unknown>;
  const template = str(props.template);
  if (!template) throw badRequest("properties[template] is empty: choose a template in the robot's settings", "properties[template]");
  if (connection.state !== "connected" || !connection.branchId) {
    throw new AppError({ code: "not_bound", message: "this portal is not bound to a branch: open the app and enter the branch key", httpStatus: 409 });
  }
  const payload: RobotPayload = { connectionId: connection.id, eventToken, document, template, phone: str(props.phone), vars: varsOf(props.vars) };
  const now = deps.now();
  return queueTemplateStep(deps.store, { queue: B24_ROBOT_QUEUE, seenPrefix: "b24:robot", stepKey: eventToken, payload, branchId: connection.branchId, now });
}

/**
 * Sends the robot's template to the document's client. WhatsApp's answer reaches the workflow
 * through the adapter (`bizproc.event.send` on the message's first outcome); a refusal before any
 * send (no phone, unknown template, bad parameters, opt-out) is answered here at once.
 */
export function robotHandler(deps: B24RobotDeps): JobHandler {
  return templateStepHandler<RobotPayload>(B24_ROBOT_QUEUE, deps, (p, connection) => {
    const api = deps.kit.api(connection);
    const template = parseTemplateOption(p.template);
    return {
      template: template ? { ...template, params: p.vars.length > 0 ? p.vars : undefined } : { refused: { code: "template_not_found", message: `'${p.template}' is not 'name|language'` } },
      findPhone: () => phoneOf(api, p),
      noPhone: "the document's client has no phone number",
      crmRefs: { b24EventToken: p.eventToken, b24Document: `${p.document.entity.toUpperCase()}_${p.document.id}` },
      refusedStatuses: [422, 429],
      reportFailure: async (text) => {
        try {
          await api.call("bizproc.event.send", { EVENT_TOKEN: p.eventToken, RETURN_VALUES: { message_id: "", status: "failed" }, LOG_MESSAGE: `WhatsApp: ${text}` });
        } catch (err) {
          if (b24ErrorCode(err) !== "ACCESS_DENIED") throw err;
        }
      },
    };
  });
}

type Multi = Array<{ VALUE?: unknown; VALUE_TYPE?: unknown }> | undefined;

function firstPhone(list: unknown): string | undefined {
  for (const item of (Array.isArray(list) ? list : []) as NonNullable<Multi>) {
    const p = typeof item?.VALUE === "string" ? normalizeCrmPhone(item.VALUE) : undefined;
    if (p?.ok) return p.e164;
  }
  return undefined;
}

async function contactPhone(api: B24Api, id: unknown): Promise<string | undefined> {
  const n = Number(id);
  if (!Number.isSafeInteger(n) || n <= 0) return undefined;
  const contact = await api.call<{ PHONE?: unknown }>("crm.contact.get", { id: n });
  return firstPhone(contact?.PHONE);
}

/**
 * The phone the robot names, else the document's: a lead's own (or its contact's), a deal's
 * contacts' (primary first; bitrix24.md §5.2).
 */
export async function phoneOf(api: B24Api, p: Pick<RobotPayload, "phone" | "document">): Promise<string | undefined> {
  const direct = p.phone ? normalizeCrmPhone(p.phone) : undefined;
  if (direct?.ok) return direct.e164;
  const { entity, id } = p.document;
  if (entity === "lead") {
    const lead = await api.call<{ PHONE?: unknown; CONTACT_ID?: unknown }>("crm.lead.get", { id });
    return firstPhone(lead?.PHONE) ?? (await contactPhone(api, lead?.CONTACT_ID));
  }
  if (entity === "contact") return contactPhone(api, id);
  if (entity === "company") {
    const company = await api.call<{ PHONE?: unknown }>("crm.company.get", { id });
    return firstPhone(company?.PHONE);
  }
  const items = (await api.call<Array<{ CONTACT_ID?: unknown; IS_PRIMARY?: unknown; SORT?: unknown }>>("crm.deal.contact.items.get", { id })) ?? [];
  const ordered = [...items].sort((a, b) => Number(b.IS_PRIMARY === "Y") - Number(a.IS_PRIMARY === "Y") || Number(a.SORT ?? 0) - Number(b.SORT ?? 0));
  for (const item of ordered) {
    const phone = await contactPhone(api, item.CONTACT_ID);
    if (phone) return phone;
  }
  if (ordered.length === 0) {
    const deal = await api.call<{ CONTACT_ID?: unknown }>("crm.deal.get", { id });
    return contactPhone(api, deal?.CONTACT_ID);
  }
  return undefined;
}

/** Queues a template-list refresh of the robot in every connected portal (after a template sync). */
export async function enqueueRobotSync(store: Store, now: number): Promise<number> {
  return store.transact(async (tx) => {
    const portals = (await tx.list("crmConnections")).filter((c) => c.kind === "bitrix24" && c.state === "connected");
    for (const c of portals) {
      await tx.enqueue(newJob(B24_ROBOT_SYNC_QUEUE, { connectionId: c.id }, now, { orderKey: `b24robot:${c.id}` }));
    }
    return portals.length;
  });
}

/** `bizproc.robot.update` with the current approved templates as the select's options. */
export function robotSyncHandler(deps: Pick<B24RobotDeps, "kit" | "store">): JobHandler {
  return {
    queue: B24_ROBOT_SYNC_QUEUE,
    maxAttempts: 6,
    backoffMs: 5000,
    concurrency: 4,
    async run(job, ctx) {
      const { connectionId } = job.payload as { connectionId: string };
      const [connection, templates] = await deps.store.read(async (tx) => [await tx.get("crmConnections", connectionId), await tx.list("templates")] as const);
      if (connection?.state === "connected") await syncRobotTemplates(deps.kit, connection, templates);
      await deps.store.transact((tx) => ctx.complete(tx));
    },
  };
}

