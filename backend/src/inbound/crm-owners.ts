import type { Customer } from "../domain/types.js";
import type { CrmRegistry } from "../crm/registry.js";
import type { Logger } from "../ops/logger.js";
import type { Store } from "../store/store.port.js";

export interface CrmOwnersDeps {
  store: Store;
  registry: CrmRegistry;
  logger: Logger;
  now: () => number;
  /** An open binding decides before CRM ownership: no CRM is asked for bound customers. */
  bindingTtlMs: number;
  /** Answers are kept this long per phone (the ladder asks on every message of an unbound customer). */
  cacheMs?: number;
  /** A CRM slower than this is treated as not knowing the phone: routing must not wait on it. */
  timeoutMs?: number;
}

/**
 * The routing ladder's "CRM ownership" rung: which branches' CRMs already have a contact with this
 * phone. Asked only for customers without an open binding, with a short cache and a time limit.
 */
export function crmOwnersFinder(deps: CrmOwnersDeps): (customer: Customer) => Promise<string[]> {
  const cache = new Map<string, { at: number; owners: string[] }>();
  const cacheMs = deps.cacheMs ?? 10 * 60_000;
  const timeoutMs = deps.timeoutMs ?? 3000;

  return async (probe) => {
    if (!probe.waId) return [];
    const now = deps.now();
    const hit = cache.get(probe.waId);
    if (hit && now - hit.at < cacheMs) return hit.owners;
    const { branches, bound } = await deps.store.read(async (tx) => {
      const known = (await tx.byIndex("customers", "waId", probe.waId!))[0];
      const binding = known ? await tx.get("bindings", known.id) : undefined;
      const open = Boolean(binding?.current && now - binding.current.lastActivityAt < deps.bindingTtlMs);
      return { branches: open ? [] : (await tx.list("branches")).filter((b) => b.enabled && deps.registry[b.crm].capabilities.crmOwnership), bound: open };
    });
    if (bound || branches.length === 0) return [];
    const phone = `+${probe.waId}`;
    const answers = await Promise.all(
      branches.map(async (b) => {
        const adapter = deps.registry[b.crm].create(b);
        if (!adapter.knowsPhone) return undefined;
        try {
          return (await withTimeout(adapter.knowsPhone(phone), timeoutMs)) ? b.id : undefined;
        } catch (err) {
          deps.logger.debug({ err, branch: b.code }, "CRM ownership lookup failed");
          return undefined;
        }
      }),
    );
    const owners = answers.filter((id): id is string => id !== undefined);
    cache.set(probe.waId, { at: now, owners });
    if (cache.size > 10_000) cache.delete(cache.keys().next().value!);
    return owners;
  };
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}
