/**
 * Top CPU hot spots of a `--cpu-prof` profile, with file:line in the TypeScript sources.
 *
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx bench/run.ts
 *   npx tsx bench/profile-summary.ts /tmp/prof/<largest>.cpuprofile [top=25] [callers-of=<text>]
 *
 * tsx runs sources minified to one line, so profile positions are columns of that line; they are
 * mapped back by repeating tsx's esbuild transform (same options) and reading its source map.
 * Lines are where each function starts. Only meaningful while the sources are unchanged.
 */
import { readFileSync } from "node:fs";
import { SourceMap } from "node:module";
import { fileURLToPath } from "node:url";
import { transformSync } from "esbuild";

interface CallFrame { functionName: string; url: string; lineNumber: number; columnNumber: number }
interface ProfileNode { id: number; callFrame: CallFrame; children?: number[] }
interface Profile { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] }

const [file, topArg, callersArg] = process.argv.slice(2);
if (!file) throw new Error("usage: bench/profile-summary.ts <file.cpuprofile> [top] [callers-of=<text>]");
const top = Number(topArg ?? 25);
const callersOf = callersArg?.replace(/^callers-of=/, "");
const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;
const root = fileURLToPath(new URL("..", import.meta.url));

const maps = new Map<string, SourceMap | null>();
function sourceMapFor(url: string): SourceMap | null {
  if (!maps.has(url)) {
    let map: SourceMap | null = null;
    try {
      const path = fileURLToPath(url);
      const out = transformSync(readFileSync(path, "utf8"), {
        target: `node${process.versions.node}`,
        loader: path.endsWith(".tsx") ? "tsx" : "ts",
        format: "esm",
        sourcemap: true,
        sourcesContent: false,
        minifyWhitespace: true,
        keepNames: true,
        sourcefile: path,
      });
      map = new SourceMap(JSON.parse(out.map));
    } catch {
      map = null;
    }
    maps.set(url, map);
  }
  return maps.get(url)!;
}

function label(frame: CallFrame): string {
  const name = frame.functionName || "(anonymous)";
  if (!frame.url) return name;
  const isProject = frame.url.startsWith("file://") && frame.url.includes("/backend/src/") || frame.url.includes("/bench/");
  let line = frame.lineNumber + 1;
  if (isProject && /\.tsx?$/.test(frame.url)) {
    const entry = sourceMapFor(frame.url)?.findEntry(frame.lineNumber, frame.columnNumber) as { originalLine?: number } | undefined;
    if (entry?.originalLine !== undefined) line = entry.originalLine + 1;
  }
  const where = frame.url.startsWith("file://") ? fileURLToPath(frame.url).replace(root, "") : frame.url;
  return `${name} ${where}:${line}`;
}

const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const selfByNode = new Map<number, number>();
let total = 0;
profile.samples.forEach((id, i) => {
  const dt = profile.timeDeltas[i] ?? 0;
  selfByNode.set(id, (selfByNode.get(id) ?? 0) + dt);
  total += dt;
});

const self = new Map<string, number>();
const inclusive = new Map<string, number>();
for (const [id, t] of selfByNode) {
  const key = label(byId.get(id)!.callFrame);
  self.set(key, (self.get(key) ?? 0) + t);
  const seen = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const k = label(byId.get(cur)!.callFrame);
    if (seen.has(k)) continue;
    seen.add(k);
    inclusive.set(k, (inclusive.get(k) ?? 0) + t);
  }
}

const pct = (t: number) => `${((t / total) * 100).toFixed(1).padStart(5)} %`;
const busy = total - [...self].filter(([k]) => k.startsWith("(idle)")).reduce((a, [, t]) => a + t, 0);
console.log(`profile ${file}: ${(total / 1e6).toFixed(1)} s sampled, ${(busy / 1e6).toFixed(1)} s busy`);
console.log(`\nself time (top ${top})`);
for (const [k, t] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(t)}  ${k}`);
console.log(`\ninclusive time, project code (top ${top})`);
const project = [...inclusive].filter(([k]) => /(backend\/src|bench)\//.test(k));
for (const [k, t] of project.sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(t)}  ${k}`);

if (callersOf) {
  // Where time spent in frames matching `callersOf` comes from: the chain of project callers above them.
  const chains = new Map<string, number>();
  for (const [id, t] of selfByNode) {
    const path: string[] = [];
    let hit = false;
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const k = label(byId.get(cur)!.callFrame);
      if (!hit) {
        hit = k.includes(callersOf);
        if (!hit) continue;
      }
      if (/(backend\/src|bench)\//.test(k) && path.at(-1) !== k) path.push(k);
      if (path.length === 4) break;
    }
    if (!hit) continue;
    const key = path.join("  <  ");
    chains.set(key, (chains.get(key) ?? 0) + t);
  }
  console.log(`\ncallers of "${callersOf}"`);
  for (const [k, t] of [...chains].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(t)}  ${k}`);
}
