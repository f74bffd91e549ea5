/**
 * Graph API failures: read whatever came back into one shape, decide what the sender does about
 * it, and say it in words a branch manager understands. Pure: no I/O.
 *
 * Meta: "build logic on `code` + `error_data.details`"; titles "will eventually be deprecated";
 * HTTP statuses differ between sources — so decisions branch on `code`, and on the HTTP status
 * only when there is no code at all.
 * @see https://developers.facebook.com/documentation/business-messaging/whatsapp/support/error-codes
 */

/** One Graph failure, whatever shape it arrived in (sync response, webhook `errors[]`, transport). */
export interface GraphError {
  code?: number;
  subcode?: number;
  title?: string;
  message: string;
  details?: string;
  fbtraceId?: string;
  httpStatus?: number;
  /** No HTTP answer at all: timeout, connection reset, DNS… */
  network: boolean;
}

export type AccountAlarm = "token" | "permission" | "restricted" | "billing" | "not_registered" | "quality" | "template";

/** What the sender does about a failure. */
export type ErrorClass =
  | { kind: "transient" }
  | { kind: "pair_rate" }
  | { kind: "needs_template" }
  | { kind: "needs_phone" }
  | { kind: "terminal" }
  | { kind: "account_alarm"; alarm: AccountAlarm };

const EXCERPT_CHARS = 300;

/**
 * Reads a Graph failure. `body` may be the parsed Graph envelope `{error:{…}}`, a webhook
 * `errors[]` entry `{code, title, message, error_data}`, a JSON string, an HTML error page, a
 * Buffer, or nothing. `networkError` is the transport error when no HTTP answer arrived.
 */
export function normalizeGraphError(status: number | undefined, body: unknown, networkError?: unknown): GraphError {
  const httpStatus = typeof status === "number" && status > 0 ? status : undefined;
  if (httpStatus === undefined && networkError !== undefined) return fromNetworkError(networkError);

  const parsed = parseBody(body);
  const err = envelopeError(parsed);
  if (err) {
    const code = toInt(err.code);
    const subcode = toInt(err.error_subcode);
    const rawMessage = str(err.message);
    const title = str(err.title) ?? str(err.error_user_title) ?? titleFromMessage(rawMessage);
    const data = err.error_data;
    const details =
      (isRecord(data) ? str(data.details) : str(data)) ?? str(err.error_user_msg) ?? str(err.details);
    return compact({
      code,
      subcode,
      title,
      message: rawMessage ?? title ?? details ?? (code !== undefined ? `Graph API error ${code}` : httpMessage(httpStatus)),
      details,
      fbtraceId: str(err.fbtrace_id),
      httpStatus,
      network: false,
    });
  }

  const excerpt = textExcerpt(parsed);
  return compact({
    message: excerpt === undefined ? httpMessage(httpStatus) : `${httpMessage(httpStatus)} with a body that is not a Graph error`,
    details: excerpt,
    httpStatus,
    network: false,
  });
}

/**
 * What to do about a failure, following the brief's §4 table and its "practical classes".
 * Network errors and HTTP 5xx (and 429) with no code are transient; everything else without a
 * code, and every code not named here, is terminal for this message.
 */
export function classifyGraphError(e: GraphError): ErrorClass {
  const code = e.code;
  if (code === undefined) {
    if (e.network) return { kind: "transient" };
    if (e.httpStatus !== undefined && (e.httpStatus >= 500 || e.httpStatus === 429)) return { kind: "transient" };
    return { kind: "terminal" };
  }
  switch (code) {
    case 1:
    case 2:
    case 4:
    case 80007:
    case 130429:
    case 131000:
    case 131016:
    case 131057:
    case 133004:
      return { kind: "transient" };
    case 131056:
      return { kind: "pair_rate" };
    case 131047:
      return { kind: "needs_template" };
    case 131062:
      return { kind: "needs_phone" };
    case 0:
    case 190:
      return alarm("token");
    case 10:
      return alarm("permission");
    case 368:
    case 131031:
      return alarm("restricted");
    case 131042:
      return alarm("billing");
    case 133010:
      return alarm("not_registered");
    case 131048:
      return alarm("quality");
    case 132015:
    case 132016:
      return alarm("template");
  }
  if (code >= 200 && code <= 299) return alarm("permission");
  return { kind: "terminal" };
}

