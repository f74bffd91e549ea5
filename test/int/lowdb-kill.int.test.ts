import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { LowdbStore } from "../../backend/src/store/lowdb/lowdb.store.js";

/**
 * kill -9 of a process writing messages while compactions constantly move them into segment
 * files (tiny compactBytes): whatever `transact` acknowledged must be there after a restart,
 * with its index entries and order, and nothing else.
 */

const storeModule = resolve("backend/src/store/lowdb/lowdb.store.ts");
const WRITER = `
import { LowdbStore } from ${JSON.stringify(storeModule)};
const [dir, fromArg] = process.argv.slice(2);
const store = await LowdbStore.open({ dir, compactBytes: 30_000 });
const msg = (i, status) => ({ id: "m" + i, direction: "in", customerId: "cu-" + (i % 7), dialogId: "d" + (i % 5), wamid: "wamid." + i, kind: "text", text: "text " + i + " " + "x".repeat(200), status, sentAt: i, createdAt: i, updatedAt: i });
for (let i = Number(fromArg); ; i++) {
  await store.transact(async (tx) => {
    await tx.put("messages", msg(i, "received"));
    if (i >= 3) await tx.put("messages", msg(i - 3, "read"));
    await tx.put("payloads", { id: "p" + i, source: "whatsapp", raw: "{}", receivedAt: i });
    if (i >= 1) await tx.delete("payloads", "p" + (i - 1));
  });
  process.stdout.write("ack " + i + "\\n");
}
`;

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** Runs the writer from message `from` and kills it with SIGKILL after `ms`; returns the last acknowledged message. */
function runAndKill(script: string, dir: string, from: number, ms: number): Promise<number> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ["--import", "tsx", script, dir, String(from)], { stdio: ["ignore", "pipe", "pipe"] });
    let last = from - 1;
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      const lines = out.split("\n");
      out = lines.pop()!;
      for (const l of lines) if (l.startsWith("ack ")) last = Number(l.slice(4));
      // count time from the first acknowledgement: start-up (tsx) varies with the machine's load
      if (last >= from && !timer) timer = setTimeout(() => child.kill("SIGKILL"), ms);
    });
    let timer: NodeJS.Timeout | undefined;
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.on("exit", (_code, signal) => {
      if (timer) clearTimeout(timer);
      if (signal === "SIGKILL") done(last);
      else fail(new Error(`writer exited by itself: ${err.slice(-500)}`));
    });
  });
}

describe("LowdbStore: kill -9 while compactions move messages into segments", () => {
  it("after each of several kills every acknowledged message, update and delete is there, in order, and nothing more", async () => {
    const dir = await mkdtemp(join(tmpdir(), "branchline-lowdb-kill-"));
    dirs.push(dir);
    const script = join(dir, "..", `${dir.split("/").pop()}-writer.mts`);
    await writeFile(script, WRITER);
    dirs.push(script);
    let next = 0;
    for (const ms of [700, 350, 1100, 500]) {
      const acked = await runAndKill(script, dir, next, ms);
      expect(acked).toBeGreaterThanOrEqual(next); // it got some work done
      const store = await LowdbStore.open({ dir });
      try {
        const seen = await store.read(async (tx) => {
          const all = await tx.list("messages");
          const dialogs = await Promise.all([0, 1, 2, 3, 4].map((d) => tx.byIndex("messages", "dialogId", `d${d}`)));
          const newest = await tx.byIndex("messages", "dialogId", "d0", { newestFirst: true, limit: 2 });
          const byWamid = await tx.byIndex("messages", "wamid", `wamid.${acked}`);
          const payloads = await tx.list("payloads");
          return { all, dialogs, newest, byWamid, payloads };
        });
        // the last transaction may have become durable without its acknowledgement reaching us
        const count = seen.all.length;
        expect([acked + 1, acked + 2]).toContain(count);
        const ids = seen.all.map((m) => Number(m.id.slice(1)));
        expect(ids).toEqual(Array.from({ length: count }, (_, i) => i));
        for (const m of seen.all) expect(m.status).toBe(Number(m.id.slice(1)) < count - 3 ? "read" : "received");
        seen.dialogs.forEach((rows, d) => expect(rows.map((m) => Number(m.id.slice(1)))).toEqual(ids.filter((i) => i % 5 === d)));
        expect(seen.newest.map((m) => m.id)).toEqual(ids.filter((i) => i % 5 === 0).slice(-2).reverse().map((i) => `m${i}`));
        expect(seen.byWamid.map((m) => m.id)).toEqual([`m${acked}`]);
        expect(seen.payloads.map((p) => p.id)).toEqual([`p${count - 1}`]);
        next = count;
      } finally {
        // one process per directory: this check's instance is gone before the next writer starts
        await store.close();
      }
    }
    expect(next).toBeGreaterThan(20);
  }, 120_000);
});
