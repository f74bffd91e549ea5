import { unprocessable } from "../errors.js";
import { DAY_MS } from "../domain/campaign-rules.js";
import { normalizePhone, waIdCandidates } from "../domain/phone.js";
import { templateRecordId, validateTemplateSend } from "../domain/templates.js";
import type { Branch, CampaignImportError, Customer, TemplateRecord } from "../domain/types.js";
import type { Tx } from "../store/store.port.js";
import type { CsvProblem, RecipientRow } from "./csv.js";

/** The first this many refused rows are kept with the campaign (the counts are always complete). */
export const MAX_IMPORT_ERRORS = 1000;

/** Meta's "not delivered to maintain healthy ecosystem engagement": the per-user marketing limit (doc §4, §5.6). */
export const MARKETING_LIMIT_CODE = "131049";

export interface ImportRequest {
  template: { name: string; language: string; header?: unknown; buttons?: unknown };
  branchIds: string[];
  rows: RecipientRow[];
  /** Rows the CSV reader already refused (structure). */
  parseErrors: CsvProblem[];
}

export interface ImportedRecipient {
  phone: string;
  /** wa_id digits: who counts once against the messaging limit. */
  key: string;
  branchId: string;
  params?: unknown;
  line?: number;
  index?: number;
}

export interface ImportResult {
  template: TemplateRecord;
  branches: Branch[];
  recipients: ImportedRecipient[];
  total: number;
  skipped: Record<string, number>;
  errors: CampaignImportError[];
}

/**
 * Turns the given rows into sendable recipients. Refused rows are counted by reason and listed
 * with their line (CSV) or index (JSON): `invalid_row` (the CSV structure), `invalid_phone`,
 * `duplicate`, `invalid_branch`, `no_branch`, `invalid_params` (the row's parameters do not fit
 * the template). Customers who would not get the message are counted but not listed: `opted_out`
 * (marketing templates only) and `marketing_limit` (Meta refused them a marketing template with
 * 131049 in the last 24 h; its guidance is not to send again within a day). Nothing is written.
 */
export async function importRecipients(tx: Tx, req: ImportRequest, now: number): Promise<ImportResult> {
  const template = await tx.get("templates", templateRecordId(req.template.name, req.template.language));
  if (!template) throw unprocessable("template_not_found", `template '${req.template.name}' (${req.template.language}) is not synced from the WhatsApp account; check the name and language, or sync templates`, "template.name");
  if (template.status !== "APPROVED") throw unprocessable("template_not_found", `template '${template.name}' (${template.language}) is ${template.status}; only APPROVED templates can be sent`, "template.name");
  const marketing = template.category.toUpperCase() === "MARKETING";

  const branches: Branch[] = [];
  for (const [k, id] of req.branchIds.entries()) {
    const b = await tx.get("branches", id);
    if (!b) throw unprocessable("unknown_branch", `branch ${id} does not exist`, `branchIds[${k}]`);
    if (!b.enabled) throw unprocessable("branch_disabled", `branch ${b.code} is disabled`, `branchIds[${k}]`);
    branches.push(b);
  }
  const byRef = new Map<string, Branch>();
  for (const b of branches) {
    byRef.set(b.id, b);
    byRef.set(b.code.toLowerCase(), b);
  }

  const skipped: Record<string, number> = {};
  const errors: CampaignImportError[] = [];
  const refuse = (row: { line?: number; index?: number }, code: string, reason: string, listed = true) => {
    skipped[code] = (skipped[code] ?? 0) + 1;
    if (listed && errors.length < MAX_IMPORT_ERRORS) errors.push({ ...(row.line !== undefined ? { line: row.line } : {}), ...(row.index !== undefined ? { index: row.index } : {}), code, reason });
  };
  for (const e of req.parseErrors) refuse({ line: e.line }, "invalid_row", e.reason);

  const seen = new Map<string, string>();
  const recipients: ImportedRecipient[] = [];
  for (const row of req.rows) {
    const where = row.line !== undefined ? `line ${row.line}` : `item ${row.index}`;
    const phone = normalizePhone(row.phone);
    if (!phone.ok) {
      refuse(row, "invalid_phone", `'${row.phone}': ${phone.reason}`);
      continue;
    }
    const candidates = waIdCandidates(phone.e164);
    const key = candidates[0]!;
    const first = candidates.map((c) => seen.get(c)).find(Boolean);
    if (first) {
      refuse(row, "duplicate", `${phone.e164} is already on ${first}`);
      continue;
    }
    for (const c of candidates) seen.set(c, where);

    const customer = await findCustomer(tx, candidates);
    let branch: Branch | undefined;
    if (row.branch) {
      branch = byRef.get(row.branch) ?? byRef.get(row.branch.toLowerCase());
      if (!branch) {
        refuse(row, "invalid_branch", `branch '${row.branch}' is not one of this campaign's branches (${branches.map((b) => b.code).join(", ")})`);
        continue;
      }
    } else if (branches.length === 1) {
      branch = branches[0];
    } else {
      const bound = customer ? (await tx.get("bindings", customer.id))?.current?.branchId : undefined;
      branch = bound ? byRef.get(bound) : undefined;
      if (!branch) {
        refuse(row, "no_branch", `${phone.e164}: no branch column and the customer is not bound to one of the campaign's branches`);
        continue;
      }
    }

    const params = fitParams(row.params, template);
    const check = validateTemplateSend(template, { name: template.name, language: template.language, params, header: req.template.header as never, buttons: req.template.buttons as never });
    if (!check.ok) {
      refuse(row, check.code === "template_params" ? "invalid_params" : check.code, `${check.field}: ${check.message}`);
      continue;
    }
    if (marketing && customer?.marketingOptOut) {
      refuse(row, "opted_out", "", false);
      continue;
    }
    if (marketing && customer && (await hitMarketingLimit(tx, customer, now))) {
      refuse(row, "marketing_limit", "", false);
      continue;
    }
    recipients.push({ phone: phone.e164, key, branchId: branch!.id, ...(params !== undefined ? { params } : {}), ...(row.line !== undefined ? { line: row.line } : {}), ...(row.index !== undefined ? { index: row.index } : {}) });
  }
  errors.sort((a, b) => (a.line ?? a.index ?? 0) - (b.line ?? b.index ?? 0));
  return { template, branches, recipients, total: req.rows.length + req.parseErrors.length, skipped, errors };
}

/** A positional template reads named CSV columns in their order. */
function fitParams(params: RecipientRow["params"], t: TemplateRecord): RecipientRow["params"] {
  if (params && !Array.isArray(params) && t.parameterFormat === "POSITIONAL") return Object.values(params);
  if (Array.isArray(params) && params.length === 0) return undefined;
  return params;
}

export async function findCustomer(tx: Tx, candidates: string[]): Promise<Customer | undefined> {
  for (const waId of candidates) {
    const c = (await tx.byIndex("customers", "waId", waId))[0];
    if (c) return c;
  }
  return undefined;
}

async function hitMarketingLimit(tx: Tx, customer: Customer, now: number): Promise<boolean> {
  const recent = await tx.byIndex("messages", "customerId", customer.id, { newestFirst: true, limit: 30 });
  return recent.some((m) => m.direction === "out" && m.status === "failed" && m.error?.code === MARKETING_LIMIT_CODE && m.updatedAt > now - DAY_MS);
}
