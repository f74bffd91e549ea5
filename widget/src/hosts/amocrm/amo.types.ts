// The slice of amoCRM's widget runtime the shell uses (doc amocrm.md §1.4, §1.5).

/** What jQuery's ajax hands to `fail` callbacks (the parts we read). */
export interface AmoXhr {
  status?: number;
  statusText?: string;
  responseText?: string;
  responseJSON?: unknown;
}

/** jQuery Deferred, as `$authorizedAjax` returns it: only done/fail are relied on. */
export interface AmoDeferred {
  done(fn: (data: unknown) => void): unknown;
  fail(fn: (xhr: AmoXhr, textStatus?: string, errorThrown?: string) => void): unknown;
}

export interface AmoAjaxOptions {
  url: string;
  method: "GET" | "POST";
  contentType: string;
  dataType: "json";
  data?: string;
}

export interface AmoRenderTemplate {
  caption: { class_name?: string; html?: string };
  body: string;
  render: string;
}

/** Members amoCRM adds to the widget instance (`self`). */
export interface AmoWidgetSelf {
  callbacks: Record<string, unknown>;
  get_settings?(): Record<string, unknown> | undefined;
  i18n?(key: string): unknown;
  langs?: Record<string, unknown>;
  system?(): { area?: string } | undefined;
  render_template?(data: AmoRenderTemplate, params?: Record<string, unknown>): void;
  $authorizedAjax(opts: AmoAjaxOptions): AmoDeferred;
}

/** The `APP` global of amoCRM pages. */
export interface AmoApp {
  lang_id?: string;
  data?: { current_card?: { id?: number | string } | false | null };
  getBaseEntity?(): string;
  getWidgetsArea?(): string;
  constant?(name: string): unknown;
}

/** A jQuery object or a bare element: amoCRM passes `$body` / `$modal_body` as jQuery. */
export type AmoNodeLike = { [index: number]: unknown } | Element | null | undefined;
