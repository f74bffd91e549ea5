// Pure state of the inbox page: the dialog list, the open thread and how stream events, API
// responses and local sends fold into them. No I/O here; Inbox.tsx performs the side effects.
import type { Dialog, Msg, Routing, StatusEvent } from "./types.js";
import { laterStatus } from "../shared/format.js";
import { kindLabel } from "./format.js";

export interface ThreadState {
  dialogId: string;
  messages: Msg[];
  loading: boolean;
  error: string | null;
}

export interface InboxState {
  dialogs: Dialog[];
  dialogsLoaded: boolean;
  openId: string | null;
  thread: ThreadState | null;
  /** Status events that arrived before their message (e.g. before the POST response). */
  pendingStatus: Record<string, StatusEvent>;
}

export const initialState: InboxState = {
  dialogs: [],
  dialogsLoaded: false,
  openId: null,
  thread: null,
  pendingStatus: {},
};

export type Action =
  | { type: "dialogs"; dialogs: Dialog[] }
  | { type: "open"; dialogId: string | null }
  | { type: "threadLoading"; dialogId: string }
  | { type: "threadLoaded"; dialogId: string; messages: Msg[] }
  | { type: "threadError"; dialogId: string; error: string }
  /**
   * A message to add or update. `countUnread`: an incoming message not seen by the user.
   * `local`: our own echo after POST (server-sent fields win if the message is already known).
   */
  | { type: "message"; dialogId: string; message: Msg; countUnread: boolean; local?: boolean }
  | { type: "status"; event: StatusEvent }
  | { type: "markedRead"; dialogId: string }
  | { type: "reset" };

const MAX_PENDING = 200;

function mergeMessage(existing: Msg, incoming: Msg, local: boolean): Msg {
  const base = local ? { ...incoming, ...existing } : { ...existing, ...incoming };
  const status = laterStatus(existing.status, incoming.status);
  const merged: Msg = { ...base };
  if (status) merged.status = status;
  const error = status === "failed" ? (incoming.error ?? existing.error) : undefined;
  if (error) merged.error = error;
  else delete merged.error;
  return merged;
}

function applyPending(msg: Msg, pending: Record<string, StatusEvent>): Msg {
  const ev = pending[msg.id];
  if (!ev) return msg;
  return mergeMessage(msg, { ...msg, status: ev.status, ...(ev.error ? { error: ev.error } : {}) }, false);
}

function withoutPending(pending: Record<string, StatusEvent>, ids: Iterable<string>): Record<string, StatusEvent> {
  let out = pending;
  for (const id of ids) {
    if (id in out) {
      if (out === pending) out = { ...pending };
      delete out[id];
    }
  }
  return out;
}

/** Insert or update by id; new messages go to the end (server order is kept, no clock sorting). */
export function upsertMessage(list: Msg[], msg: Msg, local = false): Msg[] {
  const i = list.findIndex((m) => m.id === msg.id);
  if (i === -1) return [...list, msg];
  const next = list.slice();
  next[i] = mergeMessage(list[i]!, msg, local);
  return next;
}

/** Server list is the truth for order; keep anything the stream delivered that it lacks. */
export function mergeFetched(fetched: Msg[], existing: Msg[]): Msg[] {
  const byId = new Map(existing.map((m) => [m.id, m] as const));
  const seen = new Set<string>();
  const out: Msg[] = [];
  for (const m of fetched) {
    if (seen.has(m.id)) continue;
    seen.add(m.id);
    const old = byId.get(m.id);
    out.push(old ? mergeMessage(old, m, false) : m);
  }
  for (const m of existing) if (!seen.has(m.id)) out.push(m);
  return out;
}

export function snippetOf(msg: Msg): string {
  const text = msg.text?.trim();
  if (text) return text;
  if (msg.media?.filename) return msg.media.filename;
  return kindLabel(msg.kind);
}

export function sortDialogs(dialogs: Dialog[]): Dialog[] {
  return dialogs.slice().sort((a, b) => b.updatedAt - a.updatedAt);
}

/** The reason shown as "Routed here: …": the dialog's, else the newest message's. */
export function routingOf(dialog: Dialog | undefined, messages: Msg[] | undefined): Routing | undefined {
  if (dialog?.routing?.reason) return dialog.routing;
  if (messages) {
    for (let i = messages.length - 1; i >= 0; i--) {
      const r = messages[i]!.routing;
      if (r?.reason) return r;
    }
  }
  return undefined;
}

