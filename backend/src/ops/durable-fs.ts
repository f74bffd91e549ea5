import { open } from "node:fs/promises";

/** Makes a rename inside `dir` durable. Some filesystems refuse fsync on directories: the rename is still atomic there. */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } catch {
    // not supported on this filesystem
  } finally {
    await handle.close();
  }
}
