// Message status and time display shared by the pages and the CRM panel core: status order,
// WhatsApp-style ticks, status labels, phones, locale-aware times. No page specifics here.

/** How far a message got; `failed` is final and outranks everything. */
export const STATUS_RANK: Readonly<Record<string, number>> = { queued: 0, accepted: 0, sent: 1, delivered: 2, read: 3, failed: 4 };

/** Status only moves forward (queued → sent → delivered → read; failed is final); an unknown one is taken as news. */
export function laterStatus<S extends string>(a: S | undefined, b: S | undefined): S | undefined {
  if (!a) return b;
  if (!b) return a;
  const ra = STATUS_RANK[a];
  const rb = STATUS_RANK[b];
  if (ra === undefined || rb === undefined) return b;
  return rb >= ra ? b : a;
}

/** WhatsApp-style tick for an outgoing message's status (the colour of "read" is the page's). */
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

export interface StatusStrings {
  statusQueued: string;
  statusSent: string;
  statusDelivered: string;
  statusRead: string;
  statusFailed: string;
}

/** The label of a status in the page's language; an unknown status is shown as it is. */
export function statusLabel(status: string | undefined, t: StatusStrings): string {
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

export function formatPhone(phone: string | undefined): string | undefined {
  if (!phone) return undefined;
  return /^\d+$/.test(phone) ? `+${phone}` : phone;
}

/** The Intl locale of a page language ("ru" → ru-RU, anything else → en-GB). */
export const localeOf = (lang: string): string => (lang === "ru" ? "ru-RU" : "en-GB");

/** "14:05" today (by the given clock), "21.11 14:05" on other days; the locale picks the format. */
export function formatAt(at: number, now: number, lang: string): string {
  if (!Number.isFinite(at)) return "";
  const locale = localeOf(lang);
  const d = new Date(at);
  const time = d.toLocaleTimeString(locale, { hour: "2-digit", minute: "2-digit" });
  if (new Date(now).toDateString() === d.toDateString()) return time;
  return `${d.toLocaleDateString(locale, { day: "2-digit", month: "2-digit" })} ${time}`;
}
