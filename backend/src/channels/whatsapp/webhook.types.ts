/**
 * Normalised shapes produced by `parseMetaWebhook` from a WhatsApp Cloud API webhook POST.
 *
 * Conventions: every time is epoch **milliseconds**; every id is a string (Meta sends template ids
 * as integers); a field is `undefined` when Meta did not send it or sent a value of the wrong type;
 * every item keeps the untouched source object in `raw` and where it came from in `path`
 * (e.g. `entry[0].changes[1].messages[2]`).
 * @see https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/messages
 */

/** Message kinds we understand. Anything else (poll, edit, revoke, group, call, unknown…) is `unsupported`. */
export type MessageKind =
  | "text"
  | "image"
  | "audio"
  | "video"
  | "document"
  | "sticker"
  | "location"
  | "contacts"
  | "interactive"
  | "button"
  | "reaction"
  | "order"
  | "system"
  | "request_welcome"
  | "unsupported";

export type MediaKind = "image" | "audio" | "video" | "document" | "sticker";

/** Meta error object, from `errors[]` on a message, a status or a change value. */
export interface WaError {
  code?: number;
  title?: string;
  message?: string;
  /** `error_data.details`, or the top-level `details` older payloads used. */
  details?: string;
  href?: string;
  raw: unknown;
}

/**
 * Who sent (or received) a message. Phone (`waId`) may be missing for username users in 2026;
 * BSUID (`userId`) is missing in payloads from before April 2026. Use `customerKey` for a stable key.
 */
export interface Customer {
  waId?: string;
  /** BSUID, e.g. `US.13491208655302741918`. */
  userId?: string;
  parentUserId?: string;
  /** WhatsApp profile name: user-controlled, unverified. */
  name?: string;
  username?: string;
  identityKeyHash?: string;
  /** The `value.contacts[]` element joined to this message/status, if any. */
  raw?: unknown;
}

export interface MediaContent {
  kind: MediaKind;
  /** Valid for 7 days after the webhook; fetch the download URL with `GET /{mediaId}`. */
  mediaId?: string;
  mimeType?: string;
  sha256?: string;
  /** Lookaside URL; still needs the bearer token. */
  url?: string;
  caption?: string;
  filename?: string;
  /** Audio only: recorded as a voice note in WhatsApp. */
  voice?: boolean;
  /** Sticker only. */
  animated?: boolean;
}

export interface TextContent {
  kind: "text";
  body?: string;
}

export interface LocationContent {
  kind: "location";
  /** Numbers even when Meta sent strings. */
  latitude?: number;
  longitude?: number;
  name?: string;
  address?: string;
  url?: string;
}

/** One vCard the user shared. Addresses and other rare keys stay in `raw`. */
export interface SharedContact {
  formattedName?: string;
  firstName?: string;
  lastName?: string;
  company?: string;
  phones: { phone?: string; waId?: string; type?: string }[];
  emails: { email?: string; type?: string }[];
  urls: { url?: string; type?: string }[];
  birthday?: string;
  /** 2026: `contact_request` (answer to a REQUEST_CONTACT_INFO button) or `other`. */
  origin?: string;
  vcard?: string;
  raw: unknown;
}

export interface ContactsContent {
  kind: "contacts";
  contacts: SharedContact[];
}

export type InteractiveReplyType = "button_reply" | "list_reply" | "nfm_reply" | (string & {});

/** WhatsApp Flows / address message reply (`nfm_reply`). */
export interface FlowReply {
  /** `flow` or `address_message`. */
  name?: string;
  body?: string;
  /** `response_json` exactly as received. */
  responseJson?: string;
  /** Parsed `response_json`; undefined when missing or invalid. */
  response?: unknown;
  /** `response_json` was present but not valid JSON. */
  responseInvalid: boolean;
}

export interface InteractiveContent {
  kind: "interactive";
  replyType?: InteractiveReplyType;
  /** The id we set on the button/row. */
  id?: string;
  title?: string;
  description?: string;
  nfm?: FlowReply;
}

/** Quick-reply button of a template. */
export interface ButtonContent {
  kind: "button";
  payload?: string;
  text?: string;
}

export interface ReactionContent {
  kind: "reaction";
  /** wamid of the message reacted to. */
  messageId?: string;
  /** Undefined when the user removed the reaction. */
  emoji?: string;
  removed: boolean;
}

export interface OrderItem {
  productRetailerId?: string;
  quantity?: number;
  itemPrice?: number;
  currency?: string;
}

export interface OrderContent {
  kind: "order";
  catalogId?: string;
  text?: string;
  items: OrderItem[];
}

export type SystemType =
  | "user_changed_number"
  | "user_changed_user_id"
  | "customer_changed_number"
  | "customer_identity_changed"
  | (string & {});

/** Number/BSUID change notice. Carries no `contacts`. */
export interface SystemContent {
  kind: "system";
  type?: SystemType;
  body?: string;
  /** `wa_id`, or the deprecated `new_wa_id`. */
  newWaId?: string;
  newUserId?: string;
  newParentUserId?: string;
  previousUserId?: string;
  previousParentUserId?: string;
  /** Legacy `customer_identity_changed` identity value. */
  identity?: string;
}

export interface RequestWelcomeContent {
  kind: "request_welcome";
}

