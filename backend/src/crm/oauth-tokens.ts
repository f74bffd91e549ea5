import { AppError } from "../errors.js";
import type { CrmConnection, OAuthTokens } from "../domain/types.js";
import type { Logger } from "../ops/logger.js";
import type { SecretBox } from "../security/secret-box.js";
import type { Store } from "../store/store.port.js";

/** What a CRM API client asks for: the token to use, and a new one after the CRM rejected it. */
export interface TokenSource {
  current(): Promise<string>;
  refreshAfterRejection(rejected: string): Promise<string>;
}

/** Trades a refresh token for a new pair at the CRM's OAuth server. */
export type Refresher = (connection: CrmConnection, refreshToken: string) => Promise<OAuthTokens>;

export interface TokenManagerDeps {
  store: Store;
  box: SecretBox;
  now: () => number;
  logger: Logger;
  refreshers: Partial<Record<CrmConnection["kind"], Refresher>>;
  /** Refresh this long before expiry, so a request never starts with a token about to die. */
  earlyMs?: number;
}

/**
 * One token manager for both CRMs (architecture, convention 6). Both rotate the refresh token on
 * every refresh and kill the old one at once, so per connection only one refresh runs at a time,
 * and the new pair is durably stored before anyone uses it: a crash right after a refresh must not
 * leave us holding only the dead refresh token. With several instances on PostgreSQL the "one at a
 * time" holds across them (`Store.withLock`).
 */
export class OAuthTokenManager {
  private readonly inflight = new Map<string, Promise<OAuthTokens>>();
  private readonly earlyMs: number;

  constructor(private readonly deps: TokenManagerDeps) {
    this.earlyMs = deps.earlyMs ?? 5 * 60_000;
  }

  seal(tokens: OAuthTokens): string {
    return this.deps.box.seal(JSON.stringify(tokens));
  }

  source(connectionId: string): TokenSource {
    return {
      current: async () => {
        const tokens = await this.tokensOf(connectionId);
        if (tokens.expiresAt - this.deps.now() > this.earlyMs) return tokens.accessToken;
        return (await this.refresh(connectionId, tokens.accessToken)).accessToken;
      },
      refreshAfterRejection: async (rejected) => (await this.refresh(connectionId, rejected)).accessToken,
    };
  }

  private async tokensOf(connectionId: string): Promise<OAuthTokens> {
    const connection = await this.deps.store.read((tx) => tx.get("crmConnections", connectionId));
    return this.open(connection, connectionId);
  }

  private open(connection: CrmConnection | undefined, connectionId: string): OAuthTokens {
    if (!connection?.tokensSealed || connection.state === "disconnected") {
      throw new AppError({ code: "crm_not_connected", message: `CRM account ${connectionId} is not connected`, httpStatus: 409, retryable: false });
    }
    return JSON.parse(this.deps.box.open(connection.tokensSealed)) as OAuthTokens;
  }

  private refresh(connectionId: string, rejected: string): Promise<OAuthTokens> {
    const running = this.inflight.get(connectionId);
    if (running) return running;
    // Several instances (issue 7): the store's cross-instance lock, when it has one, makes the
    // refresh one at a time across processes too; refreshOnce re-reads the tokens under it.
    const { store } = this.deps;
    const once = () => this.refreshOnce(connectionId, rejected);
    const attempt = (store.withLock ? store.withLock(`oauth:${connectionId}`, once) : once()).finally(() => this.inflight.delete(connectionId));
    this.inflight.set(connectionId, attempt);
    return attempt;
  }

  private async refreshOnce(connectionId: string, rejected: string): Promise<OAuthTokens> {
    const connection = await this.deps.store.read((tx) => tx.get("crmConnections", connectionId));
    const held = this.open(connection, connectionId);
    // Someone refreshed after the caller read its token: use theirs instead of burning another pair.
    if (held.accessToken !== rejected && held.expiresAt - this.deps.now() > this.earlyMs) return held;
    const refresher = this.deps.refreshers[connection!.kind];
    if (!refresher) throw new AppError({ code: "crm_not_configured", message: `no OAuth client is configured for ${connection!.kind}`, retryable: false });
    let fresh: OAuthTokens;
    try {
      fresh = await refresher(connection!, held.refreshToken);
    } catch (err) {
      if (err instanceof AppError && !err.retryable) {
        // The grant is gone (revoked, expired after 3 months unused): an admin must reinstall.
        await this.deps.store.transact(async (tx) => {
          const c = await tx.get("crmConnections", connectionId);
          if (c) await tx.put("crmConnections", { ...c, lastError: { code: "token_revoked", message: err.message, at: this.deps.now() }, updatedAt: this.deps.now() });
        });
      }
      throw err;
    }
    await this.deps.store.transact(async (tx) => {
      const c = await tx.get("crmConnections", connectionId);
      if (!c) throw new AppError({ code: "crm_not_connected", message: `CRM account ${connectionId} vanished during a token refresh`, retryable: false });
      const { lastError: _stale, ...rest } = c;
      await tx.put("crmConnections", { ...rest, tokensSealed: this.seal(fresh), updatedAt: this.deps.now() });
    });
    this.deps.logger.info({ connection: connectionId }, "CRM tokens refreshed");
    return fresh;
  }
}
