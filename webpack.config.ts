// Webpack config for the browser bundles served by the backend under /assets/*.js.
//
// Every bundle is one named entry in `webEntries`; each becomes its own webpack config so a
// future entry (e.g. the amoCRM / Bitrix24 host scripts) can tweak its own output without
// affecting the pages. Run through scripts/build-web.ts (webpack Node API, no webpack-cli).
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";
import { EsbuildPlugin } from "esbuild-loader";
import type { Configuration } from "webpack";

const require = createRequire(import.meta.url);

export const repoRoot = path.dirname(fileURLToPath(import.meta.url));

/** Where the bundles land; the backend serves this directory at /assets/. */
export const webOutDir = path.join(repoRoot, "dist", "web");

export interface WebEntry {
  /** Bundle name: output file is `<name>.js`. */
  name: string;
  /** Entry module, relative to the repo root. */
  entry: string;
}

/** One line per bundle. Add `widget/src/hosts/amocrm`, `hosts/bitrix24` here later. */
export const webEntries: readonly WebEntry[] = [
  { name: "inbox", entry: "widget/src/pages/inbox/main.tsx" },
  { name: "sandbox", entry: "widget/src/pages/sandbox/main.tsx" },
  { name: "console", entry: "widget/src/pages/console/main.tsx" },
];

export interface WebConfigOptions {
  /** Output directory (default dist/web). build-web.ts builds into a temp dir, then renames. */
  outDir?: string;
  mode?: "production" | "development";
  /** Restrict to these entry names (default: all). */
  only?: readonly string[];
}

/** Target for both the transpiler and the minifier. */
const TARGET = "es2020";

export function bundleFileName(entry: WebEntry): string {
  return `${entry.name}.js`;
}

export function createWebConfig(entry: WebEntry, opts: WebConfigOptions = {}): Configuration {
  const mode = opts.mode ?? "production";
  return {
    name: entry.name,
    mode,
    context: repoRoot,
    target: ["web", TARGET],
    entry: { [entry.name]: path.join(repoRoot, entry.entry) },
    output: {
      path: opts.outDir ?? webOutDir,
      filename: "[name].js",
      publicPath: "/assets/",
      clean: false,
      // Each page is a single classic <script>; no runtime chunk, no async chunks.
      iife: true,
    },
    devtool: false,
    resolve: {
      extensions: [".tsx", ".ts", ".mjs", ".js"],
      // Sources import siblings as `./x.js` (NodeNext style); resolve those to the .ts/.tsx file.
      extensionAlias: {
        ".js": [".ts", ".tsx", ".js"],
        ".mjs": [".mts", ".mjs"],
      },
    },
    module: {
      rules: [
        {
          test: /\.[cm]?tsx?$/,
          exclude: /node_modules/,
          loader: require.resolve("esbuild-loader"),
          options: {
            loader: "tsx",
            target: TARGET,
            jsx: "automatic",
            jsxImportSource: "preact",
          },
        },
      ],
    },
    optimization: {
      minimize: mode === "production",
      // esbuild minifier: fast, and (charset ascii, its default) keeps the bundle pure ASCII,
      // so it decodes correctly even if the HTML shell / response carries no charset.
      minimizer: [new EsbuildPlugin({ target: TARGET, charset: "ascii" })],
      splitChunks: false,
      runtimeChunk: false,
    },
    performance: { hints: false },
    infrastructureLogging: { level: "error" },
    stats: "errors-warnings",
  };
}

export function createWebConfigs(opts: WebConfigOptions = {}): Configuration[] {
  const selected = opts.only ? webEntries.filter((e) => opts.only!.includes(e.name)) : webEntries;
  return selected.map((e) => createWebConfig(e, opts));
}

/** Webpack-style export: `(env, argv) => Configuration[]`. */
export default function webpackConfig(
  _env?: Record<string, unknown>,
  argv?: { mode?: string },
): Configuration[] {
  return createWebConfigs({ mode: argv?.mode === "development" ? "development" : "production" });
}
