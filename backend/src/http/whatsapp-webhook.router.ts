import { createHash } from "node:crypto";
import express, { Router } from "express";
import { AppError, badRequest, unauthorized } from "../errors.js";
import { verifyMetaSignature } from "../channels/whatsapp/webhook-signature.js";
import { INBOUND_QUEUE } from "../inbound/inbound.worker.js";
import { safeEqual } from "../security/api-keys.js";
import type { Metrics } from "../ops/metrics.js";
import type { Store } from "../store/store.port.js";
import { newJob } from "../jobs/new-job.js";

export interface WhatsAppWebhookDeps {
  store: Store;
  metrics: Metrics;
  appSecret: string;
  verifyToken?: string;
  now: () => number;
  /** A new body was stored; `messages`: how many customer messages it carries. */
  onStored(messages: number): void;
}

/**
 * Meta's webhook. The POST answers 200 only after the body is durably stored (group commit);
 * routing happens later in the inbound worker. An identical redelivery is the same record
 * (keyed by the SHA-256 of its bytes), and event keys drop repeats that come in other batches.
 * @see https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/create-webhook-endpoint
 */
export function whatsappWebhookRouter(deps: WhatsAppWebhookDeps): Router {
  const router = Router();

  router.get("/webhooks/whatsapp", (req, res) => {
    const { "hub.mode": mode, "hub.verify_token": token, "hub.challenge": challenge } = req.query;
    // Constant-time: the verify token is a secret shared with Meta.
    if (deps.verifyToken && mode === "subscribe" && typeof token === "string" && safeEqual(token, deps.verifyToken) && typeof challenge === "string") {
      res.status(200).type("text/plain").send(challenge);
      return;
    }
    res.sendStatus(403);
  });

  router.post("/webhooks/whatsapp", express.raw({ type: () => true, limit: "3mb" }), async (req, res) => {
    const started = process.hrtime.bigint();
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    if (!verifyMetaSignature(raw, req.header("x-hub-signature-256"), deps.appSecret)) {
      deps.metrics.webhooksReceived.inc({ outcome: "bad_signature" });
      throw unauthorized("missing or invalid X-Hub-Signature-256");
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw.toString("utf8"));
    } catch {
      deps.metrics.webhooksReceived.inc({ outcome: "not_json" });
      throw badRequest("body is not JSON", undefined, "invalid_json");
    }
    const id = createHash("sha256").update(raw).digest("hex");
    const now = deps.now();
    const { orderKey, messages } = scanMessages(parsed);
    let fresh = false;
    try {
      fresh = await deps.store.transact(async (tx) => {
        if (!(await tx.insertIfAbsent("payloads", { id, source: "whatsapp", raw: raw.toString("utf8"), receivedAt: now }))) return false;
        await tx.enqueue(newJob(INBOUND_QUEUE, { payloadId: id }, now, orderKey ? { orderKey } : {}));
        return true;
      });
    } catch (err) {
      deps.metrics.webhooksReceived.inc({ outcome: "store_failed" });
      throw err instanceof AppError ? err : new AppError({ code: "store_unavailable", message: "could not store the webhook", httpStatus: 503, cause: err });
    }
    deps.metrics.webhooksReceived.inc({ outcome: "stored" });
    deps.metrics.ackLatency.observe(Number(process.hrtime.bigint() - started) / 1e9);
    res.sendStatus(200);
    deps.onStored(fresh ? messages : 0);
  });

  return router;
}

/**
 * How many customer messages a body carries, and the one customer they come from (Meta sends one
 * per webhook as a rule): such bodies get that customer's `orderKey`, so they are processed one at
 * a time, in the order they were acknowledged, and a customer's messages keep their order across
 * concurrent workers and instances. No key for a body with no messages or several senders. The
 * BSUID (`from_user_id`) keys the customer when Meta sends one, else the phone (`from`), as
 * customers are keyed: bodies that carry only the BSUID (username users) are then ordered with the
 * ones that carry both.
 */
function scanMessages(body: unknown): { orderKey?: string; messages: number } {
  const senders = new Set<string>();
  let messages = 0;
  let unknownSender = false;
  const entries = (body as { entry?: unknown } | null)?.entry;
  if (!Array.isArray(entries)) return { messages };
  for (const e of entries) {
    const changes = (e as { changes?: unknown } | null)?.changes;
    if (!Array.isArray(changes)) continue;
    for (const c of changes) {
      const list = (c as { value?: { messages?: unknown } } | null)?.value?.messages;
      if (!Array.isArray(list)) continue;
      for (const m of list) {
        messages++;
        const sender = m as { from?: unknown; from_user_id?: unknown } | null;
        const from = sender?.from_user_id ?? sender?.from;
        if (typeof from === "string") senders.add(from);
        else unknownSender = true;
      }
    }
  }
  return { messages, ...(senders.size === 1 && !unknownSender ? { orderKey: `customer:${[...senders][0]}` } : {}) };
}
