import { createHash, timingSafeEqual } from "node:crypto";
import { AppError } from "../../errors.js";
import { parseNestedForm } from "./form-body.js";

/**
 * One event POST from Bitrix24 (`event`, `event_handler_id`, `data`, `ts`, `auth[…]`), form-encoded.
 * `auth` tokens belong to whoever triggered the event and are absent for robots/workflows: use our
 * stored tokens for API calls, and `applicationToken` only to check the sender.
 * @see bitrix24.md §1.4, §4.5, §7
 */
export type B24Event = {
  /** Upper-cased: `ONIMCONNECTORMESSAGEADD`, `ONAPPINSTALL`, … */
  event: string;
  data: unknown;
  ts?: string;
  eventHandlerId?: string;
  auth: {
    domain: string;
    memberId: string;
    applicationToken?: string;
    accessToken?: string;
    refreshToken?: string;
    expiresIn?: number;
    /** Unix seconds. */
    expires?: number;
    serverEndpoint?: string;
    clientEndpoint?: string;
    userId?: string;
    scope?: string;
    status?: string;
  };
};

/** Parses the raw form body of an event. AppError 400 `bad_event` names the missing field. */
export function parseB24Event(raw: string): B24Event {
  let body: Record<string, unknown>;
  try {
    body = parseNestedForm(raw);
  } catch (err) {
    if (err instanceof AppError) throw new AppError({ code: "bad_event", message: err.message, httpStatus: 400, field: err.field, cause: err });
    throw err;
  }
  const event = str(body.event);
  if (!event) throw badEvent("event");
  const auth = body.auth;
  if (!auth || typeof auth !== "object" || Array.isArray(auth)) throw badEvent("auth");
  const a = auth as Record<string, unknown>;
  const domain = str(a.domain);
  if (!domain) throw badEvent("auth[domain]");
  const memberId = str(a.member_id);
  if (!memberId) throw badEvent("auth[member_id]");
  return {
    event: event.toUpperCase(),
    data: body.data,
    ts: str(body.ts),
    eventHandlerId: str(body.event_handler_id),
    auth: {
      domain,
      memberId,
      applicationToken: str(a.application_token),
      accessToken: str(a.access_token),
      refreshToken: str(a.refresh_token),
      expiresIn: num(a.expires_in),
      expires: num(a.expires),
      serverEndpoint: str(a.server_endpoint),
      clientEndpoint: str(a.client_endpoint),
      userId: str(a.user_id),
      scope: str(a.scope),
      status: str(a.status),
    },
  };
}

/**
 * Constant-time check of `auth[application_token]` against the value stored at install
 * (bitrix24.md §1.5). Both sides are hashed first so neither length nor content leaks through timing.
 * False when either side is missing or empty.
 */
export function applicationTokenMatches(event: B24Event, expectedToken: string): boolean {
  const got = event.auth.applicationToken;
  if (!got || !expectedToken) return false;
  const a = createHash("sha256").update(got, "utf8").digest();
  const b = createHash("sha256").update(expectedToken, "utf8").digest();
  return timingSafeEqual(a, b);
}

/** One operator message to deliver to WhatsApp, from `ONIMCONNECTORMESSAGEADD`. */
export interface OperatorMessage {
  connector: string;
  lineId: string;
  /** The external chat id we gave in `imconnector.send.messages` (`chat.id`, = the customer's wa_id). */
  chatId: string;
  /** Bitrix24 chat id (`im.chat_id`), needed for the delivery confirmation. */
  imChatId?: string;
  /** Bitrix24 message id (`im.message_id`), needed for the delivery confirmation. */
  messageId: string;
  /** BBCode, as the operator wrote it (see bbcode.ts). */
  text?: string;
  /** Attachments; `link` made absolute against the portal when Bitrix24 sent a relative one. */
  files: Array<{ name: string; link: string; size?: number; type?: string }>;
  /** Bitrix24 user who wrote it; empty/`0` = automatic/system message (bitrix24.md §4.5, UNCONFIRMED). */
  userId?: string;
  system: boolean;
  raw: unknown;
}

/**
 * The messages of an `ONIMCONNECTORMESSAGEADD` event (`data.MESSAGES[*]`); `[]` for any other event.
 * AppError 400 `bad_event` names a missing `CONNECTOR`, `LINE`, `chat.id` or `im.message_id`.
 * Files are not in the official doc; the keys real code reads (`downloadLink|link`, `name`,
 * `mime|type`, `size`) are accepted (bitrix24.md §4.5, UNCONFIRMED).
 */
export function operatorMessages(event: B24Event): OperatorMessage[] {
  if (event.event !== "ONIMCONNECTORMESSAGEADD") return [];
  const data = record(event.data);
  const connector = str(data?.CONNECTOR);
  if (!connector) throw badEvent("data[CONNECTOR]");
  const lineId = str(data?.LINE);
  if (!lineId) throw badEvent("data[LINE]");
  const origin = portalOrigin(event);
  return list(data?.MESSAGES).map((item, i) => {
    const m = record(item);
    const im = record(m?.im);
    const message = record(m?.message);
    const chat = record(m?.chat);
    const chatId = str(chat?.id);
    if (!chatId) throw badEvent(`data[MESSAGES][${i}][chat][id]`);
    const messageId = str(im?.message_id);
    if (!messageId) throw badEvent(`data[MESSAGES][${i}][im][message_id]`);
    const userId = str(message?.user_id);
    const files = list(message?.files).flatMap((f) => {
      const file = record(f);
      const href = str(file?.downloadLink) ?? str(file?.link);
      if (!href) return [];
      return [
        {
          name: str(file?.name) ?? "file",
          link: absolute(href, origin),
          size: num(file?.size),
          type: str(file?.mime) ?? str(file?.type),
        },
      ];
    });
    return {
      connector,
      lineId,
      chatId,
      imChatId: str(im?.chat_id),
      messageId,
      text: str(message?.text),
      files,
      userId,
      system: !userId || userId === "0",
      raw: item,
    };
  });
}

function portalOrigin(event: B24Event): string | undefined {
  const fromEndpoint = event.auth.clientEndpoint;
  if (fromEndpoint) {
    try {
      return new URL(fromEndpoint).origin;
    } catch {
      // fall through to the domain
    }
  }
  return event.auth.domain ? `https://${event.auth.domain}` : undefined;
}

function absolute(href: string, origin: string | undefined): string {
  if (/^https?:\/\//i.test(href) || !origin) return href;
  try {
    return new URL(href, origin).toString();
  } catch {
    return href;
  }
}

function str(v: unknown): string | undefined {
  if (typeof v === "string") return v.length > 0 ? v : undefined;
  if (typeof v === "number" && Number.isFinite(v)) return String(v);
  return undefined;
}

function num(v: unknown): number | undefined {
  if (typeof v === "number") return Number.isFinite(v) ? v : undefined;
  if (typeof v === "string" && v.trim() !== "") {
    const n = Number(v);
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

function record(v: unknown): Record<string, unknown> | undefined {
  return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

/** Form bodies give arrays for `0..n-1` keys and objects otherwise: accept both, in key order. */
function list(v: unknown): unknown[] {
  if (Array.isArray(v)) return v;
  const r = record(v);
  return r ? Object.values(r) : [];
}

function badEvent(field: string): AppError {
  return new AppError({ code: "bad_event", message: `Bitrix24 event without ${field}`, httpStatus: 400, field });
}
