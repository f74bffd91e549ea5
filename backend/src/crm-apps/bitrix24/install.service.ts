import { z } from "zod";
import { AppError, badRequest } from "../../errors.js";
import type { Branch, CrmConnection, TemplateRecord } from "../../domain/types.js";
import { b24ErrorCode, type B24Api } from "../../crm/bitrix24/bitrix24.api.js";
import { b24ConnectionId, type B24Kit } from "../../crm/bitrix24/bitrix24.kit.js";
import { installFromForm, refreshTokens, type B24Install } from "../../crm/bitrix24/bitrix24.oauth.js";
import { ROBOT_CODE, robotFields, robotProperties } from "../../crm/bitrix24/imconnector-mapping.js";
import type { OAuthTokenManager } from "../../crm/oauth-tokens.js";
import type { Logger } from "../../ops/logger.js";
import { hashApiKey } from "../../security/api-keys.js";
import type { SecretBox } from "../../security/secret-box.js";
import type { Store } from "../../store/store.port.js";
import { branchRef } from "../card-panel.js";

export interface B24InstallDeps {
  kit: B24Kit;
  store: Store;
  box: SecretBox;
  tokens: OAuthTokenManager;
  logger: Logger;
  now: () => number;
}

/** Events we handle (bitrix24.md §8 step 2). */
export const B24_EVENTS = ["ONIMCONNECTORMESSAGEADD", "ONIMCONNECTORSTATUSDELETE", "ONIMCONNECTORLINEDELETE", "ONAPPUNINSTALL"] as const;
/** The card tab (bitrix24.md §3.2). */
export const B24_PLACEMENTS = ["CRM_LEAD_DETAIL_TAB", "CRM_DEAL_DETAIL_TAB"] as const;
/** The Open Lines line we create when the portal has none of ours. */
export const LINE_NAME = "WhatsApp (Branchline)";

const ICON_SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><circle cx="32" cy="32" r="30" fill="#25D366"/><path fill="#fff" d="M32 14a18 18 0 0 0-15.6 27L14 50l9.3-2.4A18 18 0 1 0 32 14zm10.3 25.3c-.4 1.2-2.5 2.3-3.4 2.4-.9.1-1.7.4-5.9-1.2-5-2-8.1-7.1-8.4-7.4-.2-.3-2-2.6-2-5s1.3-3.6 1.7-4.1c.5-.5 1-.6 1.3-.6h1c.3 0 .7-.1 1.1.8l1.5 3.6c.1.3.2.6 0 1l-.6.9-.8.9c-.3.3-.6.6-.3 1.1.3.6 1.4 2.3 3 3.7 2 1.8 3.7 2.4 4.3 2.6.5.3.8.2 1.1-.1l1.6-1.9c.4-.5.7-.4 1.2-.2l3.4 1.6c.5.3.9.4 1 .6.1.3.1 1.3-.3 2.3z"/></svg>';

/**
 * The installer page request (bitrix24.md §1.3, §8 step 1). The POST is not authenticated, so the
 * refresh token it carries is traded at the OAuth server we trust (BITRIX24_OAUTH_URL): only a
 * token Bitrix24 issued to our app for this portal survives that, and the answer names the portal
 * (`member_id`, `client_endpoint`) on Bitrix24's authority, not the form's. The rotated pair is
 * stored sealed before anything else — unless a user who is not an administrator opened the page
 * of a portal that has the admin's tokens already. A portal already connected stays connected (the
 * installer URL is also the app's page and the connector's settings page).
 */
