// Display helpers of the panel: message status ticks and labels, times.
import type { PanelStrings } from "./strings.js";

/** WhatsApp-style tick for an outgoing message's status. */
export function statusTick(status: string | undefined): string {
  switch (status) {
    case "queued":
    case "accepted":
      return "⏱";
    case "sent":
      return "✓";
    case "delivered":
    case "read":
      return "✓✓";
    case "failed":
      return "⚠";
    default:
      return "";
  }
}

export function statusLabel(status: string | undefined, t: PanelStrings): string {
  switch (status) {
    case "queued":
    case "accepted":
      return t.statusQueued;
    case "sent":
      return t.statusSent;
    case "delivered":
      return t.statusDelivered;
    case "read":
      return t.statusRead;
    case "failed":
      return t.statusFailed;
    default:
      return status ?? "";
  }
}

/** "14:05" today (by the given clock), "21.11 14:05" on other days; the locale picks the format. */
export function formatAt(at: number, now: number, lang: string): string {
  if (!Number.isFinite(at)) return "";
  const locale = lang === "ru" ? "ru-RU" : "en-GB";
  const d = new Date(at);
  const time = d.toLocaleTimeString(locale, { hour: "2-digit", minute: "2-digit" });
  if (new Date(now).toDateString() === d.toDateString()) return time;
  return `${d.toLocaleDateString(locale, { day: "2-digit", month: "2-digit" })} ${time}`;
}

export function formatPhone(phone: string | undefined): string | undefined {
  if (!phone) return undefined;
  return /^\d+$/.test(phone) ? `+${phone}` : phone;
}
