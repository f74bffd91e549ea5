import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parseMetaWebhook } from "../../backend/src/channels/whatsapp/webhook.parse.js";
import { validateTemplateSend } from "../../backend/src/domain/templates.js";
import type { TemplateRecord } from "../../backend/src/domain/types.js";
import { createLogger } from "../../backend/src/ops/logger.js";
import { applyTemplateEvent, demoTemplates, syncTemplates } from "../../backend/src/outbound/template-sync.js";
import { LowdbStore } from "../../backend/src/store/lowdb/lowdb.store.js";

const FIXTURES = fileURLToPath(new URL("../fixtures/whatsapp/", import.meta.url));
const fixture = (name: string): unknown => JSON.parse(readFileSync(join(FIXTURES, name), "utf8"));

const logger = createLogger("silent");
const T0 = Date.UTC(2026, 10, 20, 9, 0, 0);

/** A Graph template object as `GET /{waba}/message_templates` lists it (doc §6.1). */
function graph(id: string | number, name: string, language: string, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name,
    parameter_format: "POSITIONAL",
    components: [{ type: "BODY", text: `${name}: {{1}}`, example: { body_text: [["x"]] } }],
    language,
    status: "APPROVED",
    category: "UTILITY",
    quality_score: { score: "GREEN", date: 1751247548 },
    rejected_reason: "NONE",
    id,
    ...over,
  };
}

const PAGE_1 = [
  graph("1689556908129835", "abandoned_cart", "en", { status: "PENDING", category: "MARKETING" }),
  graph("806312974732579", "order_confirmation", "en_US"),
];
const PAGE_2 = [graph("1689556908129836", "appointment_reminder", "pt_BR"), graph("2001", "appointment_reminder", "ru")];
const PAGE_3 = [graph(2002, "salon_closed", "ru")];

/** The Graph client's listing: one Graph page (`{data, paging}`) per iteration. */
function pages(...data: unknown[][]): () => AsyncIterable<unknown> {
  return async function* () {
    for (const [i, page] of data.entries()) {
      await Promise.resolve();
      yield { data: page, paging: { cursors: { before: `b${i}`, after: `a${i}` }, ...(i < data.length - 1 ? { next: `https://graph/next/${i}` } : {}) } };
    }
  };
}

