// Server-Sent Events over fetch() + ReadableStream, because EventSource cannot send an
// Authorization header. Implements the parts of the WHATWG event-stream format we need
// (event/data/id/retry fields, comments, CRLF/CR/LF line endings) and reconnects with
// exponential backoff.

export interface SseEvent {
  /** `event:` field; "message" when absent. */
  event: string;
  /** `data:` lines joined with "\n". */
  data: string;
  id?: string;
}

/** Incremental event-stream parser. Feed it decoded text chunks of any size. */
export class SseParser {
  private buf = "";
  private event = "";
  private data: string[] = [];
  private id: string | undefined;
  private sawCR = false;
  /** Last `retry:` value seen, in ms. */
  retry: number | undefined;
  lastEventId: string | undefined;

  constructor(private readonly onEvent: (ev: SseEvent) => void) {}

  push(chunk: string): void {
    let text = chunk;
    // A "\r\n" split across chunks: drop the "\n" that completes the previous "\r".
    if (this.sawCR && text.startsWith("\n")) text = text.slice(1);
    this.sawCR = false;
    this.buf += text;
    let start = 0;
    for (let i = 0; i < this.buf.length; i++) {
      const c = this.buf.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      const line = this.buf.slice(start, i);
      if (c === 13) {
        if (i + 1 < this.buf.length) {
          if (this.buf.charCodeAt(i + 1) === 10) i++;
        } else {
          this.sawCR = true;
        }
      }
      start = i + 1;
      this.line(line);
    }
    this.buf = this.buf.slice(start);
  }

  private line(line: string): void {
    if (line === "") {
      this.dispatch();
      return;
    }
    if (line.startsWith(":")) return; // comment / keep-alive
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    switch (field) {
      case "event":
        this.event = value;
        break;
      case "data":
        this.data.push(value);
        break;
      case "id":
        if (!value.includes("\0")) this.id = value;
        break;
      case "retry":
        if (/^\d+$/.test(value)) this.retry = Number(value);
        break;
      default:
        break;
    }
  }

  private dispatch(): void {
    if (this.id !== undefined) this.lastEventId = this.id;
    const hasData = this.data.length > 0;
    const ev: SseEvent = { event: this.event || "message", data: this.data.join("\n") };
    if (this.lastEventId !== undefined) ev.id = this.lastEventId;
    const named = this.event !== "";
    this.event = "";
    this.data = [];
    this.id = undefined;
    // Per spec an event with no data is not dispatched; we also let named data-less events
    // (e.g. a bare `event: ping`) through, they are useful as heartbeats.
    if (hasData || named) this.onEvent(ev);
  }
}

export type StreamState = "connecting" | "open" | "closed";

export interface StreamOptions {
  url: string;
  headers: () => Record<string, string>;
  onEvent: (ev: SseEvent) => void;
  /** Called every time the stream (re)opens; `reconnect` is false for the first open. */
  onOpen?: (info: { reconnect: boolean }) => void;
  onStateChange?: (state: StreamState) => void;
  /** 401: the stream stops for good. */
  onUnauthorized?: () => void;
  /** Reconnect if nothing (not even a ping) arrives for this long. Default 75 s. */
  idleTimeoutMs?: number;
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

export interface StreamHandle {
  close(): void;
  /** Drop the current connection (if any) and reconnect now, resetting the backoff. */
  reconnectNow(): void;
}

export function backoffDelay(attempt: number, minMs: number, maxMs: number, random = Math.random): number {
  const base = Math.min(maxMs, minMs * 2 ** Math.max(0, attempt));
  // "Equal jitter": half fixed, half random, so a fleet of tabs does not reconnect in lockstep.
  return Math.round(base / 2 + (random() * base) / 2);
}

/** Open an auto-reconnecting event stream. */
export function openEventStream(opts: StreamOptions): StreamHandle {
  const minBackoff = opts.minBackoffMs ?? 1000;
  const maxBackoff = opts.maxBackoffMs ?? 30_000;
  const idleTimeout = opts.idleTimeoutMs ?? 75_000;
  let closed = false;
  let attempt = 0;
  let opened = 0;
  let controller: AbortController | null = null;
  let retryTimer: ReturnType<typeof setTimeout> | null = null;
  let idleTimer: ReturnType<typeof setTimeout> | null = null;
  let serverRetry: number | undefined;
  let lastEventId: string | undefined;

  const setState = (s: StreamState) => opts.onStateChange?.(s);

  const clearIdle = () => {
    if (idleTimer) clearTimeout(idleTimer);
    idleTimer = null;
  };
  const armIdle = (ctrl: AbortController) => {
    clearIdle();
    idleTimer = setTimeout(() => ctrl.abort(), idleTimeout);
  };

  const schedule = () => {
    if (closed) return;
    setState("connecting");
    const delay = Math.max(serverRetry ?? 0, backoffDelay(attempt, minBackoff, maxBackoff));
    attempt++;
    retryTimer = setTimeout(() => {
      retryTimer = null;
      void connect();
    }, delay);
  };

  const connect = async () => {
    if (closed) return;
    setState("connecting");
    const ctrl = new AbortController();
    controller = ctrl;
    let gotData = false;
    try {
      const headers: Record<string, string> = { Accept: "text/event-stream", ...opts.headers() };
      if (lastEventId !== undefined) headers["Last-Event-ID"] = lastEventId;
      const res = await fetch(opts.url, { headers, cache: "no-store", signal: ctrl.signal });
      if (res.status === 401) {
        closed = true;
        setState("closed");
        opts.onUnauthorized?.();
        return;
      }
      if (!res.ok || !res.body) throw new Error(`event stream: HTTP ${res.status}`);
      setState("open");
      opts.onOpen?.({ reconnect: opened > 0 });
      opened++;
      armIdle(ctrl);
      const parser = new SseParser((ev) => {
        if (ctrl.signal.aborted) return;
        opts.onEvent(ev);
      });
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (!gotData) {
          gotData = true;
          attempt = 0; // the connection works: next disconnect starts from the short delay
        }
        armIdle(ctrl);
        parser.push(decoder.decode(value, { stream: true }));
        serverRetry = parser.retry;
        lastEventId = parser.lastEventId ?? lastEventId;
      }
      parser.push(decoder.decode());
    } catch {
      /* network error, abort or HTTP error: fall through to reconnect */
    } finally {
      clearIdle();
      if (controller === ctrl) controller = null;
    }
    if (!closed) schedule();
  };

  const onOnline = () => handle.reconnectNow();
  if (typeof window !== "undefined") window.addEventListener("online", onOnline);

  const handle: StreamHandle = {
    close() {
      closed = true;
      if (retryTimer) clearTimeout(retryTimer);
      retryTimer = null;
      clearIdle();
      controller?.abort();
      controller = null;
      if (typeof window !== "undefined") window.removeEventListener("online", onOnline);
      setState("closed");
    },
    reconnectNow() {
      if (closed) return;
      attempt = 0;
      if (retryTimer) {
        clearTimeout(retryTimer);
        retryTimer = null;
        void connect();
        return;
      }
      // Aborting makes the running connect() schedule a retry with attempt 0 (shortest delay).
      controller?.abort();
    },
  };

  void connect();
  return handle;
}
