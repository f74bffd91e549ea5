import { Router } from "express";
import { z } from "zod";
import { notFound } from "../errors.js";
import type { Job, MessageRecord } from "../domain/types.js";
import type { EventBus } from "../events/event-bus.js";
import { queueOutbound } from "../outbound/outbox.js";
import type { Store } from "../store/store.port.js";
import { branchOf, requireBranch } from "./auth.js";
import { pageShell } from "./pages.js";
import { openEventStream } from "./sse.js";
import { validate } from "./validate.js";

export interface InboxDeps {
  store: Store;
  bus: EventBus;
  now: () => number;
  /** A send job was committed: hand it to the sender. */
  onQueued(job: Job): void;
  /** A signed link to a stored media file. */
  mediaUrl(messageId: string): string;
  /** Tells WhatsApp the customer's messages were read (blue ticks on their phone). */
  markRead?(wamid: string): Promise<void>;
}

const replySchema = z.strictObject({ text: z.string().trim().min(1, "must not be empty") });

/** What the inbox page shows of a message (never Meta's raw payload). */
export function inboxMessage(m: MessageRecord, mediaUrl?: (id: string) => string) {
  const url = m.media?.status === "stored" && mediaUrl ? mediaUrl(m.id) : m.media?.url;
  return {
    id: m.id,
    direction: m.direction,
    kind: m.kind,
    text: m.text,
    media: url ? { url, mimeType: m.media?.mimeType, filename: m.media?.filename } : undefined,
    status: m.direction === "out" ? m.status : undefined,
    error: m.error,
    createdAt: m.createdAt,
    routing: m.routing,
  };
}

/** The built-in branch inbox: every call is tied to the branch whose key it carries. */
export function inboxRouter(deps: InboxDeps): Router {
  const router = Router();
  router.get("/inbox", (_req, res) => {
    res.type("html").send(pageShell("Branchline inbox", "inbox.js"));
  });
  router.use("/inbox/api", requireBranch(deps.store));

  router.get("/inbox/api/me", (_req, res) => {
    const b = branchOf(res);
    res.json({ branch: { id: b.id, name: b.name, code: b.code } });
  });

  router.get("/inbox/api/dialogs", async (_req, res) => {
    const branch = branchOf(res);
    const dialogs = await deps.store.read(async (tx) => {
      const rows = await tx.byIndex("dialogs", "branchId", branch.id);
      const out = [];
      for (const d of rows) {
        const customer = await tx.get("customers", d.customerId);
        const last = d.lastMessageId ? await tx.get("messages", d.lastMessageId) : undefined;
        out.push({
          id: d.id,
          customer: { id: d.customerId, name: customer?.name, phone: customer?.waId ? `+${customer.waId}` : undefined },
          lastMessage: last ? { text: last.text ?? `[${last.kind}]`, direction: last.direction, at: last.createdAt } : undefined,
          updatedAt: d.updatedAt,
          unread: d.unread,
          routing: d.routing,
        });
      }
      return out.sort((a, b) => b.updatedAt - a.updatedAt);
    });
    res.json({ dialogs });
  });

  router.get("/inbox/api/dialogs/:id/messages", async (req, res) => {
    const branch = branchOf(res);
    const messages = await deps.store.read(async (tx) => {
      const dialog = await tx.get("dialogs", req.params.id);
      if (!dialog || dialog.branchId !== branch.id) throw notFound(`dialog ${req.params.id}`);
      return tx.byIndex("messages", "dialogId", dialog.id);
    });
    res.json({ messages: messages.map((m) => inboxMessage(m, deps.mediaUrl)) });
  });

  router.post("/inbox/api/dialogs/:id/messages", async (req, res) => {
    const branch = branchOf(res);
    const { text } = validate(replySchema, req.body);
    const { message, job } = await deps.store.transact(async (tx) => {
      const dialog = await tx.get("dialogs", req.params.id);
      if (!dialog || dialog.branchId !== branch.id) throw notFound(`dialog ${req.params.id}`);
      const customer = await tx.get("customers", dialog.customerId);
      if (!customer) throw notFound(`customer of dialog ${dialog.id}`);
      return queueOutbound(tx, { customer, branchId: branch.id, content: { kind: "text", text }, origin: "reply", now: deps.now() });
    });
    deps.bus.emit("inbox.message", { branchId: branch.id, dialogId: message.dialogId!, message });
    deps.onQueued(job);
    res.status(202).json({ id: message.id, status: message.status });
  });

  router.post("/inbox/api/dialogs/:id/read", async (req, res) => {
    const branch = branchOf(res);
    const lastInbound = await deps.store.transact(async (tx) => {
      const dialog = await tx.get("dialogs", req.params.id);
      if (!dialog || dialog.branchId !== branch.id) throw notFound(`dialog ${req.params.id}`);
      if (dialog.unread === 0) return undefined;
      await tx.put("dialogs", { ...dialog, unread: 0 });
      return (await tx.byIndex("messages", "dialogId", dialog.id, { newestFirst: true, limit: 20 })).find((m) => m.direction === "in" && m.wamid);
    });
    res.sendStatus(204);
    // Marking the newest message read marks all earlier ones too (Meta); a failure only costs the ticks.
    if (lastInbound?.wamid && deps.markRead) void deps.markRead(lastInbound.wamid).catch(() => undefined);
  });

  router.get("/inbox/api/stream", (req, res) => {
    const branch = branchOf(res);
    const offs: Array<() => void> = [];
    const send = openEventStream(req, res, () => offs.forEach((off) => off()));
    offs.push(
      deps.bus.on("inbox.message", (e) => {
        if (e.branchId === branch.id) send("message", { dialogId: e.dialogId, message: inboxMessage(e.message, deps.mediaUrl) });
      }),
      deps.bus.on("inbox.status", (e) => {
        if (e.branchId === branch.id) send("status", { dialogId: e.dialogId, messageId: e.messageId, status: e.status, error: e.error });
      }),
    );
  });

  return router;
}
