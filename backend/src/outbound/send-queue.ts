/**
 * Which queued message goes next through the shared number. Three classes in strict order —
 * replies in an open dialog, then automation and triggers, then campaigns — and inside a class the
 * branches take turns (round robin), so one branch's campaign cannot delay another branch's work.
 * Per recipient, messages leave in the order they were accepted.
 */
export const PRIORITIES = ["reply", "automation", "campaign"] as const;
export type Priority = (typeof PRIORITIES)[number];

export interface SendEntry {
  jobId: string;
  messageId: string;
  /** "" for network messages (the branch menu). */
  branchId: string;
  /** The customer id: pair rate and ordering are per recipient. */
  recipient: string;
  priority: Priority;
  runAt: number;
  seq: number;
  enqueuedAt: number;
}

/** How far into one branch's queue we look past recipients that must wait. */
const SCAN_DEPTH = 64;

class PriorityClass {
  readonly byBranch = new Map<string, SendEntry[]>();
  private turn = 0;

  add(e: SendEntry): void {
    let list = this.byBranch.get(e.branchId);
    if (!list) this.byBranch.set(e.branchId, (list = []));
    // Entries arrive in seq order; a retried entry goes back to its place.
    let i = list.length;
    while (i > 0 && list[i - 1]!.seq > e.seq) i--;
    list.splice(i, 0, e);
  }

  /** The first due entry, branches in turn; or the earliest time something becomes due. */
  pick(now: number, recipientFreeAt: (recipient: string) => number, blocked: Set<string>): { entry?: SendEntry; nextAt: number } {
    const branches = [...this.byBranch.keys()];
    let nextAt = Number.POSITIVE_INFINITY;
    for (let k = 0; k < branches.length; k++) {
      const index = (this.turn + k) % branches.length;
      const branchId = branches[index]!;
      const list = this.byBranch.get(branchId)!;
      for (let i = 0; i < list.length && i < SCAN_DEPTH; i++) {
        const e = list[i]!;
        if (blocked.has(e.recipient)) continue;
        const dueAt = Math.max(e.runAt, recipientFreeAt(e.recipient));
        if (dueAt <= now) {
          list.splice(i, 1);
          if (list.length === 0) this.byBranch.delete(branchId);
          this.turn = index + 1;
          return { entry: e, nextAt: now };
        }
        // Later messages to the same recipient wait behind this one.
        blocked.add(e.recipient);
        nextAt = Math.min(nextAt, dueAt);
      }
    }
    return { nextAt };
  }

  remove(jobId: string): boolean {
    for (const [branchId, list] of this.byBranch) {
      const i = list.findIndex((e) => e.jobId === jobId);
      if (i >= 0) {
        list.splice(i, 1);
        if (list.length === 0) this.byBranch.delete(branchId);
        return true;
      }
    }
    return false;
  }

  get size(): number {
    let n = 0;
    for (const list of this.byBranch.values()) n += list.length;
    return n;
  }
}

export class SendQueue {
  private readonly classes = new Map<Priority, PriorityClass>(PRIORITIES.map((p) => [p, new PriorityClass()]));
  private readonly jobs = new Set<string>();

  /** False when the job is already queued (a rescan found it again). */
  add(e: SendEntry): boolean {
    if (this.jobs.has(e.jobId)) return false;
    this.jobs.add(e.jobId);
    this.classes.get(e.priority)!.add(e);
    return true;
  }

  has(jobId: string): boolean {
    return this.jobs.has(jobId);
  }

  pick(now: number, recipientFreeAt: (recipient: string) => number): { entry?: SendEntry; nextAt: number } {
    let nextAt = Number.POSITIVE_INFINITY;
    // A recipient held back in a higher class holds back its lower-class messages too.
    const blocked = new Set<string>();
    for (const p of PRIORITIES) {
      const r = this.classes.get(p)!.pick(now, recipientFreeAt, blocked);
      if (r.entry) {
        this.jobs.delete(r.entry.jobId);
        return r;
      }
      nextAt = Math.min(nextAt, r.nextAt);
    }
    return { nextAt };
  }

  remove(jobId: string): void {
    if (!this.jobs.delete(jobId)) return;
    for (const c of this.classes.values()) if (c.remove(jobId)) return;
  }

  sizeOf(p: Priority): number {
    return this.classes.get(p)!.size;
  }

  get size(): number {
    return this.jobs.size;
  }
}
