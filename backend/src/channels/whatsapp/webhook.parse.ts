import type {
  Customer,
  InboundMessage,
  InteractiveContent,
  ManagementEvent,
  MessageContent,
  MessageContext,
  MessageKind,
  ParsedWebhook,
  Referral,
  SharedContact,
  StatusUpdate,
  UserPreference,
  ValueOrigin,
  WaError,
} from "./webhook.types.js";

/**
 * Pure reader for WhatsApp Cloud API webhook bodies: every entry, every change, every element.
 * It never throws and never trusts types; what it cannot read is reported in `problems`.
 * @see https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/overview
 */

type Obj = Record<string, unknown>;
type Report = (problem: string) => void;

const KNOWN_KINDS: ReadonlySet<string> = new Set<MessageKind>([
  "text", "image", "audio", "video", "document", "sticker", "location", "contacts",
  "interactive", "button", "reaction", "order", "system", "request_welcome", "unsupported",
]);

// ---- defensive primitive readers ----

const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
/** Non-empty string, or an integer as a string (template ids arrive as integers). */
const idOf = (v: unknown): string | undefined =>
  typeof v === "string" ? (v === "" ? undefined : v) : Number.isSafeInteger(v) ? String(v) : undefined;
const num = (v: unknown): number | undefined => {
  const n = typeof v === "number" ? v : typeof v === "string" && v.trim() !== "" ? Number(v) : NaN;
  return Number.isFinite(n) ? n : undefined;
};
const bool = (v: unknown): boolean | undefined =>
  typeof v === "boolean" ? v : v === "true" ? true : v === "false" ? false : undefined;
const secondsToMs = (v: unknown): number | undefined => {
  const n = num(v);
  return n === undefined ? undefined : Math.round(n * 1000);
};
const field = (o: unknown, key: string): unknown => (isObj(o) ? o[key] : undefined);
const kindOf = (v: unknown): string => (v === null ? "null" : Array.isArray(v) ? "array" : typeof v);
const joinText = (parts: (string | undefined)[], sep: string): string | undefined => {
  const kept = parts.filter((s): s is string => typeof s === "string" && s !== "");
  return kept.length ? kept.join(sep) : undefined;
};

/** Object elements of an array with their paths; anything else is reported and skipped. */
function objects(v: unknown, path: string, report: Report, required = false): Array<[Obj, string]> {
  if (v === undefined || v === null) {
    if (required) report(`${path}: missing`);
    return [];
  }
  if (!Array.isArray(v)) {
    report(`${path}: expected an array, got ${kindOf(v)}`);
    return [];
  }
  const out: Array<[Obj, string]> = [];
  v.forEach((el, i) => {
    if (isObj(el)) out.push([el, `${path}[${i}]`]);
    else report(`${path}[${i}]: expected an object, got ${kindOf(el)}; skipped`);
  });
  return out;
}

/** One bad element must not cost us its siblings. */
function guard(path: string, report: Report, fn: () => void): void {
  try {
    fn();
  } catch (err) {
    report(`${path}: parser error (${err instanceof Error ? err.message : String(err)}); skipped`);
  }
}

// ---- shared sub-objects ----

function readError(e: Obj): WaError {
  const code = num(e.code);
  return {
    code: code !== undefined && Number.isInteger(code) ? code : undefined,
    title: str(e.title),
    message: str(e.message),
    // Older payloads put `details` at the top level instead of in `error_data`.
    details: str(field(e.error_data, "details")) ?? str(e.details),
    href: str(e.href),
    raw: e,
  };
}

const readErrors = (v: unknown, path: string, report: Report): WaError[] =>
  objects(v, path, report).map(([e]) => readError(e));

interface ContactRow extends Customer {
  raw: Obj;
}

function readContact(c: Obj): ContactRow {
  return {
    waId: idOf(c.wa_id),
    userId: idOf(c.user_id),
    parentUserId: idOf(c.parent_user_id),
    name: str(field(c.profile, "name")),
    username: str(field(c.profile, "username")),
    identityKeyHash: str(c.identity_key_hash),
    raw: c,
  };
}

