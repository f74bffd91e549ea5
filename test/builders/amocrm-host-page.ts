import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A web page that plays amoCRM's lead card for our script.js (doc amocrm.md §1.4, §1.5): a minimal
 * AMD `define`/`require`, the `APP` global, a widget instance built the way amoCRM builds it (`new`
 * of the module's constructor, then the host methods attached to the instance) and the callbacks
 * called in amoCRM's order (render, then init and bind_actions). `self.$authorizedAjax` is `fetch`
 * plus `X-Auth-Token`, answering through a jQuery-like Deferred (done/fail/always/then).
 *
 * The page exposes `window.amoHost` for tests: `ready`, `ajax` (log), `openSettings()`,
 * `save(fields)` → `{ok, value|message}`, `openAdvanced()`, `destroy()`.
 */
export interface AmoHostPageOptions {
  scriptJs: string;
  /** The locale's i18n object (the archive's i18n/<lang>.json): `self.langs`, `self.i18n(key)`. */
  i18n: object;
  /** The X-Auth-Token every `$authorizedAjax` call carries. */
  token: string;
  account: { id: number; subdomain: string; amojo_id: string };
  /** `APP.data.current_card.id`; 0 = a "new lead" page. */
  leadId: number;
  lang?: string;
  /** Served as `<path>/style.css` (`get_settings().path`). */
  styleCss?: string;
  user?: { id: number; name: string; amojo_id?: string };
  /** Extra `get_settings()` values (e.g. a saved `branch_key`). */
  settings?: Record<string, unknown>;
  /** Listen on this port (0 = any). */
  port?: number;
}

export interface AmoHostPage {
  /** The lead card page. */
  url: string;
  /** `http://127.0.0.1:<port>`: what the backend must allow for CORS. */
  origin: string;
  close(): Promise<void>;
}

/** Runs in the page. Plain ES2020; `CFG` is injected as JSON. */
const HOST_JS = String.raw`
(function () {
  "use strict";
  var CFG = window.__AMO_HOST_CFG__;
  var pending = null;
  window.define = function (deps, factory) {
    if (typeof deps === "function") { factory = deps; deps = []; }
    pending = { deps: deps, factory: factory };
  };
  window.define.amd = { jQuery: true };
  window.require = function (paths, cb) {
    var el = document.createElement("script");
    el.src = paths[0];
    el.onload = function () {
      var mod = pending; pending = null;
      var deps = (mod.deps || []).map(function (d) {
        if (d === "jquery") throw new Error("this test host has no jQuery");
        throw new Error("unknown AMD dependency " + d);
      });
      cb(mod.factory.apply(null, deps));
    };
    el.onerror = function () { window.amoHost.error = "script.js failed to load"; };
    document.head.appendChild(el);
  };

  var account = CFG.account;
  window.APP = {
    lang_id: CFG.lang,
    data: { current_card: { id: CFG.leadId } },
    constant: function (name) {
      if (name === "account") return { id: account.id, subdomain: account.subdomain, amojo_id: account.amojo_id };
      if (name === "user") return CFG.user;
      if (name === "managers") { var m = {}; m[CFG.user.id] = { id: CFG.user.id, title: CFG.user.name }; return m; }
      return undefined;
    },
    getBaseEntity: function () { return "leads"; },
    getWidgetsArea: function () { return "leads_card"; },
    isCard: function () { return true; }
  };

  function deferred() {
    var handlers = { done: [], fail: [] };
    var state = "pending";
    var args = [];
    var d = {
      done: function (fn) { if (state === "resolved") fn.apply(null, args); else if (state === "pending") handlers.done.push(fn); return d; },
      fail: function (fn) { if (state === "rejected") fn.apply(null, args); else if (state === "pending") handlers.fail.push(fn); return d; },
      always: function (fn) { return d.done(fn).fail(fn); },
      then: function (ok, err) {
        return new Promise(function (resolve, reject) {
          d.done(function () { try { resolve(ok ? ok.apply(null, arguments) : arguments[0]); } catch (e) { reject(e); } });
          d.fail(function () { if (!err) { reject(arguments[0]); return; } try { resolve(err.apply(null, arguments)); } catch (e) { reject(e); } });
        });
      },
      state: function () { return state; }
    };
    function settle(s, list) { return function () { if (state !== "pending") return; state = s; args = arguments; list.forEach(function (fn) { fn.apply(null, args); }); }; }
    d.resolve = settle("resolved", handlers.done);
    d.reject = settle("rejected", handlers.fail);
    return d;
  }

  // jQuery.ajax semantics: object data is form-encoded (GET: into the query), contentType given = header sent.
  function authorizedAjax(opts) {
    var d = deferred();
    var method = String(opts.method || opts.type || "GET").toUpperCase();
    var url = opts.url;
    var body;
    if (opts.data !== undefined && opts.data !== null) {
      var encoded = typeof opts.data === "string" ? opts.data : new URLSearchParams(opts.data).toString();
      if (method === "GET") url += (url.indexOf("?") >= 0 ? "&" : "?") + encoded; else body = encoded;
    }
    var headers = { "X-Auth-Token": CFG.token };
    if (opts.contentType) headers["Content-Type"] = opts.contentType;
    var entry = { method: method, url: url, body: body, hasToken: true };
    window.amoHost.ajax.push(entry);
    fetch(url, { method: method, headers: headers, body: body }).then(function (res) {
      return res.text().then(function (text) {
        var json;
        try { json = text ? JSON.parse(text) : undefined; } catch (e) { json = undefined; }
        var xhr = { status: res.status, statusText: res.statusText, responseText: text, responseJSON: json };
        entry.status = res.status;
        if (res.ok && (opts.dataType !== "json" || json !== undefined)) d.resolve(json, "success", xhr);
        else d.reject(xhr, res.ok ? "parsererror" : "error", res.statusText);
      });
    }, function (err) {
      entry.status = 0;
      d.reject({ status: 0, statusText: "error", responseText: "" }, "error", String(err));
    });
    return d;
  }

  function at(obj, dotted) {
    return dotted.split(".").reduce(function (cur, k) { return cur && typeof cur === "object" ? cur[k] : undefined; }, obj);
  }

  function attachHost(self) {
    var settings = Object.assign({ widget_code: "branchline", path: CFG.path, version: CFG.version, active: "Y", status: "installed", images_path: CFG.path + "/images" }, CFG.settings);
    self.get_settings = function () { return settings; };
    self.set_settings = function (o) { Object.assign(settings, o); };
    self.get_version = function () { return settings.version; };
    self.get_install_status = function () { return "installed"; };
    self.langs = CFG.i18n;
    self.i18n = function (key) { return at(CFG.i18n, key); };
    self.system = function () { return { area: "lcard", amouser_id: CFG.user.id, amouser: CFG.user.name, subdomain: account.subdomain }; };
    self.render_template = function (data) {
      var block = document.createElement("div");
      block.className = "card-widgets__widget";
      block.setAttribute("data-code", settings.widget_code);
      var caption = document.createElement("div");
      caption.className = "card-widgets__widget__caption " + ((data.caption && data.caption.class_name) || "");
      caption.innerHTML = (data.caption && data.caption.html) || at(CFG.i18n, "widget.name") || "";
      var body = document.createElement("div");
      body.className = "card-widgets__widget__body";
      body.innerHTML = (data.body || "") + (data.render || "");
      block.appendChild(caption);
      block.appendChild(body);
      document.getElementById("widgets_block").appendChild(block);
    };
    self.$authorizedAjax = authorizedAjax;
  }

  window.amoHost = {
    ready: false,
    ajax: [],
    widget: null,
    openSettings: function () {
      var modal = document.getElementById("settings_modal");
      modal.hidden = false;
      modal.innerHTML = '<div class="widget_settings_block"><label>' + (at(CFG.i18n, "settings.branch_key") || "branch_key") +
        ' <input name="branch_key" type="password"></label></div>';
      return window.amoHost.widget.callbacks.settings([modal]);
    },
    save: function (fields) {
      var input = document.querySelector('input[name="branch_key"]');
      if (input && fields && fields.branch_key !== undefined) input.value = fields.branch_key;
      return Promise.resolve()
        .then(function () { return window.amoHost.widget.callbacks.onSave({ active: "Y", fields: fields }); })
        .then(function (value) { return { ok: value !== false, value: value }; }, function (err) { return { ok: false, message: err && err.message }; });
    },
    openAdvanced: function () {
      document.getElementById("list_page_holder").hidden = false;
      return window.amoHost.widget.callbacks.advancedSettings();
    },
    destroy: function () { return window.amoHost.widget.callbacks.destroy(); }
  };

  window.require([CFG.path + "/script.js?v=" + encodeURIComponent(CFG.version)], function (Widget) {
    var self = new Widget();
    attachHost(self);
    window.amoHost.widget = self;
    if (self.callbacks.render() === true) {
      self.callbacks.init();
      self.callbacks.bind_actions();
    }
    window.amoHost.ready = true;
  });
})();
`;

const PAGE_CSS = `
body { margin: 0; font: 14px Arial, sans-serif; background: #f5f5f5; }
.card { display: flex; min-height: 100vh; }
.feed { flex: 1; padding: 16px; }
#widgets_block { width: 300px; flex: 0 0 300px; background: #fff; border-left: 1px solid #ddd; padding: 10px; }
.card-widgets__widget__caption { font-weight: bold; padding: 6px 0; border-bottom: 1px solid #eee; margin-bottom: 6px; }
#settings_modal, #list_page_holder { position: fixed; top: 20px; left: 20px; width: 480px; background: #fff; border: 1px solid #999; padding: 12px; }
`;

/** `</script>`-safe JSON for an inline script. */
const inlineJson = (v: unknown) => JSON.stringify(v).replace(/</g, "\\u003c");

export async function startAmoHostPage(opts: AmoHostPageOptions): Promise<AmoHostPage> {
  let origin = "";
  const version = "test";
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    const send = (status: number, type: string, body: string) => {
      res.writeHead(status, { "content-type": `${type}; charset=utf-8`, "cache-control": "no-store" });
      res.end(body);
    };
    if (path === "/widget/script.js") return send(200, "application/javascript", opts.scriptJs);
    if (path === "/widget/style.css" && opts.styleCss !== undefined) return send(200, "text/css", opts.styleCss);
    if (path !== "/" && path !== "/leads/detail") return send(404, "text/plain", "not found");
    const cfg = {
      path: `${origin}/widget`,
      version,
      token: opts.token,
      account: opts.account,
      leadId: opts.leadId,
      lang: opts.lang ?? "en",
      i18n: opts.i18n,
      user: opts.user ?? { id: 87654321, name: "Manager", amojo_id: "b7a1f0c4-0000-4000-8000-000000000001" },
      settings: opts.settings ?? {},
    };
    send(
      200,
      "text/html",
      `<!doctype html><html lang="${cfg.lang}"><head><meta charset="utf-8"><title>amoCRM lead ${opts.leadId}</title><style>${PAGE_CSS}</style></head>` +
        `<body><div class="card"><div class="feed" id="card_feed">Lead #${opts.leadId}</div><div id="widgets_block"></div></div>` +
        `<div id="settings_modal" hidden></div><div id="list_page_holder" hidden></div>` +
        `<script>window.__AMO_HOST_CFG__ = ${inlineJson(cfg)};</script><script>${HOST_JS}</script></body></html>`,
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, "127.0.0.1", () => resolve());
  });
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: `${origin}/leads/detail`,
    origin,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

export { freePort } from "./http.js";
