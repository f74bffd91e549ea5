import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runInNewContext } from "node:vm";
import yauzl from "yauzl";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildAmoWidget } from "../../scripts/build-amocrm-widget.js";
import { panelStrings } from "../../widget/src/core/strings.js";

const BACKEND = "https://wa.example.com";
const VERSION = "3.4.5";

/** Every entry of the archive: name → bytes (the way amoCRM's uploader unpacks it). */
function readZip(path: string): Promise<Map<string, Buffer>> {
  return new Promise((resolve, reject) => {
    yauzl.open(path, { lazyEntries: true }, (err, zip) => {
      if (err || !zip) return reject(err ?? new Error("no zip"));
      const files = new Map<string, Buffer>();
      zip.on("error", reject);
      zip.on("end", () => resolve(files));
      zip.on("entry", (entry: yauzl.Entry) => {
        zip.openReadStream(entry, (e, stream) => {
          if (e || !stream) return reject(e ?? new Error("no stream"));
          const chunks: Buffer[] = [];
          stream.on("data", (c: Buffer) => chunks.push(c));
          stream.on("error", reject);
          stream.on("end", () => {
            files.set(entry.fileName, Buffer.concat(chunks));
            zip.readEntry();
          });
        });
      });
      zip.readEntry();
    });
  });
}

function leafPaths(value: unknown, prefix = ""): string[] {
  if (value && typeof value === "object" && !Array.isArray(value)) {
    return Object.entries(value).flatMap(([k, v]) => leafPaths(v, prefix ? `${prefix}.${k}` : k));
  }
  return [prefix];
}

function at(obj: unknown, dotted: string): unknown {
  return dotted.split(".").reduce<unknown>((cur, k) => (cur && typeof cur === "object" ? (cur as Record<string, unknown>)[k] : undefined), obj);
}

const LOGOS: Record<string, [number, number]> = {
  "images/logo_main.png": [400, 272],
  "images/logo_medium.png": [240, 84],
  "images/logo_min.png": [84, 84],
  "images/logo_small.png": [108, 108],
  "images/logo.png": [130, 100],
};

