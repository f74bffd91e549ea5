// The amoCRM widget object: the constructor amoCRM `new`s from script.js (doc amocrm.md §1.4).
// Host methods (get_settings, i18n, render_template, $authorizedAjax) are attached by amoCRM
// after construction, so they are only used inside callbacks.
import {
  fill,
  mountAccountStatus,
  mountLeadPanel,
  PANEL_CSS,
  PANEL_ROOT_CLASS,
  resolveStrings,
  unmount,
  type PanelApi,
} from "../../core/index.js";
import { errorText } from "../../core/LeadPanel.js";
import { amoPanelApi } from "./amo-api.js";
import type { AmoApp, AmoNodeLike, AmoWidgetSelf } from "./amo.types.js";
import { salesbotBotJson } from "./salesbot.js";

export interface AmoWidgetConfig {
  /** Our backend's origin (+ optional path), without a trailing slash. */
  backendUrl: string;
  version: string;
}

export type AmoWidgetConstructor = new () => AmoWidgetSelf;

const ROOT = PANEL_ROOT_CLASS;
const STYLE_ID = "branchline-widget-css";
const MOUNT_TRIES = 40;
const MOUNT_RETRY_MS = 50;

function app(): AmoApp | undefined {
  return (globalThis as { APP?: AmoApp }).APP;
}

/** The lead id when the current area is a saved lead's card (0 on "new lead" pages). */
function currentLeadId(): number {
  const a = app();
  if (!a || a.getBaseEntity?.() !== "leads") return 0;
  const card = a.data?.current_card;
  const id = card ? Number(card.id) : 0;
  return Number.isInteger(id) && id > 0 ? id : 0;
}

function firstElement(node: AmoNodeLike): HTMLElement | null {
  if (!node) return null;
  if (typeof Element !== "undefined" && node instanceof Element) return node as HTMLElement;
  const first = (node as { [index: number]: unknown })[0];
  return typeof Element !== "undefined" && first instanceof Element ? (first as HTMLElement) : null;
}

function text(section: unknown, key: string, fallback: string): string {
  const v = section && typeof section === "object" ? (section as Record<string, unknown>)[key] : undefined;
  return typeof v === "string" && v ? v : fallback;
}

