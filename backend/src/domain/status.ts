import type { MessageStatus } from "./types.js";

const RANK: Record<MessageStatus, number> = { received: 0, queued: 0, sending: 0, sent: 1, delivered: 2, read: 3, played: 4, failed: 5 };

/**
 * Statuses arrive in any order: apply one only if it moves the message forward. `read` implies
 * delivered (Meta skips `delivered` when both happen at once); `failed` may follow `sent` or
 * `delivered` but never undoes `read`/`played`.
 */
export function nextStatus(current: MessageStatus, incoming: string): MessageStatus | undefined {
  if (!(incoming in RANK) || incoming === "received" || incoming === "queued" || incoming === "sending") return undefined;
  const next = incoming as MessageStatus;
  if (current === "failed") return undefined;
  if (next === "failed") return RANK[current] < RANK.read ? "failed" : undefined;
  return RANK[next] > RANK[current] ? next : undefined;
}
