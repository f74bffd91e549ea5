// Display helpers of the inbox: names, times, kind labels (statuses and phones: ../shared/format).
import { formatPhone, statusLabel as sharedStatusLabel } from "../shared/format.js";
import { lang, t } from "./strings.js";
import type { Customer, MessageKind, MessageStatus } from "./types.js";

const KIND_LABEL: Record<MessageKind, string> = {
  text: "",
  image: t.kindImage,
  audio: t.kindAudio,
  video: t.kindVideo,
  document: t.kindDocument,
  sticker: t.kindSticker,
  location: t.kindLocation,
  contacts: t.kindContacts,
  interactive: t.kindInteractive,
  button: t.kindButton,
  reaction: t.kindReaction,
  order: t.kindOrder,
  system: t.kindSystem,
  unsupported: t.kindUnsupported,
  template: t.kindTemplate,
};

export function kindLabel(kind: MessageKind | string): string {
  return KIND_LABEL[kind as MessageKind] || `[${kind}]`;
}

export function customerTitle(c: Customer | undefined): string {
  return c?.name?.trim() || formatPhone(c?.phone) || t.unknownCustomer;
}

/** Second line under the title: the phone, when the title is the name. */
export function customerSubtitle(c: Customer | undefined): string | undefined {
  if (c?.name?.trim() && c.phone) return formatPhone(c.phone);
  return undefined;
}

const locale = lang === "ru" ? "ru-RU" : undefined;
const timeFmt = new Intl.DateTimeFormat(locale, { hour: "2-digit", minute: "2-digit" });
const weekdayFmt = new Intl.DateTimeFormat(locale, { weekday: "short" });
const shortDateFmt = new Intl.DateTimeFormat(locale, { day: "numeric", month: "short" });
const longDateFmt = new Intl.DateTimeFormat(locale, { day: "numeric", month: "long", year: "numeric" });
const fullFmt = new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "short" });

function startOfDay(ms: number): number {
  const d = new Date(ms);
  d.setHours(0, 0, 0, 0);
  return d.getTime();
}

const DAY = 86_400_000;

export function formatTime(ms: number): string {
  return Number.isFinite(ms) ? timeFmt.format(ms) : "";
}

export function formatFull(ms: number): string {
  return Number.isFinite(ms) ? fullFmt.format(ms) : "";
}

/** Dialog list: time today, weekday this week, else a short date. */
export function formatListTime(ms: number, now = Date.now()): string {
  if (!Number.isFinite(ms)) return "";
  const today = startOfDay(now);
  if (ms >= today) return timeFmt.format(ms);
  if (ms >= today - DAY) return t.yesterday;
  if (ms >= today - 6 * DAY) return weekdayFmt.format(ms);
  return shortDateFmt.format(ms);
}

/** Thread day separators. */
export function formatDay(ms: number, now = Date.now()): string {
  const today = startOfDay(now);
  const day = startOfDay(ms);
  if (day === today) return t.today;
  if (day === today - DAY) return t.yesterday;
  return longDateFmt.format(ms);
}

export function sameDay(a: number, b: number): boolean {
  return startOfDay(a) === startOfDay(b);
}

export const statusLabel = (status: MessageStatus | undefined): string => sharedStatusLabel(status, t);
