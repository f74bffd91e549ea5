import { readSync } from "node:fs";
import { open, rm, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { AppError } from "../../errors.js";
import { INDEXES } from "../store.port.js";
import type { AnyRow } from "./tables.js";

type IndexFn = (row: AnyRow) => string | undefined;

/**
 * Bulky, append-only collections: their rows live in segment files, not in `state.json` nor on
 * the JS heap. Only a locator per row and the secondary index entries stay in memory.
 */
export const SEGMENT_COLLECTIONS = ["messages", "payloads", "managementEvents"] as const;
export type SegmentCollection = (typeof SEGMENT_COLLECTIONS)[number];
export const isSegmentCollection = (name: string): name is SegmentCollection => (SEGMENT_COLLECTIONS as readonly string[]).includes(name);

/**
 * Indexes whose values are (nearly) unique and long: kept by a 32-bit hash of the value, which
 * saves the value string per row (a wamid is ~80 characters); readers compare the rows they get
 * (`matches`), so a hash collision costs only a row read.
 */
const HASHED: Partial<Record<SegmentCollection, readonly string[]>> = { messages: ["wamid"] };
type Key = string | number;

/** 32-bit FNV-1a of a string's UTF-16 units, as a small integer (no allocation as a Map key). */
export function indexHash(value: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < value.length; i++) {
    h ^= value.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h | 0;
}

/** The time a row's age is measured from (retention). */
const AGE_FIELD: Record<SegmentCollection, string> = { messages: "createdAt", payloads: "receivedAt", managementEvents: "receivedAt" };

/** What `state.json` records of a segment: its file and the length that is committed. */
export interface SegmentRef {
  file: string;
  bytes: number;
}

export const segmentFileName = (name: string, generation: number) => `${name}.${generation}.seg`;
export const SEGMENT_FILE = /^([A-Za-z]+)\.(\d+)\.seg$/;

/**
 * One segment line: `<header JSON>\t<row JSON>\n`. The header `[id, rank, at, ...index values]`
 * is all that opening needs (JSON text never holds a raw tab, so the first tab ends it). A delete
 * is a header `[id]` alone. Later lines of an id replace earlier ones.
 */
export function segmentLine(name: SegmentCollection, row: AnyRow, rank: number): string {
  const at = (row as Record<string, unknown>)[AGE_FIELD[name]];
  const header: unknown[] = [row.id, rank, typeof at === "number" ? at : -1];
  for (const fn of Object.values(INDEXES[name]) as IndexFn[]) header.push(fn(row) ?? null);
  return `${JSON.stringify(header)}\t${JSON.stringify(row)}\n`;
}
const tombstoneLine = (id: string) => `${JSON.stringify([id])}\t\n`;

/** A compaction's picture of one table: every change since the last committed one. */
export interface SegmentPicture {
  entries: Array<[id: string, row: AnyRow | null, rank: number]>;
  /** Rows to drop by age (retention): set when the segment is rewritten. */
  rewrite?: { cutoff: number };
}

/** The outcome of writing a picture, applied in memory once `state.json` names it. */
export interface SegmentWrite {
  /** Absent while the collection has never had a segment (nothing to write yet). */
  ref?: SegmentRef;
  finish(): void;
  /** `state.json` was not written: forget the attempt (an uncommitted new file is removed before the next attempt can reuse its name). */
  abandon(): Promise<void>;
}

/**
 * A collection whose committed rows live in an append-only segment file.
 *
 * - Every row has a slot: rank (insertion order), age, and the offset/length of its line in the
 *   segment (-1 until a compaction wrote it).
 * - Rows changed since the last compaction are kept whole in `dirty` (a row, or null for a
 *   delete whose tombstone is not written yet); the journal holds them durably until then.
 * - Index buckets hold ids in rank order: one id as a bare string (unique indexes like `wamid`
 *   cost no Set), several as an array; `HASHED` indexes are keyed by a hash of the value.
 * - Recently read rows are cached (LRU).
 */
export class SegmentTable {
  private readonly slotOf = new Map<string, number>();
  private slotId: Array<string | undefined> = [];
  private slotRank: number[] = [];
  private slotAt: number[] = [];
  private slotOff: number[] = [];
  private slotLen: number[] = [];
  private freeSlots: number[] = [];
  private nextRank = 0;
  private readonly dirty = new Map<string, AnyRow | null>();
  /** Changes a running compaction is writing: a delete of one of them needs a tombstone. */
  private inflight?: Map<string, AnyRow | null>;
  private readonly cache = new Map<string, AnyRow>();
  private readonly indexes = new Map<string, Map<Key, string | string[]>>();
  private readonly hashed: ReadonlySet<string>;
  /** The indexes in header order (INDEXES order), for opening. */
  private readonly bucketsByPosition: Array<Map<Key, string | string[]>>;
  private readonly hashedByPosition: boolean[];
  private readonly indexFns: Array<[string, IndexFn]>;
  private handle?: FileHandle;
  private generation = 0;
  /** Committed length of the segment file, and how much of it is current rows. */
  private bytes = 0;
  private liveBytes = 0;

  constructor(
    readonly name: SegmentCollection,
    private readonly dir: string,
    private readonly cacheRows = 10_000,
  ) {
    this.indexFns = Object.entries(INDEXES[name] as Record<string, IndexFn>);
    for (const [index] of this.indexFns) this.indexes.set(index, new Map());
    this.hashed = new Set(HASHED[name] ?? []);
    this.bucketsByPosition = this.indexFns.map(([index]) => this.indexes.get(index)!);
    this.hashedByPosition = this.indexFns.map(([index]) => this.hashed.has(index));
  }

  private key(index: string, value: string): Key {
    return this.hashed.has(index) ? indexHash(value) : value;
  }

  /** Whether rows an index lookup returns must be checked against the value (hashed index). */
  isHashed(index: string): boolean {
    return this.hashed.has(index);
  }

  get size(): number {
    return this.slotOf.size;
  }

  get pendingRows(): number {
    return this.dirty.size;
  }

  /** The file name `state.json` should record. */
  private get file(): string {
    return segmentFileName(this.name, this.generation);
  }

  /**
   * Opens the committed segment: a longer file (a compaction that died before `state.json` named
   * its lines) is cut back to the committed length; headers rebuild slots and indexes.
   */
  async load(ref: SegmentRef): Promise<void> {
    const match = SEGMENT_FILE.exec(ref.file);
    if (!match || match[1] !== this.name) throw new AppError({ code: "store_corrupt", message: `state.json names segment ${ref.file} for ${this.name}` });
    this.generation = Number(match[2]);
    const handle = await open(join(this.dir, ref.file), "r+");
    this.handle = handle;
    const { size } = await handle.stat();
    if (size < ref.bytes) throw new AppError({ code: "store_corrupt", message: `segment ${ref.file} is shorter (${size} bytes) than committed (${ref.bytes})` });
    if (size > ref.bytes) {
      await handle.truncate(ref.bytes);
      await handle.sync();
    }
    this.bytes = ref.bytes;
    let buffer = Buffer.alloc(Math.min(16 << 20, Math.max(1 << 16, ref.bytes)));
    let filePos = 0;
    let carry = 0;
    while (filePos < ref.bytes) {
      const want = Math.min(buffer.length - carry, ref.bytes - filePos);
      const { bytesRead } = await handle.read(buffer, carry, want, filePos);
      if (bytesRead <= 0) throw new AppError({ code: "store_corrupt", message: `segment ${ref.file} could not be read to its committed length` });
      const end = carry + bytesRead;
      const base = filePos - carry; // file offset of buffer[0]
      filePos += bytesRead;
      let start = 0;
      for (;;) {
        const nl = buffer.indexOf(0x0a, start);
        if (nl < 0 || nl >= end) break;
        const tab = buffer.indexOf(0x09, start);
        const header = JSON.parse(buffer.toString("utf8", start, tab >= 0 && tab < nl ? tab : nl)) as unknown[];
        this.loadLine(header, base + start, nl + 1 - start);
        start = nl + 1;
      }
      carry = end - start;
      if (carry === buffer.length) {
        // one line longer than the buffer: grow it
        const bigger = Buffer.alloc(buffer.length * 2);
        buffer.copy(bigger, 0, 0, carry);
        buffer = bigger;
      } else buffer.copy(buffer, 0, start, end);
    }
    if (carry > 0) throw new AppError({ code: "store_corrupt", message: `segment ${ref.file} ends inside a line` });
  }

  /**
   * One line at open, indexed at once (no header is kept: they would all reach the old
   * generation). A later line of an id replaces the earlier one, whose index values are read
   * back from its header; lines in rank order (the usual case) go at the end of their buckets.
   */
  private loadLine(header: unknown[], off: number, len: number): void {
    const id = header[0] as string;
    let slot = this.slotOf.get(id);
    if (slot !== undefined) {
      this.liveBytes -= this.slotLen[slot]!;
      this.unindexValues(id, this.headerAt(slot).slice(3));
      if (header.length < 3) return this.freeSlot(slot);
    } else if (header.length < 3) return;
    const rank = header[1] as number;
    const inOrder = rank >= this.nextRank;
    if (slot === undefined) slot = this.allocSlot(id, rank);
    else this.slotRank[slot] = rank;
    this.nextRank = Math.max(this.nextRank, rank + 1);
    this.slotAt[slot] = header[2] as number;
    this.slotOff[slot] = off;
    this.slotLen[slot] = len;
    this.liveBytes += len;
    for (let i = 0; i < this.bucketsByPosition.length; i++) {
      const value = header[3 + i];
      if (typeof value !== "string") continue;
      const buckets = this.bucketsByPosition[i]!;
      const key = this.hashedByPosition[i] ? indexHash(value) : value;
      if (!inOrder) {
        this.addToBucket(buckets, key, id);
        continue;
      }
      const bucket = buckets.get(key);
      if (bucket === undefined) buckets.set(key, id);
      else if (typeof bucket === "string") buckets.set(key, [bucket, id]);
      else bucket.push(id);
    }
  }

  /** The header of a slot's line in the segment. */
  private headerAt(slot: number): unknown[] {
    const len = this.slotLen[slot]!;
    const buf = Buffer.allocUnsafe(len);
    readSync(this.handle!.fd, buf, 0, len, this.slotOff[slot]!);
    const tab = buf.indexOf(0x09);
    return JSON.parse(buf.toString("utf8", 0, tab < 0 ? len - 1 : tab)) as unknown[];
  }

  private unindexValues(id: string, values: unknown[]): void {
    this.indexFns.forEach(([index], i) => {
      const v = values[i];
      if (typeof v === "string") this.dropFromBucket(this.indexes.get(index)!, this.key(index, v), id);
    });
  }

  private allocSlot(id: string, rank: number): number {
    const slot = this.freeSlots.pop() ?? this.slotId.length;
    this.slotOf.set(id, slot);
    this.slotId[slot] = id;
    this.slotRank[slot] = rank;
    this.slotAt[slot] = -1;
    this.slotOff[slot] = -1;
    this.slotLen[slot] = 0;
    return slot;
  }

  private freeSlot(slot: number): void {
    this.slotOf.delete(this.slotId[slot]!);
    this.slotId[slot] = undefined;
    this.freeSlots.push(slot);
  }

  /** The row as it is in memory (written since the last compaction, or cached), without disk. */
  peek(id: string): AnyRow | undefined {
    const d = this.dirty.get(id);
    if (d !== undefined) return d ?? undefined;
    return this.cache.get(id);
  }

  has(id: string): boolean {
    return this.slotOf.has(id);
  }

  /**
   * The current row. A segment row is read with one synchronous pread: a line is ~1 KB and
   * usually in the page cache, where a thread-pool round trip costs far more than the read
   * (a branch's dialog list reads a thousand last messages). Being synchronous, it also cannot
   * interleave with a compaction swapping the file.
   */
  async get(id: string): Promise<AnyRow | undefined> {
    return this.getNow(id);
  }

  private getNow(id: string): AnyRow | undefined {
    const d = this.dirty.get(id);
    if (d !== undefined) return d ?? undefined;
    const slot = this.slotOf.get(id);
    if (slot === undefined) return undefined;
    const cached = this.cache.get(id);
    if (cached) {
      this.cache.delete(id);
      this.cache.set(id, cached);
      return cached;
    }
    const off = this.slotOff[slot]!;
    const len = this.slotLen[slot]!;
    if (!this.handle || off < 0) return undefined;
    const buf = Buffer.allocUnsafe(len);
    const read = readSync(this.handle.fd, buf, 0, len, off);
    const tab = buf.indexOf(0x09);
    if (read !== len || tab < 0) throw new AppError({ code: "store_corrupt", message: `segment ${this.name}: row ${id} could not be read` });
    const row = JSON.parse(buf.toString("utf8", tab + 1, len - 1)) as AnyRow;
    this.remember(id, row);
    return row;
  }

  private remember(id: string, row: AnyRow): void {
    if (this.cacheRows <= 0) return;
    this.cache.delete(id);
    this.cache.set(id, row);
    if (this.cache.size > this.cacheRows) this.cache.delete(this.cache.keys().next().value!);
  }

  rankOf(id: string): number | undefined {
    const slot = this.slotOf.get(id);
    return slot === undefined ? undefined : this.slotRank[slot];
  }

  /** Inserts or replaces; `old` is the current row (the caller read it), `rank` puts a row back where it was. */
  set(row: AnyRow, old: AnyRow | undefined, rank?: number): void {
    let slot = this.slotOf.get(row.id);
    if (slot === undefined) {
      slot = this.allocSlot(row.id, rank ?? this.nextRank++);
      if (rank !== undefined) this.nextRank = Math.max(this.nextRank, rank + 1);
    }
    const at = (row as Record<string, unknown>)[AGE_FIELD[this.name]];
    this.slotAt[slot] = typeof at === "number" ? at : -1;
    this.dirty.set(row.id, row);
    this.cache.delete(row.id);
    for (const [index, fn] of this.indexFns) {
      const value = fn(row);
      const before = old ? fn(old) : undefined;
      if (old && before === value) continue;
      const buckets = this.indexes.get(index)!;
      if (before !== undefined) this.dropFromBucket(buckets, this.key(index, before), row.id);
      if (value !== undefined) this.addToBucket(buckets, this.key(index, value), row.id);
    }
  }

  /** Deletes; `old` is the current row. */
  remove(id: string, old: AnyRow): void {
    const slot = this.slotOf.get(id);
    if (slot === undefined) return;
    for (const [index, fn] of this.indexFns) {
      const value = fn(old);
      if (value !== undefined) this.dropFromBucket(this.indexes.get(index)!, this.key(index, value), id);
    }
    // A line for it in the segment (or about to be) needs a tombstone; otherwise nothing was written.
    if (this.slotOff[slot]! >= 0 || this.inflight?.has(id)) this.dirty.set(id, null);
    else this.dirty.delete(id);
    if (this.slotOff[slot]! >= 0) this.liveBytes -= this.slotLen[slot]!;
    this.cache.delete(id);
    this.freeSlot(slot);
  }

  /** Ids whose index value equals `value`, oldest first (a copy: later changes do not reach it). */
  ids(index: string, value: string, opts: { limit?: number; newestFirst?: boolean } = {}): string[] {
    const bucket = this.indexes.get(index)?.get(this.key(index, value));
    if (bucket === undefined) return [];
    if (typeof bucket === "string") return opts.limit === 0 ? [] : [bucket];
    const limit = Math.min(opts.limit ?? Infinity, bucket.length);
    return opts.newestFirst ? bucket.slice(bucket.length - limit).reverse() : bucket.slice(0, limit);
  }

  count(index: string, value: string): number {
    const bucket = this.indexes.get(index)?.get(this.key(index, value));
    return bucket === undefined ? 0 : typeof bucket === "string" ? 1 : bucket.length;
  }

  /** Every id in insertion order. */
  allIds(limit = Infinity): string[] {
    const slots = [...this.slotOf.values()].sort((a, b) => this.slotRank[a]! - this.slotRank[b]!);
    return slots.slice(0, Math.min(limit, slots.length)).map((s) => this.slotId[s]!);
  }

  /** Rows older than `cutoff` that sit in the segment (retention drops them by a rewrite). */
  expiredCount(cutoff: number): number {
    let n = 0;
    for (const slot of this.slotOf.values()) {
      const at = this.slotAt[slot]!;
      if (at >= 0 && at < cutoff && this.slotOff[slot]! >= 0) n++;
    }
    return n;
  }

  /** Whether a compaction should rewrite the file rather than append: mostly superseded lines. */
  get wasteful(): boolean {
    const waste = this.bytes - this.liveBytes;
    return waste > 64 * 1024 * 1024 && waste > this.liveBytes;
  }

  /** Takes the changes since the last compaction (between transactions). */
  picture(rewrite?: { cutoff: number }): SegmentPicture {
    const entries: SegmentPicture["entries"] = [];
    for (const [id, row] of this.dirty) entries.push([id, row, row ? this.rankOf(id)! : -1]);
    this.inflight = new Map(this.dirty);
    return { entries, rewrite };
  }

  /**
   * Writes a picture durably: appended to the segment, or a new segment file holding the live
   * rows (minus those retention drops) and the picture. Nothing in memory changes until `finish`,
   * which the caller runs once `state.json` names the returned ref.
   */
  async write(p: SegmentPicture): Promise<SegmentWrite> {
    const nothing = async () => undefined;
    if (!p.rewrite && p.entries.length === 0) {
      return { ref: this.handle ? { file: this.file, bytes: this.bytes } : undefined, finish: () => (this.inflight = undefined), abandon: nothing };
    }
    try {
      return p.rewrite || !this.handle ? await this.writeNew(p) : await this.append(p);
    } catch (err) {
      this.inflight = undefined;
      throw err;
    }
  }

  private async append(p: SegmentPicture): Promise<SegmentWrite> {
    const handle = this.handle!;
    const start = this.bytes;
    const placed: Array<[id: string, row: AnyRow | null, off: number, len: number]> = [];
    let pos = start;
    await writeLines(handle, start, linesOf(this.name, p.entries, (id, row, len) => {
      placed.push([id, row, pos, len]);
      pos += len;
    }));
    await handle.sync();
    return {
      ref: { file: this.file, bytes: pos },
      finish: () => {
        this.bytes = pos;
        this.settle(placed);
        this.inflight = undefined;
      },
      // lines past the committed length are overwritten by the next append (or cut off on open)
      abandon: async () => undefined,
    };
  }

  private async writeNew(p: SegmentPicture): Promise<SegmentWrite> {
    const generation = this.generation + 1;
    const file = segmentFileName(this.name, generation);
    const old = this.handle;
    const inPicture = new Set(p.entries.map(([id]) => id));
    // The live committed lines, oldest rank first, taken now: slots are reused while this runs.
    const lines = old
      ? [...this.slotOf.values()]
          .filter((s) => this.slotOff[s]! >= 0 && !inPicture.has(this.slotId[s]!))
          .sort((a, b) => this.slotRank[a]! - this.slotRank[b]!)
          .map((s) => ({ id: this.slotId[s]!, off: this.slotOff[s]!, len: this.slotLen[s]!, at: this.slotAt[s]! }))
      : [];
    const handle = await open(join(this.dir, file), "w+");
    const copied: Array<[id: string, off: number, len: number]> = [];
    const dropped: Array<[id: string, values: unknown[]]> = [];
    const placed: Array<[id: string, row: AnyRow | null, off: number, len: number]> = [];
    let pos = 0;
    try {
      if (old) {
        const cutoff = p.rewrite?.cutoff ?? -Infinity;
        const out: Buffer[] = [];
        let outBytes = 0;
        const flush = async () => {
          if (outBytes === 0) return;
          await writeLines(handle, pos - outBytes, [Buffer.concat(out, outBytes)]);
          out.length = 0;
          outBytes = 0;
        };
        for (const { id, off, len, at } of lines) {
          const buf = Buffer.allocUnsafe(len);
          await old.read(buf, 0, len, off);
          if (at >= 0 && at < cutoff) {
            const tab = buf.indexOf(0x09);
            dropped.push([id, (JSON.parse(buf.toString("utf8", 0, tab)) as unknown[]).slice(3)]);
            continue;
          }
          copied.push([id, pos, len]);
          out.push(buf);
          outBytes += len;
          pos += len;
          if (outBytes >= 4 << 20) await flush();
        }
        await flush();
      }
      // A fresh file needs no tombstones: nothing older in it.
      const fresh = p.entries.filter(([, row]) => row !== null);
      await writeLines(handle, pos, linesOf(this.name, fresh, (id, row, len) => {
        placed.push([id, row, pos, len]);
        pos += len;
      }));
      for (const [id, row] of p.entries) if (row === null) placed.push([id, null, -1, 0]);
      await handle.sync();
    } catch (err) {
      await handle.close().catch(() => undefined);
      await rm(join(this.dir, file), { force: true });
      throw err;
    }
    return {
      ref: { file, bytes: pos },
      finish: () => {
        this.handle = handle;
        this.generation = generation;
        this.bytes = pos;
        this.liveBytes = 0;
        // Every line of the old file is gone: rows it held are now in the new one, or dropped.
        for (const slot of this.slotOf.values()) this.slotOff[slot] = -1;
        for (const [id, off, len] of copied) {
          const slot = this.slotOf.get(id);
          if (slot !== undefined) this.place(slot, off, len);
          // deleted meanwhile: its line in the new file needs the tombstone `remove` queued
          else if (!this.dirty.has(id)) this.dirty.set(id, null);
        }
        for (const [id, values] of dropped) {
          const slot = this.slotOf.get(id);
          if (slot === undefined) {
            if (this.dirty.get(id) === null) this.dirty.delete(id); // no line left to tombstone
            continue;
          }
          if (this.dirty.has(id)) continue; // changed since: memory holds it, the next compaction writes it
          this.unindexValues(id, values);
          this.cache.delete(id);
          this.freeSlot(slot);
        }
        this.settle(placed);
        this.inflight = undefined;
        if (old) void old.close().then(() => rm(join(this.dir, segmentFileName(this.name, generation - 1)), { force: true })).catch(() => undefined);
      },
      abandon: async () => {
        await handle.close().catch(() => undefined);
        await rm(join(this.dir, file), { force: true }).catch(() => undefined);
      },
    };
  }

  private place(slot: number, off: number, len: number): void {
    this.slotOff[slot] = off;
    this.slotLen[slot] = len;
    this.liveBytes += len;
  }

  /** After a write is committed: rows unchanged since the picture are served from the segment now. */
  private settle(placed: Array<[id: string, row: AnyRow | null, off: number, len: number]>): void {
    for (const [id, row, off, len] of placed) {
      const current = this.dirty.get(id);
      const slot = this.slotOf.get(id);
      if (row === null) {
        if (current === null) this.dirty.delete(id);
        continue;
      }
      if (slot !== undefined) {
        if (this.slotOff[slot]! >= 0) this.liveBytes -= this.slotLen[slot]!;
        this.place(slot, off, len);
        if (current === row) {
          this.dirty.delete(id);
          this.remember(id, row);
        }
      } else if (current === undefined) {
        // deleted while it was written, and nothing is queued for it: its new line needs a tombstone
        this.dirty.set(id, null);
      }
    }
  }

  private addToBucket(buckets: Map<Key, string | string[]>, value: Key, id: string): void {
    const bucket = buckets.get(value);
    if (bucket === undefined) return void buckets.set(value, id);
    const ids = typeof bucket === "string" ? [bucket] : bucket;
    const rank = this.rankOf(id)!;
    // Usually the newest row: it goes at the end (ranks are unique, so it is not there yet).
    if (this.rankOf(ids[ids.length - 1]!)! < rank) {
      ids.push(id);
      if (typeof bucket === "string") buckets.set(value, ids);
      return;
    }
    if (ids.includes(id)) return;
    let at = ids.length;
    while (at > 0 && this.rankOf(ids[at - 1]!)! > rank) at--;
    ids.splice(at, 0, id);
    if (typeof bucket === "string") buckets.set(value, ids);
  }

  private dropFromBucket(buckets: Map<Key, string | string[]>, value: Key, id: string): void {
    const bucket = buckets.get(value);
    if (bucket === undefined) return;
    if (typeof bucket === "string") {
      if (bucket === id) buckets.delete(value);
      return;
    }
    const at = bucket.lastIndexOf(id);
    if (at >= 0) bucket.splice(at, 1);
    if (bucket.length === 1) buckets.set(value, bucket[0]!);
    else if (bucket.length === 0) buckets.delete(value);
  }

  /** A compaction that failed after `picture`: nothing it wrote counts. */
  abandon(): void {
    this.inflight = undefined;
  }

  async close(): Promise<void> {
    await this.handle?.close();
    this.handle = undefined;
  }
}

/** Segment lines of `entries` in ~1 MB buffers; `placed` learns each line's length in order. */
function* linesOf(name: SegmentCollection, entries: SegmentPicture["entries"], placed: (id: string, row: AnyRow | null, len: number) => void): Generator<Buffer> {
  let chunk = "";
  for (const [id, row, rank] of entries) {
    const line = row ? segmentLine(name, row, rank) : tombstoneLine(id);
    placed(id, row, Buffer.byteLength(line));
    chunk += line;
    if (chunk.length >= 1 << 20) {
      yield Buffer.from(chunk, "utf8");
      chunk = "";
    }
  }
  if (chunk) yield Buffer.from(chunk, "utf8");
}

async function writeLines(handle: FileHandle, at: number, chunks: Iterable<Buffer>): Promise<void> {
  let pos = at;
  for (const chunk of chunks) {
    for (let done = 0; done < chunk.length; ) {
      const { bytesWritten } = await handle.write(chunk, done, chunk.length - done, pos);
      if (bytesWritten <= 0) throw new AppError({ code: "store_unavailable", message: "segment write made no progress", httpStatus: 503, retryable: true });
      done += bytesWritten;
      pos += bytesWritten;
    }
  }
}

export type SegmentTables = { [K in SegmentCollection]: SegmentTable };
