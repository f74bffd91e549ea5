// The 24-hour customer service window as the panel shows it. Pure: the caller passes the server's
// current time (local clock + the offset measured when the context was fetched), so a wrong clock
// on the manager's computer does not move the countdown.
import type { PanelWindow } from "./types.js";

export type WindowView = { open: true; leftMs: number; text: string } | { open: false };

/** `serverNow - localNow` at fetch time; 0 when the server sent no clock. */
export function clockOffset(serverNow: number | undefined, localNow: number): number {
  return typeof serverNow === "number" && Number.isFinite(serverNow) ? serverNow - localNow : 0;
}

/** Milliseconds → "hh:mm:ss" (whole seconds, rounded down; hours may exceed 24). */
export function formatHms(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${pad(h)}:${pad(m)}:${pad(s)}`;
}

/** Open with time left while `closesAt` is ahead of the server's clock; closed otherwise (or unknown). */
export function windowView(win: PanelWindow | undefined, serverNow: number): WindowView {
  if (!win?.open || typeof win.closesAt !== "number") return { open: false };
  const leftMs = win.closesAt - serverNow;
  if (leftMs < 1000) return { open: false };
  return { open: true, leftMs, text: formatHms(leftMs) };
}
