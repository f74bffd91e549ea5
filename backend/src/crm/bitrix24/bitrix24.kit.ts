import { createHash } from "node:crypto";
import type { AxiosInstance } from "axios";
import { AppError } from "../../errors.js";
import type { CrmConnection, OAuthTokens } from "../../domain/types.js";
import type { SecretBox } from "../../security/secret-box.js";
import type { Store, Tx } from "../../store/store.port.js";
import type { OAuthTokenManager, Refresher } from "../oauth-tokens.js";
import { createB24Api, type B24Api } from "./bitrix24.api.js";
import { refreshTokens, type B24OAuthConfig } from "./bitrix24.oauth.js";
import type { LeakyBucket } from "./leaky-bucket.js";

export interface B24Settings {
  clientId?: string;
  clientSecret?: string;
  /** Our public origin: handlers registered in the portal point below it. */
  publicUrl: string;
  /** OAuth server base (BITRIX24_OAUTH_URL): the only host that ever sees the client secret. */
  oauthUrl: string;
  /** Open Lines connector code. */
  connectorId: string;
  /** Extra origins allowed to frame the card tab (BITRIX24_FRAME_ORIGINS), besides each portal's own. */
  frameOrigins: string[];
}

export interface B24KitDeps {
  settings: B24Settings;
  store: Store;
  http: AxiosInstance;
  tokens: OAuthTokenManager;
  box: SecretBox;
  /** The portal's leaky bucket, one per process, shared by every client of a portal. */
  bucket: LeakyBucket;
  now: () => number;
  /** Backoff clock of QUERY_LIMIT_EXCEEDED retries (tests pass a fast one). */
  sleep?: (ms: number) => Promise<void>;
}

export const b24ConnectionId = (memberId: string) => `bitrix24:${memberId}`;

/** Who an iframe's access token belongs to, as the portal itself answered. */
export interface B24User {
  userId: string;
  admin: boolean;
}

const USER_CACHE_MS = 60_000;
const MAX_CACHED = 5000;

/**
 * Everything the Bitrix24 connector and its app routes need for one process: the app's OAuth
 * client, one REST client per portal (the SDK's `B24OAuth` underneath, kept for the process so its
 * state lives once), and the check of tokens that iframes and installers present.
 */
export class B24Kit {
  private readonly apis = new Map<string, B24Api>();
  private readonly users = new Map<string, { until: number; user: B24User }>();
  /** Checks in flight: a tab's parallel first calls ask the portal once. */
  private readonly checking = new Map<string, Promise<B24User>>();

  constructor(readonly deps: B24KitDeps) {}

  get settings(): B24Settings {
    return this.deps.settings;
  }

  /** Handler URLs registered in every portal. */
  get urls() {
    const base = this.deps.settings.publicUrl.replace(/\/+$/, "");
    return { install: `${base}/bitrix24/install`, events: `${base}/bitrix24/events`, robot: `${base}/bitrix24/robot`, placement: `${base}/bitrix24/placement` };
  }

  /** The app's OAuth client; a 503 explains which setting is missing. */
  oauth(): B24OAuthConfig & { clientId: string; clientSecret: string } {
    const s = this.deps.settings;
    if (!s.clientId || !s.clientSecret) {
      throw new AppError({ code: "bitrix24_not_configured", message: "BITRIX24_CLIENT_ID and BITRIX24_CLIENT_SECRET are not set", httpStatus: 503 });
    }
    return { http: this.deps.http, clientId: s.clientId, clientSecret: s.clientSecret, oauthUrl: s.oauthUrl, now: this.deps.now };
  }

  /** The token manager's refresher for `bitrix24` connections (rotated pair, persisted by the manager first). */
  refresher(): Refresher {
    return async (_connection, refreshToken): Promise<OAuthTokens> => {
      const fresh = await refreshTokens(this.oauth(), refreshToken);
      return { accessToken: fresh.accessToken, refreshToken: fresh.refreshToken, expiresAt: fresh.expiresAt };
    };
  }

  /** REST for a connected portal with its admin's stored tokens (refreshed through the token manager). */
  api(connection: CrmConnection): B24Api {
    const endpoint = endpointOf(connection);
    const key = `${connection.id}|${endpoint}`;
    let api = this.apis.get(key);
    if (!api) {
      if (this.apis.size >= MAX_CACHED) this.apis.delete(this.apis.keys().next().value!);
      api = createB24Api({ http: this.deps.http, clientEndpoint: endpoint, memberId: connection.account, tokens: this.deps.tokens.source(connection.id), bucket: this.deps.bucket, sleep: this.deps.sleep });
      this.apis.set(key, api);
    }
    return api;
  }