export interface UnsupportedContent {
  kind: "unsupported";
  /** The message `type` as received (`unsupported`, `unknown`, `poll`, `edit`…). */
  originalType?: string;
  /** `unsupported.type`, e.g. `edit`, `poll_creation`. */
  unsupportedType?: string;
  errors: WaError[];
}

export type MessageContent =
  | TextContent
  | MediaContent
  | LocationContent
  | ContactsContent
  | InteractiveContent
  | ButtonContent
  | ReactionContent
  | OrderContent
  | SystemContent
  | RequestWelcomeContent
  | UnsupportedContent;

/** Reply / forward / product-enquiry context. */
export interface MessageContext {
  /** wamid of the quoted message (ours when the user replied to us or tapped our buttons). */
  messageId?: string;
  /** Who sent the quoted message: our display number, or (unconfirmed) the user. */
  from?: string;
  forwarded?: boolean;
  /** Forwarded more than 5 times. */
  frequentlyForwarded?: boolean;
  referredProduct?: { catalogId?: string; productRetailerId?: string };
  raw: unknown;
}

/** Click-to-WhatsApp ad or post that opened the chat. */
export interface Referral {
  sourceId?: string;
  /** `ad` or `post`. */
  sourceType?: string;
  sourceUrl?: string;
  headline?: string;
  body?: string;
  /** `image` or `video`. */
  mediaType?: string;
  imageUrl?: string;
  videoUrl?: string;
  thumbnailUrl?: string;
  /** Omitted by Meta for WhatsApp Status placements. */
  ctwaClid?: string;
  welcomeMessageText?: string;
  raw: unknown;
}

/** Where a `value` came from: the number it was sent to and the business account. */
export interface ValueOrigin {
  phoneNumberId?: string;
  displayPhoneNumber?: string;
  /** `entry[].id`. */
  wabaId?: string;
}

/** One `value.messages[]` element. */
export interface InboundMessage extends ValueOrigin {
  wamid: string;
  /** Epoch ms (Meta sends a string of seconds). */
  timestamp?: number;
  customer: Customer;
  kind: MessageKind;
  /** `type` exactly as received; differs from `kind` when `kind` is `unsupported`. */
  originalType?: string;
  /** Human-readable text: body, caption, reply title, emoji, location name/address, order text… */
  text?: string;
  content: MessageContent;
  context?: MessageContext;
  referral?: Referral;
  /** Message-level errors (e.g. 131051 unsupported, 131052 media too big). */
  errors?: WaError[];
  /** True exactly when `kind` is `unsupported`. */
  unsupported: boolean;
  /** Groups only. */
  groupId?: string;
  raw: unknown;
  path: string;
}

export type StatusKind = "sent" | "delivered" | "read" | "played" | "failed" | (string & {});

export interface Pricing {
  billable?: boolean;
  /** `PMP` (per-message) or `CBP`. */
  pricingModel?: string;
  /** `regular`, `free_customer_service`, `free_entry_point`. */
  type?: string;
  category?: string;
}

/** Omitted from v24 on unless inside a free entry point window. */
export interface ConversationInfo {
  id?: string;
  /** Epoch ms; only on `sent`. */
  expiresAt?: number;
  originType?: string;
}

/** One `value.statuses[]` element: delivery progress of a message we sent. */
export interface StatusUpdate extends ValueOrigin {
  wamid: string;
  /** Unknown values are kept as received. */
  status: StatusKind;
  timestamp?: number;
  /** `recipient_id`: phone digits, or a group id for group sends. */
  recipientWaId?: string;
  recipientUserId?: string;
  recipientParentUserId?: string;
  recipientType?: string;
  recipientIdentityKeyHash?: string;
  /** Recipient identity, joined with `value.contacts[]` (2026: username on delivered/read). */
  recipient: Customer;
  bizOpaqueCallbackData?: string;
  pricing?: Pricing;
  conversation?: ConversationInfo;
  /** Only on `failed`. */
  errors?: WaError[];
  raw: unknown;
  path: string;
}

/** `value.errors[]`: problem not tied to one message (e.g. 130429 throughput). */
export interface ValueError extends WaError, ValueOrigin {
  path: string;
}

/** One `user_preferences[]` element: user stopped or resumed marketing messages. */
export interface UserPreference {
  waId?: string;
  userId?: string;
  /** e.g. `marketing_messages`. */
  category?: string;
  /** e.g. `stop` / `resume` (literal values unconfirmed). */
  value?: string;
  detail?: string;
  /** Epoch ms. */
  timestamp?: number;
  raw: unknown;
}

/** A change whose `field` is not `messages` (templates, quality, account, preferences, security…). */
export interface ManagementEvent {
  field: string;
  wabaId?: string;
  /** `entry[].time` in epoch ms. */
  time?: number;
  /** The change `value`, untouched. */
  value: unknown;
  /** `value.event` (template status, phone quality). */
  event?: string;
  /** `message_template_id` as a string. */
  templateId?: string;
  templateName?: string;
  templateLanguage?: string;
  phoneNumberId?: string;
  displayPhoneNumber?: string;
  /** Only for `user_preferences`. */
  preferences?: UserPreference[];
  path: string;
}

export interface ParsedWebhook {
  /** Top-level `object`; expected `whatsapp_business_account`. */
  object?: string;
  messages: InboundMessage[];
  statuses: StatusUpdate[];
  errors: ValueError[];
  managementEvents: ManagementEvent[];
  /** What was skipped or looked wrong, e.g. `entry[1].changes[0]: value is not an object`. */
  problems: string[];
}
