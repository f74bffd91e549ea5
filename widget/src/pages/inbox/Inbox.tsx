// The signed-in inbox: dialog list + thread, live updates from the event stream.
import { useCallback, useEffect, useMemo, useReducer, useRef, useState } from "preact/hooks";
import { API_BASE, ApiError, InboxApi, UnauthorizedError, authHeaders } from "./api.js";
import { DialogList } from "./DialogList.js";
import { Thread } from "./Thread.js";
import { openEventStream, type SseEvent, type StreamState } from "../shared/sse.js";
import { initialState, reducer, routingOf, type InboxState } from "./state.js";
import { t } from "./strings.js";
import type { Branch, MessageEvent, Msg, StatusEvent } from "./types.js";

const HASH_PREFIX = "#/d/";

function dialogIdFromHash(): string | null {
  const h = location.hash;
  if (!h.startsWith(HASH_PREFIX)) return null;
  try {
    return decodeURIComponent(h.slice(HASH_PREFIX.length)) || null;
  } catch {
    return null;
  }
}

function errorText(err: unknown): string {
  if (err instanceof ApiError) return err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}

export function Inbox(props: { apiKey: string; branch: Branch; onLogout: (reason?: "unauthorized") => void }) {
  const { apiKey, branch, onLogout } = props;
  const [state, dispatch] = useReducer(reducer, initialState);
  const [streamState, setStreamState] = useState<StreamState>("connecting");
  const stateRef = useRef<InboxState>(state);
  stateRef.current = state;

  // One 401 anywhere ends the session.
  const loggedOut = useRef(false);
  const unauthorized = useCallback(() => {
    if (loggedOut.current) return;
    loggedOut.current = true;
    onLogout("unauthorized");
  }, [onLogout]);
  const api = useMemo(() => new InboxApi(apiKey, unauthorized), [apiKey, unauthorized]);

  /** Swallow errors that are already handled (401 → login) and log the rest. */
  const quiet = useCallback((err: unknown) => {
    if (err instanceof UnauthorizedError || (err as Error)?.name === "AbortError") return;
    console.warn("[inbox]", err);
  }, []);

  // ---- dialogs ---------------------------------------------------------------------------
  const dialogsReq = useRef<{ running: boolean; again: boolean }>({ running: false, again: false });
  const loadDialogs = useCallback(async () => {
    const r = dialogsReq.current;
    if (r.running) {
      r.again = true; // coalesce bursts (several unknown-dialog messages at once)
      return;
    }
    r.running = true;
    try {
      do {
        r.again = false;
        try {
          const res = await api.dialogs();
          dispatch({ type: "dialogs", dialogs: Array.isArray(res?.dialogs) ? res.dialogs : [] });
        } catch (err) {
          quiet(err);
          if (err instanceof UnauthorizedError) return;
        }
      } while (r.again);
    } finally {
      r.running = false;
    }
  }, [api, quiet]);

  // ---- thread ----------------------------------------------------------------------------
  const threadAbort = useRef<AbortController | null>(null);
  const loadThread = useCallback(
    async (dialogId: string) => {
      threadAbort.current?.abort();
      const ctrl = new AbortController();
      threadAbort.current = ctrl;
      dispatch({ type: "threadLoading", dialogId });
      try {
        const res = await api.messages(dialogId, ctrl.signal);
        if (ctrl.signal.aborted) return;
        dispatch({ type: "threadLoaded", dialogId, messages: Array.isArray(res?.messages) ? res.messages : [] });
      } catch (err) {
        if (ctrl.signal.aborted || err instanceof UnauthorizedError) return;
        dispatch({ type: "threadError", dialogId, error: `${t.loadFailed}: ${errorText(err)}` });
      }
    },
    [api],
  );

  const readInFlight = useRef(new Set<string>());
  const markRead = useCallback(
    (dialogId: string) => {
      dispatch({ type: "markedRead", dialogId });
      if (readInFlight.current.has(dialogId)) return;
      readInFlight.current.add(dialogId);
      api
        .markRead(dialogId)
        .catch(quiet)
        .finally(() => readInFlight.current.delete(dialogId));
    },
    [api, quiet],
  );

  const openId = state.openId;
  useEffect(() => {
    if (!openId) return;
    void loadThread(openId);
    markRead(openId);
  }, [openId, loadThread, markRead]);

  // ---- routing: the open dialog lives in location.hash (#/d/<id>) ----------------------
  const navigatedFromList = useRef(false);
  useEffect(() => {
    const sync = () => dispatch({ type: "open", dialogId: dialogIdFromHash() });
    sync();
    window.addEventListener("hashchange", sync);
    return () => window.removeEventListener("hashchange", sync);
  }, []);

  const openDialog = useCallback((id: string) => {
    const target = HASH_PREFIX + encodeURIComponent(id);
    if (location.hash === target) return;
    navigatedFromList.current = !dialogIdFromHash();
    if (navigatedFromList.current) location.hash = target;
    else location.replace(target); // switching dialogs: do not pile up history entries
  }, []);

  const closeDialog = useCallback(() => {
    if (navigatedFromList.current) {
      navigatedFromList.current = false;
      history.back();
    } else {
      const url = location.pathname + location.search;
      history.pushState(null, "", url);
      dispatch({ type: "open", dialogId: null });
    }
  }, []);

  // ---- initial load + live stream --------------------------------------------------------
  useEffect(() => {
    void loadDialogs();
  }, [loadDialogs]);

  const visible = () => document.visibilityState !== "hidden";

  const onStreamEvent = useCallback(
    (ev: SseEvent) => {
      if (ev.event === "ping" || !ev.data) return;
      let payload: unknown;
      try {
        payload = JSON.parse(ev.data);
      } catch {
        console.warn("[inbox] bad event data", ev);
        return;
      }
      const st = stateRef.current;
      if (ev.event === "message") {
        const { dialogId, message } = payload as MessageEvent;
        if (!dialogId || !message?.id) return;
        const isOpen = st.openId === dialogId;
        const seeing = isOpen && visible();
        dispatch({ type: "message", dialogId, message, countUnread: !seeing });
        if (!st.dialogs.some((d) => d.id === dialogId)) void loadDialogs();
        if (seeing && message.direction === "in") markRead(dialogId);
      } else if (ev.event === "status") {
        const se = payload as StatusEvent;
        if (!se?.messageId || !se.status) return;
        dispatch({ type: "status", event: se });
      }
    },
    [loadDialogs, markRead],
  );

  const onStreamEventRef = useRef(onStreamEvent);
  onStreamEventRef.current = onStreamEvent;

  useEffect(() => {
    const handle = openEventStream({
      url: `${API_BASE}/stream`,
      headers: () => authHeaders(apiKey),
      onEvent: (ev) => onStreamEventRef.current(ev),
      onStateChange: setStreamState,
      onUnauthorized: unauthorized,
      onOpen: () => {
        // Events may have been missed before/while (re)connecting: resync from the API.
        void loadDialogs();
        const open = stateRef.current.openId;
        if (open) void loadThread(open);
      },
    });
    return () => handle.close();
  }, [apiKey, unauthorized, loadDialogs, loadThread]);

  // Back to a visible tab with the open dialog having unread messages: mark them read.
  useEffect(() => {
    const onVis = () => {
      const st = stateRef.current;
      if (!visible() || !st.openId) return;
      const d = st.dialogs.find((x) => x.id === st.openId);
      if (d && d.unread > 0) markRead(st.openId);
    };
    document.addEventListener("visibilitychange", onVis);
    return () => document.removeEventListener("visibilitychange", onVis);
  }, [markRead]);

  // ---- sending ---------------------------------------------------------------------------
  const send = useCallback(
    async (dialogId: string, text: string): Promise<void> => {
      const res = await api.send(dialogId, text);
      const msg: Msg = {
        id: res.id,
        direction: "out",
        kind: "text",
        text,
        status: res.status ?? "queued",
        createdAt: Date.now(),
      };
      dispatch({ type: "message", dialogId, message: msg, countUnread: false, local: true });
    },
    [api],
  );

  // ---- title -----------------------------------------------------------------------------
  const totalUnread = state.dialogs.reduce((n, d) => n + (d.unread > 0 ? d.unread : 0), 0);
  useEffect(() => {
    const base = `${branch.name} · Branchline`;
    document.title = totalUnread > 0 ? `(${totalUnread}) ${base}` : base;
  }, [branch.name, totalUnread]);

  const openDialogObj = state.dialogs.find((d) => d.id === state.openId);
  const thread = state.thread && state.thread.dialogId === state.openId ? state.thread : null;

  return (
    <div class={`bl-inbox${state.openId ? " bl-has-open" : ""}`} data-testid="inbox">
      <aside class="bl-side">
        <header class="bl-bar">
          <div class="bl-bar-title">
            <b data-testid="branch-name">{branch.name}</b>
            <small>
              {branch.code} · {t.dialogs}
            </small>
          </div>
          <span class="bl-live" data-testid="stream-state" data-state={streamState}>
            {streamState === "open" ? t.live : t.reconnecting}
          </span>
          <button class="bl-btn bl-btn-ghost" type="button" data-testid="logout-button" onClick={() => onLogout()}>
            {t.logout}
          </button>
        </header>
        <DialogList
          dialogs={state.dialogs}
          loaded={state.dialogsLoaded}
          openId={state.openId}
          onOpen={openDialog}
        />
      </aside>
      <main class="bl-main">
        {state.openId ? (
          <Thread
            key={state.openId}
            api={api}
            dialogId={state.openId}
            dialog={openDialogObj}
            messages={thread?.messages ?? []}
            loading={thread?.loading ?? true}
            error={thread?.error ?? null}
            routing={routingOf(openDialogObj, thread?.messages)}
            onBack={closeDialog}
            onRetry={() => state.openId && void loadThread(state.openId)}
            onSend={send}
          />
        ) : (
          <div class="bl-placeholder">{t.selectDialog}</div>
        )}
      </main>
    </div>
  );
}
