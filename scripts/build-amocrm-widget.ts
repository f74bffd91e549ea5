// Builds the amoCRM marketplace archive dist/widget/amocrm/widget.zip (doc amocrm.md §1):
// manifest.json, script.js (AMD module bundling the preact panel), style.css, i18n/*.json and
// images/*.png drawn at build time — all at the ZIP root.
//
//   npx tsx scripts/build-amocrm-widget.ts [backendUrl]
//
// The i18n files' `panel` section is the core's default strings for that language overlaid with
// what manifests/amocrm/i18n/<lang>.json says under `panel` (amoCRM-specific wording).
import { promises as fs } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import webpack from "webpack";
import type { Configuration, Stats } from "webpack";
import { drawLogo, drawTourPanel, drawTourSalesbot, type Canvas } from "../manifests/amocrm/artwork.js";
import { panelStrings } from "../widget/src/core/strings.js";
import { PANEL_CSS } from "../widget/src/core/styles.js";
import { createWebConfig, repoRoot } from "../webpack.config.js";
import { encodePng } from "./png-writer.js";
import { createZip } from "./zip-writer.js";

export interface BuildAmoWidgetOptions {
  /** Where the widget reaches our backend (PUBLIC_URL), e.g. https://api.example.com. */
  backendUrl: string;
  /** Directory of widget.zip (default dist/widget/amocrm). */
  outDir?: string;
  /** widget.version (default: package.json version); bump on every upload. */
  version?: string;
}

export interface WidgetFile {
  name: string;
  data: Buffer;
}

const MANIFEST_DIR = path.join(repoRoot, "manifests", "amocrm");
const ENTRY = "widget/src/hosts/amocrm/main.ts";
const LIBRARY_VAR = "BranchlineAmoWidget";

/** Required logo sizes (doc §1.1). */
export const AMO_LOGOS: Readonly<Record<string, readonly [number, number]>> = {
  "logo_main.png": [400, 272],
  "logo_medium.png": [240, 84],
  "logo_min.png": [84, 84],
  "logo_small.png": [108, 108],
  "logo.png": [130, 100],
};
export const MAX_IMAGE_BYTES = 300 * 1024;

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Dotted paths of every leaf, sorted: two locales match when these lists are equal. */
export function keyPaths(value: Json, prefix = ""): string[] {
  if (value && typeof value === "object" && !Array.isArray(value)) {
    return Object.keys(value)
      .flatMap((k) => keyPaths(value[k]!, prefix ? `${prefix}.${k}` : k))
      .sort();
  }
  return [prefix];
}

export function lookup(obj: Json, dotted: string): Json | undefined {
  let cur: Json | undefined = obj;
  for (const part of dotted.split(".")) {
    if (!cur || typeof cur !== "object" || Array.isArray(cur)) return undefined;
    cur = cur[part];
  }
  return cur;
}

/** The i18n keys a manifest refers to (doc §1.2, §5.1). */
export function manifestI18nKeys(manifest: any): string[] {
  const keys = [manifest.widget?.name, manifest.widget?.description, manifest.widget?.short_description, manifest.tour?.tour_description, manifest.advanced?.title];
  for (const field of Object.values<any>(manifest.settings ?? {})) keys.push(field?.name);
  for (const [code, handler] of Object.entries<any>(manifest.salesbot_designer ?? {})) {
    if (code === "logo" || !handler || typeof handler !== "object") continue;
    keys.push(handler.name);
    for (const field of Object.values<any>(handler.settings ?? {})) keys.push(field?.name);
  }
  return keys.filter((k): k is string => typeof k === "string");
}

function normalizeText(text: string): string {
  return text.replace(/^\uFEFF/, "").replace(/\r\n?/g, "\n");
}