/** Join ids from a message/status with `value.contacts[]`; BSUID match first, then phone. */
function joinCustomer(contacts: ContactRow[], waId?: string, userId?: string, parentUserId?: string): Customer {
  const c =
    (userId !== undefined ? contacts.find((x) => x.userId === userId) : undefined) ??
    (waId !== undefined ? contacts.find((x) => x.waId === waId) : undefined);
  return {
    waId: waId ?? c?.waId,
    userId: userId ?? c?.userId,
    parentUserId: parentUserId ?? c?.parentUserId,
    name: c?.name,
    username: c?.username,
    identityKeyHash: c?.identityKeyHash,
    raw: c?.raw,
  };
}

function readContext(c: Obj): MessageContext {
  const product = c.referred_product;
  return {
    messageId: idOf(c.id),
    from: idOf(c.from),
    forwarded: bool(c.forwarded),
    frequentlyForwarded: bool(c.frequently_forwarded),
    referredProduct: isObj(product)
      ? { catalogId: idOf(product.catalog_id), productRetailerId: idOf(product.product_retailer_id) }
      : undefined,
    raw: c,
  };
}

function readReferral(r: Obj): Referral {
  return {
    sourceId: idOf(r.source_id),
    sourceType: str(r.source_type),
    sourceUrl: str(r.source_url),
    headline: str(r.headline),
    body: str(r.body),
    mediaType: str(r.media_type),
    imageUrl: str(r.image_url),
    videoUrl: str(r.video_url),
    thumbnailUrl: str(r.thumbnail_url),
    ctwaClid: str(r.ctwa_clid),
    welcomeMessageText: str(field(r.welcome_message, "text")),
    raw: r,
  };
}

// ---- message content by kind ----

function readSharedContact(c: Obj, path: string, report: Report): SharedContact {
  const name = isObj(c.name) ? c.name : {};
  return {
    formattedName: str(name.formatted_name),
    firstName: str(name.first_name),
    lastName: str(name.last_name),
    company: str(field(c.org, "company")),
    phones: objects(c.phones, `${path}.phones`, report).map(([p]) => ({
      phone: str(p.phone),
      waId: idOf(p.wa_id),
      type: str(p.type),
    })),
    emails: objects(c.emails, `${path}.emails`, report).map(([e]) => ({ email: str(e.email), type: str(e.type) })),
    urls: objects(c.urls, `${path}.urls`, report).map(([u]) => ({ url: str(u.url), type: str(u.type) })),
    birthday: str(c.birthday),
    origin: str(c.origin),
    vcard: str(c.vcard),
    raw: c,
  };
}

function readInteractive(o: Obj, path: string, report: Report): InteractiveContent {
  const replyType = str(o.type);
  const reply = replyType !== undefined ? o[replyType] : undefined;
  if (replyType === undefined) report(`${path}.type: missing`);
  else if (!isObj(reply)) report(`${path}.${replyType}: missing or not an object`);
  const r = isObj(reply) ? reply : {};
  const content: InteractiveContent = {
    kind: "interactive",
    replyType,
    id: str(r.id),
    title: str(r.title),
    description: str(r.description),
  };
  if (replyType === "nfm_reply") {
    const json = r.response_json;
    let response: unknown;
    let responseInvalid = false;
    if (typeof json === "string") {
      try {
        response = JSON.parse(json);
      } catch {
        responseInvalid = true;
      }
    } else if (isObj(json)) {
      response = json; // tolerate an already-decoded object
    }
    content.nfm = { name: str(r.name), body: str(r.body), responseJson: str(json), response, responseInvalid };
  }
  return content;
}

