import { existsSync } from "node:fs";
import { join } from "node:path";
import express, { Router, type Request, type Response } from "express";
import { AppError, badRequest } from "../errors.js";
import type { B24Kit } from "../crm/bitrix24/bitrix24.kit.js";
import { parseDomain } from "../crm/bitrix24/bitrix24.oauth.js";
import { parseNestedForm } from "../crm/bitrix24/form-body.js";
import { handleB24Event, type B24EventDeps } from "../crm-apps/bitrix24/event-hook.js";
import { acceptInstall, register, type B24InstallDeps } from "../crm-apps/bitrix24/install.service.js";
import { b24Page, pageSecurityHeaders, type B24PageConfig } from "../crm-apps/bitrix24/pages.js";
import { isB24Entity, type B24Caller, type B24PanelService } from "../crm-apps/bitrix24/panel.service.js";
import { acceptRobotCall, type B24RobotDeps } from "../crm-apps/bitrix24/robot.worker.js";
import type { Logger } from "../ops/logger.js";

export interface B24RouterDeps {
  kit: B24Kit;
  install: B24InstallDeps;
  events: B24EventDeps;
  robot: B24RobotDeps;
  panel: B24PanelService;
  logger: Logger;
  /** Wakes the job runner after a robot call was stored. */
  wake(): void;
  /** Where `app.js` of the iframe pages lives (default dist/widget/bitrix24). */
  appDir?: string;
}

const PREFIX = "/bitrix24";
const FORM_LIMIT = "1mb";

/** Bitrix24 posts form-encoded bodies with PHP bracket keys to full depth: read the raw text. */
const rawText = express.text({ type: () => true, limit: FORM_LIMIT });

function form(req: Request): Record<string, unknown> {
  const raw = typeof req.body === "string" ? req.body : "";
  try {
    return parseNestedForm(raw);
  } catch (err) {
    if (err instanceof AppError) throw badRequest(err.message, err.field, "bad_form");
    throw err;
  }
}

const text = (v: unknown): string | undefined => (typeof v === "string" && v ? v : undefined);

/**
 * Mounted before the app-wide JSON parser: Bitrix24's side of the contract — the installer page and
 * the register call, events, the robot handler, the card tab and its API.
 * @see bitrix24.md §1.3, §3, §5, §7, §8
 */
export function bitrix24Router(deps: B24RouterDeps): Router {
  const router = Router();
  const appDir = deps.appDir ?? join(process.cwd(), "dist", "widget", "bitrix24");
  const assetVersion = String(Date.now());
  if (!existsSync(join(appDir, "app.js"))) deps.logger.warn({ appDir }, "the Bitrix24 iframe bundle is not built; run npm run build");

  /** An iframe page; errors become a readable page (the admin sees it inside Bitrix24). */
  const page = (res: Response, status: number, config: B24PageConfig, frameOrigins: string[]) => {
    res.status(status).set(pageSecurityHeaders(frameOrigins)).type("html").send(b24Page(config, assetVersion));
  };
  const errorPage = (req: Request, res: Response, err: unknown) => {
    const e = err instanceof AppError ? err : new AppError({ code: "internal", message: "internal error", httpStatus: 500, cause: err });
    if (e.httpStatus >= 500) deps.logger.error({ err, path: req.path }, "Bitrix24 page failed");
    // Only an error message: the portal named in the query may show it.
    const domain = parseDomain(req.query.DOMAIN);
    const origins = [...deps.kit.frameOrigins(undefined), ...(domain ? [`${req.query.PROTOCOL === "0" ? "http" : "https"}://${domain}`] : [])];
    page(res, e.httpStatus, { mode: "error", api: PREFIX, lang: langOf(req), message: e.httpStatus >= 500 ? "Something went wrong. Try again later." : e.message }, origins);
  };

  router.post(`${PREFIX}/install`, rawText, async (req, res) => {
    try {
      const { connection, branch } = await acceptInstall(deps.install, form(req), req.query as Record<string, unknown>);
      page(res, 200, { mode: "install", api: PREFIX, lang: langOf(req), ...(branch ? { branch: { name: branch.name, code: branch.code } } : {}) }, deps.kit.frameOrigins(connection));
    } catch (err) {
      errorPage(req, res, err);
    }
  });

  router.post(`${PREFIX}/register`, express.json({ limit: "16kb" }), async (req, res) => {
    res.json(await register(deps.install, req.body));
  });

  router.post(`${PREFIX}/events`, rawText, async (req, res) => {
    const raw = typeof req.body === "string" ? req.body : "";
    const result = await handleB24Event(deps.events, raw);
    res.status(200).json({ ok: true, ...result });
  });

  router.post(`${PREFIX}/robot`, rawText, async (req, res) => {
    const raw = typeof req.body === "string" ? req.body : "";
    const outcome = await acceptRobotCall(deps.robot, raw);
    if (outcome === "queued") deps.wake();
    res.status(200).json({ ok: true, outcome });
  });

  router.post(`${PREFIX}/placement`, rawText, async (req, res) => {
    try {
      const body = form(req);
      const memberId = text(body.member_id);
      if (!memberId) throw badRequest("placement request without member_id", "member_id");
      const connection = await deps.kit.connection(memberId);
      if (!connection) throw new AppError({ code: "unknown_portal", message: "This portal has not installed the app.", httpStatus: 404 });
      const placement = text(body.PLACEMENT);
      let entityId: number | undefined;
      try {
        const id = Number((JSON.parse(text(body.PLACEMENT_OPTIONS) ?? "{}") as { ID?: unknown }).ID);
        if (Number.isSafeInteger(id) && id > 0) entityId = id;
      } catch {
        // the frame's own placement data is read by the page
      }
      page(res, 200, { mode: "placement", api: PREFIX, lang: langOf(req), ...(placement ? { placement } : {}), ...(entityId ? { entityId } : {}) }, deps.kit.frameOrigins(connection));
    } catch (err) {
      errorPage(req, res, err);
    }
  });

  router.use(`${PREFIX}/assets`, express.static(appDir, { index: false, maxAge: "5m", fallthrough: true }));

  // The card tab's API: same origin as its page, authenticated by the frame's token.
  const app = Router({ mergeParams: true });
  app.use(express.json({ limit: "64kb" }));
  const caller = (req: Request): B24Caller => ({ memberId: req.header("x-b24-member") ?? undefined, token: req.header("x-b24-auth") ?? undefined });
  const entity = (req: Request) => {
    const e = req.params.entity;
    if (!isB24Entity(e)) throw badRequest("the card tab serves leads and deals", "entity");
    return e;
  };
  app.get("/context", async (req, res) => {
    res.json(await deps.panel.context(caller(req), entity(req), req.query.lead_id));
  });
  app.post("/send", async (req, res) => {
    res.status(202).json(await deps.panel.send(caller(req), entity(req), req.body));
  });
  app.post("/transfer", async (req, res) => {
    res.json(await deps.panel.transfer(caller(req), entity(req), req.body));
  });
  router.use(`${PREFIX}/app/:entity`, app);
  return router;
}

function langOf(req: Request): string {
  const lang = typeof req.query.LANG === "string" ? req.query.LANG.toLowerCase() : "";
  return /^[a-z]{2}$/.test(lang) ? lang : "en";
}
