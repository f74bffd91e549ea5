// One message bubble: text, media, status ticks.
import { useEffect, useState } from "preact/hooks";
import { API_BASE, type InboxApi } from "./api.js";
import { statusTick } from "../shared/format.js";
import { saveBlob } from "../shared/http.js";
import { formatFull, formatTime, kindLabel, statusLabel } from "./format.js";
import { t } from "./strings.js";
import type { Media, Msg } from "./types.js";

/** Same-origin API URLs need the Bearer header, which <img src>/<a href> cannot send. */
export function needsAuth(url: string): boolean {
  try {
    const u = new URL(url, location.href);
    return u.origin === location.origin && u.pathname.startsWith(`${API_BASE}/`);
  } catch {
    return false;
  }
}

function isInlineImage(m: Msg): boolean {
  if (!m.media?.url) return false;
  if (m.kind === "image" || m.kind === "sticker") return true;
  return !!m.media.mimeType?.startsWith("image/");
}

function fileName(m: Msg, media: Media): string {
  if (media.filename) return media.filename;
  try {
    const last = new URL(media.url, location.href).pathname.split("/").pop();
    if (last && /\.[a-z0-9]{1,6}$/i.test(last)) return decodeURIComponent(last);
  } catch {
    /* ignore */
  }
  return kindLabel(m.kind);
}

function AuthImage(props: { api: InboxApi; url: string; alt: string }) {
  const { api, url } = props;
  const protectedUrl = needsAuth(url);
  const [src, setSrc] = useState<string | null>(protectedUrl ? null : url);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    if (!protectedUrl) {
      setSrc(url);
      return;
    }
    let objectUrl: string | null = null;
    let cancelled = false;
    api.blob(url).then(
      (b) => {
        if (cancelled) return;
        objectUrl = URL.createObjectURL(b);
        setSrc(objectUrl);
      },
      () => !cancelled && setFailed(true),
    );
    return () => {
      cancelled = true;
      if (objectUrl) URL.revokeObjectURL(objectUrl);
    };
  }, [api, url, protectedUrl]);
  if (failed) return <span class="bl-kind">{props.alt}</span>;
  if (!src) return <span class="bl-img" role="img" aria-label={props.alt} />;
  return (
    <a href={src} target="_blank" rel="noopener noreferrer">
      <img class="bl-img" src={src} alt={props.alt} loading="lazy" data-testid="message-image" />
    </a>
  );
}

function FileLink(props: { api: InboxApi; url: string; name: string }) {
  const { api, url, name } = props;
  const onClick = needsAuth(url)
    ? (e: MouseEvent) => {
        e.preventDefault();
        api.blob(url).then(
          (b) => saveBlob(b, name),
          (err: unknown) => console.warn("[inbox] download failed", err),
        );
      }
    : undefined;
  return (
    <a
      class="bl-file"
      href={url}
      download={name}
      target="_blank"
      rel="noopener noreferrer"
      title={`${t.download}: ${name}`}
      data-testid="message-file"
      onClick={onClick}
    >
      <b aria-hidden="true">⬇</b>
      <span>{name}</span>
    </a>
  );
}

export function MessageBubble(props: { api: InboxApi; message: Msg }) {
  const m = props.message;
  const out = m.direction === "out";
  const text = m.text?.trim() ? m.text : "";
  const isSystem = m.kind === "system";
  const failed = m.status === "failed";
  let body;
  if (m.media?.url) {
    const name = fileName(m, m.media);
    body = (
      <>
        {isInlineImage(m) ? (
          <AuthImage api={props.api} url={m.media.url} alt={text || name} />
        ) : (
          <FileLink api={props.api} url={m.media.url} name={name} />
        )}
        {text && <div class="bl-text">{text}</div>}
      </>
    );
  } else if (text) {
    body = <span class="bl-text">{text}</span>;
  } else {
    body = <span class="bl-kind">{kindLabel(m.kind)}</span>;
  }
  const errorTitle = m.error ? `${m.error.message}${m.error.code ? ` (${m.error.code})` : ""}` : statusLabel(m.status);
  return (
    <div
      class={`bl-bubble${isSystem ? " bl-system" : ""}${failed ? " bl-failed" : ""}`}
      data-testid="message"
      data-message-id={m.id}
      data-direction={m.direction}
      data-status={m.status}
      data-kind={m.kind}
    >
      {body}
      <span class="bl-meta">
        <time title={formatFull(m.createdAt)}>{formatTime(m.createdAt)}</time>
        {out && m.status && (
          <span
            class="bl-tick"
            data-testid="message-status"
            data-status={m.status}
            title={failed ? errorTitle : statusLabel(m.status)}
            aria-label={statusLabel(m.status)}
          >
            {statusTick(m.status)}
          </span>
        )}
      </span>
      {out && failed && m.error?.message && (
        <span class="bl-msg-error" data-testid="message-error">
          {m.error.message}
        </span>
      )}
    </div>
  );
}