/** Non-ASCII characters as \uXXXX escapes: valid in JS strings, templates, regexes and identifiers alike. */
function asciiOnly(js: string): string {
  return js.replace(/[^\x00-\x7f]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

function runWebpack(config: Configuration): Promise<Stats> {
  return new Promise((resolve, reject) => {
    const compiler = webpack(config);
    compiler.run((err, stats) => {
      compiler.close(() => {
        if (err) return reject(new Error(`amoCRM widget: webpack failed: ${err.message}`, { cause: err }));
        if (!stats) return reject(new Error("amoCRM widget: webpack returned no stats"));
        if (stats.hasErrors()) return reject(new Error(`amoCRM widget: compile errors\n${stats.toString({ all: false, errors: true, colors: false })}`));
        resolve(stats);
      });
    });
  });
}

/** script.js: the AMD module. Not minified: amoCRM moderators read it (no obfuscation, doc §1.1). */
async function buildScript(backendUrl: string, version: string): Promise<string> {
  const tmp = await fs.mkdtemp(path.join(tmpdir(), "branchline-amo-"));
  try {
    const base = createWebConfig({ name: "script", entry: ENTRY }, { outDir: tmp, mode: "production" });
    await runWebpack({
      ...base,
      // A plain variable inside our own define([], function () {…}) wrapper (the shape of doc §1.4).
      output: { ...base.output, publicPath: "", library: { type: "var", name: LIBRARY_VAR, export: "default" } },
      optimization: { ...base.optimization, minimize: false },
      plugins: [
        new webpack.DefinePlugin({
          __BRANCHLINE_BACKEND_URL__: JSON.stringify(backendUrl),
          __BRANCHLINE_VERSION__: JSON.stringify(version),
        }),
      ],
    });
    const bundle = asciiOnly(normalizeText(await fs.readFile(path.join(tmp, "script.js"), "utf8"))).trim();
    const js = [
      "define([], function () {",
      "// Branchline: WhatsApp for franchise networks. Bundled from widget/src/hosts/amocrm (preact panel in widget/src/core).",
      bundle,
      `return ${LIBRARY_VAR};`,
      "});",
      "",
    ].join("\n");
    if (!js.startsWith("define(")) throw new Error("amoCRM widget: script.js is not an AMD define() module");
    if (/\beval\s*\(/.test(js)) throw new Error("amoCRM widget: script.js contains eval(");
    return js;
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

async function readJson(file: string): Promise<any> {
  return JSON.parse(normalizeText(await fs.readFile(file, "utf8")));
}

const jsonText = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;

function png(c: Canvas, name: string): Buffer {
  const data = encodePng(c.width, c.height, c.data);
  if (data.length > MAX_IMAGE_BYTES) throw new Error(`amoCRM widget: images/${name} is ${data.length} bytes (max ${MAX_IMAGE_BYTES})`);
  return data;
}

function tourImage(name: string): Canvas {
  if (/^tour_1_/.test(name)) return drawTourPanel();
  if (/^tour_2_/.test(name)) return drawTourSalesbot();
  throw new Error(`amoCRM widget: no drawing for tour image ${name}`);
}

function normalizeBackendUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (err) {
    throw new Error(`amoCRM widget: backendUrl is not a URL: ${JSON.stringify(url)}`, { cause: err });
  }
  if (parsed.protocol !== "https:" && parsed.protocol !== "http:") throw new Error(`amoCRM widget: backendUrl must be http(s): ${url}`);
  return `${parsed.origin}${parsed.pathname.replace(/\/+$/, "")}`;
}

/** Every file of the archive, validated (i18n keys, image sizes), in archive order. */
export async function buildAmoWidgetFiles(opts: BuildAmoWidgetOptions): Promise<WidgetFile[]> {
  const backendUrl = normalizeBackendUrl(opts.backendUrl);
  const version = opts.version ?? (await readJson(path.join(repoRoot, "package.json"))).version;
  const manifest = await readJson(path.join(MANIFEST_DIR, "manifest.json"));
  manifest.widget.version = String(version);

  const locales: string[] = manifest.widget.locale;
  const i18n: Record<string, Json> = {};
  for (const lang of locales) {
    const file = await readJson(path.join(MANIFEST_DIR, "i18n", `${lang}.json`));
    const defaults = panelStrings[lang as keyof typeof panelStrings];
    if (!defaults) throw new Error(`amoCRM widget: the panel has no strings for locale ${lang}`);
    const unknown = Object.keys(file.panel ?? {}).filter((k) => !(k in defaults));
    if (unknown.length) throw new Error(`amoCRM widget: i18n/${lang}.json panel has unknown keys: ${unknown.join(", ")}`);
    i18n[lang] = { ...file, panel: { ...defaults, ...file.panel } };
  }
  const [first, ...rest] = locales;
  const reference = keyPaths(i18n[first!]!).join("\n");
  for (const lang of rest) {
    if (keyPaths(i18n[lang]!).join("\n") !== reference) throw new Error(`amoCRM widget: i18n/${lang}.json and i18n/${first}.json differ in keys`);
  }
  for (const key of manifestI18nKeys(manifest)) {
    for (const lang of locales) {
      if (typeof lookup(i18n[lang]!, key) !== "string") throw new Error(`amoCRM widget: manifest key ${key} missing in i18n/${lang}.json`);
    }
  }

  const files: WidgetFile[] = [
    { name: "manifest.json", data: Buffer.from(jsonText(manifest)) },
    { name: "script.js", data: Buffer.from(await buildScript(backendUrl, String(version))) },
    { name: "style.css", data: Buffer.from(`${PANEL_CSS.trim()}\n`) },
  ];
  for (const lang of locales) files.push({ name: `i18n/${lang}.json`, data: Buffer.from(jsonText(i18n[lang])) });
  for (const [name, [w, h]] of Object.entries(AMO_LOGOS)) files.push({ name: `images/${name}`, data: png(drawLogo(w, h), name) });
  const tour = new Set<string>();
  for (const list of Object.values<string[]>(manifest.tour?.tour_images ?? {})) {
    for (const ref of list) tour.add(ref.replace(/^\/+/, ""));
  }
  for (const ref of tour) {
    if (!ref.startsWith("images/")) throw new Error(`amoCRM widget: tour image outside images/: ${ref}`);
    files.push({ name: ref, data: png(tourImage(path.posix.basename(ref)), ref) });
  }
  return files;
}

/** Writes widget.zip (atomically) and returns its path. */
export async function buildAmoWidget(opts: BuildAmoWidgetOptions): Promise<string> {
  const files = await buildAmoWidgetFiles(opts);
  const outDir = path.resolve(opts.outDir ?? path.join(repoRoot, "dist", "widget", "amocrm"));
  await fs.mkdir(outDir, { recursive: true });
  const target = path.join(outDir, "widget.zip");
  const tmp = `${target}.${process.pid}.tmp`;
  await fs.writeFile(tmp, createZip(files));
  await fs.rename(tmp, target);
  return target;
}

// Allow `tsx scripts/build-amocrm-widget.ts [backendUrl]` directly.
if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const backendUrl = process.argv[2] ?? process.env.PUBLIC_URL ?? `http://localhost:${process.env.PORT || 3000}`;
  buildAmoWidget({ backendUrl }).then(
    (zip) => console.log(`amoCRM widget: ${zip}`),
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : err);
      process.exitCode = 1;
    },
  );
}
