import { randomUUID } from "node:crypto";
import { z } from "zod";
import { notFound, unprocessable } from "../errors.js";
import { normalizePhone } from "../domain/phone.js";
import type { Operator } from "../domain/types.js";
import type { Tx } from "../store/store.port.js";

export const operatorCreate = z.strictObject({
  name: z.string().trim().min(1).max(200),
  phone: z.string().min(1).max(40),
  notifyWhatsApp: z.boolean().optional(),
});
export const operatorPatch = z.strictObject({
  name: z.string().trim().min(1).max(200).optional(),
  phone: z.string().min(1).max(40).optional(),
  notifyWhatsApp: z.boolean().optional(),
});

function e164(phone: string): string {
  const p = normalizePhone(phone);
  if (!p.ok) throw unprocessable("invalid_phone", `phone: ${p.reason}`, "phone");
  return p.e164;
}

export async function createOperator(tx: Tx, branchId: string, input: z.infer<typeof operatorCreate>, now: number): Promise<Operator> {
  if (!(await tx.get("branches", branchId))) throw notFound(`branch ${branchId}`);
  const op: Operator = { id: `op_${randomUUID()}`, branchId, name: input.name, phone: e164(input.phone), notifyWhatsApp: input.notifyWhatsApp ?? true, createdAt: now, updatedAt: now };
  await tx.put("operators", op);
  return op;
}

export async function updateOperator(tx: Tx, branchId: string, id: string, patch: z.infer<typeof operatorPatch>, now: number): Promise<Operator> {
  const op = await tx.get("operators", id);
  if (!op || op.branchId !== branchId) throw notFound(`operator ${id}`);
  const next: Operator = { ...op, ...(patch.name ? { name: patch.name } : {}), ...(patch.phone ? { phone: e164(patch.phone) } : {}), ...(patch.notifyWhatsApp !== undefined ? { notifyWhatsApp: patch.notifyWhatsApp } : {}), updatedAt: now };
  await tx.put("operators", next);
  return next;
}

export async function deleteOperator(tx: Tx, branchId: string, id: string): Promise<void> {
  const op = await tx.get("operators", id);
  if (!op || op.branchId !== branchId) throw notFound(`operator ${id}`);
  await tx.delete("operators", id);
}
