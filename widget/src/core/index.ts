// What hosts use from the core: mount/unmount helpers over the preact components.
import { h, render } from "preact";
import { AccountStatus, type AccountStatusProps } from "./AccountStatus.js";
import { LeadPanel, type LeadPanelProps } from "./LeadPanel.js";

export { PanelApiError, type PanelApi, type PanelEndpoint, type PanelContext, type BranchRef } from "./types.js";
export { resolveStrings, panelLang, fill, panelStrings, type PanelStrings } from "./strings.js";
export { PANEL_CSS, PANEL_ROOT_CLASS, ensurePanelStyles } from "./styles.js";

export function mountLeadPanel(el: Element, props: LeadPanelProps): void {
  render(h(LeadPanel, props), el);
}

export function mountAccountStatus(el: Element, props: AccountStatusProps): void {
  render(h(AccountStatus, props), el);
}

/** Unmounts whatever the core rendered into `el` (runs effect clean-ups: timers stop). */
export function unmount(el: Element): void {
  render(null, el);
}