let dir: string;
let store: LowdbStore;
let clock: number;
const now = () => clock;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "branchline-templates-"));
  store = await LowdbStore.open({ dir });
  clock = T0;
});
afterEach(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

const all = () => store.read((tx) => tx.list("templates"));
const get = (id: string) => store.read((tx) => tx.get("templates", id));

describe("syncTemplates", () => {
  it("pulls every page, then marks templates gone from the account DELETED (record kept)", async () => {
    const first = await syncTemplates({ store, list: pages(PAGE_1, PAGE_2, PAGE_3), now, logger });
    expect(first).toEqual({ upserted: 5, removed: 0 });
    const rows = await all();
    expect(rows.map((t) => [t.id, t.metaId, t.status, t.category]).sort()).toEqual([
      ["abandoned_cart|en", "1689556908129835", "PENDING", "MARKETING"],
      ["appointment_reminder|pt_BR", "1689556908129836", "APPROVED", "UTILITY"],
      ["appointment_reminder|ru", "2001", "APPROVED", "UTILITY"],
      ["order_confirmation|en_US", "806312974732579", "APPROVED", "UTILITY"],
      ["salon_closed|ru", "2002", "APPROVED", "UTILITY"],
    ]);
    const closed = await get("salon_closed|ru");
    expect(closed).toMatchObject({ qualityScore: "GREEN", parameterFormat: "POSITIONAL", syncedAt: T0, updatedAt: T0 });
    expect(closed).not.toHaveProperty("rejectedReason");

    // Second sync an hour later: salon_closed is gone; order_confirmation changed; the rest did not.
    clock = T0 + 3_600_000;
    const changed = graph("806312974732579", "order_confirmation", "en_US", { status: "PAUSED", quality_score: { score: "RED" } });
    const second = await syncTemplates({ store, list: pages([PAGE_1[0]!, changed], PAGE_2), now, logger });
    expect(second).toEqual({ upserted: 4, removed: 1 });

    const gone = await get("salon_closed|ru");
    expect(gone).toMatchObject({ status: "DELETED", updatedAt: clock, syncedAt: T0, metaId: "2002" });
    expect(gone?.components).toEqual(PAGE_3[0]!.components);
    expect(validateTemplateSend(gone, { name: "salon_closed", language: "ru", params: ["x"] })).toMatchObject({
      ok: false,
      code: "template_not_found",
      message: expect.stringContaining("was deleted from the WhatsApp account"),
    });

    expect(await get("order_confirmation|en_US")).toMatchObject({ status: "PAUSED", qualityScore: "RED", updatedAt: clock, syncedAt: clock });
    // Unchanged templates are re-stamped as synced but keep their updatedAt.
    expect(await get("appointment_reminder|ru")).toMatchObject({ status: "APPROVED", updatedAt: T0, syncedAt: clock });

    // A third sync: nothing more removed (already DELETED), and a template coming back is live again.
    clock += 3_600_000;
    const third = await syncTemplates({ store, list: pages(PAGE_1, PAGE_2, PAGE_3), now, logger });
    expect(third).toEqual({ upserted: 5, removed: 0 });
    expect(await get("salon_closed|ru")).toMatchObject({ status: "APPROVED", updatedAt: clock });
  });

  it("accepts template objects one by one too, and skips unreadable ones", async () => {
    const list = async function* () {
      yield graph("1", "a", "ru");
      yield { name: "no_language" };
      yield "junk";
      yield graph("2", "b", "ru");
      yield graph("2", "b", "ru"); // a cursor that repeats an item counts once
    };
    expect(await syncTemplates({ store, list, now, logger })).toEqual({ upserted: 2, removed: 0 });
    expect((await all()).map((t) => t.id).sort()).toEqual(["a|ru", "b|ru"]);
  });

  it("writes nothing when the listing fails half-way", async () => {
    await syncTemplates({ store, list: pages(PAGE_1, PAGE_2, PAGE_3), now, logger });
    const failing = async function* () {
      yield { data: PAGE_1 };
      throw new Error("graph: 500");
    };
    await expect(syncTemplates({ store, list: failing, now, logger })).rejects.toThrow("graph: 500");
    expect((await all()).filter((t) => t.status === "DELETED")).toEqual([]);
  });

  it("persists across a reopen", async () => {
    await syncTemplates({ store, list: pages(PAGE_1, PAGE_2, PAGE_3), now, logger });
    await store.close();
    store = await LowdbStore.open({ dir });
    expect(await all()).toHaveLength(5);
  });
});

describe("applyTemplateEvent", () => {
  beforeEach(async () => {
    await syncTemplates({ store, list: pages(PAGE_1, PAGE_2, PAGE_3), now, logger });
    clock = T0 + 60_000;
  });

  /** The management events of a recorded webhook, as the webhook parser yields them. */
  const eventsOf = (name: string) => parseMetaWebhook(fixture(name)).managementEvents;
  const apply = (event: Parameters<typeof applyTemplateEvent>[1]) => store.transact((tx) => applyTemplateEvent(tx, event, clock));

  it("status update by template id: REJECTED with its reason", async () => {
    const [ev] = eventsOf("template.status-update.json");
    expect(ev?.templateId).toBe("1689556908129835");
    const updated = await apply(ev!);
    expect(updated).toMatchObject({ id: "abandoned_cart|en", status: "REJECTED", rejectedReason: "INVALID_FORMAT", category: "MARKETING", updatedAt: clock });
    expect(await get("abandoned_cart|en")).toEqual(updated);
  });

  it("status update: PAUSED, then APPROVED again clears the rejection reason", async () => {
    const base = { field: "message_template_status_update", templateId: "2001" };
    await apply({ ...base, value: { event: "REJECTED", message_template_id: 2001, reason: "PROMOTIONAL" } });
    expect(await get("appointment_reminder|ru")).toMatchObject({ status: "REJECTED", rejectedReason: "PROMOTIONAL" });
    await apply({ ...base, value: { event: "PAUSED", message_template_id: 2001, reason: "NONE", other_info: { title: "FIRST_PAUSE" } } });
    const paused = await get("appointment_reminder|ru");
    expect(paused?.status).toBe("PAUSED");
    expect(validateTemplateSend(paused, { name: "appointment_reminder", language: "ru", params: ["x"] })).toMatchObject({ ok: false, message: "template 'appointment_reminder' (ru) is PAUSED; only APPROVED templates can be sent" });
    await apply({ ...base, value: { event: "APPROVED", message_template_id: 2001, reason: "NONE" } });
    const approved = await get("appointment_reminder|ru");
    expect(approved?.status).toBe("APPROVED");
    expect(approved).not.toHaveProperty("rejectedReason");
    await apply({ ...base, value: { event: "DISABLED", message_template_id: 2001, reason: null, disable_info: { disable_date: 1751247548 } } });
    expect((await get("appointment_reminder|ru"))?.status).toBe("DISABLED");
  });

  it("quality update by template id", async () => {
    const [ev] = eventsOf("template.quality-update.json");
    expect(await apply(ev!)).toMatchObject({ id: "order_confirmation|en_US", qualityScore: "YELLOW", updatedAt: clock });
  });

  it("category update by template id", async () => {
    const [ev] = eventsOf("template.category-update.json");
    expect(await apply(ev!)).toMatchObject({ id: "appointment_reminder|pt_BR", category: "MARKETING" });
    // The ru translation of the same name is a separate template and stays UTILITY.
    expect((await get("appointment_reminder|ru"))?.category).toBe("UTILITY");
  });

  it("falls back to name + language when the id is unknown, and learns the id", async () => {
    await store.transact(async (tx) => {
      const t = (await tx.get("templates", "salon_closed|ru"))!;
      const { metaId: _drop, ...noId } = t;
      await tx.put("templates", noId as TemplateRecord);
    });
    const updated = await apply({
      field: "message_template_status_update",
      templateId: "777",
      templateName: "salon_closed",
      templateLanguage: "ru",
      value: { event: "PAUSED", message_template_id: 777, message_template_name: "salon_closed", message_template_language: "ru", reason: "NONE" },
    });
    expect(updated).toMatchObject({ id: "salon_closed|ru", status: "PAUSED", metaId: "777" });
    expect(updated).not.toHaveProperty("rejectedReason");
  });

  it("by name + language from the raw value when the event has no parsed fields", async () => {
    const updated = await apply({
      field: "message_template_quality_update",
      value: { message_template_name: "appointment_reminder", message_template_language: "ru", previous_quality_score: "GREEN", new_quality_score: "RED" },
    });
    expect(updated).toMatchObject({ id: "appointment_reminder|ru", qualityScore: "RED" });
  });

  it("ignores unknown templates, other fields and empty events", async () => {
    const before = await all();
    expect(await apply({ field: "message_template_status_update", templateId: "999", templateName: "nope", templateLanguage: "ru", value: { event: "APPROVED" } })).toBeUndefined();
    expect(await apply({ field: "phone_number_quality_update", value: { event: "FLAGGED" } })).toBeUndefined();
    expect(await apply({ field: "message_template_quality_update", templateId: "2001", value: {} })).toBeUndefined();
    expect(await all()).toEqual(before);
  });
});

describe("demoTemplates", () => {
  it("can be stored and read back", async () => {
    const demos = demoTemplates(T0);
    await store.transact(async (tx) => {
      for (const t of demos) await tx.put("templates", t);
    });
    const byName = await store.read((tx) => tx.byIndex("templates", "name", "seasonal_offer"));
    expect(byName).toEqual([demos[1]]);
  });
});
