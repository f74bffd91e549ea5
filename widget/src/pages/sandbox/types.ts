// Wire types of the sandbox API (/sandbox/api/*): a simulated customer phone.

export interface PhoneEntry {
  phone: string;
  name?: string;
}

export interface ButtonInteractive {
  type: "button";
  body: string;
  buttons: { id: string; title: string }[];
}

export interface ListRow {
  id: string;
  title: string;
  description?: string;
}

export interface ListInteractive {
  type: "list";
  body: string;
  button: string;
  sections: { title: string; rows: ListRow[] }[];
}

export type Interactive = ButtonInteractive | ListInteractive;

export interface SMsg {
  id: string;
  from: "customer" | "business";
  text?: string;
  interactive?: Interactive;
  status?: string;
  createdAt: number;
}

export interface PhonesResponse {
  phones: PhoneEntry[];
}

export interface MessagesResponse {
  messages: SMsg[];
}

export interface Reply {
  type: "button_reply" | "list_reply";
  id: string;
  title: string;
}

export type SendBody =
  | { name?: string; text: string }
  | { name?: string; reply: Reply; contextId: string };

export interface SendResponse {
  id: string;
}

/** `event: status` payload. */
export interface SandboxStatusEvent {
  id: string;
  status: string;
}
