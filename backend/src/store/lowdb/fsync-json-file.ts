import { open, rename } from "node:fs/promises";
import { dirname } from "node:path";
import type { Adapter } from "lowdb";
import { syncDirectory } from "../../ops/durable-fs.js";

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

  /**
   * Streams the JSON out in pieces, awaiting each write, so a large state never blocks the event
   * loop for long (one JSON.stringify of the whole store took seconds). The data must not change
   * while it is written: the store hands over arrays of immutable rows.
   */
  async write(data: T): Promise<void> {
    const temp = `${this.file}.tmp`;
    const handle = await open(temp, "w");
    try {
      let buffer = "";
      for (const piece of jsonPieces(data)) {
        buffer += piece;
        if (buffer.length >= 256 * 1024) {
          await handle.write(buffer);
          buffer = "";
        }
      }
      await handle.write(buffer);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, this.file);
    await syncDirectory(dirname(this.file));
  }
}


/** JSON text of `value` in pieces: large arrays one element at a time, the rest whole. */
function* jsonPieces(value: unknown): Generator<string> {
  if (Array.isArray(value) && value.length > 64) {
    yield "[";
    for (let i = 0; i < value.length; i++) yield (i ? "," : "") + (JSON.stringify(value[i]) ?? "null");
    yield "]";
  } else if (value !== null && typeof value === "object" && !Array.isArray(value) && Object.getPrototypeOf(value) === Object.prototype) {
    yield "{";
    let first = true;
    for (const [k, v] of Object.entries(value)) {
      if (v === undefined) continue;
      yield (first ? "" : ",") + JSON.stringify(k) + ":";
      first = false;
      yield* jsonPieces(v);
    }
    yield "}";
  } else {
    yield JSON.stringify(value) ?? "null";
  }
}