  /**
   * REST with a token someone presented (an iframe's AUTH_ID): never refreshed, a rejection is a 401.
   * Shares the portal's bucket with everything else.
   */
  apiWithToken(clientEndpoint: string, memberId: string, token: string): B24Api {
    const rejected = () => {
      throw new AppError({ code: "invalid_token", message: "Bitrix24 did not accept this access token (expired or not this portal's)", httpStatus: 401 });
    };
    return createB24Api({
      http: this.deps.http,
      clientEndpoint,
      memberId,
      tokens: { current: async () => token, refreshAfterRejection: async () => rejected() },
      bucket: this.deps.bucket,
      sleep: this.deps.sleep,
      maxAttempts: 2,
    });
  }

  /**
   * Asks the portal (`profile`) whose token this is; answers are cached for a minute per token.
   * Anything but a clean answer from this connection's own portal is a 401 (bitrix24.md §1.5).
   */
  async verifyUser(connection: CrmConnection, token: string): Promise<B24User> {
    if (!token || token.length > 512) throw new AppError({ code: "invalid_token", message: "the Bitrix24 access token is missing", httpStatus: 401 });
    const key = createHash("sha256").update(`${connection.id}|${endpointOf(connection)}|${token}`).digest("base64url");
    const now = this.deps.now();
    const hit = this.users.get(key);
    if (hit && hit.until > now) return hit.user;
    const running = this.checking.get(key);
    if (running) return running;
    const check = this.askProfile(connection, token, key).finally(() => this.checking.delete(key));
    this.checking.set(key, check);
    return check;
  }

  private async askProfile(connection: CrmConnection, token: string, key: string): Promise<B24User> {
    let profile: { ID?: unknown; ADMIN?: unknown };
    try {
      profile = await this.apiWithToken(endpointOf(connection), connection.account, token).call<{ ID?: unknown; ADMIN?: unknown }>("profile");
    } catch (err) {
      if (err instanceof AppError && (err.code === "invalid_token" || isAuthRefusal(err))) {
        throw new AppError({ code: "invalid_token", message: "Bitrix24 did not accept this access token (expired or not this portal's)", httpStatus: 401 });
      }
      throw err;
    }
    const user: B24User = { userId: String(profile?.ID ?? ""), admin: profile?.ADMIN === true || profile?.ADMIN === "Y" || profile?.ADMIN === 1 };
    if (!user.userId) throw new AppError({ code: "invalid_token", message: "Bitrix24 answered profile without a user", httpStatus: 401 });
    if (this.users.size >= MAX_CACHED) this.users.delete(this.users.keys().next().value!);
    this.users.set(key, { until: this.deps.now() + USER_CACHE_MS, user });
    return user;
  }

  async connection(memberId: string, tx?: Tx): Promise<CrmConnection | undefined> {
    const get = (t: Tx) => t.get("crmConnections", b24ConnectionId(memberId));
    const c = tx ? await get(tx) : await this.deps.store.read(get);
    return c?.kind === "bitrix24" ? c : undefined;
  }

  /** The connected portal of a branch, or a retryable error: deliveries wait until it connects. */
  async connectionOfBranch(branchId: string, tx?: Tx): Promise<CrmConnection> {
    const find = (t: Tx) => t.byIndex("crmConnections", "branchId", branchId);
    const rows = tx ? await find(tx) : await this.deps.store.read(find);
    const connection = rows.find((c) => c.kind === "bitrix24" && c.state === "connected");
    if (!connection) {
      throw new AppError({ code: "crm_not_connected", message: `branch ${branchId} has no connected Bitrix24 portal`, retryable: true, httpStatus: 409 });
    }
    return connection;
  }

  /** The application token stored at install (compared with every event's `auth[application_token]`). */
  applicationToken(connection: CrmConnection): string | undefined {
    const sealed = connection.secretsSealed?.applicationToken;
    if (!sealed) return undefined;
    try {
      return this.deps.box.open(sealed);
    } catch {
      return undefined;
    }
  }

  /** Origins that may frame our pages for this portal: its own, plus configured ones. */
  frameOrigins(connection: CrmConnection | undefined): string[] {
    const own = connection ? [new URL(endpointOf(connection)).origin] : [];
    return [...new Set([...own, ...this.deps.settings.frameOrigins])];
  }
}

/** `https://portal.bitrix24.com/rest/`, as stored at install. */
export function endpointOf(connection: CrmConnection): string {
  return connection.refs.clientEndpoint ?? `https://${connection.domain}/rest/`;
}

function isAuthRefusal(err: AppError): boolean {
  const d = err.details as { error?: string; status?: number } | undefined;
  return err.code === "bitrix24_error" && (d?.status === 401 || d?.error === "NO_AUTH_FOUND" || d?.error === "invalid_token" || d?.error === "expired_token" || d?.error === "INVALID_CREDENTIALS");
}
