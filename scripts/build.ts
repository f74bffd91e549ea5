// `npm run build`: backend to dist/backend (esbuild, no bundling), web pages and widgets via webpack.
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { build } from "esbuild";
import { buildAmoWidget } from "./build-amocrm-widget.js";
import { buildWeb } from "./build-web.js";

async function sources(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await sources(path)));
    else if (entry.name.endsWith(".ts")) out.push(path);
  }
  return out;
}

await build({
  entryPoints: await sources("backend/src"),
  outdir: "dist/backend",
  platform: "node",
  format: "esm",
  target: "node20",
  sourcemap: true,
  logLevel: "warning",
});
await buildWeb();
console.log("built dist/backend and dist/web");
const amoZip = await buildAmoWidget({ backendUrl: process.env.PUBLIC_URL || `http://localhost:${process.env.PORT || 3000}` });
console.log(`built ${amoZip}`);
