import { open, rename } from "node:fs/promises";
import { dirname } from "node:path";
import type { Adapter } from "lowdb";

/**
 * lowdb adapter that makes a snapshot crash-safe: write a temp file, fsync it, rename it over the
 * old one, fsync the directory. A crash at any point leaves either the old or the new snapshot.
 * (lowdb's own JSONFile renames but does not fsync.)
 */
export class FsyncJsonFile<T> implements Adapter<T> {
  constructor(private readonly file: string) {}

  async read(): Promise<T | null> {
    let handle;
    try {
      handle = await open(this.file, "r");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw err;
    }
    try {
      return JSON.parse(await handle.readFile("utf8")) as T;
    } finally {
      await handle.close();
    }
  }

  async write(data: T): Promise<void> {
    const temp = `${this.file}.tmp`;
    const handle = await open(temp, "w");
    try {
      await handle.writeFile(JSON.stringify(data));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, this.file);
    await syncDirectory(dirname(this.file));
  }
}

export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } catch {
    // Some filesystems refuse fsync on directories; the rename is still atomic there.
  } finally {
    await handle.close();
  }
}
