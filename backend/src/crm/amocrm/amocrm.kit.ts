import type { AxiosInstance } from "axios";
import { AppError } from "../../errors.js";
import type { CrmConnection } from "../../domain/types.js";
import type { Store, Tx } from "../../store/store.port.js";
import type { OAuthTokenManager } from "../oauth-tokens.js";
import { createAmoApi, type AmoApi } from "./amocrm.api.js";
import type { AmoOAuthConfig } from "./amocrm.oauth.js";
import { createAmojoClient, type AmojoClient } from "./amojo.client.js";
import type { RequestGate } from "./request-gate.js";

export interface AmoSettings {
  clientId?: string;
  clientSecret?: string;
  redirectUri: string;
  publicUrl: string;
  scheme: "https" | "http";
  amojoUrl: string;
  channelId?: string;
  channelSecret?: string;
  botId?: string;
}

export interface AmoKitDeps {
  settings: AmoSettings;
  store: Store;
  http: AxiosInstance;
  tokens: OAuthTokenManager;
  /** amoCRM allows 7 requests per second per account; shared by every caller in the process. */
  gate: RequestGate;
  now: () => number;
}

export const amoConnectionId = (accountId: string | number) => `amocrm:${accountId}`;

/**
 * Everything the amoCRM connector and its hooks need for one process: the shared integration's
 * settings, REST clients per account and the chat channel client.
 */
export class AmoKit {
  constructor(readonly deps: AmoKitDeps) {}

  get settings(): AmoSettings {
    return this.deps.settings;
  }

  /** The integration's OAuth client; a 503 explains which setting is missing. */
  oauth(): AmoOAuthConfig & { clientId: string; clientSecret: string } {
    const s = this.deps.settings;
    if (!s.clientId || !s.clientSecret) {
      throw new AppError({ code: "amocrm_not_configured", message: "AMOCRM_CLIENT_ID and AMOCRM_CLIENT_SECRET are not set", httpStatus: 503 });
    }
    return { http: this.deps.http, scheme: s.scheme, clientId: s.clientId, clientSecret: s.clientSecret, redirectUri: s.redirectUri, now: this.deps.now };
  }

  /** The chat channel, or undefined while amoCRM has not issued one (AMOJO_CHANNEL_ID/SECRET). */
  amojo(): AmojoClient | undefined {
    const s = this.deps.settings;
    if (!s.channelId || !s.channelSecret) return undefined;
    return createAmojoClient({ http: this.deps.http, baseUrl: s.amojoUrl, channelId: s.channelId, secret: s.channelSecret, now: this.deps.now });
  }

  api(connection: CrmConnection): AmoApi {
    return createAmoApi({
      http: this.deps.http,
      scheme: this.deps.settings.scheme,
      domain: connection.domain,
      tokens: this.deps.tokens.source(connection.id),
      gate: this.deps.gate,
      clientId: this.oauth().clientId,
    });
  }

  /** The connected account of a branch, or a retryable error: deliveries wait until it connects. */
  async connectionOfBranch(branchId: string, tx?: Tx): Promise<CrmConnection> {
    const find = (t: Tx) => t.byIndex("crmConnections", "branchId", branchId);
    const rows = tx ? await find(tx) : await this.deps.store.read(find);
    const connection = rows.find((c) => c.kind === "amocrm" && c.state === "connected");
    if (!connection) {
      throw new AppError({ code: "crm_not_connected", message: `branch ${branchId} has no connected amoCRM account`, retryable: true, httpStatus: 409 });
    }
    return connection;
  }
}