describe("amoCRM widget.zip", () => {
  let dir: string;
  let zipPath: string;
  let files: Map<string, Buffer>;
  let manifest: any;
  let i18n: Record<string, any>;
  const text = (name: string) => files.get(name)!.toString("utf8");

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "branchline-amo-zip-"));
    zipPath = await buildAmoWidget({ backendUrl: `${BACKEND}/`, outDir: dir, version: VERSION });
    files = await readZip(zipPath);
    manifest = JSON.parse(text("manifest.json"));
    i18n = { ru: JSON.parse(text("i18n/ru.json")), en: JSON.parse(text("i18n/en.json")) };
  }, 120_000);
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("is widget.zip with every file at the root of the archive", () => {
    expect(zipPath).toBe(join(dir, "widget.zip"));
    const names = [...files.keys()].sort();
    const tour = Object.values<string[]>(manifest.tour.tour_images).flat().map((p) => p.replace(/^\//, ""));
    expect(names).toEqual(["manifest.json", "script.js", "style.css", "i18n/ru.json", "i18n/en.json", ...Object.keys(LOGOS), ...tour].sort());
    for (const name of names) expect(name.split("/")[0], name).toMatch(/^(manifest\.json|script\.js|style\.css|i18n|images)$/);
  });

  it("has the manifest amoCRM expects", () => {
    expect(manifest.widget).toEqual({
      name: "widget.name",
      description: "widget.description",
      short_description: "widget.short_description",
      version: VERSION,
      interface_version: 2,
      init_once: false,
      locale: ["ru", "en"],
      installation: true,
      support: { link: expect.stringMatching(/^https:\/\//), email: expect.stringContaining("@") },
    });
    expect(manifest.locations).toEqual(["settings", "advanced_settings", "lcard-1", "salesbot_designer"]);
    expect(manifest.tour).toMatchObject({ is_tour: true, tour_description: "widget.tour_description" });
    expect(Object.keys(manifest.tour.tour_images).sort()).toEqual(["en", "ru"]);
    for (const list of Object.values<string[]>(manifest.tour.tour_images)) {
      expect(list.length).toBeGreaterThan(0);
      for (const img of list) expect(files.has(img.replace(/^\//, "")), img).toBe(true);
    }
    expect(manifest.settings).toEqual({ branch_key: { name: "settings.branch_key", type: "pass", required: true } });
    expect(manifest.advanced).toEqual({ title: "advanced.title" });
    const step = manifest.salesbot_designer.send_wa_template;
    expect(manifest.salesbot_designer.logo).toMatch(/images\/logo_min\.png$/);
    expect(step.name).toBe("salesbot.send_wa_template");
    expect(step.settings.template).toEqual({ name: "salesbot.template", type: "text", manual: true });
    expect(step.settings.language).toEqual({ name: "salesbot.language", type: "text", manual: true, default_value: "ru" });
    expect(step.settings.params).toEqual({ name: "salesbot.params", type: "text", manual: true });
  });

  it("has every i18n key the manifest and the panel use, in both locales, with the same key structure", () => {
    const keys = [
      manifest.widget.name,
      manifest.widget.description,
      manifest.widget.short_description,
      manifest.tour.tour_description,
      manifest.advanced.title,
      ...Object.values<any>(manifest.settings).map((f) => f.name),
      manifest.salesbot_designer.send_wa_template.name,
      ...Object.values<any>(manifest.salesbot_designer.send_wa_template.settings).map((f) => f.name),
      // read by script.js
      "salesbot.success",
      "salesbot.fail",
      "settings.saved",
      "settings.save_failed",
      "settings.key_required",
      ...Object.keys(panelStrings.en).map((k) => `panel.${k}`),
    ];
    for (const lang of ["ru", "en"]) {
      for (const key of keys) expect(typeof at(i18n[lang], key), `${lang}: ${key}`).toBe("string");
    }
    expect(leafPaths(i18n.ru).sort()).toEqual(leafPaths(i18n.en).sort());
    expect(i18n.ru.panel.notBound).toContain("amoCRM");
    expect(i18n.ru.panel.send).toBe("Отправить");
  });

  it("has images of the required sizes, each at most 300 KB", () => {
    const images = [...files.keys()].filter((n) => n.startsWith("images/"));
    expect(images.length).toBeGreaterThanOrEqual(Object.keys(LOGOS).length + 2);
    for (const name of images) {
      const png = files.get(name)!;
      expect(png.subarray(0, 8).toString("hex"), name).toBe("89504e470d0a1a0a");
      expect(png.subarray(12, 16).toString("ascii"), name).toBe("IHDR");
      expect(png.length, name).toBeLessThanOrEqual(300 * 1024);
      const size = [png.readUInt32BE(16), png.readUInt32BE(20)];
      if (LOGOS[name]) expect(size, name).toEqual(LOGOS[name]);
      else expect(size[0]! * size[1]!, name).toBeGreaterThan(0);
    }
  });

  it("has UTF-8 text files without BOM or CRLF", () => {
    for (const name of ["manifest.json", "script.js", "style.css", "i18n/ru.json", "i18n/en.json"]) {
      const bytes = files.get(name)!;
      expect(bytes.subarray(0, 3).toString("hex"), name).not.toBe("efbbbf");
      expect(bytes.includes("\r"), name).toBe(false);
      expect(new TextDecoder("utf-8", { fatal: true }).decode(bytes).length, name).toBeGreaterThan(0);
    }
  });

  it("has a script.js that is an AMD module with no eval, bound to the backend URL", () => {
    const js = text("script.js");
    expect(js.startsWith("define(")).toBe(true);
    expect(js).not.toMatch(/\beval\s*\(/);
    expect(js).not.toMatch(/\b(alert|confirm)\s*\(/);
    expect(js).not.toContain("<script");
    expect(js).toContain(JSON.stringify(BACKEND));
  });

  it("scopes every style.css rule under the widget root class", () => {
    const css = text("style.css").replace(/\/\*[\s\S]*?\*\//g, "");
    const selectors = [...css.matchAll(/([^{}]+)\{[^{}]*\}/g)].flatMap((m) => m[1]!.split(",").map((s) => s.trim()));
    expect(selectors.length).toBeGreaterThan(10);
    for (const s of selectors) expect(s).toMatch(/^\.branchline-widget(\b|__)/);
  });

  it("defines a widget constructor whose callbacks amoCRM can call", () => {
    let deps: unknown;
    let factory: (() => unknown) | undefined;
    const define = (d: unknown, f: () => unknown) => {
      deps = d;
      factory = f;
    };
    runInNewContext(text("script.js"), { define, URLSearchParams, setTimeout, clearTimeout, console });
    expect(deps).toEqual([]);
    const Widget = factory!() as new () => any;
    const widget = new Widget();
    // amoCRM attaches its methods to the instance after `new`.
    widget.i18n = (key: string) => i18n.en[key];
    widget.$authorizedAjax = () => {
      throw new Error("no backend call expected");
    };
    expect(widget.callbacks.render()).toBe(true); // not in a lead card: nothing to mount
    expect(widget.callbacks.init()).toBe(true);
    expect(widget.callbacks.bind_actions()).toBe(true);
    expect(widget.callbacks.salesbotDesignerSettings()).toEqual({ exits: [{ code: "success", title: "Sent" }, { code: "fail", title: "Not sent" }] });
    const bot = JSON.parse(widget.callbacks.onSalesbotDesignerSave("send_wa_template", { template: "order_ready", language: "ru", params: "{{contact.name}}\n{{lead.cf.123}}" }));
    expect(bot[0].question[0]).toEqual({
      handler: "widget_request",
      params: {
        url: `${BACKEND}/amocrm/salesbot`,
        data: { template: "order_ready", language: "ru", params: ["{{contact.name}}", "{{lead.cf.123}}"], lead_id: "{{lead.id}}", contact_id: "{{contact.id}}" },
      },
    });
  });
});
