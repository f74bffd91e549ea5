import { performance } from "node:perf_hooks";
import { FsyncJsonFile } from "../backend/src/store/lowdb/fsync-json-file.js";
import { Journal, type JournalBatch } from "../backend/src/store/lowdb/journal.js";
import { round, summarize, type LatencySummary } from "./stats.js";

/**
 * Bench-only timing of the embedded store's disk work, by wrapping two methods in this process:
 * `Journal.append` (one group commit: serialize, write, fdatasync) and `FsyncJsonFile.write`
 * (a compaction snapshot of the whole state). Nothing in the backend changes.
 */

export interface StoreWindow {
  groupCommits: number;
  /** Rows written per group commit (webhook bodies, jobs and the worker's writes together). */
  opsPerCommitMean: number;
  appendMs: LatencySummary;
  compactions: number;
  compactionMsTotal: number;
  compactionMsMax: number;
}

const appendMs: number[] = [];
let ops = 0;
const compactionMs: number[] = [];
let installed = false;

export function installStoreProbe(): void {
  if (installed) return;
  installed = true;
  const append = Journal.prototype.append;
  Journal.prototype.append = async function (this: Journal, batch: JournalBatch) {
    const t0 = performance.now();
    try {
      return await append.call(this, batch);
    } finally {
      appendMs.push(performance.now() - t0);
      ops += batch.ops.length;
    }
  };
  const write = FsyncJsonFile.prototype.write;
  FsyncJsonFile.prototype.write = async function <T>(this: FsyncJsonFile<T>, data: T) {
    const t0 = performance.now();
    try {
      return await write.call(this, data);
    } finally {
      compactionMs.push(performance.now() - t0);
    }
  };
}

/** Starts a window; the returned function gives the store's disk work since. */
export function storeWindow(): () => StoreWindow {
  const a0 = appendMs.length;
  const o0 = ops;
  const c0 = compactionMs.length;
  return () => {
    const appends = appendMs.slice(a0);
    const compactions = compactionMs.slice(c0);
    return {
      groupCommits: appends.length,
      opsPerCommitMean: appends.length ? round((ops - o0) / appends.length, 1) : 0,
      appendMs: summarize(appends),
      compactions: compactions.length,
      compactionMsTotal: round(compactions.reduce((x, y) => x + y, 0), 0),
      compactionMsMax: round(Math.max(0, ...compactions), 0),
    };
  };
}
