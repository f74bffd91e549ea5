import { EventEmitter } from "node:events";
import type { MessageRecord } from "../domain/types.js";

/** In-process notifications for live pages (inbox, sandbox). Fired only after the change is durable. */
export interface LiveEvents {
  "inbox.message": { branchId: string; dialogId: string; message: MessageRecord };
  "inbox.status": { branchId: string; dialogId: string; messageId: string; status: string; error?: unknown };
  "phone.message": { phone: string; message: unknown };
  "phone.status": { phone: string; id: string; status: string };
  "jobs.enqueued": { queue: string };
}

export class EventBus {
  private readonly emitter = new EventEmitter();

  constructor() {
    this.emitter.setMaxListeners(0);
  }

  emit<K extends keyof LiveEvents>(name: K, payload: LiveEvents[K]): void {
    this.emitter.emit(name, payload);
  }

  on<K extends keyof LiveEvents>(name: K, listener: (payload: LiveEvents[K]) => void): () => void {
    this.emitter.on(name, listener);
    return () => this.emitter.off(name, listener);
  }
}
