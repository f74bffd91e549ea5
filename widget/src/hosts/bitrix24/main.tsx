// The Bitrix24 iframe pages (installer and card tab), one bundle: dist/widget/bitrix24/app.js.
// The page's config (`#branchline-b24-config`) says which; B24Frame (@bitrix24/b24jssdk) gives the
// placement, the current user's access token and `installFinish`. The card tab mounts the SAME
// core panel as amoCRM's lead card.
import { initializeB24Frame, type B24Frame } from "@bitrix24/b24jssdk";
import { h, render } from "preact";
import { ensurePanelStyles, mountLeadPanel, PANEL_ROOT_CLASS, PanelApiError, resolveStrings } from "../../core/index.js";
import { b24PanelApi } from "./b24-api.js";
import { InstallForm } from "./install-form.js";
import { installStrings, panelOverrides } from "./strings.js";

interface PageConfig {
  mode: "install" | "placement" | "error";
  api: string;
  lang: string;
  branch?: { name: string; code: string };
  placement?: string;
  entityId?: number;
  message?: string;
}

const ENTITY_OF: Record<string, "lead" | "deal"> = { CRM_LEAD_DETAIL_TAB: "lead", CRM_DEAL_DETAIL_TAB: "deal" };

function readConfig(): PageConfig | undefined {
  const el = document.getElementById("branchline-b24-config");
  try {
    return el?.textContent ? (JSON.parse(el.textContent) as PageConfig) : undefined;
  } catch {
    return undefined;
  }
}

function show(root: HTMLElement, text: string, testId: string): void {
  root.innerHTML = "";
  const p = document.createElement("p");
  p.className = "blw-error";
  p.setAttribute("role", "alert");
  p.setAttribute("data-testid", testId);
  p.textContent = text;
  root.appendChild(p);
}

async function start(): Promise<void> {
  const root = document.getElementById("branchline-b24");
  const cfg = readConfig();
  if (!root || !cfg || cfg.mode === "error") return;
  ensurePanelStyles();
  root.className = PANEL_ROOT_CLASS;
  let $b24: B24Frame;
  try {
    $b24 = await initializeB24Frame();
  } catch {
    show(root, installStrings(cfg.lang).frameMissing, "frame-missing");
    return;
  }
  const lang = cfg.lang || $b24.getLang() || "en";
  const auth = () => {
    const data = $b24.auth.getAuthData();
    return data ? { token: data.access_token ?? "", memberId: data.member_id ?? "" } : { token: "", memberId: "" };
  };

  if (cfg.mode === "install") {
    const t = installStrings(lang);
    const register = async (branchKey: string): Promise<string> => {
      const { token, memberId } = auth();
      const res = await fetch(`${cfg.api}/register`, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json" },
        body: JSON.stringify({ member_id: memberId, auth: token, branch_key: branchKey }),
        credentials: "omit",
      });
      const body = (await res.json().catch(() => ({}))) as { branch?: { name?: string }; error?: { message?: string } };
      if (!res.ok) throw new Error(body.error?.message || t.failed);
      return body.branch?.name ?? "";
    };
    // Only the installer run may finish the installation; the app page and connector settings reuse the form.
    const finish = async () => {
      if ($b24.isInstallMode) await $b24.installFinish();
    };
    render(h(InstallForm, { strings: t, branch: cfg.branch, register, finish }), root);
    void $b24.parent.fitWindow().catch(() => undefined);
    return;
  }

  const placement = $b24.placement.placement || cfg.placement || "";
  const entity = ENTITY_OF[placement];
  const id = Number(($b24.placement.options as { ID?: unknown } | undefined)?.ID ?? cfg.entityId);
  if (!entity || !Number.isSafeInteger(id) || id <= 0) {
    show(root, new PanelApiError(400, "bad_placement", `unsupported placement ${placement}`).message, "bad-placement");
    return;
  }
  const el = document.createElement("div");
  el.className = `${PANEL_ROOT_CLASS}__root`;
  root.appendChild(el);
  mountLeadPanel(el, { api: b24PanelApi($b24.auth, `${cfg.api}/app/${entity}`), strings: resolveStrings(lang, panelOverrides(lang)), leadId: id, lang });
  void $b24.parent.fitWindow().catch(() => undefined);
}

void start();