export async function acceptInstall(deps: B24InstallDeps, body: Record<string, unknown>, query: Record<string, unknown>): Promise<{ connection: CrmConnection; branch?: Branch }> {
  const install: B24Install = installFromForm(body, query, deps.now());
  if (!install.applicationToken) throw badRequest("installer request without APPLICATION_TOKEN", "APPLICATION_TOKEN", "bad_install");
  const oauth = deps.kit.oauth();
  let fresh: Awaited<ReturnType<typeof refreshTokens>>;
  try {
    fresh = await refreshTokens(oauth, install.tokens.refreshToken);
  } catch (err) {
    if (err instanceof AppError && err.code === "bitrix24_oauth_rejected") {
      throw new AppError({ code: "invalid_token", message: "Bitrix24 did not confirm this installation: open the app from the portal again", httpStatus: 401, cause: err });
    }
    throw err;
  }
  if (fresh.memberId !== install.memberId) {
    throw new AppError({ code: "invalid_token", message: "the installation's tokens belong to another portal", httpStatus: 401 });
  }
  const clientEndpoint = fresh.clientEndpoint ?? install.clientEndpoint;
  const domain = new URL(clientEndpoint).host;
  // The same URL is the app's page: a user who is not an administrator must not replace the admin's tokens.
  const profile = await deps.kit.apiWithToken(clientEndpoint, install.memberId, fresh.accessToken).call<{ ADMIN?: unknown }>("profile");
  const admin = profile?.ADMIN === true || profile?.ADMIN === "Y" || profile?.ADMIN === 1;
  const id = b24ConnectionId(install.memberId);
  const at = deps.now();
  const connection = await deps.store.transact(async (tx) => {
    const earlier = await tx.get("crmConnections", id);
    const connected = earlier?.state === "connected";
    const keepTokens = !admin && Boolean(earlier?.tokensSealed) && earlier?.state !== "disconnected";
    const next: CrmConnection = {
      ...(earlier ?? { id, kind: "bitrix24", createdAt: at, refs: {} }),
      account: install.memberId,
      domain,
      state: connected ? "connected" : "installing",
      tokensSealed: keepTokens ? earlier!.tokensSealed : deps.tokens.seal({ accessToken: fresh.accessToken, refreshToken: fresh.refreshToken, expiresAt: fresh.expiresAt }),
      secretsSealed: { ...earlier?.secretsSealed, applicationToken: deps.box.seal(install.applicationToken!) },
      refs: { ...earlier?.refs, clientEndpoint, ...(install.scope ? { scope: install.scope } : {}), ...(install.status ? { appStatus: install.status } : {}) },
      updatedAt: at,
    };
    delete next.disconnectedAt;
    delete next.lastError;
    await tx.put("crmConnections", next);
    return next;
  });
  const branch = connection.branchId ? await deps.store.read((tx) => tx.get("branches", connection.branchId!)) : undefined;
  deps.logger.info({ member: install.memberId, domain, admin }, admin ? "Bitrix24 installer opened: tokens stored" : "Bitrix24 app page opened by a user");
  return { connection, branch };
}

export const registerSchema = z.strictObject({
  member_id: z.string().trim().min(1).max(64),
  auth: z.string().trim().min(1).max(512),
  branch_key: z.string().trim().min(1, "enter the branch key").max(200),
});

/**
 * `POST /bitrix24/register`: the installer page binds its portal to the branch whose key the admin
 * entered. The page's access token is checked at the portal (an administrator's, of this portal),
 * then everything the app needs is registered with the stored admin tokens, idempotently.
 */
