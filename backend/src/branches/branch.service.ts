import { randomUUID } from "node:crypto";
import { conflict, notFound } from "../errors.js";
import type { Branch, CrmKind } from "../domain/types.js";
import { generateApiKey, randomSecret } from "../security/api-keys.js";
import type { SecretBox } from "../security/secret-box.js";
import type { Store, Tx } from "../store/store.port.js";
import { checkCallTriggerSettings } from "../triggers/call-trigger.js";
import type { CreateBranchInput, UpdateBranchInput } from "./branch.schema.js";

/** A branch as the admin API shows it: never the key or the secret, only the key's prefix. */
export type PublicBranch = Omit<Branch, "keyHash" | "webhookSecretSealed">;

export function publicBranch(b: Branch): PublicBranch {
  const { keyHash: _k, webhookSecretSealed: _s, ...rest } = b;
  return rest;
}

export interface CreatedBranch {
  branch: Branch;
  apiKey: string;
  webhookSecret?: string;
}

export class BranchService {
  constructor(
    private readonly store: Store,
    private readonly box: SecretBox,
    private readonly now: () => number = Date.now,
  ) {}

  async create(input: CreateBranchInput): Promise<CreatedBranch> {
    const key = generateApiKey();
    const webhookSecret = input.crm === "webhook" ? randomSecret() : undefined;
    const now = this.now();
    const branch: Branch = {
      id: `br_${randomUUID()}`,
      name: input.name,
      code: input.code,
      crm: input.crm as CrmKind,
      enabled: true,
      isHq: input.isHq ?? false,
      city: input.city,
      keywords: input.keywords ?? [],
      adSourceIds: input.adSourceIds ?? [],
      menuOrder: input.menuOrder,
      menuTitle: input.menuTitle,
      webhookUrl: input.webhookUrl,
      dailyQuota: input.dailyQuota,
      callTrigger: input.callTrigger,
      webhookSecretSealed: webhookSecret ? this.box.seal(webhookSecret) : undefined,
      keyHash: key.hash,
      keyPrefix: key.prefix,
      createdAt: now,
      updatedAt: now,
    };
    await this.store.transact(async (tx) => {
      await assertCodeFree(tx, branch.code);
      if (branch.callTrigger) await checkCallTriggerSettings(tx, branch.callTrigger);
      if (branch.isHq) await clearOtherHq(tx, branch.id);
      await tx.put("branches", branch);
    });
    return { branch, apiKey: key.key, webhookSecret };
  }

  list(): Promise<Branch[]> {
    return this.store.read((tx) => tx.list("branches"));
  }

  async get(id: string): Promise<Branch> {
    const branch = await this.store.read((tx) => tx.get("branches", id));
    if (!branch) throw notFound(`branch ${id}`);
    return branch;
  }

  update(id: string, patch: UpdateBranchInput): Promise<Branch> {
    return this.mutate(id, async (tx, b) => {
      if (patch.code && patch.code.toLowerCase() !== b.code.toLowerCase()) await assertCodeFree(tx, patch.code);
      if (patch.isHq) await clearOtherHq(tx, id);
      if (patch.callTrigger) await checkCallTriggerSettings(tx, patch.callTrigger);
      const next: Branch = { ...b };
      for (const [k, v] of Object.entries(patch)) (next as unknown as Record<string, unknown>)[k] = v === null ? undefined : v;
      if (next.crm === "webhook" && !next.webhookUrl) throw conflict("a webhook branch needs a webhookUrl", "webhookUrl");
      return next;
    });
  }

  setEnabled(id: string, enabled: boolean): Promise<Branch> {
    return this.mutate(id, async (_tx, b) => ({ ...b, enabled, disabledAt: enabled ? undefined : this.now() }));
  }

  /** A new key; the old one stops working at once. */
  async rotateKey(id: string): Promise<{ branch: Branch; apiKey: string }> {
    const key = generateApiKey();
    const branch = await this.mutate(id, async (_tx, b) => ({ ...b, keyHash: key.hash, keyPrefix: key.prefix }));
    return { branch, apiKey: key.key };
  }

  async rotateWebhookSecret(id: string): Promise<{ branch: Branch; webhookSecret: string }> {
    const secret = randomSecret();
    const branch = await this.mutate(id, async (_tx, b) => {
      if (b.crm !== "webhook") throw conflict("only webhook branches have a webhook secret", "crm");
      return { ...b, webhookSecretSealed: this.box.seal(secret) };
    });
    return { branch, webhookSecret: secret };
  }

  private mutate(id: string, change: (tx: Tx, b: Branch) => Promise<Branch>): Promise<Branch> {
    return this.store.transact(async (tx) => {
      const branch = await tx.get("branches", id);
      if (!branch) throw notFound(`branch ${id}`);
      const next = { ...(await change(tx, branch)), updatedAt: this.now() };
      await tx.put("branches", next);
      return next;
    });
  }
}

async function assertCodeFree(tx: Tx, code: string): Promise<void> {
  if ((await tx.countByIndex("branches", "code", code.toLowerCase())) > 0) throw conflict(`branch code '${code}' is already taken`, "code");
}

/** One HQ per network: marking a branch HQ unmarks the previous one. */
async function clearOtherHq(tx: Tx, keepId: string): Promise<void> {
  for (const b of await tx.list("branches")) {
    if (b.isHq && b.id !== keepId) await tx.put("branches", { ...b, isHq: false });
  }
}
