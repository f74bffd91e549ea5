// Wire types of the branch inbox API (/inbox/api/*). Mirrors what the backend sends; the page
// treats every optional field as possibly absent.

export type Direction = "in" | "out";

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
  | "unsupported"
  | "template";

export type MessageStatus = "queued" | "sent" | "delivered" | "read" | "failed";

export interface Routing {
  rule: string;
  reason: string;
}

export interface ApiErrorBody {
  code: string;
  message: string;
}

export interface Media {
  url: string;
  mimeType?: string;
  filename?: string;
}

export interface Msg {
  id: string;
  direction: Direction;
  kind: MessageKind;
  text?: string;
  media?: Media;
  status?: MessageStatus;
  error?: ApiErrorBody;
  createdAt: number;
  routing?: Routing;
}

export interface Customer {
  id: string;
  name?: string;
  phone?: string;
}

export interface Dialog {
  id: string;
  customer: Customer;
  lastMessage?: { text: string; direction: Direction; at: number };
  updatedAt: number;
  unread: number;
  routing?: Routing;
}

export interface Branch {
  id: string;
  name: string;
  code: string;
}

export interface MeResponse {
  branch: Branch;
}

export interface DialogsResponse {
  dialogs: Dialog[];
}

export interface MessagesResponse {
  messages: Msg[];
}

export interface SendResponse {
  id: string;
  status: MessageStatus;
}

/** `event: message` payload. */
export interface MessageEvent {
  dialogId: string;
  message: Msg;
}

/** `event: status` payload. */
export interface StatusEvent {
  dialogId: string;
  messageId: string;
  status: MessageStatus;
  error?: ApiErrorBody;
}
