// Builds dist/widget/bitrix24/: app.js (the iframe bundle of the installer page and the card tab,
// widget/src/hosts/bitrix24 + the preact core, with @bitrix24/b24jssdk's B24Frame), app.json (the
// app's description for the Bitrix24 vendor console) and INSTALL.md (what to enter where).
//
//   npx tsx scripts/build-bitrix24-app.ts [publicUrl]
//
// The backend serves app.js at /bitrix24/assets/app.js; the pages themselves come from the
// backend (POST /bitrix24/install, POST /bitrix24/placement), because Bitrix24 POSTs to them.
import { promises as fs } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import webpack from "webpack";
import type { Configuration, Stats } from "webpack";
import { createWebConfig, repoRoot } from "../webpack.config.js";

export interface BuildBitrix24Options {
  /** Where Bitrix24 reaches our backend (PUBLIC_URL): handler URLs in app.json and INSTALL.md. */
  publicUrl: string;
  /** Default dist/widget/bitrix24. */
  outDir?: string;
  version?: string;
}

const ENTRY = "widget/src/hosts/bitrix24/main.tsx";
/** Scopes the app asks for (bitrix24.md §1.10). */
export const B24_SCOPES = ["crm", "imopenlines", "imconnector", "im", "placement", "bizproc", "user_brief"];

function runWebpack(config: Configuration): Promise<Stats> {
  return new Promise((resolve, reject) => {
    const compiler = webpack(config);
    compiler.run((err, stats) => {
      compiler.close(() => {
        if (err) return reject(new Error(`Bitrix24 app: webpack failed: ${err.message}`, { cause: err }));
        if (!stats) return reject(new Error("Bitrix24 app: webpack returned no stats"));
        if (stats.hasErrors()) return reject(new Error(`Bitrix24 app: compile errors\n${stats.toString({ all: false, errors: true, colors: false })}`));
        resolve(stats);
      });
    });
  });
}

function normalizeUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (err) {
    throw new Error(`Bitrix24 app: publicUrl is not a URL: ${JSON.stringify(url)}`, { cause: err });
  }
  return `${parsed.origin}${parsed.pathname.replace(/\/+$/, "")}`;
}

/** app.js, minified; pure ASCII (the page may be served without a charset). */
async function buildBundle(): Promise<Buffer> {
  const tmp = await fs.mkdtemp(path.join(tmpdir(), "branchline-b24-"));
  try {
    const base = createWebConfig({ name: "app", entry: ENTRY }, { outDir: tmp, mode: "production" });
    await runWebpack({ ...base, output: { ...base.output, publicPath: "/bitrix24/assets/" } });
    return await fs.readFile(path.join(tmp, "app.js"));
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

/** What the vendor console asks for, as data (and the same as text in INSTALL.md). */
export function appDescription(publicUrl: string, version: string) {
  const base = normalizeUrl(publicUrl);
  return {
    name: "Branchline WhatsApp",
    version,
    type: "mass-market",
    scopes: B24_SCOPES,
    urls: {
      app: `${base}/bitrix24/install`,
      installer: `${base}/bitrix24/install`,
      events: `${base}/bitrix24/events`,
      robot: `${base}/bitrix24/robot`,
      placement: `${base}/bitrix24/placement`,
    },
    placements: ["CRM_LEAD_DETAIL_TAB", "CRM_DEAL_DETAIL_TAB"],
    events: ["ONIMCONNECTORMESSAGEADD", "ONIMCONNECTORSTATUSDELETE", "ONIMCONNECTORLINEDELETE", "ONAPPUNINSTALL"],
    robot: { code: "wa_send_template", properties: ["template", "phone", "vars"], returns: ["message_id", "status"] },
  };
}

function installNotes(d: ReturnType<typeof appDescription>): string {
  return `# Branchline WhatsApp — Bitrix24 app (version ${d.version})

A mass-market app: one client id/secret for every branch portal (BITRIX24_CLIENT_ID, BITRIX24_CLIENT_SECRET).

## In the vendor console (version card)

| field | value |
|---|---|
| App URL | ${d.urls.app} |
| Application installer URL | ${d.urls.installer} |
| Scopes | ${d.scopes.join(", ")} |

The installer page asks the portal administrator for the branch key, then registers, in this portal:
the Open Lines connector \`branchline_whatsapp\` (activated on the line "WhatsApp (Branchline)", created
with CRM linking if missing), the event handlers (${d.events.join(", ")} → ${d.urls.events}),
the card tabs (${d.placements.join(", ")} → ${d.urls.placement}) and the robot \`${d.robot.code}\`
(→ ${d.urls.robot}); then it finishes the installation. Opening the app again (or installing an update)
repeats this and leaves exactly one of each.

All pages and handlers must be reachable by Bitrix24 over HTTPS at ${d.urls.app.replace(/\/bitrix24\/install$/, "")}.
`;
}

/** Writes app.js, app.json and INSTALL.md (each atomically); returns the directory. */
export async function buildBitrix24App(opts: BuildBitrix24Options): Promise<string> {
  const version = opts.version ?? String(JSON.parse(await fs.readFile(path.join(repoRoot, "package.json"), "utf8")).version);
  const description = appDescription(opts.publicUrl, version);
  const bundle = await buildBundle();
  if (/[^\x00-\x7f]/.test(bundle.toString("latin1"))) throw new Error("Bitrix24 app: app.js is not pure ASCII");
  const outDir = path.resolve(opts.outDir ?? path.join(repoRoot, "dist", "widget", "bitrix24"));
  await fs.mkdir(outDir, { recursive: true });
  const files: Array<[string, Buffer | string]> = [
    ["app.js", bundle],
    ["app.json", `${JSON.stringify(description, null, 2)}\n`],
    ["INSTALL.md", installNotes(description)],
  ];
  for (const [name, data] of files) {
    const target = path.join(outDir, name);
    const tmp = `${target}.${process.pid}.tmp`;
    await fs.writeFile(tmp, data);
    await fs.rename(tmp, target);
  }
  return outDir;
}

// Allow `tsx scripts/build-bitrix24-app.ts [publicUrl]` directly.
if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const publicUrl = process.argv[2] ?? process.env.PUBLIC_URL ?? `http://localhost:${process.env.PORT || 3000}`;
  buildBitrix24App({ publicUrl }).then(
    (dir) => console.log(`Bitrix24 app: ${dir}`),
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : err);
      process.exitCode = 1;
    },
  );
}
