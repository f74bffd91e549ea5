// Default strings of the lead-card panel. `en` is the source of truth and `ru` must have the same
// keys (the type enforces it). Hosts pass their own `strings` (amoCRM: the `panel` key of its i18n
// files, which the archive build fills from here and may override per CRM); missing keys fall back
// to these. `{name}`-style placeholders are filled by `fill`.
import { fill, overlayStrings, pickLang, type Lang } from "../pages/shared/i18n.js";

const en = {
  title: "WhatsApp",
  loading: "Loading…",
  loadFailed: "Could not load the WhatsApp data",
  retry: "Retry",
  refresh: "Refresh",
  notBound: "This CRM account is not bound to a branch yet. Enter the branch key in the widget settings.",
  branch: "Branch",
  routedHere: "Routed here:",
  noDialog: "No WhatsApp dialog with this client yet.",
  client: "Client",
  noPhone: "The lead has no contact with a phone number.",
  window: "24-hour window",
  windowOpen: "open, closes in",
  windowClosed: "closed — only templates",
  template: "Template",
  chooseTemplate: "Choose a template…",
  noTemplates: "No approved templates yet.",
  parameters: "Parameters",
  preview: "Preview",
  send: "Send",
  sending: "Sending…",
  sent: "Queued for sending",
  sendFailed: "Not sent",
  missingParams: "Fill in every parameter.",
  transfer: "Transfer to another branch",
  chooseBranch: "Choose a branch…",
  transferButton: "Transfer",
  confirmTransfer: "Transfer this dialog to {name}?",
  confirm: "Confirm",
  cancel: "Cancel",
  transferred: "Transferred to {name}",
  transferFailed: "Transfer failed",
  history: "Recent messages",
  noHistory: "No messages yet.",
  incoming: "Client",
  statusQueued: "queued",
  statusSent: "sent",
  statusDelivered: "delivered",
  statusRead: "read",
  statusFailed: "failed",
  boundTo: "Bound to branch:",
  notBoundShort: "Not bound to a branch",
  approvedTemplates: "Approved templates:",
  otherBranches: "Other branches:",
};

export type PanelStrings = typeof en;

const ru: PanelStrings = {
  title: "WhatsApp",
  loading: "Загрузка…",
  loadFailed: "Не удалось загрузить данные WhatsApp",
  retry: "Повторить",
  refresh: "Обновить",
  notBound: "Этот аккаунт CRM ещё не привязан к филиалу. Введите ключ филиала в настройках виджета.",
  branch: "Филиал",
  routedHere: "Почему сюда:",
  noDialog: "Диалога WhatsApp с этим клиентом пока нет.",
  client: "Клиент",
  noPhone: "У сделки нет контакта с номером телефона.",
  window: "24-часовое окно",
  windowOpen: "открыто, закроется через",
  windowClosed: "закрыто — только шаблоны",
  template: "Шаблон",
  chooseTemplate: "Выберите шаблон…",
  noTemplates: "Одобренных шаблонов пока нет.",
  parameters: "Параметры",
  preview: "Предпросмотр",
  send: "Отправить",
  sending: "Отправка…",
  sent: "Поставлено в очередь на отправку",
  sendFailed: "Не отправлено",
  missingParams: "Заполните все параметры.",
  transfer: "Передать в другой филиал",
  chooseBranch: "Выберите филиал…",
  transferButton: "Передать",
  confirmTransfer: "Передать диалог в филиал {name}?",
  confirm: "Подтвердить",
  cancel: "Отмена",
  transferred: "Передано в филиал {name}",
  transferFailed: "Не удалось передать",
  history: "Последние сообщения",
  noHistory: "Сообщений пока нет.",
  incoming: "Клиент",
  statusQueued: "в очереди",
  statusSent: "отправлено",
  statusDelivered: "доставлено",
  statusRead: "прочитано",
  statusFailed: "ошибка",
  boundTo: "Привязан к филиалу:",
  notBoundShort: "Не привязан к филиалу",
  approvedTemplates: "Одобренных шаблонов:",
  otherBranches: "Другие филиалы:",
};

export const panelStrings: Record<Lang, PanelStrings> = { en, ru };

export type PanelLang = Lang;

export const panelLang: (lang: string | undefined) => PanelLang = pickLang;

/** Defaults for `lang` overlaid with the host's strings (only string values of known keys count). */
export const resolveStrings = (lang: string | undefined, overrides?: unknown): PanelStrings => overlayStrings(panelStrings[pickLang(lang)], overrides);

export { fill };