const PAIR_RATE_CAP_MS = 15 * 60_000;

/**
 * Delay before the next message to a recipient after `consecutiveFailures` pair-rate refusals
 * (131056): 4^X seconds with X = failures − 1 (1 s, 4 s, 16 s, 64 s, 256 s, …), capped at 15 min.
 */
export function pairRateDelayMs(consecutiveFailures: number): number {
  const x = Math.max(0, Math.floor(consecutiveFailures) - 1);
  if (x >= 10) return PAIR_RATE_CAP_MS; // 4^10 s is far above the cap; avoid huge powers
  return Math.min(PAIR_RATE_CAP_MS, 4 ** x * 1000);
}

type Lang = "en" | "ru";
type Phrase = Record<Lang, string>;

/** Sentences per code, for what a branch manager can act on. */
const BY_CODE: Record<number, Phrase> = {
  131047: {
    en: "The 24-hour window is closed: send an approved template.",
    ru: "24-часовое окно закрыто: отправьте одобренный шаблон.",
  },
  131026: {
    en: "The customer cannot receive WhatsApp messages (not a WhatsApp user, or an old app).",
    ru: "Клиент не может получать сообщения WhatsApp (не пользуется WhatsApp или у него старая версия приложения).",
  },
  131049: {
    en: "WhatsApp did not deliver this marketing message to keep the customer's engagement healthy; do not resend it for at least 24 hours.",
    ru: "WhatsApp не доставил это рекламное сообщение, чтобы не перегружать клиента; не отправляйте его повторно минимум 24 часа.",
  },
  131050: {
    en: "The customer has stopped marketing messages from us; do not send them marketing templates.",
    ru: "Клиент отписался от рекламных сообщений; не отправляйте ему маркетинговые шаблоны.",
  },
  132001: {
    en: "This template does not exist in this language or is not approved yet.",
    ru: "Такого шаблона нет на этом языке, или он ещё не одобрен.",
  },
  132000: {
    en: "The template got a different number of parameters than it has variables.",
    ru: "Количество параметров не совпадает с количеством переменных шаблона.",
  },
  132005: {
    en: "The template text is too long once the parameters are filled in; shorten them.",
    ru: "Текст шаблона с подставленными параметрами слишком длинный; сократите параметры.",
  },
  132012: {
    en: "A template parameter has the wrong format.",
    ru: "Параметр шаблона в неверном формате.",
  },
  132018: {
    en: "Template parameters cannot contain line breaks, tabs or more than 4 spaces in a row.",
    ru: "Параметры шаблона не могут содержать переносы строк, табуляцию или больше 4 пробелов подряд.",
  },
  132015: {
    en: "This template is paused by WhatsApp because of low quality; it can be sent again once it is unpaused.",
    ru: "WhatsApp приостановил этот шаблон из-за низкого качества; его можно будет отправить после возобновления.",
  },
  132016: {
    en: "This template was disabled by WhatsApp after repeated pauses; create a new template.",
    ru: "WhatsApp отключил этот шаблон после повторных приостановок; создайте новый шаблон.",
  },
  130429: {
    en: "WhatsApp's sending limit for our number was reached; the message will be retried shortly.",
    ru: "Достигнут лимит отправки WhatsApp для нашего номера; сообщение будет отправлено повторно чуть позже.",
  },
  131056: {
    en: "Too many messages to this customer in a short time; the message will be retried in a moment.",
    ru: "Слишком много сообщений этому клиенту за короткое время; сообщение будет отправлено повторно чуть позже.",
  },
  131048: {
    en: "WhatsApp is limiting our number because customers marked messages as spam; sending is paused.",
    ru: "WhatsApp ограничил наш номер, так как клиенты отмечали сообщения как спам; отправка приостановлена.",
  },
  131062: {
    en: "This message cannot be sent to a customer known only by username; it needs their phone number.",
    ru: "Это сообщение нельзя отправить клиенту, известному только по имени пользователя; нужен номер телефона.",
  },
  131053: {
    en: "WhatsApp could not process the attached file (often a wrong file type); convert or re-upload it.",
    ru: "WhatsApp не смог обработать вложение (часто из-за неверного типа файла); преобразуйте или загрузите его заново.",
  },
  131051: {
    en: "WhatsApp does not support this type of message.",
    ru: "WhatsApp не поддерживает этот тип сообщения.",
  },
  131052: {
    en: "The customer's file could not be downloaded (it may be larger than 100 MB); ask them to send it again.",
    ru: "Не удалось скачать файл клиента (возможно, больше 100 МБ); попросите отправить его ещё раз.",
  },
  131009: {
    en: "WhatsApp refused a value in the message (for a reaction: the message is too old, deleted or itself a reaction).",
    ru: "WhatsApp отклонил значение в сообщении (для реакции: сообщение слишком старое, удалено или само является реакцией).",
  },
  131021: {
    en: "The customer's number is our own business number.",
    ru: "Номер клиента совпадает с нашим бизнес-номером.",
  },
  130472: {
    en: "WhatsApp did not deliver this message because the customer is part of a WhatsApp experiment.",
    ru: "WhatsApp не доставил сообщение: клиент участвует в эксперименте WhatsApp.",
  },
  131064: {
    en: "Our messaging limit is restricted because of template category violations; wait until the restriction ends.",
    ru: "Лимит сообщений ограничен из-за нарушений категорий шаблонов; дождитесь окончания ограничения.",
  },
};

