import { templateFromGraph, templateRecordId } from "../domain/templates.js";
import type { TemplateRecord } from "../domain/types.js";
import type { Logger } from "../ops/logger.js";
import type { Store, Tx } from "../store/store.port.js";

/**
 * Keeps the `templates` collection in step with the business account: a full pull
 * (`GET /{waba}/message_templates`, doc §6.1) plus the template webhooks (doc §2.9) in between.
 * Records are never removed: a template gone from the account becomes `DELETED`, so messages that
 * were sent with it still show what it said.
 */

export interface TemplateSyncDeps {
  store: Store;
  /**
   * Every template of the account, page after page. Items may be template objects or whole Graph
   * pages (`{ data: [...], paging }`); both are accepted.
   */
  list: () => AsyncIterable<unknown>;
  now: () => number;
  logger: Logger;
}

export interface TemplateSyncResult {
  /** Templates listed by the account and written (new or refreshed). */
  upserted: number;
  /** Templates no longer listed, newly marked DELETED. */
  removed: number;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Pulls every page first (nothing is written if the listing fails half-way, so a network error
 * never marks templates DELETED), then upserts in one transaction.
 */
export async function syncTemplates(deps: TemplateSyncDeps): Promise<TemplateSyncResult> {
  const listedAt = deps.now();
  const listed = new Map<string, TemplateRecord>();
  let skipped = 0;
  for await (const item of deps.list()) {
    const objects: unknown[] = isObj(item) && Array.isArray(item.data) ? item.data : [item];
    for (const raw of objects) {
      const record = templateFromGraph(raw, listedAt);
      if (record) listed.set(record.id, record);
      else {
        skipped++;
        deps.logger.warn({ template: isObj(raw) ? { id: raw.id, name: raw.name, language: raw.language } : typeof raw }, "template sync: skipped an unreadable template");
      }
    }
  }

  const result = await deps.store.transact(async (tx) => {
    const now = deps.now();
    let upserted = 0;
    let removed = 0;
    const existing = await tx.list("templates");
    const byId = new Map(existing.map((t) => [t.id, t]));
    for (const fresh of listed.values()) {
      const old = byId.get(fresh.id);
      const record: TemplateRecord = { ...fresh, syncedAt: now, updatedAt: old && sameContent(old, fresh) ? old.updatedAt : now };
      await tx.put("templates", record);
      upserted++;
    }
    for (const old of existing) {
      if (listed.has(old.id) || old.status === "DELETED") continue;
      await tx.put("templates", { ...old, status: "DELETED", updatedAt: now });
      removed++;
    }
    return { upserted, removed };
  });

  deps.logger.info({ ...result, skipped }, "templates synced");
  if (listed.size === 0 && result.removed > 0) {
    deps.logger.warn({ removed: result.removed }, "template sync: the account listed no templates; all known templates are now DELETED");
  }
  return result;
}

/** Whether a fresh listing says anything new about a stored template. */
function sameContent(a: TemplateRecord, b: TemplateRecord): boolean {
  return (
    a.metaId === b.metaId &&
    a.status === b.status &&
    a.category === b.category &&
    a.parameterFormat === b.parameterFormat &&
    a.qualityScore === b.qualityScore &&
    a.rejectedReason === b.rejectedReason &&
    JSON.stringify(a.components) === JSON.stringify(b.components)
  );
}

// ──────────────────────────────────────── webhooks ────────────────────────────────────────

export interface TemplateEvent {
  field: string;
  /** The change `value` as Meta sent it. */
  value: any;
  /** `message_template_id` as a string (ManagementEvent.templateId). */
  templateId?: string;
  templateName?: string;
  templateLanguage?: string;
}

export const TEMPLATE_EVENT_FIELDS = ["message_template_status_update", "message_template_quality_update", "template_category_update"] as const;

/**
 * Status events whose name is not a status the listing reports: the template is sendable again.
 * (REINSTATED: unpaused/won an appeal; UNARCHIVED: taken out of archival.)
 */
const EVENT_STATUS: Record<string, string> = { REINSTATED: "APPROVED", UNARCHIVED: "APPROVED" };

const text = (v: unknown): string | undefined => (typeof v === "string" && v.trim() !== "" ? v.trim() : undefined);
const idText = (v: unknown): string | undefined => text(v) ?? (typeof v === "number" && Number.isFinite(v) ? String(v) : undefined);

/**
 * Applies one template webhook (doc §2.9) to its record, found by Meta id, else by name+language.
 * Returns the updated record; undefined when the field is not a template field, the template is
 * unknown (the next sync brings it) or the event carries nothing to apply.
 */
export async function applyTemplateEvent(tx: Tx, event: TemplateEvent, now: number): Promise<TemplateRecord | undefined> {
  if (!(TEMPLATE_EVENT_FIELDS as readonly string[]).includes(event.field)) return undefined;
  const value: Obj = isObj(event.value) ? event.value : {};
  const metaId = event.templateId ?? idText(value.message_template_id);
  const name = event.templateName ?? text(value.message_template_name);
  const language = event.templateLanguage ?? text(value.message_template_language);

  let record: TemplateRecord | undefined;
  if (metaId) [record] = await tx.byIndex("templates", "metaId", metaId, { limit: 1 });
  if (!record && name && language) record = await tx.get("templates", templateRecordId(name, language));
  if (!record) return undefined;

  const next: TemplateRecord = { ...record };
  if (event.field === "message_template_status_update") {
    const ev = text(value.event)?.toUpperCase();
    if (!ev) return undefined;
    next.status = EVENT_STATUS[ev] ?? ev;
    const reason = text(value.reason)?.toUpperCase();
    if (reason && reason !== "NONE") next.rejectedReason = reason;
    else if (next.status === "APPROVED") delete next.rejectedReason;
    const category = text(value.message_template_category)?.toUpperCase();
    if (category) next.category = category;
  } else if (event.field === "message_template_quality_update") {
    const score = text(value.new_quality_score)?.toUpperCase();
    if (!score) return undefined;
    next.qualityScore = score;
  } else {
    const category = text(value.new_category)?.toUpperCase();
    if (!category) return undefined;
    next.category = category;
  }
  if (!next.metaId && metaId) next.metaId = metaId;
  next.updatedAt = now;
  await tx.put("templates", next);
  return next;
}

// ───────────────────────────────────────── sandbox ─────────────────────────────────────────

/** Three APPROVED Russian templates for the sandbox (no WhatsApp account behind them). */
export function demoTemplates(now: number): TemplateRecord[] {
  const base = { language: "ru", status: "APPROVED", qualityScore: "GREEN", syncedAt: now, updatedAt: now } as const;
  return [
    {
      ...base,
      id: templateRecordId("booking_reminder", "ru"),
      metaId: "900000000000001",
      name: "booking_reminder",
      category: "UTILITY",
      parameterFormat: "POSITIONAL",
      components: [
        {
          type: "BODY",
          text: "Здравствуйте, {{1}}! Напоминаем о записи в {{2}} на {{3}}.",
          example: { body_text: [["Анна", "салон на Тверской", "25 ноября, 14:00"]] },
        },
        {
          type: "BUTTONS",
          buttons: [
            { type: "QUICK_REPLY", text: "Подтвердить" },
            { type: "QUICK_REPLY", text: "Перенести" },
          ],
        },
      ],
    },
    {
      ...base,
      id: templateRecordId("seasonal_offer", "ru"),
      metaId: "900000000000002",
      name: "seasonal_offer",
      category: "MARKETING",
      parameterFormat: "NAMED",
      components: [
        { type: "HEADER", format: "IMAGE", example: { header_handle: ["https://example.com/branchline/seasonal-offer.jpg"] } },
        {
          type: "BODY",
          text: "Здравствуйте, {{first_name}}! Только в этом месяце — скидка {{discount}} на все услуги салона. Покажите это сообщение администратору при записи.",
          example: {
            body_text_named_params: [
              { param_name: "first_name", example: "Анна" },
              { param_name: "discount", example: "20%" },
            ],
          },
        },
        { type: "FOOTER", text: "Чтобы отписаться, ответьте СТОП" },
      ],
    },
    {
      ...base,
      id: templateRecordId("salon_closed", "ru"),
      metaId: "900000000000003",
      name: "salon_closed",
      category: "UTILITY",
      parameterFormat: "POSITIONAL",
      components: [
        {
          type: "BODY",
          text: "Салон {{1}} сейчас закрыт. Ответьте 1, чтобы записаться онлайн.",
          example: { body_text: [["на Тверской"]] },
        },
      ],
    },
  ];
}
