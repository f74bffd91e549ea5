import type { Binding, Dialog, RoutingRule } from "../domain/types.js";
import type { Tx } from "../store/store.port.js";

export const dialogIdOf = (branchId: string, customerId: string) => `${branchId}:${customerId}`;

export async function ensureDialog(tx: Tx, branchId: string, customerId: string, now: number, routing?: Dialog["routing"]): Promise<Dialog> {
  const id = dialogIdOf(branchId, customerId);
  const existing = await tx.get("dialogs", id);
  if (existing) {
    if (routing) {
      const updated = { ...existing, routing, updatedAt: now };
      await tx.put("dialogs", updated);
      return updated;
    }
    return existing;
  }
  const dialog: Dialog = { id, branchId, customerId, createdAt: now, updatedAt: now, unread: 0, routing };
  await tx.put("dialogs", dialog);
  return dialog;
}

/**
 * Binds the customer to a branch. A new branch closes the previous entry in the history (kept
 * forever); the same branch only refreshes the activity time that the expiry counts from.
 */
export async function bindCustomer(tx: Tx, customerId: string, to: { branchId: string; rule: RoutingRule; reason: string; now: number }): Promise<Binding> {
  const binding: Binding = (await tx.get("bindings", customerId)) ?? { id: customerId, history: [] };
  const current = binding.current;
  if (current && current.branchId === to.branchId) {
    binding.current = { ...current, lastActivityAt: to.now };
  } else {
    if (current) closeCurrent(binding, to.now, `moved to another branch (${to.rule})`);
    binding.current = { branchId: to.branchId, rule: to.rule, reason: to.reason, boundAt: to.now, lastActivityAt: to.now };
  }
  binding.awaitingMenuSince = undefined;
  await tx.put("bindings", binding);
  return binding;
}

export async function unbindCustomer(tx: Tx, customerId: string, now: number, why: string): Promise<void> {
  const binding = await tx.get("bindings", customerId);
  if (!binding?.current) return;
  closeCurrent(binding, now, why);
  binding.current = undefined;
  await tx.put("bindings", binding);
}

function closeCurrent(binding: Binding, now: number, why: string): void {
  const { lastActivityAt: _ignored, ...entry } = binding.current!;
  binding.history.push({ ...entry, endedAt: now, endReason: why });
}
