import { z } from "zod";
import { CRM_KINDS } from "../domain/types.js";

const code = z
  .string()
  .regex(/^[\p{L}\p{N}_-]{2,32}$/u, "must be 2–32 letters, digits, '_' or '-'");
const phraseList = z.array(z.string().trim().min(1).max(100)).max(100);
/** The branch's call trigger (POST /api/v1/calls); the template is checked against synced templates by the service. */
const callTrigger = z.strictObject({
  template: z.string().min(1).max(512),
  language: z.string().min(2).max(15),
  params: z.array(z.string().min(1).max(1024)).max(100).optional(),
  cooldownHours: z.number().positive().max(8760).default(24),
  events: z.array(z.enum(["incoming", "missed"])).min(1).max(2).default(["missed"]),
});

const editable = {
  name: z.string().trim().min(1).max(100),
  code,
  city: z.string().trim().min(1).max(100).optional(),
  isHq: z.boolean().optional(),
  keywords: phraseList.optional(),
  adSourceIds: z.array(z.string().regex(/^\d{1,30}$/, "must be a numeric ad id")).max(200).optional(),
  menuOrder: z.number().int().min(0).max(10_000).optional(),
  menuTitle: z.string().trim().min(1).max(24).optional(),
  webhookUrl: z.url({ protocol: /^https?$/ }).optional(),
  /** Messages the branch may send per UTC day; unset = no cap. */
  dailyQuota: z.number().int().min(1).max(10_000_000).optional(),
  callTrigger: callTrigger.optional(),
};

export const createBranchSchema = z
  .strictObject({ ...editable, crm: z.enum(CRM_KINDS as [string, ...string[]]) })
  .refine((b) => b.crm !== "webhook" || b.webhookUrl, { message: "is required when crm is 'webhook'", path: ["webhookUrl"] });

export const updateBranchSchema = z.strictObject({
  ...Object.fromEntries(Object.entries(editable).map(([k, v]) => [k, v.optional()])),
  city: editable.city.nullable(),
  menuOrder: editable.menuOrder.nullable(),
  menuTitle: editable.menuTitle.nullable(),
  dailyQuota: editable.dailyQuota.nullable(),
  callTrigger: editable.callTrigger.nullable(),
}) as unknown as z.ZodType<Partial<z.infer<typeof createBranchSchema>> & { city?: string | null; menuOrder?: number | null; menuTitle?: string | null; dailyQuota?: number | null; callTrigger?: z.infer<typeof callTrigger> | null }>;

export type CreateBranchInput = z.infer<typeof createBranchSchema>;
export type UpdateBranchInput = z.infer<typeof updateBranchSchema>;