export function createAmoWidget(config: AmoWidgetConfig): AmoWidgetConstructor {
  const backend = config.backendUrl.replace(/\/+$/, "");

  function AmoWidget(this: AmoWidgetSelf): AmoWidgetSelf {
    const self = this;
    const mounted = new Set<Element>();
    let settingsMessage: HTMLElement | null = null;
    let settingsStatus: HTMLElement | null = null;
    let revision = 0;

    const lang = () => app()?.lang_id || "en";
    const i18n = (key: string): unknown => {
      try {
        const v = self.i18n?.(key);
        if (v !== undefined && v !== null && v !== key) return v;
      } catch {
        // fall through to langs
      }
      return self.langs?.[key];
    };
    const strings = () => resolveStrings(lang(), i18n("panel"));
    const api = (): PanelApi => amoPanelApi((o) => self.$authorizedAjax(o), `${backend}/amocrm/widget`);
    const settings = (): Record<string, unknown> => {
      try {
        return self.get_settings?.() ?? {};
      } catch {
        return {};
      }
    };

    // The archive's style.css (scoped under the root class); inline copy when the path is unknown.
    const ensureStyles = () => {
      if (document.getElementById(STYLE_ID)) return;
      const s = settings();
      const path = typeof s.path === "string" ? s.path.replace(/\/+$/, "") : "";
      if (path) {
        const link = document.createElement("link");
        link.id = STYLE_ID;
        link.rel = "stylesheet";
        link.type = "text/css";
        link.href = `${path}/style.css?v=${encodeURIComponent(String(s.version ?? config.version))}`;
        document.head.appendChild(link);
      } else {
        const style = document.createElement("style");
        style.id = STYLE_ID;
        style.textContent = PANEL_CSS;
        document.head.appendChild(style);
      }
    };

    const mountPanel = (leadId: number, tries = 0) => {
      const el = document.querySelector(`.${ROOT}__root[data-lead-id="${leadId}"]`);
      if (!el) {
        // render_template may insert the block after returning.
        if (tries < MOUNT_TRIES) setTimeout(() => mountPanel(leadId, tries + 1), MOUNT_RETRY_MS);
        return;
      }
      if (mounted.has(el)) return;
      mounted.add(el);
      mountLeadPanel(el, { api: api(), strings: strings(), leadId, lang: lang() });
    };

    const showSettingsMessage = (message: string, ok: boolean) => {
      if (!settingsMessage) return;
      settingsMessage.className = ok ? "blw-ok" : "blw-error";
      settingsMessage.setAttribute("role", ok ? "status" : "alert");
      settingsMessage.textContent = message;
    };

    const remountSettingsStatus = () => {
      if (settingsStatus) mountAccountStatus(settingsStatus, { api: api(), strings: strings(), compact: true, revision: ++revision });
    };

    this.callbacks = {
      render(): boolean {
        const leadId = currentLeadId();
        if (!leadId) return true;
        ensureStyles();
        const existing = document.querySelector(`.${ROOT}__root[data-lead-id="${leadId}"]`);
        if (existing && mounted.has(existing)) return true;
        if (!existing) {
          self.render_template?.({
            caption: { class_name: `${ROOT}__caption` },
            body: `<div class="${ROOT} ${ROOT}__root" data-lead-id="${leadId}"></div>`,
            render: "",
          });
        }
        mountPanel(leadId);
        return true;
      },
      init(): boolean {
        return true;
      },
      bind_actions(): boolean {
        return true;
      },
      settings($modal: AmoNodeLike): boolean {
        const body = firstElement($modal);
        if (!body) return true;
        ensureStyles();
        if (settingsStatus) unmount(settingsStatus); // the modal was opened again
        const box = document.createElement("div");
        box.className = `${ROOT} ${ROOT}__settings`;
        settingsStatus = document.createElement("div");
        settingsMessage = document.createElement("div");
        settingsMessage.setAttribute("data-testid", "settings-message");
        box.appendChild(settingsStatus);
        box.appendChild(settingsMessage);
        body.appendChild(box);
        remountSettingsStatus();
        return true;
      },
      onSave(data?: { active?: string; fields?: Record<string, unknown> }): Promise<boolean> | boolean {
        if (data?.active === "N") return true; // disabling the widget: nothing to register
        const t = i18n("settings");
        const input = document.querySelector<HTMLInputElement>('input[name="branch_key"]');
        const key = String(data?.fields?.branch_key ?? input?.value ?? settings().branch_key ?? "").trim();
        if (!key) {
          const msg = text(t, "key_required", "Enter the branch key");
          showSettingsMessage(msg, false);
          return Promise.reject(new Error(msg));
        }
        return new Promise<boolean>((resolve, reject) => {
          api()
            .request<{ branch?: { name?: string } }>("POST", "register", { body: { branch_key: key } })
            .then(
              (r) => {
                showSettingsMessage(fill(text(t, "saved", "Bound to branch {name}"), { name: r?.branch?.name ?? "" }), true);
                remountSettingsStatus();
                resolve(true);
              },
              (err: unknown) => {
                const msg = errorText(err, text(t, "save_failed", "The branch key was not accepted"));
                showSettingsMessage(msg, false);
                reject(new Error(msg));
              },
            );
        });
      },
      destroy(): void {
        for (const el of mounted) unmount(el);
        mounted.clear();
        if (settingsStatus) unmount(settingsStatus);
        settingsStatus = null;
        settingsMessage = null;
      },
      advancedSettings(): boolean {
        const holder = document.getElementById("list_page_holder");
        if (!holder) return true;
        ensureStyles();
        const adv = i18n("advanced");
        const box = document.createElement("div");
        box.className = `${ROOT} ${ROOT}__advanced`;
        const title = document.createElement("h2");
        title.textContent = text(adv, "title", "WhatsApp");
        const status = document.createElement("div");
        const hint = document.createElement("p");
        hint.className = "blw-muted";
        hint.textContent = text(adv, "hint", "");
        box.append(title, status, hint);
        holder.appendChild(box);
        mounted.add(status);
        mountAccountStatus(status, { api: api(), strings: strings() });
        return true;
      },
      salesbotDesignerSettings(): { exits: { code: string; title: string }[] } {
        const sb = i18n("salesbot");
        return {
          exits: [
            { code: "success", title: text(sb, "success", "Sent") },
            { code: "fail", title: text(sb, "fail", "Failed") },
          ],
        };
      },
      onSalesbotDesignerSave(handlerCode: string, params: unknown): string {
        return salesbotBotJson(handlerCode, params, backend);
      },
      leads: { selected: () => true },
      contacts: { selected: () => true },
      todo: { selected: () => true },
    };
    return this;
  }

  return AmoWidget as unknown as AmoWidgetConstructor;
}
