import type { CollectionName, Store, Tx } from "./store.port.js";

/** Rows an item will read, loaded for the whole batch at once (`Tx.prefetch`). */
export type Reads = Array<[CollectionName, string]>;

interface Item {
  fn: (tx: Tx) => Promise<unknown>;
  reads?: Reads;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

/**
 * Runs small transactions together as ONE store transaction: those started within one tick, and
 * those started while the previous batch was committing (one batch at a time). A hot path that
 * commits a tiny change per item (the sender: an intent, then an outcome, per message) pays the
 * per-transaction cost once per batch instead: on the embedded store the serialising and tx
 * set-up, on PostgreSQL a BEGIN/COMMIT round trip and its fsync. One at a time also means the
 * batches never conflict with each other (on PostgreSQL, two concurrent batches touching
 * neighbouring index entries were each rolled back and re-run, over and over).
 *
 * Each function must be safe to run again (as any `transact` function already is on PostgreSQL,
 * which retries on serialization failures): when the batch fails, each item is run again alone, so
 * one item's error reaches only its caller.
 */
export class TransactBatcher {
  private pending: Item[] = [];
  private scheduled = false;
  private committing = false;

  constructor(
    private readonly store: Store,
    private readonly maxBatch = 200,
  ) {}

  run<T>(fn: (tx: Tx) => Promise<T>, reads?: Reads): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ fn, reads, resolve: resolve as (v: unknown) => void, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.committing) return;
    this.scheduled = true;
    // After the I/O callbacks of this tick: the answers that came together commit together.
    setImmediate(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    const batch = this.pending.splice(0, this.maxBatch);
    if (batch.length === 0) return;
    this.committing = true;
    try {
      await this.commit(batch);
    } finally {
      this.committing = false;
      if (this.pending.length > 0) this.schedule();
    }
  }

  private async commit(batch: Item[]): Promise<void> {
    if (batch.length === 1) return this.alone(batch[0]!);
    let results: unknown[];
    try {
      results = await this.store.transact(async (tx) => {
        await prefetch(tx, batch);
        const out: unknown[] = [];
        for (const item of batch) out.push(await item.fn(tx));
        return out;
      });
    } catch {
      for (const item of batch) await this.alone(item);
      return;
    }
    batch.forEach((item, i) => item.resolve(results[i]));
  }

  private alone(item: Item): Promise<void> {
    return this.store.transact(item.fn).then(item.resolve, item.reject);
  }
}

async function prefetch(tx: Tx, batch: Item[]): Promise<void> {
  if (!tx.prefetch) return;
  const ids = new Map<CollectionName, string[]>();
  for (const [collection, id] of batch.flatMap((item) => item.reads ?? [])) {
    let list = ids.get(collection);
    if (!list) ids.set(collection, (list = []));
    list.push(id);
  }
  for (const [collection, list] of ids) await tx.prefetch(collection, list);
}
