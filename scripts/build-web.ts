// Builds the browser bundles (dist/web/*.js) with webpack's Node API.
//
//   npx tsx -e "import('./scripts/build-web.ts').then(m=>m.buildWeb())"
//   npx tsx scripts/build-web.ts
//
// Bundles are compiled into a private temp dir and then renamed into dist/web, so a concurrent
// reader (another test worker, the running server) never sees a half-written file.
import { promises as fs } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import webpack from "webpack";
import type { Configuration, MultiStats } from "webpack";
import { bundleFileName, createWebConfigs, webEntries, webOutDir } from "../webpack.config.js";

export interface BuildWebOptions {
  /** Skip the build when every bundle already exists in dist/web. */
  onlyIfMissing?: boolean;
}

/** Absolute paths of the bundles this build produces. */
export function webBundlePaths(): string[] {
  return webEntries.map((e) => path.join(webOutDir, bundleFileName(e)));
}

async function allBundlesExist(): Promise<boolean> {
  const checks = await Promise.all(
    webBundlePaths().map(async (p) => {
      try {
        const st = await fs.stat(p);
        return st.isFile() && st.size > 0;
      } catch {
        return false;
      }
    }),
  );
  return checks.every(Boolean);
}

function runWebpack(configs: Configuration[]): Promise<MultiStats> {
  return new Promise((resolve, reject) => {
    let compiler: ReturnType<typeof webpack>;
    try {
      compiler = webpack(configs);
    } catch (err) {
      // Invalid configuration (schema validation) throws synchronously.
      reject(new Error(`web build: invalid webpack configuration: ${(err as Error).message}`));
      return;
    }
    compiler.run((err, stats) => {
      compiler.close((closeErr) => {
        if (err) return reject(new Error(`web build: webpack failed: ${err.message}`, { cause: err }));
        if (!stats) return reject(new Error("web build: webpack returned no stats"));
        if (stats.hasErrors()) {
          const details = stats.toString({ all: false, errors: true, errorDetails: true, colors: false });
          return reject(new Error(`web build: compile errors\n${details}`));
        }
        if (closeErr) return reject(new Error(`web build: ${closeErr.message}`, { cause: closeErr }));
        resolve(stats);
      });
    });
  });
}

let inFlight: Promise<void> | null = null;

export function buildWeb(opts: BuildWebOptions = {}): Promise<void> {
  // Concurrent callers in the same process share one build.
  if (inFlight) return inFlight;
  const p = (async () => {
    if (opts.onlyIfMissing && (await allBundlesExist())) return;
    await fs.mkdir(webOutDir, { recursive: true });
    const tmpDir = await fs.mkdtemp(path.join(webOutDir, ".tmp-build-"));
    try {
      const stats = await runWebpack(createWebConfigs({ outDir: tmpDir }));
      if (stats.hasWarnings()) {
        const text = stats.toString({ all: false, warnings: true, colors: false }).trim();
        if (text) console.warn(`web build: warnings\n${text}`);
      }
      for (const entry of webEntries) {
        const file = bundleFileName(entry);
        const from = path.join(tmpDir, file);
        try {
          await fs.access(from);
        } catch {
          throw new Error(`web build: expected bundle ${file} was not emitted`);
        }
        await fs.rename(from, path.join(webOutDir, file));
      }
    } finally {
      await fs.rm(tmpDir, { recursive: true, force: true });
    }
  })();
  inFlight = p;
  const clear = () => {
    if (inFlight === p) inFlight = null;
  };
  p.then(clear, clear);
  return p;
}

// Allow `tsx scripts/build-web.ts` directly.
if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const started = Date.now();
  buildWeb({ onlyIfMissing: process.argv.includes("--if-missing") }).then(
    () => console.log(`web build: ok in ${Date.now() - started} ms -> ${webBundlePaths().join(", ")}`),
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : err);
      process.exitCode = 1;
    },
  );
}
