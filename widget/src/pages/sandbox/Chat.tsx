// The chat screen of the simulated phone: conversation with the business, live via EventSource.
import { laterStatus, statusTick } from "../shared/format.js";
import { useCallback, useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import { sandboxApi } from "./api.js";
import { t, lang } from "./strings.js";
import type { ListInteractive, Reply, SMsg, SandboxStatusEvent, SendBody } from "./types.js";

/** Insert or update by id. `local` echoes never overwrite what the server already sent. */
function upsert(list: SMsg[], msg: SMsg, local = false): SMsg[] {
  const i = list.findIndex((m) => m.id === msg.id);
  if (i === -1) return [...list, msg];
  const old = list[i]!;
  const merged: SMsg = local ? { ...msg, ...old } : { ...old, ...msg };
  const status = laterStatus(old.status, msg.status);
  if (status !== undefined) merged.status = status;
  const next = list.slice();
  next[i] = merged;
  return next;
}

function mergeFetched(fetched: SMsg[], existing: SMsg[]): SMsg[] {
  const byId = new Map(existing.map((m) => [m.id, m] as const));
  const out = fetched.map((f) => {
    const old = byId.get(f.id);
    if (!old) return f;
    const merged: SMsg = { ...old, ...f };
    const status = laterStatus(old.status, f.status);
    if (status !== undefined) merged.status = status;
    return merged;
  });
  const ids = new Set(fetched.map((m) => m.id));
  for (const m of existing) if (!ids.has(m.id)) out.push(m);
  return out;
}

const timeFmt = new Intl.DateTimeFormat(lang === "ru" ? "ru-RU" : undefined, { hour: "2-digit", minute: "2-digit" });
const fmtTime = (ms: number) => (Number.isFinite(ms) ? timeFmt.format(ms) : "");


type StreamState = "connecting" | "open";

export function Chat(props: { phone: string; name: string; onBack: () => void }) {
  const { phone, name } = props;
  const [messages, setMessages] = useState<SMsg[]>([]);
  const [loading, setLoading] = useState(true);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [stream, setStream] = useState<StreamState>("connecting");
  const [sheet, setSheet] = useState<SMsg | null>(null);
  const [sendError, setSendError] = useState<string | null>(null);
  const pendingStatus = useRef(new Map<string, string>());

  const apply = useCallback((msg: SMsg, local = false) => {
    const st = pendingStatus.current.get(msg.id);
    if (st) {
      pendingStatus.current.delete(msg.id);
      msg = { ...msg, status: laterStatus(msg.status, st) ?? st };
    }
    setMessages((list) => upsert(list, msg, local));
  }, []);

  const load = useCallback(async () => {
    try {
      const res = await sandboxApi.messages(phone);
      const fetched = Array.isArray(res?.messages) ? res.messages : [];
      setMessages((list) => mergeFetched(fetched, list));
      setLoadError(null);
    } catch (err) {
      setLoadError(`${t.loadFailed}: ${(err as Error)?.message ?? String(err)}`);
    } finally {
      setLoading(false);
    }
  }, [phone]);

  useEffect(() => {
    void load();
  }, [load]);

  // Live updates. EventSource reconnects by itself after a dropped connection; when the server
  // answers with an error status it gives up (readyState CLOSED), so we retry with backoff.
  useEffect(() => {
    let es: EventSource | null = null;
    let timer: ReturnType<typeof setTimeout> | null = null;
    let attempt = 0;
    let opened = false;
    let disposed = false;
    const connect = () => {
      if (disposed) return;
      es = new EventSource(sandboxApi.streamUrl(phone));
      es.addEventListener("open", () => {
        attempt = 0;
        setStream("open");
        if (opened) void load(); // catch up on anything missed while disconnected
        opened = true;
      });
      es.addEventListener("message", (e) => {
        try {
          const msg = JSON.parse((e as MessageEvent<string>).data) as SMsg;
          if (msg && typeof msg.id === "string") apply(msg);
        } catch {
          /* ignore malformed */
        }
      });
      es.addEventListener("status", (e) => {
        try {
          const ev = JSON.parse((e as MessageEvent<string>).data) as SandboxStatusEvent;
          if (!ev?.id || !ev.status) return;
          setMessages((list) => {
            if (!list.some((m) => m.id === ev.id)) {
              pendingStatus.current.set(ev.id, laterStatus(pendingStatus.current.get(ev.id), ev.status)!);
              return list;
            }
            return list.map((m) => (m.id === ev.id ? { ...m, status: laterStatus(m.status, ev.status) } : m));
          });
        } catch {
          /* ignore malformed */
        }
      });
      es.addEventListener("error", () => {
        setStream("connecting");
        if (es && es.readyState === EventSource.CLOSED) {
          es = null;
          const delay = Math.min(30_000, 1000 * 2 ** attempt++);
          timer = setTimeout(connect, delay);
        }
      });
    };
    connect();
    return () => {
      disposed = true;
      if (timer) clearTimeout(timer);
      es?.close();
    };
  }, [phone, apply, load]);

  const send = useCallback(
    async (body: SendBody, echoText: string): Promise<boolean> => {
      setSendError(null);
      const payload = name ? { ...body, name } : body;
      try {
        const res = await sandboxApi.send(phone, payload);
        if (res?.id) apply({ id: res.id, from: "customer", text: echoText, createdAt: Date.now() }, true);
        return true;
      } catch (err) {
        setSendError(`${t.sendFailed}: ${(err as Error)?.message ?? String(err)}`);
        return false;
      }
    },
    [phone, name, apply],
  );

  const sendReply = useCallback(
    (contextId: string, reply: Reply) => {
      setSheet(null);
      void send({ reply, contextId }, reply.title);
    },
    [send],
  );

  // Scroll: stick to the bottom unless the user scrolled up.
  const listRef = useRef<HTMLDivElement>(null);
  const stick = useRef(true);
  useLayoutEffect(() => {
    const el = listRef.current;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
  }, [messages, loading, sendError]);

  return (
    <>
      <header class="sb-top">
        <button class="sb-icon-btn" type="button" aria-label={t.back} title={t.back} data-testid="back" onClick={props.onBack}>
          ←
        </button>
        <span class="sb-avatar" aria-hidden="true">
          B
        </span>
        <div class="sb-top-title">
          <b>
            {t.business}
            <span class="sb-badge">{t.sandboxBadge}</span>
          </b>
          <small data-testid="chat-identity" data-state={stream}>
            {stream === "open" ? t.online : t.connecting} · {t.youAre} {name ? `${name} ` : ""}+{phone}
          </small>
        </div>
      </header>
      <div
        class="sb-chat"
        ref={listRef}
        data-testid="chat"
        onScroll={() => {
          const el = listRef.current;
          if (el) stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 60;
        }}
      >
        {loading && messages.length === 0 && <div class="sb-note">{t.loading}</div>}
        {loadError && (
          <div class="sb-note sb-warn" role="alert">
            {loadError}{" "}
            <button type="button" class="sb-icon-btn" style={{ fontSize: "13px" }} onClick={() => void load()}>
              {t.retry}
            </button>
          </div>
        )}
        {!loading && !loadError && messages.length === 0 && <div class="sb-note">{t.noMessages}</div>}
        {messages.map((m) => (
          <Bubble key={m.id} msg={m} onReply={sendReply} onOpenList={setSheet} />
        ))}
      </div>
      <Composer onSend={(text) => send({ text }, text)} error={sendError} />
      {sheet?.interactive?.type === "list" && (
        <ListSheet
          list={sheet.interactive}
          onClose={() => setSheet(null)}
          onPick={(row) => sendReply(sheet.id, { type: "list_reply", id: row.id, title: row.title })}
        />
      )}
    </>
  );
}

function Bubble(props: {
  msg: SMsg;
  onReply: (contextId: string, reply: Reply) => void;
  onOpenList: (m: SMsg) => void;
}) {
  const m = props.msg;
  const ia = m.interactive;
  const text = ia ? ia.body || m.text : m.text;
  const isCustomer = m.from === "customer";
  return (
    <div class="sb-group" data-from={m.from}>
      <div class="sb-bubble" data-testid="bubble" data-from={m.from} data-message-id={m.id} data-status={m.status}>
        {text ? (
          <span class="sb-text">{text}</span>
        ) : (
          <span class="sb-muted">{ia ? t.interactiveFallback : t.emptyMessage}</span>
        )}
        <span class="sb-meta">
          {fmtTime(m.createdAt)}
          {isCustomer && m.status && (
            <span class="sb-tick" data-status={m.status} title={m.status}>
              {statusTick(m.status)}
            </span>
          )}
        </span>
        {ia?.type === "list" && (
          <button type="button" class="sb-list-open" data-testid="list-open" onClick={() => props.onOpenList(m)}>
            <span aria-hidden="true">☰</span> {ia.button || "Menu"}
          </button>
        )}
      </div>
      {ia?.type === "button" &&
        (ia.buttons ?? []).map((b) => (
          <button
            key={b.id}
            type="button"
            class="sb-reply"
            data-testid="reply-button"
            data-button-id={b.id}
            onClick={() => props.onReply(m.id, { type: "button_reply", id: b.id, title: b.title })}
          >
            {b.title}
          </button>
        ))}
    </div>
  );
}

function ListSheet(props: {
  list: ListInteractive;
  onClose: () => void;
  onPick: (row: { id: string; title: string }) => void;
}) {
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => e.key === "Escape" && props.onClose();
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [props.onClose]);
  return (
    <div
      class="sb-sheet-backdrop"
      data-testid="list-sheet"
      onClick={(e) => e.target === e.currentTarget && props.onClose()}
    >
      <div class="sb-sheet" role="dialog" aria-modal="true" aria-label={props.list.button}>
        <div class="sb-sheet-head">
          <button type="button" class="sb-icon-btn" aria-label={t.close} title={t.close} onClick={props.onClose}>
            ✕
          </button>
          <b>{props.list.button}</b>
          <span style={{ width: "32px" }} />
        </div>
        {(props.list.sections ?? []).map((s, i) => (
          <div key={`${i}-${s.title}`} data-testid="list-section">
            {s.title && <div class="sb-sheet-section">{s.title}</div>}
            {(s.rows ?? []).map((r) => (
              <button
                key={r.id}
                type="button"
                class="sb-row"
                data-testid="list-row"
                data-row-id={r.id}
                onClick={() => props.onPick(r)}
              >
                <b>{r.title}</b>
                {r.description && <small>{r.description}</small>}
              </button>
            ))}
          </div>
        ))}
      </div>
    </div>
  );
}