function readContent(kind: MessageKind, m: Obj, path: string, report: Report, errors: WaError[]): MessageContent {
  const sub = (key: string): Obj => {
    const v = m[key];
    if (isObj(v)) return v;
    report(`${path}.${key}: missing or not an object`);
    return {};
  };
  switch (kind) {
    case "text":
      return { kind, body: str(sub("text").body) };
    case "image":
    case "audio":
    case "video":
    case "document":
    case "sticker": {
      const o = sub(kind);
      return {
        kind,
        mediaId: idOf(o.id),
        mimeType: str(o.mime_type),
        sha256: str(o.sha256),
        url: str(o.url),
        caption: str(o.caption),
        filename: str(o.filename),
        voice: bool(o.voice),
        animated: bool(o.animated),
      };
    }
    case "location": {
      const o = sub("location");
      const latitude = num(o.latitude);
      const longitude = num(o.longitude);
      if (latitude === undefined) report(`${path}.location.latitude: missing or not a number`);
      if (longitude === undefined) report(`${path}.location.longitude: missing or not a number`);
      return { kind, latitude, longitude, name: str(o.name), address: str(o.address), url: str(o.url) };
    }
    case "contacts":
      return {
        kind,
        contacts: objects(m.contacts, `${path}.contacts`, report, true).map(([c, p]) =>
          readSharedContact(c, p, report),
        ),
      };
    case "interactive":
      return readInteractive(sub("interactive"), `${path}.interactive`, report);
    case "button": {
      const o = sub("button");
      return { kind, payload: str(o.payload), text: str(o.text) };
    }
    case "reaction": {
      const o = sub("reaction");
      const emoji = str(o.emoji);
      // No emoji (or "", which is how we send removals) means the reaction was removed.
      const removed = emoji === undefined || emoji === "";
      return { kind, messageId: idOf(o.message_id), emoji: removed ? undefined : emoji, removed };
    }
    case "order": {
      const o = sub("order");
      return {
        kind,
        catalogId: idOf(o.catalog_id),
        text: str(o.text),
        items: objects(o.product_items, `${path}.order.product_items`, report).map(([i]) => ({
          productRetailerId: idOf(i.product_retailer_id),
          quantity: num(i.quantity),
          itemPrice: num(i.item_price),
          currency: str(i.currency),
        })),
      };
    }
    case "system": {
      const o = sub("system");
      return {
        kind,
        type: str(o.type),
        body: str(o.body),
        newWaId: idOf(o.wa_id) ?? idOf(o.new_wa_id),
        newUserId: idOf(o.user_id),
        newParentUserId: idOf(o.parent_user_id),
        previousUserId: idOf(o.previous_user_id),
        previousParentUserId: idOf(o.previous_parent_user_id),
        identity: str(o.identity),
      };
    }
    case "request_welcome":
      return { kind };
    case "unsupported":
      return {
        kind,
        originalType: str(m.type),
        unsupportedType: str(field(m.unsupported, "type")),
        errors,
      };
  }
}

function textOf(c: MessageContent): string | undefined {
  switch (c.kind) {
    case "text":
      return c.body;
    case "image":
    case "audio":
    case "video":
    case "sticker":
      return c.caption;
    case "document":
      return c.caption ?? c.filename;
    case "location":
      return joinText([c.name, c.address], "\n");
    case "contacts":
      return joinText(
        c.contacts.map((x) => x.formattedName ?? joinText([x.firstName, x.lastName], " ")),
        ", ",
      );
    case "interactive":
      return c.title ?? c.nfm?.body;
    case "button":
      return c.text ?? c.payload;
    case "reaction":
      return c.emoji;
    case "order":
      return c.text;
    case "system":
      return c.body;
    default:
      return undefined;
  }
}

// ---- value elements ----

function readMessage(
  m: Obj,
  path: string,
  origin: ValueOrigin,
  contacts: ContactRow[],
  report: Report,
): InboundMessage | undefined {
  const wamid = idOf(m.id);
  if (wamid === undefined) {
    report(`${path}: id missing; skipped`);
    return undefined;
  }
  const originalType = str(m.type);
  if (originalType === undefined) report(`${path}.type: missing`);
  // Unknown types (poll, edit, revoke, group, call, legacy "unknown"…) keep `originalType` only.
  const kind: MessageKind =
    originalType !== undefined && KNOWN_KINDS.has(originalType) ? (originalType as MessageKind) : "unsupported";
  const timestamp = secondsToMs(m.timestamp);
  if (timestamp === undefined) report(`${path}.timestamp: missing or not a number`);
  const waId = idOf(m.from);
  const userId = idOf(m.from_user_id);
  if (waId === undefined && userId === undefined) report(`${path}: neither from nor from_user_id`);

  const errors = readErrors(m.errors, `${path}.errors`, report);
  const content = readContent(kind, m, path, report, errors);
  const msg: InboundMessage = {
    ...origin,
    wamid,
    timestamp,
    customer: joinCustomer(contacts, waId, userId, idOf(m.from_parent_user_id)),
    kind,
    originalType,
    text: textOf(content),
    content,
    unsupported: kind === "unsupported",
    raw: m,
    path,
  };
  if (isObj(m.context)) msg.context = readContext(m.context);
  if (isObj(m.referral)) msg.referral = readReferral(m.referral);
  if (errors.length > 0) msg.errors = errors;
  const groupId = idOf(m.group_id);
  if (groupId !== undefined) msg.groupId = groupId;
  return msg;
}

