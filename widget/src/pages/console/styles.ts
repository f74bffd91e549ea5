// The console stylesheet, injected once as a <style> tag (the bundle has no CSS loader).
import { SYSTEM_FONT, injectCss, resetCss } from "../shared/styles.js";

const CSS = `${resetCss({ font: `14px/1.45 ${SYSTEM_FONT}`, color: "#1f2933", background: "#eef1f4" })}
h1, h2, h3 { margin: 0; }

.cx-center { min-height: 100vh; display: flex; align-items: center; justify-content: center; padding: 24px 16px; }
.cx-login { width: 100%; max-width: 400px; }
.cx-brand { display: flex; align-items: center; gap: 8px; font-weight: 700; color: #0f766e; font-size: 13px;
  letter-spacing: .04em; text-transform: uppercase; }
.cx-logo { width: 22px; height: 22px; border-radius: 6px; background: #0f766e; color: #fff; display: inline-flex;
  align-items: center; justify-content: center; font-size: 13px; }

.cx-top { position: sticky; top: 0; z-index: 5; background: #fff; border-bottom: 1px solid #e2e8f0; }
.cx-top-row { display: flex; align-items: center; gap: 10px; padding: 8px 16px; max-width: 1200px; margin: 0 auto; }
.cx-top-row .cx-brand { flex: 1 1 auto; }
.cx-nav { display: flex; gap: 2px; overflow-x: auto; padding: 0 12px; max-width: 1200px; margin: 0 auto; scrollbar-width: none; }
.cx-nav::-webkit-scrollbar { display: none; }
.cx-nav a { flex: 0 0 auto; padding: 10px 12px; color: #475569; text-decoration: none; border-bottom: 2px solid transparent; white-space: nowrap; font-weight: 500; }
.cx-nav a[aria-current="page"] { color: #0f766e; border-bottom-color: #0f766e; }
.cx-main { max-width: 1200px; margin: 0 auto; padding: 16px; display: flex; flex-direction: column; gap: 16px; }

.cx-card { background: #fff; border-radius: 12px; padding: 18px; box-shadow: 0 1px 3px rgba(15,23,42,.08); min-width: 0; }
.cx-card h1 { font-size: 20px; margin-bottom: 4px; }
.cx-card h2 { font-size: 16px; margin-bottom: 12px; }
.cx-head { display: flex; align-items: center; gap: 10px; flex-wrap: wrap; margin-bottom: 12px; }
.cx-head h2 { margin: 0; flex: 1 1 auto; }
.cx-muted { color: #64748b; }
.cx-small { font-size: 12px; }
.cx-hint { color: #64748b; font-size: 12px; margin: 4px 0 0; }

.cx-field { display: block; margin-bottom: 12px; min-width: 0; }
.cx-field > span { display: block; font-size: 12px; font-weight: 600; color: #475569; margin-bottom: 4px; }
.cx-check { display: flex; align-items: center; gap: 8px; margin-bottom: 12px; }
.cx-input { width: 100%; padding: 9px 11px; border: 1px solid #cbd5e1; border-radius: 8px; background: #fff; outline: none; min-width: 0; }
.cx-input:focus { border-color: #0f766e; box-shadow: 0 0 0 3px rgba(15,118,110,.15); }
textarea.cx-input { resize: vertical; min-height: 70px; }
.cx-grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(220px, 1fr)); gap: 0 14px; }
.cx-row { display: flex; gap: 8px; flex-wrap: wrap; align-items: center; }

.cx-btn { display: inline-flex; align-items: center; justify-content: center; gap: 6px; padding: 9px 14px; border: 0;
  border-radius: 8px; background: #0f766e; color: #fff; font-weight: 600; white-space: nowrap; }
.cx-btn:hover:not(:disabled) { background: #115e59; }
.cx-btn:disabled { opacity: .55; }
.cx-btn-ghost { background: transparent; color: #334155; border: 1px solid #cbd5e1; padding: 6px 10px; font-weight: 500; }
.cx-btn-ghost:hover:not(:disabled) { background: #f1f5f9; }
.cx-btn-danger { color: #b91c1c; border-color: #fecaca; }
.cx-btn-block { width: 100%; }
.cx-error { color: #b91c1c; background: #fef2f2; border: 1px solid #fecaca; border-radius: 8px; padding: 8px 10px; margin: 0 0 12px; font-size: 13px; }
.cx-ok { color: #166534; font-size: 13px; }
select.cx-input { padding: 8px 10px; }

.cx-badge { display: inline-block; padding: 1px 8px; border-radius: 999px; font-size: 12px; background: #e2e8f0; color: #334155; white-space: nowrap; }
.cx-badge[data-tone="good"] { background: #dcfce7; color: #166534; }
.cx-badge[data-tone="warn"] { background: #fef3c7; color: #92400e; }
.cx-badge[data-tone="bad"] { background: #fee2e2; color: #991b1b; }
.cx-badge[data-tone="info"] { background: #e0f2fe; color: #075985; }

.cx-branches { display: grid; grid-template-columns: repeat(auto-fill, minmax(320px, 1fr)); gap: 12px; }
.cx-branch { border: 1px solid #e2e8f0; border-radius: 10px; padding: 12px; display: flex; flex-direction: column; gap: 8px; min-width: 0; }
.cx-branch[data-enabled="false"] { background: #f8fafc; }
.cx-branch-title { display: flex; gap: 6px; align-items: baseline; flex-wrap: wrap; }
.cx-branch-title b { font-size: 15px; }
.cx-branch-title code { color: #64748b; }
.cx-dl { display: grid; grid-template-columns: auto 1fr; gap: 2px 12px; margin: 0; font-size: 13px; }
.cx-dl dt { color: #64748b; }
.cx-dl dd { margin: 0; min-width: 0; overflow-wrap: anywhere; }

.cx-secret { background: #fffbeb; border: 1px solid #fde68a; border-radius: 10px; padding: 14px; }
.cx-secret code { display: block; padding: 8px 10px; background: #fff; border: 1px dashed #f59e0b; border-radius: 6px;
  font-size: 13px; overflow-wrap: anywhere; user-select: all; margin: 4px 0 10px; }
.cx-secret ol { margin: 6px 0 12px; padding-left: 20px; }

.cx-table-wrap { overflow-x: auto; }
table.cx-table { width: 100%; border-collapse: collapse; font-size: 13px; }
.cx-table th, .cx-table td { text-align: left; padding: 7px 8px; border-bottom: 1px solid #f1f5f9; vertical-align: top; }
.cx-table th { color: #64748b; font-weight: 600; font-size: 12px; white-space: nowrap; }
.cx-table td.cx-num, .cx-table th.cx-num { text-align: right; font-variant-numeric: tabular-nums; }
.cx-wrap { overflow-wrap: anywhere; }

.cx-decision { border-left: 4px solid #0f766e; background: #f0fdfa; border-radius: 8px; padding: 10px 12px; margin-top: 12px; }
.cx-decision[data-kind="ask"] { border-color: #0284c7; background: #f0f9ff; }
.cx-decision[data-kind="unroutable"] { border-color: #b91c1c; background: #fef2f2; }

.cx-charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(330px, 1fr)); gap: 12px; }
.cx-chart { border: 1px solid #e2e8f0; border-radius: 10px; padding: 10px 12px; min-width: 0; }
.cx-chart h3 { font-size: 13px; font-weight: 600; display: flex; justify-content: space-between; gap: 8px; margin-bottom: 6px; }
.cx-chart h3 b { font-size: 16px; color: #0f766e; }
.cx-chart svg { display: block; width: 100%; height: auto; }
.cx-legend { display: flex; flex-wrap: wrap; gap: 4px 10px; font-size: 11px; color: #475569; margin-top: 4px; }
.cx-legend i { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 4px; vertical-align: -1px; }

.cx-bar { position: relative; display: flex; height: 14px; border-radius: 7px; background: #e2e8f0; overflow: hidden; min-width: 60px; }
.cx-bar > i { display: block; height: 100%; flex: 0 0 auto; }
.cx-bar > i[data-part="read"] { background: #0f766e; }
.cx-bar > i[data-part="delivered"] { background: #14b8a6; }
.cx-bar > i[data-part="sent"] { background: #5eead4; }
.cx-bar > i[data-part="failed"] { background: #ef4444; }
.cx-bar > i[data-part="skipped"] { background: #94a3b8; }
.cx-bar-sm { height: 8px; }
.cx-counts { display: grid; grid-template-columns: repeat(auto-fill, minmax(92px, 1fr)); gap: 6px; margin: 10px 0; }
.cx-count { border: 1px solid #e2e8f0; border-radius: 8px; padding: 6px 8px; }
.cx-count b { display: block; font-size: 18px; font-variant-numeric: tabular-nums; }
.cx-count span { font-size: 12px; color: #64748b; }
.cx-checks { display: flex; flex-wrap: wrap; gap: 4px 14px; margin-bottom: 12px; }
.cx-checks label { display: flex; align-items: center; gap: 6px; }
.cx-report { border: 1px solid #e2e8f0; border-radius: 10px; padding: 12px; margin: 12px 0; }
.cx-report h3 { font-size: 14px; margin: 8px 0 6px; }
.cx-code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 13px; min-height: 260px; white-space: pre; tab-size: 2; }
.cx-problems { margin: 8px 0 12px; padding: 0; list-style: none; }
.cx-problems li { border-left: 3px solid #b91c1c; background: #fef2f2; padding: 6px 10px; border-radius: 6px; margin-bottom: 6px; overflow-wrap: anywhere; font-size: 13px; }
.cx-problems li[data-kind="warning"] { border-color: #d97706; background: #fffbeb; }
.cx-problems b { margin-right: 6px; }
.cx-live { font-size: 12px; color: #64748b; display: inline-flex; align-items: center; gap: 5px; }
.cx-live::before { content: ""; width: 8px; height: 8px; border-radius: 50%; background: #f59e0b; }
.cx-live[data-state="open"]::before { background: #22c55e; }
.cx-notes { margin: 0; padding-left: 16px; font-size: 12px; }

@media (max-width: 699.98px) {
  .cx-main { padding: 10px; gap: 10px; }
  .cx-card { padding: 14px; border-radius: 10px; }
  .cx-branches, .cx-charts { grid-template-columns: 1fr; }
  .cx-counts { grid-template-columns: repeat(3, 1fr); }
  .cx-input, select.cx-input { font-size: 16px; } /* no iOS zoom-on-focus */
  table.cx-stack thead { display: none; }
  table.cx-stack tr { display: block; border-bottom: 1px solid #e2e8f0; padding: 6px 0; }
  table.cx-stack td { display: flex; gap: 10px; border: 0; padding: 3px 2px; }
  table.cx-stack td::before { content: attr(data-label); flex: 0 0 40%; color: #64748b; font-size: 12px; }
  table.cx-stack td.cx-num { text-align: left; }
}
`;

export function injectStyles(id = "branchline-console-css"): void {
  injectCss(id, CSS);
}
