import type { BranchService } from "../branches/branch.service.js";

/**
 * First start in sandbox mode: two demo branches on the built-in inbox, so a newcomer can watch a
 * dialog travel phone → routing → branch inbox → reply → phone. Returns their keys (shown once).
 */
export async function seedDemoBranches(branches: BranchService): Promise<Array<{ name: string; code: string; apiKey: string }>> {
  if ((await branches.list()).length > 0) return [];
  const demo = [
    { name: "Art Play", code: "ARTPLAY", city: "Moscow", keywords: ["art play", "артплей"], isHq: true },
    { name: "Persona Lab", code: "LAB", city: "Moscow", keywords: ["lab", "лаб"] },
  ];
  const out = [];
  for (const d of demo) {
    const { apiKey } = await branches.create({ ...d, crm: "inbox" });
    out.push({ name: d.name, code: d.code, apiKey });
  }
  return out;
}
