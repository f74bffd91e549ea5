/**
 * What a manager reads in the CRM chat when WhatsApp did not get their message. The codes are
 * ours (refusals before any Graph call) and the classified Meta errors; the text says what to do.
 */
export type ManagerLang = "ru" | "en";

const TEXTS: Record<string, Record<ManagerLang, string>> = {
  window_closed: {
    ru: "Окно 24 часа закрыто: клиент давно не писал, отправьте шаблон.",
    en: "The 24-hour window is closed: send a template.",
  },
  needs_template: {
    ru: "Окно 24 часа закрыто: клиент давно не писал, отправьте шаблон.",
    en: "The 24-hour window is closed: send a template.",
  },
  opted_out: {
    ru: "Клиент отписался от рекламных рассылок; сервисные сообщения доходят.",
    en: "The client opted out of marketing messages; service messages still go.",
  },
  template_not_found: {
    ru: "Такого одобренного шаблона нет в WhatsApp.",
    en: "WhatsApp has no approved template by that name and language.",
  },
  template_params: {
    ru: "Параметры шаблона не подходят.",
    en: "The template's parameters do not fit.",
  },
  invalid_phone: {
    ru: "У клиента нет номера WhatsApp.",
    en: "The client has no WhatsApp number.",
  },
  quota_exceeded: {
    ru: "Филиал исчерпал дневной лимит сообщений.",
    en: "The branch has used up its daily message quota.",
  },
  unsupported_content: {
    ru: "Такое сообщение нельзя отправить в WhatsApp.",
    en: "This kind of message cannot be sent to WhatsApp.",
  },
  recipient_unreachable: {
    ru: "Номер недоступен в WhatsApp.",
    en: "The number cannot be reached on WhatsApp.",
  },
};

/** Meta error codes whose meaning a manager can act on (WhatsApp doc, error table). */
const META_CODES: Record<string, keyof typeof TEXTS> = {
  "131047": "needs_template",
  "131026": "recipient_unreachable",
  "131050": "opted_out",
};

export function managerText(error: { code: string; message: string } | undefined, lang: ManagerLang): string {
  if (!error) return lang === "ru" ? "Сообщение не доставлено." : "The message was not delivered.";
  const key = TEXTS[error.code] ? error.code : META_CODES[error.code.replace(/^meta_/, "")];
  const known = key ? TEXTS[key]![lang] : undefined;
  // Field-level refusals (template parameters) add our precise reason after the plain sentence.
  if (known && error.code === "template_params") return `${known} ${error.message}`;
  return known ?? (lang === "ru" ? `Не отправлено: ${error.message}` : `Not sent: ${error.message}`);
}

/** amoCRM accounts on amocrm.ru read Russian; Kommo (.com) accounts read English. */
export function langOfDomain(domain: string): ManagerLang {
  return /\.(ru|by|kz)(:\d+)?$/i.test(domain) ? "ru" : "en";
}
