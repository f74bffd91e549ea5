// The inbox stylesheet, injected once as a <style> tag (the bundle has no CSS loader).
import { SYSTEM_FONT, injectCss, resetCss } from "../shared/styles.js";

const CSS = `${resetCss({ font: `14px/1.4 ${SYSTEM_FONT}`, color: "#1f2933", background: "#eef1f4", fullHeight: true })}
.bl-center { min-height: 100%; display: flex; align-items: center; justify-content: center; padding: 24px 16px; }
.bl-card { width: 100%; max-width: 380px; background: #fff; border-radius: 12px; padding: 28px 24px;
  box-shadow: 0 1px 3px rgba(15,23,42,.08), 0 8px 24px rgba(15,23,42,.08); }
.bl-brand { display: flex; align-items: center; gap: 8px; font-weight: 700; color: #0f766e; font-size: 13px;
  letter-spacing: .04em; text-transform: uppercase; margin-bottom: 12px; }
.bl-logo { width: 22px; height: 22px; border-radius: 6px; background: #0f766e; color: #fff; display: inline-flex;
  align-items: center; justify-content: center; font-size: 13px; }
.bl-card h1 { margin: 0 0 6px; font-size: 20px; }
.bl-muted { color: #64748b; }
.bl-card p { margin: 0 0 18px; }
.bl-field { display: block; margin-bottom: 14px; }
.bl-field span { display: block; font-size: 12px; font-weight: 600; color: #475569; margin-bottom: 6px; }
.bl-input { width: 100%; padding: 10px 12px; border: 1px solid #cbd5e1; border-radius: 8px; background: #fff; outline: none; }
.bl-input:focus { border-color: #0f766e; box-shadow: 0 0 0 3px rgba(15,118,110,.15); }
.bl-btn { display: inline-flex; align-items: center; justify-content: center; gap: 6px; padding: 10px 16px; border: 0;
  border-radius: 8px; background: #0f766e; color: #fff; font-weight: 600; }
.bl-btn:hover:not(:disabled) { background: #115e59; }
.bl-btn:disabled { opacity: .55; }
.bl-btn-block { width: 100%; }
.bl-btn-ghost { background: transparent; color: #334155; border: 1px solid #cbd5e1; padding: 6px 10px; font-weight: 500; }
.bl-btn-ghost:hover:not(:disabled) { background: #f1f5f9; }
.bl-error { color: #b91c1c; background: #fef2f2; border: 1px solid #fecaca; border-radius: 8px; padding: 8px 10px;
  margin: 0 0 14px; font-size: 13px; }

.bl-inbox { display: flex; height: 100vh; height: 100dvh; overflow: hidden; background: #fff; }
.bl-side { width: 360px; flex: 0 0 360px; display: flex; flex-direction: column; border-right: 1px solid #e2e8f0; min-width: 0; }
.bl-main { flex: 1 1 auto; display: flex; flex-direction: column; min-width: 0; background: #efeae2; }

.bl-bar { flex: 0 0 auto; display: flex; align-items: center; gap: 10px; padding: 10px 14px; min-height: 60px; background: #f8fafc;
  border-bottom: 1px solid #e2e8f0; }
.bl-bar-title { flex: 1 1 auto; min-width: 0; }
.bl-bar-title b { display: block; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; font-size: 15px; }
.bl-bar-title small { display: block; color: #64748b; font-size: 12px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.bl-live { display: inline-flex; align-items: center; gap: 5px; font-size: 12px; color: #64748b; white-space: nowrap; }
.bl-live::before { content: ""; width: 8px; height: 8px; border-radius: 50%; background: #f59e0b; }
.bl-live[data-state="open"]::before { background: #22c55e; }

.bl-list { flex: 1 1 auto; overflow-y: auto; }
.bl-empty { padding: 24px 18px; color: #64748b; text-align: center; }
.bl-row { display: flex; gap: 12px; width: 100%; padding: 12px 14px; border: 0; border-bottom: 1px solid #f1f5f9;
  background: #fff; text-align: left; align-items: center; }
.bl-row:hover { background: #f8fafc; }
.bl-row[aria-current="true"] { background: #e6f4f1; }
.bl-avatar { flex: 0 0 40px; width: 40px; height: 40px; border-radius: 50%; background: #cbd5e1; color: #fff;
  display: inline-flex; align-items: center; justify-content: center; font-weight: 700; font-size: 15px; }
.bl-row-body { flex: 1 1 auto; min-width: 0; }
.bl-row-top, .bl-row-bottom { display: flex; align-items: center; gap: 8px; }
.bl-row-name { flex: 1 1 auto; font-weight: 600; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.bl-row-time { flex: 0 0 auto; font-size: 12px; color: #94a3b8; }
.bl-row-snippet { flex: 1 1 auto; color: #64748b; font-size: 13px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.bl-row.bl-unread .bl-row-time { color: #0f766e; font-weight: 600; }
.bl-row.bl-unread .bl-row-snippet { color: #1f2933; }
.bl-dot { flex: 0 0 auto; min-width: 10px; height: 10px; border-radius: 5px; background: #16a34a; }
.bl-dot.bl-count { min-width: 20px; height: 20px; border-radius: 10px; padding: 0 6px; color: #fff; font-size: 11px;
  font-weight: 700; line-height: 20px; text-align: center; }

.bl-thread { display: flex; flex-direction: column; flex: 1 1 auto; min-height: 0; }
.bl-back { display: none; }
.bl-routing { font-size: 12px; color: #94a3b8; overflow: hidden; display: -webkit-box; -webkit-line-clamp: 2; -webkit-box-orient: vertical; }
.bl-placeholder { flex: 1; display: flex; align-items: center; justify-content: center; color: #64748b; padding: 24px; text-align: center; }

.bl-msgs { flex: 1 1 auto; overflow-y: auto; padding: 12px 6% 8px; display: flex; flex-direction: column; gap: 3px; }
.bl-day { align-self: center; margin: 10px 0 6px; padding: 3px 10px; border-radius: 8px; background: #fff;
  color: #54656f; font-size: 12px; box-shadow: 0 1px .5px rgba(11,20,26,.13); }
.bl-bubble { max-width: min(75%, 560px); padding: 6px 8px 6px 9px; border-radius: 8px; background: #fff;
  box-shadow: 0 1px .5px rgba(11,20,26,.13); word-wrap: break-word; overflow-wrap: anywhere; position: relative; }
.bl-bubble[data-direction="in"] { align-self: flex-start; }
.bl-bubble[data-direction="out"] { align-self: flex-end; background: #d9fdd3; }
.bl-bubble.bl-system { align-self: center; background: #fff8e1; color: #6b5b1f; font-size: 12.5px; max-width: 90%; text-align: center; }
.bl-bubble.bl-failed { background: #fde8e8; }
.bl-text { white-space: pre-wrap; }
.bl-kind { color: #64748b; font-style: italic; }
.bl-meta { float: right; margin: 6px 0 -4px 10px; font-size: 11px; color: #667781; white-space: nowrap; display: inline-flex; gap: 4px; align-items: center; }
.bl-tick { letter-spacing: -3px; padding-right: 3px; }
.bl-tick[data-status="read"] { color: #1d9bf0; }
.bl-tick[data-status="failed"] { color: #dc2626; letter-spacing: 0; padding: 0; cursor: help; }
.bl-msg-error { clear: both; display: block; color: #b91c1c; font-size: 12px; margin-top: 4px; }
.bl-img { display: block; max-width: 100%; max-height: 320px; border-radius: 6px; margin-bottom: 4px; background: #e2e8f0; min-width: 80px; min-height: 60px; }
.bl-file { display: inline-flex; align-items: center; gap: 8px; padding: 8px 10px; border-radius: 6px;
  background: rgba(0,0,0,.05); color: #0f4c81; text-decoration: none; margin-bottom: 4px; max-width: 100%; }
.bl-file:hover { text-decoration: underline; }
.bl-file span { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.bl-route-note { font-size: 11px; color: #94a3b8; margin-top: 2px; }

.bl-compose { flex: 0 0 auto; padding: 8px 12px 10px; background: #f0f2f5; border-top: 1px solid #e2e8f0; }
.bl-compose-row { display: flex; gap: 8px; align-items: flex-end; }
.bl-compose textarea { flex: 1 1 auto; resize: none; min-height: 42px; max-height: 160px; padding: 10px 12px;
  border: 1px solid #d1d7db; border-radius: 8px; background: #fff; outline: none; }
.bl-compose textarea:focus { border-color: #0f766e; }
.bl-compose .bl-btn { height: 42px; }
.bl-send-error { color: #b91c1c; font-size: 13px; margin: 0 0 6px; }
.bl-thread-error { margin: 12px auto; max-width: 420px; }

@media (max-width: 699.98px) {
  .bl-side { width: 100%; flex-basis: 100%; border-right: 0; }
  .bl-inbox.bl-has-open .bl-side { display: none; }
  .bl-inbox:not(.bl-has-open) .bl-main { display: none; }
  .bl-back { display: inline-flex; flex: 0 0 auto; padding: 6px 10px; white-space: nowrap; }
  .bl-msgs { padding: 10px 10px 8px; }
  .bl-bubble { max-width: 85%; }
  .bl-bar { padding: 8px 10px; }
  .bl-compose textarea { font-size: 16px; } /* no iOS zoom-on-focus */
}
`;

export function injectStyles(id = "branchline-inbox-css"): void {
  injectCss(id, CSS);
}

/** Stable pastel colour per customer for the avatar. */
export function avatarColor(seed: string): string {
  let h = 0;
  for (let i = 0; i < seed.length; i++) h = (h * 31 + seed.charCodeAt(i)) | 0;
  return `hsl(${(Math.abs(h) * 137) % 360} 42% 52%)`;
}
