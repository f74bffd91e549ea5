import { INDEXES, type CollectionName, type Collections } from "../store.port.js";
import { isSegmentCollection, type SegmentCollection } from "./segment-table.js";

export type AnyRow = { id: string };
type IndexFn = (row: never) => string | undefined;

/** One collection in memory: rows by id plus its declared secondary indexes. */
export class Table {
  readonly rows = new Map<string, AnyRow>();
  /** Insertion rank of each row: `rows` and every index bucket are kept in this order. */
  private readonly ranks = new Map<string, number>();
  private nextRank = 0;
  private readonly indexes = new Map<string, Map<string, Set<string>>>();
  private readonly indexFns: Array<[string, IndexFn]>;

  constructor(readonly name: CollectionName) {
    this.indexFns = Object.entries(INDEXES[name] as Record<string, IndexFn>);
    for (const [index] of this.indexFns) this.indexes.set(index, new Map());
  }

  get(id: string): AnyRow | undefined {
    return this.rows.get(id);
  }

  /** Inserts or replaces; `rank` puts a row back where it was (a rolled-back delete). */
  set(row: AnyRow, rank?: number): void {
    const old = this.rows.get(row.id);
    const appended = !old && rank === undefined;
    if (!old) this.ranks.set(row.id, rank ?? this.nextRank++);
    if (appended || old) this.rows.set(row.id, row);
    else this.placeRow(row);
    for (const [index, fn] of this.indexFns) {
      const key = fn as (r: AnyRow) => string | undefined;
      const value = key(row);
      const before = old ? key(old) : undefined;
      // An unchanged index value keeps its place: buckets are in first-insertion order.
      if (old && before === value) continue;
      const buckets = this.indexes.get(index)!;
      if (before !== undefined) dropFrom(buckets, before, row.id);
      if (value === undefined) continue;
      let bucket = buckets.get(value);
      if (!bucket) buckets.set(value, (bucket = new Set()));
      // A row that moves into a bucket (or comes back) takes its insertion-order place there.
      if (appended) bucket.add(row.id);
      else this.placeId(bucket, row.id);
    }
  }

  rankOf(id: string): number | undefined {
    return this.ranks.get(id);
  }

  remove(id: string): void {
    const old = this.rows.get(id);
    if (!old) return;
    this.unindex(old);
    this.rows.delete(id);
    this.ranks.delete(id);
  }

  ids(index: string, value: string): Set<string> | undefined {
    return this.indexes.get(index)?.get(value);
  }

  private unindex(row: AnyRow): void {
    for (const [index, fn] of this.indexFns) {
      const value = (fn as (r: AnyRow) => string | undefined)(row);
      if (value !== undefined) dropFrom(this.indexes.get(index)!, value, row.id);
    }
  }

  private placeId(bucket: Set<string>, id: string): void {
    const ids = [...bucket];
    const at = this.positionOf(ids, id);
    if (at === ids.length) return void bucket.add(id);
    ids.splice(at, 0, id);
    bucket.clear();
    for (const x of ids) bucket.add(x);
  }

  private placeRow(row: AnyRow): void {
    const entries = [...this.rows];
    const at = this.positionOf(entries.map(([id]) => id), row.id);
    entries.splice(at, 0, [row.id, row]);
    this.rows.clear();
    for (const [id, r] of entries) this.rows.set(id, r);
  }

  /** Where `id` goes among `ids` (ordered by rank); usually at the end. */
  private positionOf(ids: string[], id: string): number {
    const rank = this.ranks.get(id)!;
    let at = ids.length;
    while (at > 0 && this.ranks.get(ids[at - 1]!)! > rank) at--;
    return at;
  }
}

function dropFrom(buckets: Map<string, Set<string>>, value: string, id: string): void {
  const bucket = buckets.get(value);
  bucket?.delete(id);
  if (bucket?.size === 0) buckets.delete(value);
}

/** Collections kept whole in memory (the bulky ones live in segments: `segment-table.ts`). */
export type HotName = Exclude<CollectionName, SegmentCollection>;
export type Tables = { [K in HotName]: Table };

export function createTables(): Tables {
  const names = (Object.keys(INDEXES) as CollectionName[]).filter((n) => !isSegmentCollection(n));
  return Object.fromEntries(names.map((n) => [n, new Table(n)])) as Tables;
}

export type RowOf<K extends CollectionName> = Collections[K];
