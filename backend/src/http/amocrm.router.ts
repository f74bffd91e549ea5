import express, { Router, type RequestHandler } from "express";
import { badRequest, unauthorized } from "../errors.js";
import { verifyDisconnect } from "../crm/amocrm/amocrm.jwt.js";
import { amoConnectionId, type AmoKit } from "../crm/amocrm/amocrm.kit.js";
import { parseAccountDomain } from "../crm/amocrm/amocrm.oauth.js";
import { handleChatHook, type ChatHookDeps } from "../crm-apps/amocrm/chat-hook.js";
import { storeAuthorizationCode } from "../crm-apps/amocrm/install.worker.js";
import type { AmoPanelService } from "../crm-apps/amocrm/panel.service.js";
import { acceptSalesbotRequest, type SalesbotDeps } from "../crm-apps/amocrm/salesbot.worker.js";
import type { Logger } from "../ops/logger.js";
import type { SecretBox } from "../security/secret-box.js";
import type { Store } from "../store/store.port.js";

export interface AmoRouterDeps {
  kit: AmoKit;
  store: Store;
  box: SecretBox;
  panel: AmoPanelService;
  logger: Logger;
  now: () => number;
  chatHook: ChatHookDeps;
  salesbot: SalesbotDeps;
  /** Wakes the job runner after an install code or a Salesbot request was stored. */
  wake(): void;
  /** Extra origins allowed to call the widget API (AMOCRM_ALLOWED_ORIGINS), besides amoCRM's and Kommo's. */
  allowedOrigins: string[];
}

/** amoCRM's and Kommo's account origins: the widget runs inside them. */
const AMO_ORIGIN = /^https:\/\/[a-z0-9-]+\.(amocrm\.ru|amocrm\.com|kommo\.com)$/i;

/**
 * CORS for the widget API: only amoCRM account pages (and configured origins) may call it, with
 * the `X-Auth-Token` header amoCRM adds.
 */
function widgetCors(extra: readonly string[]): RequestHandler {
  const allowed = new Set(extra.map((o) => o.replace(/\/+$/, "").toLowerCase()));
  return (req, res, next) => {
    const origin = req.header("origin");
    if (origin && (AMO_ORIGIN.test(origin) || allowed.has(origin.toLowerCase()))) {
      res.set({
        "access-control-allow-origin": origin,
        "access-control-allow-methods": "GET, POST, OPTIONS",
        "access-control-allow-headers": "X-Auth-Token, Content-Type",
        "access-control-max-age": "600",
        vary: "Origin",
      });
    }
    if (req.method === "OPTIONS") {
      res.status(204).end();
      return;
    }
    next();
  };
}

const page = (title: string, text: string) =>
  `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head><body style="font:16px system-ui;margin:2rem"><h1>${title}</h1><p>${text}</p></body></html>`;

/**
 * Mounted before the app-wide JSON parser: the chat hook's signature covers the raw bytes.
 *
 * amoCRM's side of the contract: the Redirect URI and disconnect hook of our integration, the chat
 * channel's hook (manager replies), the Salesbot step and the widget API.
 * @see amocrm.md §2, §4.9, §5.3
 */
export function amocrmRouter(deps: AmoRouterDeps): Router {
  const router = Router();
  const token = (req: express.Request) => req.header("x-auth-token") ?? undefined;

  router.get("/amocrm/oauth", async (req, res) => {
    if (req.query.error) {
      res.status(200).type("html").send(page("Branchline", "Access was not granted, so nothing was installed."));
      return;
    }
    const code = typeof req.query.code === "string" ? req.query.code : "";
    if (!code || code.length > 4096) throw badRequest("code: the authorization code is missing", "code");
    const domain = parseAccountDomain(req.query.referer);
    if (!domain) throw badRequest("referer: not an account host name", "referer");
    deps.kit.oauth(); // 503 when the integration is not configured
    await deps.store.transact((tx) => storeAuthorizationCode(tx, deps.box, domain, code, deps.now()));
    deps.wake();
    deps.logger.info({ domain, fromWidget: req.query.from_widget !== undefined }, "amoCRM authorization code stored");
    res.status(200).type("html").send(page("Branchline", "The account is being connected. Return to amoCRM and enter your branch key in the widget settings."));
  });

  router.get("/amocrm/disconnect", async (req, res) => {
    const oauth = deps.kit.oauth();
    const verified = verifyDisconnect(req.query as Record<string, unknown>, oauth.clientId, oauth.clientSecret);
    if (!verified) throw unauthorized("the disconnect signature does not match");
    const now = deps.now();
    const changed = await deps.store.transact(async (tx) => {
      const c = await tx.get("crmConnections", amoConnectionId(verified.accountId));
      if (!c || c.state === "disconnected") return false;
      // amoCRM revoked the tokens and dropped the chat connection; the branch binding and history stay.
      const { tokensSealed: _revoked, ...rest } = c;
      const { scopeId: _dropped, ...refs } = c.refs;
      await tx.put("crmConnections", { ...rest, refs, state: "disconnected", disconnectedAt: now, updatedAt: now });
      return true;
    });
    if (changed) deps.logger.info({ account: verified.accountId }, "amoCRM account disconnected");
    res.status(200).json({ ok: true });
  });

  router.post("/amocrm/chats/:scopeId", express.raw({ type: () => true, limit: "1mb" }), async (req, res) => {
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const outcome = await handleChatHook(deps.chatHook, String(req.params.scopeId), raw, req.header("x-signature"));
    res.status(200).json({ ok: true, outcome });
  });

  router.post("/amocrm/salesbot", express.json({ limit: "256kb" }), express.urlencoded({ extended: true, limit: "256kb" }), async (req, res) => {
    const outcome = await acceptSalesbotRequest(deps.salesbot, req.body);
    if (outcome === "queued") deps.wake();
    res.status(200).json({ ok: true, outcome });
  });

  const widget = Router();
  widget.use(widgetCors(deps.allowedOrigins), express.json({ limit: "64kb" }));
  widget.post("/register", async (req, res) => {
    res.json(await deps.panel.register(token(req), req.body));
  });
  widget.get("/context", async (req, res) => {
    res.json(await deps.panel.context(token(req), req.query.lead_id));
  });
  widget.post("/send", async (req, res) => {
    res.status(202).json(await deps.panel.send(token(req), req.body));
  });
  widget.post("/transfer", async (req, res) => {
    res.json(await deps.panel.transfer(token(req), req.body));
  });
  router.use("/amocrm/widget", widget);
  return router;
}