export async function register(deps: B24InstallDeps, body: unknown): Promise<{ branch: ReturnType<typeof branchRef>; line: string }> {
  const parsed = registerSchema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw badRequest(`${issue.path.join(".")}: ${issue.message}`, issue.path.join("."));
  }
  const { member_id, auth, branch_key } = parsed.data;
  const connection = await deps.kit.connection(member_id);
  if (!connection) throw new AppError({ code: "unknown_portal", message: "this portal has not installed the app: open it from the portal's Market", httpStatus: 404, field: "member_id" });
  if (connection.state === "disconnected") throw new AppError({ code: "not_installed", message: "the app was uninstalled from this portal: install it again", httpStatus: 409 });
  const user = await deps.kit.verifyUser(connection, auth);
  if (!user.admin) throw new AppError({ code: "forbidden", message: "only a portal administrator can bind the portal to a branch", httpStatus: 403 });
  const branch = await deps.store.read(async (tx) => (await tx.byIndex("branches", "keyHash", hashApiKey(branch_key)))[0]);
  if (!branch || !branch.enabled) throw new AppError({ code: "unknown_branch_key", message: "no active branch has this key", httpStatus: 403, field: "branch_key" });
  if (branch.crm !== "bitrix24") throw new AppError({ code: "unknown_branch_key", message: `branch ${branch.code} is set up for ${branch.crm}, not Bitrix24`, httpStatus: 403, field: "branch_key" });

  const templates = await deps.store.read((tx) => tx.list("templates"));
  const done = await ensureRegistrations(deps.kit, connection, templates);
  const now = deps.now();
  await deps.store.transact(async (tx) => {
    // A branch has one portal: an earlier one lets go of it.
    for (const other of await tx.byIndex("crmConnections", "branchId", branch.id)) {
      if (other.id !== connection.id) await tx.put("crmConnections", { ...other, branchId: undefined, updatedAt: now });
    }
    const current = (await tx.get("crmConnections", connection.id))!;
    const { lastError: _fixed, ...rest } = current;
    await tx.put("crmConnections", { ...rest, branchId: branch.id, state: "connected", refs: { ...current.refs, lineId: done.lineId, connectorId: done.connectorId }, updatedAt: now });
  });
  deps.logger.info({ member: member_id, branch: branch.code, line: done.lineId }, "Bitrix24 portal bound to a branch");
  return { branch: branchRef(branch), line: done.lineId };
}

/**
 * Registers the connector (and activates it on a line), the event handlers, the card tabs and the
 * robot. Safe to repeat: Bitrix24 drops an app's handlers on every update (bitrix24.md §1.4), so the
 * installer runs this each time, and a second run leaves exactly one of each.
 */
export async function ensureRegistrations(kit: B24Kit, connection: CrmConnection, templates: readonly TemplateRecord[]): Promise<{ lineId: string; connectorId: string }> {
  const api = kit.api(connection);
  const urls = kit.urls;
  const connectorId = kit.settings.connectorId;

  // Repeating imconnector.register with the same ID updates it; failure is HTTP 200 + result.result=false.
  const reg = await api.call<{ result?: unknown; error?: string; error_description?: string } | boolean>("imconnector.register", {
    ID: connectorId,
    NAME: "WhatsApp (Branchline)",
    ICON: { DATA_IMAGE: `data:image/svg+xml,${encodeURIComponent(ICON_SVG)}`, COLOR: "#25D366", SIZE: "90%", POSITION: "center" },
    PLACEMENT_HANDLER: urls.install,
    CHAT_GROUP: false,
    NEED_SYSTEM_MESSAGES: false,
    EDIT_INTERNAL_MESSAGES: false,
    DEL_INTERNAL_MESSAGES: false,
    DEL_EXTERNAL_MESSAGES: false,
    NEWSLETTER: false,
  });
  if (reg !== true && (typeof reg !== "object" || reg === null || reg.result !== true)) {
    const r = typeof reg === "object" && reg !== null ? reg : {};
    throw new AppError({ code: "bitrix24_error", message: `Bitrix24 refused to register the connector: ${r.error ?? "no result"} ${r.error_description ?? ""}`.trim(), httpStatus: 502, details: { method: "imconnector.register", error: r.error } });
  }

  const lineId = await ensureLine(api, connection.refs.lineId);
  await api.call("imconnector.activate", { CONNECTOR: connectorId, LINE: lineId, ACTIVE: "1" });
  await api.call("imconnector.connector.data.set", {
    CONNECTOR: connectorId,
    LINE: lineId,
    DATA: { ID: `${connectorId}_line${lineId}`, URL: kit.settings.publicUrl, URL_IM: kit.settings.publicUrl, NAME: "WhatsApp" },
  });

  const bound = (await api.call<Array<{ event?: string; handler?: string }>>("event.get")) ?? [];
  for (const event of B24_EVENTS) {
    const mine = bound.filter((b) => String(b.event ?? "").toUpperCase() === event);
    // Handlers of an earlier address of ours (PUBLIC_URL moved) go; Bitrix24 would call both.
    for (const stale of mine.filter((b) => b.handler !== urls.events && /\/bitrix24\/events$/.test(b.handler ?? ""))) {
      await api.call("event.unbind", { event, handler: stale.handler });
    }
    if (!mine.some((b) => b.handler === urls.events)) await api.call("event.bind", { event, handler: urls.events });
  }

  const placed = (await api.call<Array<{ placement?: string; handler?: string }>>("placement.get")) ?? [];
  for (const placement of B24_PLACEMENTS) {
    const mine = placed.filter((p) => p.placement === placement);
    for (const stale of mine.filter((p) => p.handler !== urls.placement && /\/bitrix24\/placement$/.test(p.handler ?? ""))) {
      await api.call("placement.unbind", { PLACEMENT: placement, HANDLER: stale.handler });
    }
    if (!mine.some((p) => p.handler === urls.placement)) {
      await api.call("placement.bind", { PLACEMENT: placement, HANDLER: urls.placement, TITLE: "WhatsApp", LANG_ALL: { en: { TITLE: "WhatsApp" }, ru: { TITLE: "WhatsApp" } } });
    }
  }

  const robot = robotFields(urls.robot, templates);
  try {
    await api.call("bizproc.robot.add", { CODE: ROBOT_CODE, ...robot });
  } catch (err) {
    if (b24ErrorCode(err) !== "ERROR_ACTIVITY_ALREADY_INSTALLED") throw err;
    await api.call("bizproc.robot.update", { CODE: ROBOT_CODE, FIELDS: robot });
  }
  return { lineId, connectorId };
}

