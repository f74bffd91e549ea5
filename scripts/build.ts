// `npm run build`: backend to dist/backend (esbuild, no bundling), web pages and widgets via webpack.
import { copyFile, mkdir, readdir } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { build } from "esbuild";
import { buildAmoWidget } from "./build-amocrm-widget.js";
import { buildWeb } from "./build-web.js";

async function sources(dir: string, ext: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await sources(path, ext)));
    else if (entry.name.endsWith(ext)) out.push(path);
  }
  return out;
}

await build({
  entryPoints: await sources("backend/src", ".ts"),
  outdir: "dist/backend",
  platform: "node",
  format: "esm",
  target: "node20",
  sourcemap: true,
  logLevel: "warning",
});
// Data files next to the code that reads them (e.g. the example flows).
for (const file of await sources("backend/src", ".json")) {
  const target = join("dist/backend", relative("backend/src", file));
  await mkdir(dirname(target), { recursive: true });
  await copyFile(file, target);
}
await buildWeb();
console.log("built dist/backend and dist/web");
const amoZip = await buildAmoWidget({ backendUrl: process.env.PUBLIC_URL || `http://localhost:${process.env.PORT || 3000}` });
console.log(`built ${amoZip}`);
console.log(`built ${await (await import("./build-bitrix24-app.js")).buildBitrix24App({ publicUrl: process.env.PUBLIC_URL || `http://localhost:${process.env.PORT || 3000}` })}`); // Bitrix24 app (issue 5)
