import { customerKey } from "../channels/whatsapp/webhook.parse.js";
import type { Customer } from "../domain/types.js";
import type { Customer as WaCustomer } from "../channels/whatsapp/webhook.types.js";
import type { Tx } from "../store/store.port.js";

/**
 * Finds or creates the customer a webhook speaks of. Keyed by BSUID (`user_id`) when Meta sends
 * one, else `wa:<wa_id>`; a record found by either identifier gets the other one added, and two
 * records that turn out to be one person are merged into the BSUID one.
 */
export async function upsertCustomer(tx: Tx, who: WaCustomer, now: number): Promise<Customer | undefined> {
  if (!who.userId && !who.waId) return undefined;
  const byUser = who.userId ? (await tx.byIndex("customers", "userId", who.userId))[0] : undefined;
  const byPhone = who.waId ? (await tx.byIndex("customers", "waId", who.waId))[0] : undefined;
  let customer = byUser ?? byPhone;
  if (byUser && byPhone && byUser.id !== byPhone.id) {
    customer = mergeInto(byUser, byPhone);
    await tx.delete("customers", byPhone.id);
  }
  if (!customer) {
    customer = { id: customerKey(who)!, aliases: [], createdAt: now, updatedAt: now };
  }
  const next: Customer = {
    ...customer,
    waId: who.waId ?? customer.waId,
    userId: who.userId ?? customer.userId,
    parentUserId: who.parentUserId ?? customer.parentUserId,
    name: who.name ?? customer.name,
    username: who.username ?? customer.username,
    updatedAt: now,
  };
  await tx.put("customers", next);
  return next;
}

function mergeInto(keep: Customer, gone: Customer): Customer {
  return {
    ...gone,
    ...keep,
    aliases: [...new Set([...keep.aliases, ...gone.aliases, gone.id])],
    name: keep.name ?? gone.name,
    lastInboundAt: Math.max(keep.lastInboundAt ?? 0, gone.lastInboundAt ?? 0) || undefined,
  };
}

/** A `system` message says the user changed number or BSUID: move the identifiers. */
export async function applyIdentityChange(tx: Tx, customer: Customer, change: { newWaId?: string; newUserId?: string }, now: number): Promise<Customer> {
  const next: Customer = {
    ...customer,
    aliases: [...new Set([...customer.aliases, ...(customer.waId && change.newWaId ? [`wa:${customer.waId}`] : []), ...(customer.userId && change.newUserId ? [customer.userId] : [])])],
    waId: change.newWaId ?? customer.waId,
    userId: change.newUserId ?? customer.userId,
    updatedAt: now,
  };
  await tx.put("customers", next);
  return next;
}

/** Opts a customer out of marketing (or back in). Unknown customers are created so the choice sticks. */
export async function setMarketingOptOut(tx: Tx, who: { waId?: string; userId?: string }, optOut: boolean, source: "stop_word" | "user_preferences", at: number): Promise<void> {
  const customer = await upsertCustomer(tx, who, at);
  if (!customer) return;
  if (optOut === Boolean(customer.marketingOptOut)) return;
  await tx.put("customers", { ...customer, marketingOptOut: optOut ? { at, source } : undefined, updatedAt: at });
}

/**
 * The customer a branch addresses by phone. WhatsApp's own id may differ from the E.164 digits
 * (Brazil's extra 9, Mexico's legacy 1), so every form is tried before a customer is created.
 */
export async function customerByPhone(tx: Tx, candidates: string[], now: number): Promise<Customer> {
  for (const waId of candidates) {
    const found = (await tx.byIndex("customers", "waId", waId))[0];
    if (found) return found;
  }
  const waId = candidates[0]!;
  const created: Customer = { id: `wa:${waId}`, waId, aliases: [], createdAt: now, updatedAt: now };
  await tx.put("customers", created);
  return created;
}
