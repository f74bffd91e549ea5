import type { Job } from "../domain/types.js";

/**
 * What flows and alerts leave for after their transaction commits: send jobs for the sender, and
 * whether the job runner should look for new jobs (timers, HTTP calls) now rather than at its
 * next poll.
 */
export interface WorkEffects {
  sends: Job[];
  wake: boolean;
}

export const noEffects = (): WorkEffects => ({ sends: [], wake: false });

export function mergeEffects(into: WorkEffects, more: WorkEffects | undefined): WorkEffects {
  if (more) {
    into.sends.push(...more.sends);
    into.wake ||= more.wake;
  }
  return into;
}