/** Our line if the portal still has it, else one named like ours, else a new one with CRM linking on. */
async function ensureLine(api: B24Api, known: string | undefined): Promise<string> {
  const lines = (await api.call<Array<{ ID?: unknown; LINE_NAME?: unknown }>>("imopenlines.config.list.get", { PARAMS: { select: ["ID", "LINE_NAME", "ACTIVE"] } })) ?? [];
  const ids = lines.map((l) => ({ id: String(l.ID ?? ""), name: String(l.LINE_NAME ?? "") }));
  if (known && ids.some((l) => l.id === known)) return known;
  const named = ids.find((l) => l.name === LINE_NAME);
  if (named?.id) return named.id;
  const created = await api.call<unknown>("imopenlines.config.add", {
    PARAMS: { LINE_NAME, ACTIVE: "Y", CRM: "Y", CRM_CREATE: "lead", CRM_CHAT_TRACKER: "Y", CRM_FORWARD: "Y" },
  });
  const id = String(created ?? "");
  if (!/^\d+$/.test(id)) throw new AppError({ code: "bitrix24_error", message: "Bitrix24 did not return the new line's id", httpStatus: 502, details: { method: "imopenlines.config.add" } });
  return id;
}

/** Keeps the robot's template list current (bitrix24.md §5.1: `bizproc.robot.update`). */
export async function syncRobotTemplates(kit: B24Kit, connection: CrmConnection, templates: readonly TemplateRecord[]): Promise<void> {
  const api = kit.api(connection);
  try {
    await api.call("bizproc.robot.update", { CODE: ROBOT_CODE, FIELDS: { PROPERTIES: robotProperties(templates) } });
  } catch (err) {
    if (b24ErrorCode(err) !== "ERROR_ACTIVITY_NOT_FOUND") throw err;
    await api.call("bizproc.robot.add", { CODE: ROBOT_CODE, ...robotFields(kit.urls.robot, templates) });
  }
}
