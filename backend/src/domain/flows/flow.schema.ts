import { z } from "zod";

/**
 * The JSON a flow is written in. Steps are an object keyed by step id, so every error names the
 * step (`steps.ask_score.buttons`). Limits are WhatsApp's (doc §3.2): ≤ 3 reply buttons with
 * titles ≤ 20 characters, ≤ 10 list rows with titles ≤ 24, bodies ≤ 1024 (buttons) / 4096.
 */

export const STEP_ID = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;
const stepRef = z.string().regex(STEP_ID, "must be a step id (a letter, then letters, digits, _ or -)");
const varName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/, "must be a variable name like score or booking.master");

const option = z.strictObject({
  id: z.string().min(1).max(200),
  title: z.string().min(1).max(24),
  description: z.string().max(72).optional(),
  /** What the variable gets when this option is chosen (default: the id). */
  value: z.union([z.string(), z.number(), z.boolean()]).optional(),
});
export type FlowOption = z.infer<typeof option>;

const validation = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("number"), min: z.number().optional(), max: z.number().optional(), integer: z.boolean().optional() }),
  z.strictObject({ type: z.literal("choice") }),
  z.strictObject({ type: z.literal("text"), minLength: z.number().int().min(0).optional(), maxLength: z.number().int().positive().optional() }),
  z.strictObject({ type: z.literal("pattern"), pattern: z.string().min(1).max(200) }),
]);
export type FlowValidation = z.infer<typeof validation>;

/** What a step that waits for the customer's answer has: where to put it, how to check it, for how long. */
const answer = {
  var: varName,
  validate: validation.optional(),
  /** Sent (as free text: the customer just wrote, so the window is open) after an invalid answer. */
  retryText: z.string().min(1).max(4096).optional(),
  /** Invalid answers tolerated before `onInvalid` (default 1). */
  maxRetries: z.number().int().min(0).max(5).optional(),
  timeoutSeconds: z.number().positive().max(30 * 86_400),
  next: stepRef,
  onTimeout: stepRef.optional(),
  onInvalid: stepRef.optional(),
};

const sendStep = z.strictObject({ type: z.literal("send"), text: z.string().min(1).max(4096), next: stepRef.optional(), onError: stepRef.optional() });
const templateStep = z.strictObject({
  type: z.literal("template"),
  name: z.string().min(1).max(512),
  language: z.string().min(2).max(15),
  /** Body parameters: positional (array) or named (object); texts may hold `{{var}}`. */
  params: z.union([z.array(z.string().max(1024)).max(100), z.record(z.string(), z.string().max(1024))]).optional(),
  next: stepRef.optional(),
  onError: stepRef.optional(),
});
const askStep = z.strictObject({
  type: z.literal("ask"),
  text: z.string().min(1).max(4096),
  buttons: z.array(option.extend({ title: z.string().min(1).max(20) })).min(1).max(3).optional(),
  list: z.strictObject({ button: z.string().min(1).max(20), sectionTitle: z.string().min(1).max(24).optional(), rows: z.array(option).min(1).max(10) }).optional(),
  onError: stepRef.optional(),
  ...answer,
});
const waitStep = z.strictObject({
  type: z.literal("wait"),
  /** Answers to expect, e.g. a template's quick-reply buttons (matched by payload, id or title). */
  options: z.array(option).max(10).optional(),
  ...answer,
});
const httpStep = z.strictObject({
  type: z.literal("http"),
  method: z.enum(["GET", "POST", "PUT", "PATCH", "DELETE"]),
  url: z.string().min(1).max(2048).regex(/^https?:\/\//, "must start with http:// or https://"),
  headers: z.record(z.string().regex(/^[A-Za-z0-9-]+$/, "must be a header name"), z.string().max(4096)).optional(),
  body: z.json().optional(),
  timeoutMs: z.number().int().min(100).max(30_000).optional(),
  /** Variable ← JSON path of the response (`client.name`, `visits[0].master`); a missing path is an error. */
  map: z.record(varName, z.string().min(1).max(200)).optional(),
  next: stepRef,
  onError: stepRef,
});
const condition = z.strictObject({
  var: z.string().min(1).max(200),
  op: z.enum(["eq", "ne", "lt", "lte", "gt", "gte", "in", "exists", "empty", "contains"]),
  value: z.json().optional(),
});
export type FlowCondition = z.infer<typeof condition>;
const branchStep = z.strictObject({
  type: z.literal("branch"),
  cases: z.array(z.strictObject({ when: condition, next: stepRef })).min(1).max(20),
  default: stepRef,
});
const npsStep = z.strictObject({ type: z.literal("nps"), var: varName, next: stepRef.optional() });
const handoverStep = z.strictObject({ type: z.literal("handover"), reason: z.string().max(500).optional(), next: stepRef.optional() });
const endStep = z.strictObject({ type: z.literal("end") });

export const stepSchema = z.discriminatedUnion("type", [sendStep, templateStep, askStep, waitStep, httpStep, branchStep, npsStep, handoverStep, endStep]);
export type FlowStep = z.infer<typeof stepSchema>;
export type StepOf<T extends FlowStep["type"]> = Extract<FlowStep, { type: T }>;

export const flowSchema = z.strictObject({
  name: z.string().trim().min(1).max(200),
  description: z.string().max(2000).optional(),
  /**
   * `any` (default): the flow may start when the customer's 24-hour window is closed, so free text
   * before the customer's first answer is refused at definition time (use a template step, or
   * branch on `window.open`). `open`: starting it for a customer outside the window is refused.
   */
  window: z.enum(["any", "open"]).optional(),
  /** At most one run per customer per this many days (any outcome). */
  oncePerDays: z.number().positive().max(3650).optional(),
  start: stepRef,
  steps: z.record(z.string().regex(STEP_ID, "must be a step id (a letter, then letters, digits, _ or -)"), stepSchema).refine((s) => Object.keys(s).length > 0, "a flow needs at least one step"),
});
export type FlowDefinition = z.infer<typeof flowSchema>;
