// Left column: one row per dialog, newest first.
import { customerTitle, formatFull, formatListTime } from "./format.js";
import { avatarColor } from "./styles.js";
import { t } from "./strings.js";
import type { Dialog } from "./types.js";

function initials(title: string): string {
  const letters = title.replace(/[^\p{L}\p{N} ]/gu, "").trim();
  if (!letters) return "#";
  const parts = letters.split(/\s+/);
  const first = parts[0]?.[0] ?? "";
  const second = parts.length > 1 ? (parts[1]?.[0] ?? "") : "";
  return /^\d/.test(first) ? "#" : (first + second).toUpperCase();
}

export function DialogList(props: {
  dialogs: Dialog[];
  loaded: boolean;
  openId: string | null;
  onOpen: (id: string) => void;
}) {
  const { dialogs, loaded, openId, onOpen } = props;
  if (!loaded && dialogs.length === 0) return <div class="bl-list bl-empty">{t.loading}</div>;
  if (dialogs.length === 0) return <div class="bl-list bl-empty">{t.noDialogs}</div>;
  return (
    <nav class="bl-list" aria-label={t.dialogs} data-testid="dialog-list">
      {dialogs.map((d) => (
        <DialogRow key={d.id} dialog={d} active={d.id === openId} onOpen={onOpen} />
      ))}
    </nav>
  );
}

function DialogRow(props: { dialog: Dialog; active: boolean; onOpen: (id: string) => void }) {
  const d = props.dialog;
  const title = customerTitle(d.customer);
  const unread = d.unread > 0 ? d.unread : 0;
  const last = d.lastMessage;
  const at = last?.at ?? d.updatedAt;
  return (
    <button
      type="button"
      class={`bl-row${unread ? " bl-unread" : ""}`}
      aria-current={props.active ? "true" : undefined}
      data-testid="dialog-row"
      data-dialog-id={d.id}
      data-unread={unread}
      onClick={() => props.onOpen(d.id)}
    >
      <span class="bl-avatar" style={{ background: avatarColor(d.customer?.id ?? d.id) }} aria-hidden="true">
        {initials(title)}
      </span>
      <span class="bl-row-body">
        <span class="bl-row-top">
          <span class="bl-row-name" data-testid="dialog-name">
            {title}
          </span>
          <time class="bl-row-time" title={formatFull(at)}>
            {formatListTime(at)}
          </time>
        </span>
        <span class="bl-row-bottom">
          <span class="bl-row-snippet" data-testid="dialog-snippet">
            {last ? (last.direction === "out" ? t.you : "") + firstLine(last.text) : "\u00a0"}
          </span>
          {unread > 0 && (
            <span
              class="bl-dot bl-count"
              data-testid="unread-dot"
              title={`${unread} ${t.unreadLabel}`}
              aria-label={`${unread} ${t.unreadLabel}`}
            >
              {unread > 99 ? "99+" : unread}
            </span>
          )}
        </span>
      </span>
    </button>
  );
}

function firstLine(text: string | undefined): string {
  return (text ?? "").replace(/\s+/g, " ").trim();
}
