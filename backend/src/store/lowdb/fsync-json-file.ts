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
  /** `wholeBelow`: files smaller than this are parsed as one string (fastest); larger ones piecewise. */
  constructor(
    private readonly file: string,
    private readonly wholeBelow = 128 * 1024 * 1024,
  ) {}

  async read(): Promise<T | null> {
    let handle;
    try {
      handle = await open(this.file, "r");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw err;
    }
    try {
      // V8 strings end at 512 MiB: a large file is read as bytes and parsed one row at a time.
      const bytes = await handle.readFile();
      return (bytes.length < this.wholeBelow ? JSON.parse(bytes.toString("utf8")) : parseJsonBuffer(bytes)) as T;
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

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const isSpace = (c: number | undefined) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

/**
 * JSON text in a Buffer to a value without making one string of it: the outer objects and
 * arrays (the snapshot, its tables, each table's rows) are walked here, and every value below
 * `depth` levels is handed to JSON.parse on its own bytes.
 */
export function parseJsonBuffer(buf: Buffer, depth = 3): unknown {
  const at = { i: 0 };
  const value = parseValue(buf, at, depth);
  skipSpace(buf, at);
  if (at.i !== buf.length) throw new SyntaxError(`unexpected data after JSON at byte ${at.i}`);
  return value;
}

function skipSpace(buf: Buffer, at: { i: number }): void {
  while (isSpace(buf[at.i])) at.i++;
}

function expect(buf: Buffer, at: { i: number }, ch: string): void {
  skipSpace(buf, at);
  if (buf[at.i] !== ch.charCodeAt(0)) throw new SyntaxError(`expected '${ch}' at byte ${at.i}`);
  at.i++;
}

function parseValue(buf: Buffer, at: { i: number }, depth: number): unknown {
  skipSpace(buf, at);
  const c = buf[at.i];
  if (depth > 0 && c === 0x5b /* [ */) {
    at.i++;
    const out: unknown[] = [];
    skipSpace(buf, at);
    if (buf[at.i] === 0x5d) return at.i++, out;
    for (;;) {
      out.push(parseValue(buf, at, depth - 1));
      skipSpace(buf, at);
      if (buf[at.i] === 0x2c) at.i++;
      else return expect(buf, at, "]"), out;
    }
  }
  if (depth > 0 && c === 0x7b /* { */) {
    at.i++;
    const out: Record<string, unknown> = {};
    skipSpace(buf, at);
    if (buf[at.i] === 0x7d) return at.i++, out;
    for (;;) {
      skipSpace(buf, at);
      const start = at.i;
      const end = endOfValue(buf, start);
      const key = JSON.parse(buf.toString("utf8", start, end)) as string;
      at.i = end;
      expect(buf, at, ":");
      out[key] = parseValue(buf, at, depth - 1);
      skipSpace(buf, at);
      if (buf[at.i] === 0x2c) at.i++;
      else return expect(buf, at, "}"), out;
    }
  }
  const start = at.i;
  at.i = endOfValue(buf, start);
  return JSON.parse(buf.toString("utf8", start, at.i));
}

/** Index just past the JSON value that starts at `i` (strings and nesting tracked; JSON.parse checks the rest). */
function endOfValue(buf: Buffer, i: number): number {
  let nest = 0;
  for (let j = i; j < buf.length; j++) {
    const c = buf[j]!;
    if (c === QUOTE) {
      for (j++; j < buf.length && buf[j] !== QUOTE; j++) if (buf[j] === BACKSLASH) j++;
      if (nest === 0) return j + 1;
    } else if (c === 0x7b || c === 0x5b) nest++;
    else if (c === 0x7d || c === 0x5d) {
      if (nest === 0) return j; // the container around a bare value closes
      if (--nest === 0) return j + 1;
    } else if (nest === 0 && (c === 0x2c || c === 0x3a || isSpace(c))) return j;
  }
  return buf.length;
}
