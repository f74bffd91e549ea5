// Wire types of the lead-card panel API (`context`, `send`, `transfer`, `register`), shared by the
// amoCRM and Bitrix24 hosts. Each host maps these endpoint names to its own backend routes.

export interface BranchRef {
  id: string;
  code: string;
  name: string;
}

export interface PanelTemplateParam {
  /** "1", "2", … for POSITIONAL templates; the parameter name for NAMED ones. */
  key: string;
  example?: string;
  /** Value the backend resolved from the lead/contact (e.g. the contact's name). */
  prefill?: string;
}

export interface PanelTemplate {
  name: string;
  language: string;
  category?: string;
  parameterFormat?: "POSITIONAL" | "NAMED";
  header?: string;
  body: string;
  footer?: string;
  params: PanelTemplateParam[];
}

export interface PanelStatus {
  id: string;
  direction: "in" | "out";
  text?: string;
  template?: string;
  status?: string;
  at: number;
  error?: { code?: string; message?: string };
}

export interface PanelWindow {
  open: boolean;
  closesAt?: number;
  lastInboundAt?: number;
}

export interface BoundContext {
  bound: true;
  branch: BranchRef;
  lead?: { id: number; name?: string };
  contact?: { id: number; name?: string; phone?: string };
  dialog?: { id: string; routing?: { rule?: string; reason?: string } };
  window?: PanelWindow;
  /** Server clock (ms) when the context was built: the countdown runs on the server's clock. */
  now?: number;
  templates?: PanelTemplate[];
  statuses?: PanelStatus[];
  /** Transfer targets: the network's other enabled branches. */
  branches?: BranchRef[];
}

export type PanelContext = BoundContext | { bound: false };

export interface SendRequest {
  lead_id: number;
  template: { name: string; language: string; params: string[] | Record<string, string> };
}

export interface SendResponse {
  id: string;
  status: string;
}

export interface TransferResponse {
  branch: BranchRef;
}

/** Logical endpoints; `context` takes its query in `query`. */
export type PanelEndpoint = "context" | "send" | "transfer" | "register";

/**
 * How the panel reaches the backend. The host adds authentication (amoCRM: X-Auth-Token via
 * `$authorizedAjax`) and rejects with a {@link PanelApiError} on a non-2xx answer.
 */
export interface PanelApi {
  request<T>(method: "GET" | "POST", endpoint: PanelEndpoint, opts?: { query?: Record<string, string | number>; body?: unknown }): Promise<T>;
}

/** A refused or failed call; `message` is the backend's own message when it sent one. */
export class PanelApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string | undefined,
    message: string,
  ) {
    super(message);
    this.name = "PanelApiError";
  }
}