function readStatus(
  s: Obj,
  path: string,
  origin: ValueOrigin,
  contacts: ContactRow[],
  report: Report,
): StatusUpdate | undefined {
  const wamid = idOf(s.id);
  const status = str(s.status);
  if (wamid === undefined || status === undefined || status === "") {
    report(`${path}: ${wamid === undefined ? "id" : "status"} missing; skipped`);
    return undefined;
  }
  const timestamp = secondsToMs(s.timestamp);
  if (timestamp === undefined) report(`${path}.timestamp: missing or not a number`);

  const recipientWaId = idOf(s.recipient_id);
  const recipientUserId = idOf(s.recipient_user_id);
  const recipientParentUserId = idOf(s.recipient_parent_user_id);
  const recipientType = str(s.recipient_type);
  // For group sends recipient_id is the group, not a person.
  const recipient =
    recipientType === "group" ? {} : joinCustomer(contacts, recipientWaId, recipientUserId, recipientParentUserId);
  const { pricing, conversation } = s;
  const errors = readErrors(s.errors, `${path}.errors`, report);
  const out: StatusUpdate = {
    ...origin,
    wamid,
    status,
    timestamp,
    recipientWaId,
    recipientUserId,
    recipientParentUserId,
    recipientType,
    recipientIdentityKeyHash: str(s.recipient_identity_key_hash),
    recipient,
    bizOpaqueCallbackData: str(s.biz_opaque_callback_data),
    pricing: isObj(pricing)
      ? {
          billable: bool(pricing.billable),
          pricingModel: str(pricing.pricing_model),
          type: str(pricing.type),
          category: str(pricing.category),
        }
      : undefined,
    conversation: isObj(conversation)
      ? {
          id: idOf(conversation.id),
          expiresAt: secondsToMs(conversation.expiration_timestamp),
          originType: str(field(conversation.origin, "type")),
        }
      : undefined,
    raw: s,
    path,
  };
  if (errors.length > 0) out.errors = errors;
  return out;
}

// ---- changes ----

function readOrigin(value: Obj, wabaId: string | undefined): ValueOrigin {
  return {
    phoneNumberId: idOf(field(value.metadata, "phone_number_id")),
    displayPhoneNumber: idOf(field(value.metadata, "display_phone_number")) ?? idOf(value.display_phone_number),
    wabaId,
  };
}

function readMessagesValue(
  value: Obj,
  path: string,
  wabaId: string | undefined,
  acc: ParsedWebhook,
  report: Report,
): void {
  const origin = readOrigin(value, wabaId);
  if (origin.phoneNumberId === undefined) report(`${path}.metadata.phone_number_id: missing`);
  const contacts = objects(value.contacts, `${path}.contacts`, report).map(([c]) => readContact(c));

  for (const [m, p] of objects(value.messages, `${path}.messages`, report)) {
    guard(p, report, () => {
      const msg = readMessage(m, p, origin, contacts, report);
      if (msg) acc.messages.push(msg);
    });
  }
  for (const [s, p] of objects(value.statuses, `${path}.statuses`, report)) {
    guard(p, report, () => {
      const st = readStatus(s, p, origin, contacts, report);
      if (st) acc.statuses.push(st);
    });
  }
  for (const [e, p] of objects(value.errors, `${path}.errors`, report)) {
    acc.errors.push({ ...readError(e), ...origin, path: p });
  }
  if (value.messages === undefined && value.statuses === undefined && value.errors === undefined) {
    report(`${path}: no messages, statuses or errors`);
  }
}

