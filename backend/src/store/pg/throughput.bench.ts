/**
 * Rough throughput of the PostgreSQL store, run by hand (not part of the tests):
 *   DATABASE_URL=postgres://… npx tsx backend/src/store/pg/throughput.bench.ts
 * Use an empty scratch database: it writes rows into `settings`, `jobs` and `dailyStats` and deletes them after.
 */
import { pino } from "pino";
import { PgStore } from "./pg.store.js";

const url = process.env.DATABASE_URL;
if (!url) throw new Error("set DATABASE_URL to a scratch database");
const seconds = Number(process.env.SECONDS_PER_CASE ?? 5);
// Counts serialization retries (the store logs each at debug).
let retries = 0;
const logger = pino({ level: "debug" }, { write: (line: string) => void (line.includes("conflicted") && retries++) });
const store = await PgStore.open({ url, poolSize: 16, logger });

/** Runs `body` in `workers` loops for SECONDS_PER_CASE; each call counts 1, or what it returns. */
async function measure(name: string, workers: number, body: (worker: number, i: number) => Promise<number | void>, unit = "tx/s"): Promise<void> {
  const until = Date.now() + seconds * 1000;
  let done = 0;
  retries = 0;
  await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      for (let i = 0; Date.now() < until; i++) {
        const n = await body(w, i); // awaited first: `done +=` would read `done` before the await
        done += n ?? 1;
      }
    }),
  );
  console.log(`${name.padEnd(52)} ${(done / seconds).toFixed(0).padStart(7)} ${unit}  (${retries} serialization retries)`);
}

const putGet = (w: number, i: number) =>
  store.transact(async (tx) => {
    await tx.put("settings", { id: `bench-${w}-${i % 100}`, value: { i, pad: "x".repeat(200) } });
    await tx.get("settings", `bench-${w}-${(i + 1) % 100}`);
  });

await measure("put+get, 1 caller", 1, putGet);
await measure("put+get, 16 concurrent callers (own rows)", 16, putGet);
await measure("read-increment-write of one row, 8 callers", 8, (_, i) =>
  store.transact(async (tx) => {
    const row = await tx.get("settings", "bench-counter");
    await tx.put("settings", { id: "bench-counter", value: ((row?.value as number) ?? 0) + 1 + 0 * i });
  }),
);
await measure("bump of one counter row (Tx.bump), 8 callers", 8, () =>
  store.transact((tx) => tx.bump("dailyStats", { id: "bench-counter|day", branchId: "bench-counter", day: "day" }, { inbound: 1 })),
);
let n = 0;
await measure("enqueue 1 job, 1 caller", 1, () =>
  store.transact(async (tx) => {
    await tx.enqueue({ id: `bench-job-${n++}`, queue: "bench", orderKey: `k${n % 50}`, payload: { n }, state: "pending", attempts: 0, runAt: 0, createdAt: 0, updatedAt: 0 });
  }).then(() => undefined),
);
await measure(
  "jobs claimed (≤8 a claim) and completed, 4 callers",
  4,
  async (w) => {
    const jobs = await store.transact((tx) => tx.claimJobs({ queues: ["bench"], now: Date.now(), limit: 8, leaseMs: 60_000, owner: `w${w}` }));
    await Promise.all(jobs.map((j) => store.transact((tx) => tx.delete("jobs", j.id))));
    return jobs.length;
  },
  "jobs/s",
);

await store.transact(async (tx) => {
  for (const row of await tx.list("settings")) if (row.id.startsWith("bench-")) await tx.delete("settings", row.id);
  for (const row of await tx.byIndex("jobs", "queue", "bench")) await tx.delete("jobs", row.id);
  await tx.delete("dailyStats", "bench-counter|day");
});
await store.close();
