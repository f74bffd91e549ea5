// The panel stylesheet. Every rule is scoped under PANEL_ROOT_CLASS so it cannot touch the CRM's
// own page; the amoCRM archive ships it as style.css, other hosts inject it with ensurePanelStyles.
import { injectCss } from "../pages/shared/styles.js";

export const PANEL_ROOT_CLASS = "branchline-widget";

const R = `.${PANEL_ROOT_CLASS}`;

export const PANEL_CSS = `
${R} { box-sizing: border-box; width: 100%; max-width: 420px; color: #1f2d3d; font: 13px/1.4 "PT Sans", system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; text-align: left; }
${R} *, ${R} *::before, ${R} *::after { box-sizing: border-box; }
${R} .blw-section { padding: 8px 0; border-top: 1px solid #e4e7eb; }
${R} .blw-section:first-child { border-top: 0; padding-top: 2px; }
${R} .blw-label { display: block; margin: 0 0 3px; color: #6b7785; font-size: 11px; font-weight: 700; text-transform: uppercase; letter-spacing: .03em; }
${R} .blw-row { display: flex; align-items: baseline; justify-content: space-between; gap: 6px; }
${R} .blw-branch { font-size: 15px; font-weight: 700; overflow-wrap: anywhere; }
${R} .blw-code { margin-left: 4px; padding: 0 5px; border-radius: 3px; background: #e6f4f1; color: #0e7c66; font-size: 11px; font-weight: 700; }
${R} .blw-muted { color: #6b7785; }
${R} .blw-small { font-size: 12px; }
${R} .blw-reason { margin-top: 2px; color: #44505c; font-size: 12px; overflow-wrap: anywhere; }
${R} .blw-window { display: inline-block; padding: 2px 8px; border-radius: 10px; font-variant-numeric: tabular-nums; font-weight: 700; }
${R} .blw-window[data-state="open"] { background: #dcf5e8; color: #0b6b3a; }
${R} .blw-window[data-state="closed"] { background: #fdecec; color: #a52a2a; }
${R} .blw-select, ${R} .blw-input { display: block; width: 100%; height: 30px; margin: 0 0 6px; padding: 4px 6px; border: 1px solid #cdd3da; border-radius: 3px; background: #fff; color: inherit; font: inherit; }
${R} .blw-select:focus, ${R} .blw-input:focus { border-color: #0e7c66; outline: none; box-shadow: 0 0 0 2px rgba(14,124,102,.15); }
${R} .blw-param { display: block; margin: 0; }
${R} .blw-param > span { display: block; color: #6b7785; font-size: 11px; }
${R} .blw-preview { margin: 2px 0 8px; padding: 6px 8px; border-radius: 6px; background: #e7fbd9; white-space: pre-wrap; overflow-wrap: anywhere; }
${R} .blw-preview b { display: block; margin-bottom: 2px; }
${R} .blw-preview small { display: block; margin-top: 3px; color: #6b7785; }
${R} .blw-btn { display: inline-block; min-height: 30px; padding: 4px 12px; border: 1px solid #0e7c66; border-radius: 3px; background: #0e7c66; color: #fff; font: inherit; font-weight: 700; cursor: pointer; }
${R} .blw-btn:hover:not(:disabled) { background: #0b6654; }
${R} .blw-btn:disabled { opacity: .55; cursor: default; }
${R} .blw-btn-ghost { border-color: #cdd3da; background: #fff; color: #1f2d3d; font-weight: 400; }
${R} .blw-btn-ghost:hover:not(:disabled) { background: #f3f5f7; }
${R} .blw-btn-link { padding: 0 2px; min-height: 0; border: 0; background: transparent; color: #1375ab; font-weight: 400; }
${R} .blw-btn-link:hover:not(:disabled) { background: transparent; text-decoration: underline; }
${R} .blw-actions { display: flex; flex-wrap: wrap; gap: 6px; align-items: center; }
${R} .blw-ok { margin-top: 6px; color: #0b6b3a; font-size: 12px; }
${R} .blw-error { margin-top: 6px; color: #b42318; font-size: 12px; overflow-wrap: anywhere; }
${R} .blw-confirm { margin-top: 4px; padding: 6px; border-radius: 3px; background: #fff7e0; }
${R} .blw-statuses { margin: 0; padding: 0; list-style: none; }
${R} .blw-status { padding: 4px 0; border-bottom: 1px dashed #e4e7eb; font-size: 12px; }
${R} .blw-status:last-child { border-bottom: 0; }
${R} .blw-status-text { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
${R} .blw-status[data-direction="in"] .blw-status-text { color: #44505c; }
${R} .blw-tick { margin-right: 3px; letter-spacing: -2px; padding-right: 2px; color: #6b7785; }
${R} .blw-tick[data-status="read"] { color: #1d9bd1; }
${R} .blw-tick[data-status="failed"] { color: #b42318; letter-spacing: 0; }
${R} .blw-time { color: #8a96a3; font-size: 11px; white-space: nowrap; }
`;

/** Adds the stylesheet once to `doc` (hosts without a CSS file of their own). */
export function ensurePanelStyles(doc: Document = document, id = "branchline-widget-css"): void {
  injectCss(id, PANEL_CSS, doc);
}