function Composer(props: { onSend: (text: string) => Promise<boolean>; error: string | null }) {
  const [text, setText] = useState("");
  const [busy, setBusy] = useState(false);
  const ref = useRef<HTMLInputElement>(null);
  useEffect(() => {
    if (window.matchMedia?.("(pointer: fine)").matches) ref.current?.focus();
  }, []);
  const submit = async (e: Event) => {
    e.preventDefault();
    const value = text.trim();
    if (!value || busy) return;
    setBusy(true);
    const ok = await props.onSend(value);
    setBusy(false);
    if (ok) setText((cur) => (cur.trim() === value ? "" : cur));
    ref.current?.focus();
  };
  return (
    <>
      {props.error && (
        <div class="sb-failed-line" style={{ padding: "4px 12px", background: "#f0f2f5" }} role="alert" data-testid="chat-error">
          {props.error}
        </div>
      )}
      <form class="sb-compose" onSubmit={submit}>
        <input
          ref={ref}
          type="text"
          placeholder={t.messagePlaceholder}
          autocomplete="off"
          data-testid="chat-input"
          value={text}
          onInput={(e) => setText(e.currentTarget.value)}
        />
        <button
          class="sb-send"
          type="submit"
          aria-label={t.send}
          title={t.send}
          data-testid="chat-send"
          disabled={busy || !text.trim()}
        >
          ➤
        </button>
      </form>
    </>
  );
}
