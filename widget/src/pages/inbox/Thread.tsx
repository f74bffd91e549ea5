// Right column: dialog header, message list, reply box.
import { Fragment } from "preact";
import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import { ApiError, NetworkError, UnauthorizedError, type InboxApi } from "./api.js";
import { customerSubtitle, customerTitle, formatDay, sameDay } from "./format.js";
import { MessageBubble } from "./Message.js";
import { t } from "./strings.js";
import type { Dialog, Msg, Routing } from "./types.js";

/** Unsent text per dialog survives switching dialogs (not reloads). */
const drafts = new Map<string, string>();

export interface ThreadProps {
  api: InboxApi;
  dialogId: string;
  dialog: Dialog | undefined;
  messages: Msg[];
  loading: boolean;
  error: string | null;
  routing: Routing | undefined;
  onBack: () => void;
  onRetry: () => void;
  onSend: (dialogId: string, text: string) => Promise<void>;
}

export function Thread(props: ThreadProps) {
  const { dialog, messages, dialogId } = props;
  const title = dialog ? customerTitle(dialog.customer) : props.loading ? t.loading : t.unknownCustomer;
  const subtitle = dialog ? customerSubtitle(dialog.customer) : undefined;

  // Stick to the bottom unless the user scrolled up to read history.
  const listRef = useRef<HTMLDivElement>(null);
  const stick = useRef(true);
  const lastCount = useRef(0);
  const scrollToBottom = () => {
    const el = listRef.current;
    if (el) el.scrollTop = el.scrollHeight;
  };
  const onScroll = () => {
    const el = listRef.current;
    if (el) stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 80;
  };
  useLayoutEffect(() => {
    const grew = messages.length > lastCount.current;
    const lastOut = messages[messages.length - 1]?.direction === "out";
    if (stick.current || (grew && lastOut) || lastCount.current === 0) scrollToBottom();
    lastCount.current = messages.length;
  }, [messages]);

  return (
    <section class="bl-thread">
      <header class="bl-bar">
        <button class="bl-btn bl-btn-ghost bl-back" type="button" data-testid="back-button" onClick={props.onBack}>
          ← {t.back}
        </button>
        <div class="bl-bar-title">
          <b data-testid="thread-title">{title}</b>
          {subtitle && <small>{subtitle}</small>}
          {props.routing?.reason && (
            <div class="bl-routing" data-testid="routing-reason" title={props.routing.rule}>
              {t.routedHere} {props.routing.reason}
            </div>
          )}
        </div>
      </header>
      <div
        class="bl-msgs"
        ref={listRef}
        onScroll={onScroll}
        onLoadCapture={() => stick.current && scrollToBottom()}
        data-testid="message-list"
        aria-live="polite"
      >
        {props.error && (
          <div class="bl-error bl-thread-error" role="alert">
            {props.error}{" "}
            <button class="bl-btn bl-btn-ghost" type="button" onClick={props.onRetry}>
              {t.retry}
            </button>
          </div>
        )}
        {props.loading && messages.length === 0 && !props.error && <div class="bl-day">{t.loading}</div>}
        {!props.loading && !props.error && messages.length === 0 && <div class="bl-day">{t.noMessages}</div>}
        {messages.map((m, i) => {
          const prev = messages[i - 1];
          const newDay = !prev || !sameDay(prev.createdAt, m.createdAt);
          return (
            <Fragment key={m.id}>
              {newDay && <div class="bl-day">{formatDay(m.createdAt)}</div>}
              <MessageBubble api={props.api} message={m} />
            </Fragment>
          );
        })}
      </div>
      <Composer dialogId={dialogId} onSend={props.onSend} />
    </section>
  );
}

function Composer(props: { dialogId: string; onSend: (dialogId: string, text: string) => Promise<void> }) {
  const { dialogId } = props;
  const [text, setText] = useState(() => drafts.get(dialogId) ?? "");
  const [sending, setSending] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const ref = useRef<HTMLTextAreaElement>(null);
  const textRef = useRef(text);
  textRef.current = text;

  useEffect(() => {
    // Desktop: ready to type right away. (Skip on touch screens: focusing opens the keyboard.)
    if (window.matchMedia?.("(pointer: fine)").matches) ref.current?.focus();
  }, []);

  // Auto-grow up to the CSS max-height.
  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    el.style.height = "auto";
    el.style.height = `${Math.min(el.scrollHeight + 2, 160)}px`;
  }, [text]);

  const update = (v: string) => {
    setText(v);
    if (v) drafts.set(dialogId, v);
    else drafts.delete(dialogId);
  };

  const submit = async () => {
    const value = text.trim();
    if (!value || sending) return;
    setSending(true);
    setError(null);
    try {
      await props.onSend(dialogId, value);
      // Clear only if the user has not started editing something else meanwhile.
      if (textRef.current.trim() === value) update("");
    } catch (err) {
      if (err instanceof UnauthorizedError) return;
      if (err instanceof ApiError) setError(err.message);
      else if (err instanceof NetworkError) setError(`${t.sendFailed}: ${t.networkError}`);
      else setError(`${t.sendFailed}: ${(err as Error)?.message ?? String(err)}`);
    } finally {
      setSending(false);
      ref.current?.focus();
    }
  };

  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing && !e.altKey && !e.ctrlKey && !e.metaKey) {
      e.preventDefault();
      void submit();
    }
  };

  return (
    <form
      class="bl-compose"
      onSubmit={(e) => {
        e.preventDefault();
        void submit();
      }}
    >
      {error && (
        <p class="bl-send-error" role="alert" data-testid="send-error">
          {error}
        </p>
      )}
      <div class="bl-compose-row">
        <textarea
          ref={ref}
          rows={1}
          placeholder={t.replyPlaceholder}
          data-testid="reply-input"
          value={text}
          onInput={(e) => update(e.currentTarget.value)}
          onKeyDown={onKeyDown}
        />
        <button class="bl-btn" type="submit" data-testid="send-button" disabled={sending || !text.trim()}>
          {sending ? t.sending : t.send}
        </button>
      </div>
    </form>
  );
}
