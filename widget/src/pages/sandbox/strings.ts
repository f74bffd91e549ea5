// Every user-visible string of the sandbox page (`en` source of truth, `ru` same keys).
import { browserLang, type Lang } from "../shared/i18n.js";

const en = {
  title: "Branchline sandbox",
  pickerTitle: "Customer phone",
  pickerHint: "Simulate a WhatsApp customer writing to the business number.",
  recent: "Recent numbers",
  noRecent: "No simulated customers yet.",
  phoneLabel: "Phone number (digits, with country code)",
  phonePlaceholder: "79161234567",
  nameLabel: "Display name (optional)",
  namePlaceholder: "Anna",
  open: "Open chat",
  invalidPhone: "Enter 7–15 digits, country code first (e.g. 79161234567).",
  business: "Business",
  sandboxBadge: "sandbox",
  youAre: "You are",
  back: "Back",
  messagePlaceholder: "Message",
  send: "Send",
  noMessages: "No messages yet. Say hello!",
  loading: "Loading…",
  connecting: "connecting…",
  online: "online",
  sendFailed: "Not sent",
  loadFailed: "Could not load the conversation",
  retry: "Retry",
  close: "Close",
  interactiveFallback: "Interactive message",
  emptyMessage: "(empty message)",
};

export type Strings = typeof en;

const ru: Strings = {
  title: "Песочница Branchline",
  pickerTitle: "Телефон клиента",
  pickerHint: "Имитация клиента WhatsApp, пишущего на номер компании.",
  recent: "Недавние номера",
  noRecent: "Имитированных клиентов пока нет.",
  phoneLabel: "Номер телефона (цифры, с кодом страны)",
  phonePlaceholder: "79161234567",
  nameLabel: "Имя (необязательно)",
  namePlaceholder: "Анна",
  open: "Открыть чат",
  invalidPhone: "Введите 7–15 цифр, начиная с кода страны (например, 79161234567).",
  business: "Компания",
  sandboxBadge: "песочница",
  youAre: "Вы —",
  back: "Назад",
  messagePlaceholder: "Сообщение",
  send: "Отправить",
  noMessages: "Сообщений пока нет. Напишите первым!",
  loading: "Загрузка…",
  connecting: "подключение…",
  online: "в сети",
  sendFailed: "Не отправлено",
  loadFailed: "Не удалось загрузить переписку",
  retry: "Повторить",
  close: "Закрыть",
  interactiveFallback: "Интерактивное сообщение",
  emptyMessage: "(пустое сообщение)",
};

export const strings: Record<Lang, Strings> = { en, ru };

export const lang: Lang = browserLang();

export const t: Strings = strings[lang];
