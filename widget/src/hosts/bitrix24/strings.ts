// Installer page wording (the card tab uses the core panel's strings).
export interface B24InstallStrings {
  title: string;
  current: string;
  keyLabel: string;
  hint: string;
  keyRequired: string;
  save: string;
  saving: string;
  done: string;
  failed: string;
  frameMissing: string;
}

const en: B24InstallStrings = {
  title: "WhatsApp for your branch",
  current: "This portal is bound to",
  keyLabel: "Branch key",
  hint: "The key your franchisor gave your branch. WhatsApp customers routed to the branch then arrive in Open Lines.",
  keyRequired: "Enter the branch key.",
  save: "Connect",
  saving: "Connecting…",
  done: "Connected to {name}. WhatsApp chats will arrive in Open Lines.",
  failed: "The branch key was not accepted.",
  frameMissing: "Open this page from Bitrix24.",
};

const ru: B24InstallStrings = {
  title: "WhatsApp для филиала",
  current: "Портал привязан к филиалу",
  keyLabel: "Ключ филиала",
  hint: "Ключ, который франчайзер выдал вашему филиалу. После подключения клиенты WhatsApp этого филиала придут в Открытые линии.",
  keyRequired: "Введите ключ филиала.",
  save: "Подключить",
  saving: "Подключение…",
  done: "Подключено к филиалу {name}. Чаты WhatsApp придут в Открытые линии.",
  failed: "Ключ филиала не принят.",
  frameMissing: "Откройте эту страницу из Битрикс24.",
};

export function installStrings(lang: string | undefined): B24InstallStrings {
  return (lang ?? "").toLowerCase().startsWith("ru") ? ru : en;
}

/** The core panel's wording where Bitrix24 differs from amoCRM (overrides for `resolveStrings`). */
export function panelOverrides(lang: string | undefined): Record<string, string> {
  return (lang ?? "").toLowerCase().startsWith("ru")
    ? { notBound: "Портал ещё не привязан к филиалу. Откройте приложение WhatsApp в Битрикс24 и введите ключ филиала.", noPhone: "У карточки нет клиента с номером телефона." }
    : { notBound: "This portal is not bound to a branch yet. Open the WhatsApp app in Bitrix24 and enter the branch key.", noPhone: "This card has no client with a phone number." };
}
