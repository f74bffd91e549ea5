import { AppError } from "../errors.js";
import { checkFlow, type FlowProblem } from "../domain/flows/flow-check.js";
import { templateRecordId } from "../domain/templates.js";
import type { FlowRecord } from "../domain/types.js";
import type { Tx } from "../store/store.port.js";

export const FLOW_ID = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/** Checks a definition; problems become one 400 naming the first step/field, with all of them in `details`. */
export function checkOrThrow(definition: unknown) {
  const check = checkFlow(definition);
  if (!check.ok) {
    const first = check.problems[0]!;
    throw new AppError({ code: "invalid_flow", message: first.message, httpStatus: 400, field: `definition.${first.path}`, details: { problems: check.problems } });
  }
  return check;
}

/**
 * Saves a flow (new or replaced; the version goes up). Warnings do not stop the save: a step
 * unreachable from the start, a template that is not (yet) synced and approved — templates can be
 * approved after the flow is written; a send that finds none takes the step's error path.
 */
export async function saveFlow(tx: Tx, input: { id: string; definition: unknown; enabled?: boolean; example?: string }, now: number): Promise<{ flow: FlowRecord; warnings: FlowProblem[] }> {
  const check = checkOrThrow(input.definition);
  const warnings = [...check.warnings];
  for (const [id, step] of Object.entries(check.flow.steps)) {
    if (step.type !== "template") continue;
    const t = await tx.get("templates", templateRecordId(step.name, step.language));
    if (t?.status !== "APPROVED") warnings.push({ path: `steps.${id}.name`, step: id, field: "name", message: `steps.${id}.name: template ${step.name} (${step.language}) is ${t ? t.status : "not synced"}; sends will take the error path until it is approved` });
  }
  const existing = await tx.get("flows", input.id);
  const flow: FlowRecord = {
    id: input.id,
    definition: check.flow,
    enabled: input.enabled ?? existing?.enabled ?? true,
    version: (existing?.version ?? 0) + 1,
    ...((input.example ?? existing?.example) ? { example: input.example ?? existing?.example } : {}),
    createdAt: existing?.createdAt ?? now,
    updatedAt: now,
  };
  await tx.put("flows", flow);
  return { flow, warnings };
}

export function flowSummary(f: FlowRecord) {
  return { id: f.id, name: f.definition.name, description: f.definition.description, enabled: f.enabled, version: f.version, example: f.example, steps: Object.keys(f.definition.steps).length, oncePerDays: f.definition.oncePerDays ?? null, updatedAt: f.updatedAt };
}