const BY_ALARM: Record<AccountAlarm, Phrase> = {
  token: {
    en: "Our WhatsApp access token is invalid or expired; an administrator must renew it.",
    ru: "Токен доступа WhatsApp недействителен или истёк; администратор должен его обновить.",
  },
  permission: {
    en: "Our WhatsApp account lacks a permission for this; an administrator must grant it.",
    ru: "У нашего аккаунта WhatsApp нет нужного разрешения; администратор должен его выдать.",
  },
  restricted: {
    en: "Our WhatsApp account is blocked or locked by Meta; an administrator must resolve it.",
    ru: "Наш аккаунт WhatsApp заблокирован Meta; администратор должен решить этот вопрос.",
  },
  billing: {
    en: "Our WhatsApp account has a payment problem; an administrator must fix billing.",
    ru: "У аккаунта WhatsApp проблема с оплатой; администратор должен её устранить.",
  },
  not_registered: {
    en: "Our WhatsApp number is not registered with the Cloud API; an administrator must register it.",
    ru: "Наш номер WhatsApp не зарегистрирован в Cloud API; администратор должен его зарегистрировать.",
  },
  quality: BY_CODE[131048]!,
  template: {
    en: "This template cannot be sent right now (paused or disabled by WhatsApp).",
    ru: "Этот шаблон сейчас нельзя отправить (WhatsApp приостановил или отключил его).",
  },
};

/**
 * A sentence a branch manager understands. Known codes get their own sentence; account alarms
 * say who must act; everything else names the code and quotes Meta's details.
 */
export function humanError(e: GraphError, cls: ErrorClass, lang: Lang): string {
  if (e.code !== undefined) {
    const own = BY_CODE[e.code];
    if (own) return own[lang];
  }
  if (cls.kind === "account_alarm") return BY_ALARM[cls.alarm][lang];
  if (e.code === undefined && e.network) {
    return lang === "ru"
      ? "Не удалось связаться с WhatsApp (сеть или тайм-аут); отправка будет повторена."
      : "WhatsApp could not be reached (network error or timeout); sending will be retried.";
  }
  if (cls.kind === "transient") {
    return lang === "ru"
      ? `WhatsApp временно недоступен${e.code !== undefined ? ` (ошибка ${e.code})` : ""}; отправка будет повторена.`
      : `WhatsApp is temporarily unavailable${e.code !== undefined ? ` (error ${e.code})` : ""}; sending will be retried.`;
  }
  const what = e.details ?? e.title ?? e.message;
  const tail = what ? `: ${trimDot(what)}` : "";
  if (e.code !== undefined) {
    return lang === "ru" ? `WhatsApp отклонил сообщение (ошибка ${e.code})${tail}.` : `WhatsApp refused the message (error ${e.code})${tail}.`;
  }
  const status = e.httpStatus !== undefined ? ` (HTTP ${e.httpStatus})` : "";
  return lang === "ru" ? `WhatsApp отклонил сообщение${status}${tail}.` : `WhatsApp refused the message${status}${tail}.`;
}

