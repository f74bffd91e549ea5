import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A web page that plays the Bitrix24 portal around our iframe pages (bitrix24.md §1.3, §2.5):
 *
 * - the iframe is named `DOMAIN|PROTOCOL|APP_SID` (what `initializeB24Frame` reads from `window.name`),
 *   with DOMAIN = this page's own host, because the SDK only talks to the parent at that origin;
 * - a form POSTs the placement/installer fields into the iframe, `DOMAIN`, `PROTOCOL`, `LANG`,
 *   `APP_SID` in the query, as Bitrix24 does;
 * - the parent side of the SDK's postMessage protocol (`@bitrix24/b24jssdk` frame/message): the frame
 *   sends `command:params:callbackKey:appSid` to this origin; we answer `callbackKey:<json>` to the
 *   frame's origin. `getInitData` gets the scenario's init data, `refreshAuth` a fresh-looking auth,
 *   everything else (`setInstallFinish`, `resizeWindow`, …) an empty object. Every command is logged
 *   in `window.b24Host.commands` for assertions.
 */
export interface B24HostScenario {
  /** Our page: `${backend}/bitrix24/placement` or `${backend}/bitrix24/install`. */
  action: string;
  /** The form fields Bitrix24 POSTs (AUTH_ID, member_id, PLACEMENT, PLACEMENT_OPTIONS…). */
  fields: Record<string, string>;
  lang?: string;
  /** What the parent answers to `getInitData` (AUTH_ID, MEMBER_ID, PLACEMENT, INSTALL…); DOMAIN/PROTOCOL are added. */
  initData: Record<string, unknown>;
}

export interface B24HostPage {
  /** `http://127.0.0.1:<port>`: the "portal" origin the backend must allow in frame-ancestors. */
  origin: string;
  /** Registers a scenario and returns the URL of a page that runs it. */
  open(scenario: B24HostScenario): string;
  close(): Promise<void>;
}

/** Runs in the page. Plain ES2020; `CFG` is injected as JSON. */
const HOST_JS = String.raw`
(function () {
  "use strict";
  var CFG = window.__B24_HOST_CFG__;
  var host = (window.b24Host = { commands: [], ready: false });
  var frameName = CFG.domain + "|0|" + CFG.appSid;
  var frame = document.createElement("iframe");
  frame.name = frameName;
  frame.id = "app-frame";
  frame.style.width = "100%";
  frame.style.height = "1400px";
  frame.style.border = "0";
  document.body.appendChild(frame);

  window.addEventListener("message", function (event) {
    if (event.source !== frame.contentWindow || typeof event.data !== "string") return;
    var parts = event.data.split(":");
    var command = parts[0];
    var key = parts.length >= 3 ? parts[parts.length - 2] : parts[1];
    var params = parts.length > 3 ? parts.slice(1, -2).join(":") : "";
    host.commands.push({ command: command, params: params });
    var answer = {};
    if (command === "getInitData") answer = Object.assign({}, CFG.initData, { DOMAIN: CFG.domain, PROTOCOL: "0", LANG: CFG.lang, PATH: "/" });
    else if (command === "refreshAuth") answer = { AUTH_ID: CFG.initData.AUTH_ID, REFRESH_ID: CFG.initData.REFRESH_ID, AUTH_EXPIRES: "3600" };
    event.source.postMessage(key + ":" + JSON.stringify(answer), event.origin);
  });

  var query = new URLSearchParams({ DOMAIN: CFG.domain, PROTOCOL: "0", LANG: CFG.lang, APP_SID: CFG.appSid }).toString();
  var form = document.createElement("form");
  form.method = "POST";
  form.target = frameName;
  form.action = CFG.action + (CFG.action.indexOf("?") < 0 ? "?" : "&") + query;
  form.enctype = "application/x-www-form-urlencoded";
  Object.keys(CFG.fields).forEach(function (name) {
    var input = document.createElement("input");
    input.type = "hidden";
    input.name = name;
    input.value = CFG.fields[name];
    form.appendChild(input);
  });
  document.body.appendChild(form);
  form.submit();
  host.ready = true;
})();
`;

const embed = (v: unknown) => JSON.stringify(v).replace(/</g, "\\u003c");

export async function startB24HostPage(opts: { port?: number } = {}): Promise<B24HostPage> {
  const scenarios = new Map<string, B24HostScenario>();
  let origin = "";
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    const id = /^\/portal\/([a-f0-9]+)$/.exec(url.pathname)?.[1];
    const scenario = id ? scenarios.get(id) : undefined;
    if (!scenario) {
      res.statusCode = 404;
      res.end("no such scenario");
      return;
    }
    const cfg = { ...scenario, lang: scenario.lang ?? "en", domain: new URL(origin).host, appSid: randomBytes(16).toString("hex") };
    res.setHeader("content-type", "text/html; charset=utf-8");
    res.end(`<!doctype html><html><head><meta charset="utf-8"><title>Bitrix24 (test portal)</title></head>
<body style="margin:0;font:14px system-ui"><header style="padding:8px;background:#2fc6f6;color:#fff">CRM card</header>
<script>window.__B24_HOST_CFG__ = ${embed(cfg)};</script><script>${HOST_JS}</script></body></html>`);
  });
  await new Promise<void>((r) => server.listen(opts.port ?? 0, "127.0.0.1", () => r()));
  const { port } = server.address() as AddressInfo;
  origin = `http://127.0.0.1:${port}`;
  return {
    origin,
    open(scenario) {
      const id = randomBytes(8).toString("hex");
      scenarios.set(id, scenario);
      return `${origin}/portal/${id}`;
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
