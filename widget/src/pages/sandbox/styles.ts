// The sandbox stylesheet, injected once as a <style> tag (the bundle has no CSS loader).
import { SYSTEM_FONT, ensureViewport, injectCss, resetCss } from "../shared/styles.js";

const CSS = `${resetCss({ font: `14.5px/1.38 ${SYSTEM_FONT}`, color: "#111b21", background: "#d1d7db", fullHeight: true })}
.sb-stage { min-height: 100%; display: flex; align-items: center; justify-content: center; padding: 24px;
  background: linear-gradient(160deg, #0b3d36 0%, #1f2c34 100%); }
.sb-phone { position: relative; width: 390px; height: min(820px, calc(100vh - 48px)); height: min(820px, calc(100dvh - 48px));
  background: #efeae2; border-radius: 36px; border: 10px solid #111; box-shadow: 0 20px 60px rgba(0,0,0,.45);
  overflow: hidden; display: flex; flex-direction: column; }

.sb-top { display: flex; align-items: center; gap: 10px; padding: 10px 12px; min-height: 58px; background: #008069; color: #fff; flex: 0 0 auto; }
.sb-top-title { flex: 1 1 auto; min-width: 0; }
.sb-top-title b { display: block; font-size: 16px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.sb-top-title small { display: block; font-size: 12px; opacity: .85; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.sb-icon-btn { border: 0; background: transparent; color: inherit; font-size: 20px; line-height: 1; padding: 6px 8px; border-radius: 50%; }
.sb-icon-btn:hover { background: rgba(255,255,255,.12); }
.sb-avatar { flex: 0 0 38px; width: 38px; height: 38px; border-radius: 50%; background: #dfe5e7; color: #54656f;
  display: inline-flex; align-items: center; justify-content: center; font-weight: 700; }
.sb-badge { display: inline-block; margin-left: 6px; padding: 0 6px; border-radius: 8px; background: rgba(255,255,255,.22);
  font-size: 10.5px; font-weight: 600; vertical-align: 2px; text-transform: uppercase; letter-spacing: .04em; }

.sb-picker { flex: 1 1 auto; overflow-y: auto; background: #fff; padding: 18px 18px 24px; }
.sb-picker h1 { margin: 0 0 4px; font-size: 20px; }
.sb-muted { color: #667781; }
.sb-picker p { margin: 0 0 16px; }
.sb-field { display: block; margin-bottom: 12px; }
.sb-field span { display: block; font-size: 12px; font-weight: 600; color: #54656f; margin-bottom: 5px; }
.sb-input { width: 100%; padding: 10px 12px; border: 1px solid #d1d7db; border-radius: 8px; background: #fff; outline: none; }
.sb-input:focus { border-color: #00a884; box-shadow: 0 0 0 3px rgba(0,168,132,.15); }
.sb-btn { width: 100%; padding: 11px 16px; border: 0; border-radius: 22px; background: #00a884; color: #fff; font-weight: 600; }
.sb-btn:hover:not(:disabled) { background: #008f72; }
.sb-btn:disabled { opacity: .5; }
.sb-error { color: #b91c1c; font-size: 13px; margin: -4px 0 10px; }
.sb-section-title { margin: 22px 0 6px; font-size: 12px; font-weight: 700; color: #008069; text-transform: uppercase; letter-spacing: .05em; }
.sb-recent { display: flex; align-items: center; gap: 12px; width: 100%; padding: 10px 4px; border: 0;
  border-bottom: 1px solid #f0f2f5; background: transparent; text-align: left; }
.sb-recent:hover { background: #f5f6f6; }
.sb-recent-body { min-width: 0; flex: 1; }
.sb-recent-body b, .sb-recent-body small { display: block; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.sb-recent-body small { color: #667781; }

.sb-chat { flex: 1 1 auto; overflow-y: auto; padding: 10px 12px 8px; display: flex; flex-direction: column; gap: 4px;
  background-color: #efeae2;
  background-image: radial-gradient(rgba(0,0,0,.035) 1px, transparent 1px); background-size: 18px 18px; }
.sb-note { align-self: center; margin: 8px 0; padding: 4px 10px; border-radius: 8px; background: #fff; color: #54656f;
  font-size: 12.5px; box-shadow: 0 1px .5px rgba(11,20,26,.13); text-align: center; }
.sb-note.sb-warn { background: #fff3c4; }
.sb-group { display: flex; flex-direction: column; gap: 2px; max-width: 82%; }
.sb-group[data-from="customer"] { align-self: flex-end; }
.sb-group[data-from="business"] { align-self: flex-start; }
.sb-bubble { padding: 6px 8px 6px 9px; border-radius: 8px; background: #fff; box-shadow: 0 1px .5px rgba(11,20,26,.13);
  overflow-wrap: anywhere; }
.sb-bubble[data-from="customer"] { background: #d9fdd3; }
.sb-text { white-space: pre-wrap; }
.sb-meta { float: right; margin: 7px 0 -5px 10px; font-size: 11px; color: #667781; white-space: nowrap; }
.sb-tick { margin-left: 3px; letter-spacing: -3px; padding-right: 3px; }
.sb-tick[data-status="read"] { color: #53bdeb; }
.sb-tick[data-status="failed"] { color: #dc2626; letter-spacing: 0; }
.sb-list-open { display: flex; align-items: center; justify-content: center; gap: 6px; width: calc(100% + 17px);
  margin: 8px -8px -6px -9px; padding: 9px 8px; border: 0; border-top: 1px solid #e9edef; background: transparent;
  color: #027eb5; font-weight: 500; clear: both; border-radius: 0 0 8px 8px; }
.sb-list-open:hover, .sb-reply:hover { background: #f5f6f6; }
.sb-reply { width: 100%; padding: 9px 8px; border: 0; border-radius: 8px; background: #fff; color: #027eb5;
  font-weight: 500; box-shadow: 0 1px .5px rgba(11,20,26,.13); }
.sb-failed-line { font-size: 11.5px; color: #b91c1c; text-align: right; }

.sb-compose { flex: 0 0 auto; display: flex; gap: 8px; align-items: center; padding: 8px 10px 10px; background: #f0f2f5; }
.sb-compose input { flex: 1 1 auto; min-width: 0; padding: 10px 14px; border: 0; border-radius: 22px; background: #fff; outline: none; }
.sb-send { flex: 0 0 44px; width: 44px; height: 44px; border: 0; border-radius: 50%; background: #00a884; color: #fff; font-size: 18px;
  display: inline-flex; align-items: center; justify-content: center; }
.sb-send:disabled { background: #8fd3c2; }

.sb-sheet-backdrop { position: absolute; inset: 0; background: rgba(11,20,26,.45); display: flex; align-items: flex-end; z-index: 10; }
.sb-sheet { width: 100%; max-height: 75%; overflow-y: auto; background: #fff; border-radius: 16px 16px 0 0; padding-bottom: 8px;
  box-shadow: 0 -6px 24px rgba(0,0,0,.2); }
.sb-sheet-head { position: sticky; top: 0; display: flex; align-items: center; gap: 8px; padding: 12px 12px 10px;
  background: #fff; border-bottom: 1px solid #e9edef; }
.sb-sheet-head b { flex: 1; text-align: center; font-size: 16px; }
.sb-sheet-head .sb-icon-btn { color: #54656f; }
.sb-sheet-head .sb-icon-btn:hover { background: #f0f2f5; }
.sb-sheet-section { padding: 12px 18px 4px; font-size: 13px; font-weight: 600; color: #008069; }
.sb-row { display: block; width: 100%; padding: 10px 18px; border: 0; border-bottom: 1px solid #f0f2f5; background: #fff; text-align: left; }
.sb-row:hover { background: #f5f6f6; }
.sb-row b { display: block; font-weight: 500; }
.sb-row small { display: block; color: #667781; font-size: 12.5px; }

@media (max-width: 499.98px) {
  .sb-stage { padding: 0; background: #efeae2; align-items: stretch; }
  .sb-phone { width: 100%; height: 100vh; height: 100dvh; border: 0; border-radius: 0; box-shadow: none; }
}
`;

export function injectStyles(id = "branchline-sandbox-css"): void {
  injectCss(id, CSS);
  ensureViewport();
}
