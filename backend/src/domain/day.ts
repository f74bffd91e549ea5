/** UTC day of an epoch-ms time, `YYYY-MM-DD`: the unit of daily stats, quotas and retention. */
export const dayOf = (at: number): string => new Date(at).toISOString().slice(0, 10);