function readManagement(fieldName: string, value: Obj, path: string, wabaId?: string, time?: number): ManagementEvent {
  const { phoneNumberId, displayPhoneNumber } = readOrigin(value, wabaId);
  return {
    field: fieldName,
    wabaId,
    time,
    value,
    event: str(value.event),
    templateId: idOf(value.message_template_id),
    templateName: str(value.message_template_name),
    templateLanguage: str(value.message_template_language),
    phoneNumberId,
    displayPhoneNumber,
    path,
  };
}

function readUserPreferences(value: Obj, path: string, report: Report): UserPreference[] {
  return objects(value.user_preferences, `${path}.user_preferences`, report, true).map(([u]) => ({
    waId: idOf(u.wa_id),
    userId: idOf(u.user_id),
    category: str(u.category),
    value: str(u.value),
    detail: str(u.detail),
    timestamp: secondsToMs(u.timestamp),
    raw: u,
  }));
}

function readChange(
  change: unknown,
  path: string,
  wabaId: string | undefined,
  time: number | undefined,
  acc: ParsedWebhook,
  report: Report,
): void {
  if (!isObj(change)) return report(`${path}: expected an object, got ${kindOf(change)}; skipped`);
  const value = change.value;
  if (!isObj(value)) return report(`${path}: value is not an object`);
  const fieldName = str(change.field);
  if (fieldName === undefined || fieldName === "") return report(`${path}: field is missing`);
  if (fieldName === "messages") return readMessagesValue(value, path, wabaId, acc, report);

  const event = readManagement(fieldName, value, path, wabaId, time);
  if (fieldName === "user_preferences") event.preferences = readUserPreferences(value, path, report);
  acc.managementEvents.push(event);
}

function readEntry(entry: Obj, path: string, acc: ParsedWebhook, report: Report): void {
  const wabaId = idOf(entry.id);
  if (wabaId === undefined) report(`${path}.id: missing`);
  const time = secondsToMs(entry.time);
  const changes = entry.changes;
  if (changes === undefined || changes === null) return report(`${path}.changes: missing`);
  if (!Array.isArray(changes)) return report(`${path}.changes: expected an array, got ${kindOf(changes)}`);
  changes.forEach((change, j) => {
    const p = `${path}.changes[${j}]`;
    guard(p, report, () => readChange(change, p, wabaId, time, acc, report));
  });
}

/**
 * Read a webhook POST body (already `JSON.parse`d) into messages, statuses, value-level errors and
 * management events. Never throws; anything unreadable is skipped and described in `problems`.
 */
export function parseMetaWebhook(body: unknown): ParsedWebhook {
  const acc: ParsedWebhook = { messages: [], statuses: [], errors: [], managementEvents: [], problems: [] };
  const report: Report = (problem) => {
    acc.problems.push(problem);
  };
  try {
    if (!isObj(body)) {
      report(`body: expected an object, got ${kindOf(body)}`);
      return acc;
    }
    acc.object = str(body.object);
    if (body.object !== "whatsapp_business_account") {
      report(`object: expected "whatsapp_business_account", got ${JSON.stringify(body.object) ?? "undefined"}`);
    }
    for (const [entry, p] of objects(body.entry, "entry", report, true)) {
      guard(p, report, () => readEntry(entry, p, acc, report));
    }
  } catch (err) {
    report(`body: parser error (${err instanceof Error ? err.message : String(err)})`);
  }
  return acc;
}

/** Idempotency key for an inbound message: `msg:<wamid>`. */
export const eventKeyForMessage = (m: Pick<InboundMessage, "wamid">): string => `msg:${m.wamid}`;

/** Idempotency key for a status: `status:<wamid>:<status>` (a wamid gets one webhook per status). */
export const eventKeyForStatus = (s: Pick<StatusUpdate, "wamid" | "status">): string =>
  `status:${s.wamid}:${s.status}`;

/**
 * Stable customer key: the BSUID (`user_id`, e.g. `US.1349…`) when present, else `wa:<wa_id>`;
 * undefined when neither is known. The prefix keeps phone keys apart from BSUIDs. The key changes
 * when a known phone-only customer first arrives with a BSUID (from April 2026) or changes number,
 * so callers must link both ids to one customer (doc §2.11).
 */
export function customerKey(c: Pick<Customer, "waId" | "userId">): string | undefined {
  if (c.userId) return c.userId;
  if (c.waId) return `wa:${c.waId}`;
  return undefined;
}