function updateDialogForMessage(dialog: Dialog, msg: Msg, countUnread: boolean, isNew: boolean): Dialog {
  const next: Dialog = { ...dialog };
  if (!dialog.lastMessage || msg.createdAt >= dialog.lastMessage.at) {
    next.lastMessage = { text: snippetOf(msg), direction: msg.direction, at: msg.createdAt };
  }
  next.updatedAt = Math.max(dialog.updatedAt, msg.createdAt);
  if (isNew && countUnread && msg.direction === "in") next.unread = (dialog.unread || 0) + 1;
  if (msg.routing?.reason) next.routing = msg.routing;
  return next;
}

export function reducer(state: InboxState, action: Action): InboxState {
  switch (action.type) {
    case "reset":
      return initialState;

    case "dialogs": {
      const dialogs = sortDialogs(
        action.dialogs.map((d) => (d.id === state.openId && d.unread ? { ...d, unread: 0 } : d)),
      );
      return { ...state, dialogs, dialogsLoaded: true };
    }

    case "open": {
      if (action.dialogId === state.openId) return state;
      if (action.dialogId === null) return { ...state, openId: null, thread: null };
      return {
        ...state,
        openId: action.dialogId,
        thread: { dialogId: action.dialogId, messages: [], loading: true, error: null },
        dialogs: state.dialogs.map((d) => (d.id === action.dialogId && d.unread ? { ...d, unread: 0 } : d)),
      };
    }

    case "threadLoading": {
      const th = state.thread;
      if (!th || th.dialogId !== action.dialogId) return state;
      return { ...state, thread: { ...th, loading: true, error: null } };
    }

    case "threadLoaded": {
      const th = state.thread;
      if (!th || th.dialogId !== action.dialogId) return state;
      const merged = mergeFetched(action.messages, th.messages).map((m) => applyPending(m, state.pendingStatus));
      return {
        ...state,
        thread: { ...th, messages: merged, loading: false, error: null },
        pendingStatus: withoutPending(
          state.pendingStatus,
          merged.map((m) => m.id),
        ),
      };
    }

    case "threadError": {
      const th = state.thread;
      if (!th || th.dialogId !== action.dialogId) return state;
      return { ...state, thread: { ...th, loading: false, error: action.error } };
    }

    case "message": {
      const { dialogId, countUnread, local } = action;
      let thread = state.thread;
      let isNew = true;
      let pendingStatus = state.pendingStatus;
      if (thread && thread.dialogId === dialogId) {
        isNew = !thread.messages.some((m) => m.id === action.message.id);
        const msg = applyPending(action.message, pendingStatus);
        pendingStatus = withoutPending(pendingStatus, [msg.id]);
        thread = { ...thread, messages: upsertMessage(thread.messages, msg, local) };
      }
      const idx = state.dialogs.findIndex((d) => d.id === dialogId);
      let dialogs = state.dialogs;
      if (idx !== -1) {
        const updated = updateDialogForMessage(state.dialogs[idx]!, action.message, countUnread, isNew);
        dialogs = sortDialogs(state.dialogs.map((d, i) => (i === idx ? updated : d)));
      }
      return { ...state, thread, dialogs, pendingStatus };
    }

    case "status": {
      const ev = action.event;
      const th = state.thread;
      if (th && th.messages.some((m) => m.id === ev.messageId)) {
        const messages = th.messages.map((m) => {
          if (m.id !== ev.messageId) return m;
          const upd: Msg = { ...m, status: ev.status };
          if (ev.error) upd.error = ev.error;
          return mergeMessage(m, upd, false);
        });
        return { ...state, thread: { ...th, messages } };
      }
      const prev = state.pendingStatus[ev.messageId];
      const status = laterStatus(prev?.status, ev.status) ?? ev.status;
      const pendingStatus = { ...state.pendingStatus, [ev.messageId]: { ...ev, status } };
      const keys = Object.keys(pendingStatus);
      if (keys.length > MAX_PENDING) for (const k of keys.slice(0, keys.length - MAX_PENDING)) delete pendingStatus[k];
      return { ...state, pendingStatus };
    }

    case "markedRead": {
      if (!state.dialogs.some((d) => d.id === action.dialogId && d.unread)) return state;
      return {
        ...state,
        dialogs: state.dialogs.map((d) => (d.id === action.dialogId ? { ...d, unread: 0 } : d)),
      };
    }

    default:
      return state;
  }
}
