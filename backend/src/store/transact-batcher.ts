import type { Store, Tx } from "./store.port.js";

interface Item {
  fn: (tx: Tx) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

/**
 * Runs the small transactions started within one tick as ONE store transaction. A hot path that
 * commits a tiny change per item (the sender: an intent, then an outcome, per message) pays the
 * per-transaction cost once per batch instead: on the embedded store the serialising and tx
 * set-up, on PostgreSQL a BEGIN/COMMIT round trip and its fsync.
 *
 * Each function must be safe to run again (as any `transact` function already is on PostgreSQL,
 * which retries on serialization failures): when the batch fails, each item is run again alone, so
 * one item's error reaches only its caller.
 */
export class TransactBatcher {
  private pending: Item[] = [];
  private scheduled = false;

  constructor(
    private readonly store: Store,
    private readonly maxBatch = 200,
  ) {}

  run<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ fn, resolve: resolve as (v: unknown) => void, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // After the I/O callbacks of this tick: the answers that came together commit together.
    setImmediate(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    const batch = this.pending.splice(0, this.maxBatch);
    if (this.pending.length > 0) this.schedule();
    if (batch.length === 0) return;
    if (batch.length === 1) return this.alone(batch[0]!);
    let results: unknown[];
    try {
      results = await this.store.transact(async (tx) => {
        const out: unknown[] = [];
        for (const item of batch) out.push(await item.fn(tx));
        return out;
      });
    } catch {
      await Promise.all(batch.map((item) => this.alone(item)));
      return;
    }
    batch.forEach((item, i) => item.resolve(results[i]));
  }

  private alone(item: Item): Promise<void> {
    return this.store.transact(item.fn).then(item.resolve, item.reject);
  }
}
