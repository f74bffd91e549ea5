import type { CrmKind } from "../domain/types.js";
import type { CrmDefinition } from "./crm.port.js";

/** Hand-written on purpose: `satisfies` makes a missing connector a build error. */
export type CrmRegistry = { [K in CrmKind]: CrmDefinition<K> };

export function defineRegistry(registry: CrmRegistry): CrmRegistry {
  return registry;
}
