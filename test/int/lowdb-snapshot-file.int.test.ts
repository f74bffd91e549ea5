import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { FsyncJsonFile } from "../../backend/src/store/lowdb/fsync-json-file.js";
import { LowdbStore } from "../../backend/src/store/lowdb/lowdb.store.js";

/**
 * `state.json` larger than V8's longest string must still open: past a size it is read as bytes
 * and parsed row by row. These tests force that path (threshold 0) on files the store wrote.
 */

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

const tricky = (i: number) => ({
  id: `c${i}`,
  name: `Quote " backslash \\ brackets ]}[{ colon: comma, tab\t newline\n ${"ё".repeat(i % 3)} 😀`,
  tags: i % 2 ? [] : [{}, [], null, true, false, -1.5e-7, [[i]]],
  nested: { deep: { deeper: [{ a: `}` }, { b: "\\\"" }] } },
});

describe("FsyncJsonFile: piecewise read of a large state.json", () => {
  it("reads back exactly what the store wrote, with every kind of JSON value and awkward strings", async () => {
    const dir = await mkdtemp(join(tmpdir(), "branchline-snapfile-"));
    dirs.push(dir);
    const store = await LowdbStore.open({ dir });
    await store.transact(async (tx) => {
      // more than 64 rows: the writer streams them one by one
      for (let i = 0; i < 150; i++) await tx.put("settings", { id: `s${i}`, value: tricky(i) });
      await tx.put("templates", { id: "t", metaId: "m", name: "n", language: "ru", status: "APPROVED", category: "UTILITY", parameterFormat: "POSITIONAL", components: [{ type: "BODY", text: "{{1}}" }], syncedAt: 1, updatedAt: 2 });
    });
    await store.close(); // writes state.json
    const file = join(dir, "state.json");
    const whole = JSON.parse(await readFile(file, "utf8")) as unknown;
    expect(await new FsyncJsonFile(file, 0).read()).toEqual(whole);

    // the rows themselves round-trip through the store
    const again = await LowdbStore.open({ dir });
    expect((await again.read((tx) => tx.list("settings"))).map((s) => s.value)).toEqual(Array.from({ length: 150 }, (_, i) => JSON.parse(JSON.stringify(tricky(i)))));
    await again.close();
  });

  it("refuses a cut-off file instead of returning part of it", async () => {
    const dir = await mkdtemp(join(tmpdir(), "branchline-snapfile-"));
    dirs.push(dir);
    const file = join(dir, "state.json");
    const text = JSON.stringify({ format: 2, seq: 1, jobSeq: 0, tables: { settings: [{ id: "a", value: "]" }, { id: "b", value: 2 }] } });
    await writeFile(file, text.slice(0, text.length - 10));
    await expect(new FsyncJsonFile(file, 0).read()).rejects.toThrow(SyntaxError);
    await writeFile(file, `${text} x`);
    await expect(new FsyncJsonFile(file, 0).read()).rejects.toThrow(SyntaxError);
    await writeFile(file, text);
    expect(await new FsyncJsonFile(file, 0).read()).toEqual(JSON.parse(text));
  });
});
