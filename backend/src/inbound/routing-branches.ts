import { prepareBranches, type PreparedBranches, type RoutingBranch } from "../domain/routing.js";
import type { Branch } from "../domain/types.js";

/** What the routing ladder reads of a branch. */
export function toRoutingBranch(b: Branch): RoutingBranch {
  return { id: b.id, code: b.code, name: b.name, city: b.city, enabled: b.enabled, isHq: b.isHq, keywords: b.keywords, adSourceIds: b.adSourceIds, menuOrder: b.menuOrder, menuTitle: b.menuTitle };
}

/**
 * The branch set prepared for routing, kept between transactions. The caller still reads the
 * branches in each transaction (so an edit in the console or on another instance applies to the
 * next message); this only compares the fields routing reads with the last set — a few comparisons
 * per branch, no sorting, no text scanning — and prepares the set again when one of them changed.
 */
export function preparedBranchesCache(): (branches: readonly Branch[]) => PreparedBranches {
  let last: { branches: RoutingBranch[]; prepared: PreparedBranches } | undefined;
  return (branches) => {
    if (last && sameForRouting(last.branches, branches)) return last.prepared;
    const routing = branches.map(toRoutingBranch);
    last = { branches: routing, prepared: prepareBranches(routing) };
    return last.prepared;
  };
}

function sameForRouting(known: readonly RoutingBranch[], now: readonly Branch[]): boolean {
  if (known.length !== now.length) return false;
  for (let i = 0; i < known.length; i++) {
    const a = known[i]!;
    const b = now[i]!;
    if (
      a.id !== b.id ||
      a.code !== b.code ||
      a.name !== b.name ||
      a.city !== b.city ||
      a.enabled !== b.enabled ||
      a.isHq !== b.isHq ||
      a.menuOrder !== b.menuOrder ||
      a.menuTitle !== b.menuTitle ||
      !sameList(a.keywords, b.keywords) ||
      !sameList(a.adSourceIds, b.adSourceIds)
    ) {
      return false;
    }
  }
  return true;
}

function sameList(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  if (a === b) return true;
  if (!a || !b || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