// ─────────────────────────────────────────── helpers ───────────────────────────────────────────

const alarm = (a: AccountAlarm): ErrorClass => ({ kind: "account_alarm", alarm: a });

function fromNetworkError(err: unknown): GraphError {
  const code = isRecord(err) ? str(err.code) : undefined;
  const msg = err instanceof Error ? err.message : isRecord(err) ? str(err.message) : typeof err === "string" ? err : undefined;
  const timeout = code === "ECONNABORTED" || code === "ETIMEDOUT" || /timeout/i.test(msg ?? "");
  return compact({
    message: timeout ? "Graph API did not answer in time" : "Graph API could not be reached",
    details: [code, msg].filter(Boolean).join(": ") || undefined,
    network: true,
  });
}

function parseBody(body: unknown): unknown {
  if (body === undefined || body === null) return undefined;
  let text: string | undefined;
  if (typeof body === "string") text = body;
  else if (body instanceof Uint8Array) text = Buffer.from(body).toString("utf8");
  else if (body instanceof ArrayBuffer) text = Buffer.from(body).toString("utf8");
  else return body;
  const trimmed = text.trim();
  if (trimmed === "") return undefined;
  if (trimmed.startsWith("{")) {
    try {
      return JSON.parse(trimmed) as unknown;
    } catch {
      return trimmed;
    }
  }
  return trimmed;
}

/** The error object: `body.error` (Graph envelope) or the body itself when it carries a code. */
function envelopeError(parsed: unknown): Record<string, unknown> | undefined {
  if (!isRecord(parsed)) return undefined;
  if (isRecord(parsed.error)) return parsed.error;
  if (toInt(parsed.code) !== undefined && (str(parsed.message) !== undefined || str(parsed.title) !== undefined)) return parsed;
  return undefined;
}

function textExcerpt(parsed: unknown): string | undefined {
  if (parsed === undefined) return undefined;
  let text: string;
  if (typeof parsed === "string") text = parsed;
  else {
    try {
      text = JSON.stringify(parsed) ?? String(parsed);
    } catch {
      text = String(parsed);
    }
  }
  const plain = text
    .replace(/<(script|style)[\s\S]*?<\/\1>/gi, " ")
    .replace(/<[^>]*>/g, " ")
    .replace(/&nbsp;/g, " ")
    .replace(/\s+/g, " ")
    .trim();
  if (plain === "") return undefined;
  return plain.length > EXCERPT_CHARS ? `${plain.slice(0, EXCERPT_CHARS)}…` : plain;
}

function titleFromMessage(message: string | undefined): string | undefined {
  const m = message?.match(/^\(#\d+\)\s*(.+)$/);
  return m?.[1]?.trim() || undefined;
}

function httpMessage(status: number | undefined): string {
  return status === undefined ? "Graph API failed without an answer" : `Graph API answered HTTP ${status}`;
}

function toInt(v: unknown): number | undefined {
  if (typeof v === "number" && Number.isInteger(v)) return v;
  if (typeof v === "string" && /^\d+$/.test(v.trim())) return Number(v.trim());
  return undefined;
}

function str(v: unknown): string | undefined {
  return typeof v === "string" && v.trim() !== "" ? v : undefined;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function trimDot(s: string): string {
  return s.trim().replace(/[.\s]+$/, "");
}

/** Drops undefined keys so errors compare and serialize cleanly. */
function compact(e: GraphError): GraphError {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(e)) if (v !== undefined) out[k] = v;
  return out as unknown as GraphError;
}
