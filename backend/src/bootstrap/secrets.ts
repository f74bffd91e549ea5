import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { randomSecret } from "../security/api-keys.js";

export interface GeneratedSecrets {
  adminToken: string;
  secretKey: string;
  /** Signs the sandbox phone's webhooks when no WHATSAPP_APP_SECRET is set. */
  sandboxAppSecret: string;
}

/**
 * Secrets the operator did not set are generated once into DATA_DIR/secrets.json (mode 0600) and
 * reused on every start, so tokens survive restarts and encrypted data stays readable.
 */
export async function loadOrCreateSecrets(dataDir: string): Promise<{ secrets: GeneratedSecrets; created: boolean }> {
  const file = join(dataDir, "secrets.json");
  try {
    return { secrets: JSON.parse(await readFile(file, "utf8")) as GeneratedSecrets, created: false };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  const secrets: GeneratedSecrets = { adminToken: randomSecret(24), secretKey: randomSecret(32), sandboxAppSecret: randomSecret(24) };
  await mkdir(dataDir, { recursive: true });
  await writeFile(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  return { secrets, created: true };
}
