import { AppError } from "../../errors.js";
import type { CrmConnection } from "../../domain/types.js";
import { createAmoApi } from "../../crm/amocrm/amocrm.api.js";
import { amoConnectionId, type AmoKit } from "../../crm/amocrm/amocrm.kit.js";
import { exchangeCode } from "../../crm/amocrm/amocrm.oauth.js";
import type { OAuthTokenManager } from "../../crm/oauth-tokens.js";
import type { JobHandler } from "../../jobs/job-runner.js";
import type { Logger } from "../../ops/logger.js";
import type { SecretBox } from "../../security/secret-box.js";
import type { Store, Tx } from "../../store/store.port.js";
import { newJob } from "../../jobs/new-job.js";

export const AMO_INSTALL_QUEUE = "amocrm.install";
export const AMO_CONNECT_QUEUE = "amocrm.connect";

interface InstallPayload {
  domain: string;
  /** The authorization code, sealed: it is a credential for 20 minutes. */
  codeSealed: string;
}

interface ConnectPayload {
  connectionId: string;
}

/**
 * Step one of an install, inside the Redirect URI request: amoCRM waits 3 s and never retries,
 * so the code is stored durably before anything else and exchanged by a job.
 */
export async function storeAuthorizationCode(tx: Tx, box: SecretBox, domain: string, code: string, now: number): Promise<void> {
  await tx.enqueue(newJob(AMO_INSTALL_QUEUE, { domain, codeSealed: box.seal(code) } satisfies InstallPayload, now, { orderKey: `amocrm:${domain}` }));
}

export interface InstallDeps {
  kit: AmoKit;
  store: Store;
  box: SecretBox;
  tokens: OAuthTokenManager;
  logger: Logger;
  now: () => number;
}

/**
 * Exchanges the code, reads the account (with its `amojo_id`) and keeps the connection; a second
 * job connects the chat channel, so a channel outage is retried without re-using the spent code.
 * A reinstall finds the account's earlier record and reconnects it with its branch and history.
 */
export function installHandlers(deps: InstallDeps): JobHandler[] {
  const { kit, store, now } = deps;
  const exchange: JobHandler = {
    queue: AMO_INSTALL_QUEUE,
    maxAttempts: 5,
    backoffMs: 2000,
    concurrency: 4,
    async run(job, ctx) {
      const p = job.payload as InstallPayload;
      const oauth = kit.oauth();
      const tokens = await exchangeCode(oauth, p.domain, deps.box.open(p.codeSealed));
      // The code is spent now: everything after this point must not need it again.
      const fixed = { current: async () => tokens.accessToken, refreshAfterRejection: async () => tokens.accessToken };
      const account = await readAccount(() => createAmoApi({ http: kit.deps.http, scheme: oauth.scheme, domain: p.domain, tokens: fixed, gate: kit.deps.gate, clientId: oauth.clientId }).account());
      const id = amoConnectionId(account.id);
      const at = now();
      await store.transact(async (tx) => {
        const earlier = await tx.get("crmConnections", id);
        const connection: CrmConnection = {
          ...(earlier ?? { id, kind: "amocrm", createdAt: at, refs: {} }),
          account: String(account.id),
          domain: p.domain,
          state: earlier?.state === "connected" && earlier.refs.scopeId ? "connected" : "installing",
          tokensSealed: deps.tokens.seal(tokens),
          refs: { ...earlier?.refs, amojoId: account.amojoId, subdomain: account.subdomain },
          updatedAt: at,
        };
        delete connection.disconnectedAt;
        delete connection.lastError;
        await tx.put("crmConnections", connection);
        await tx.enqueue(newJob(AMO_CONNECT_QUEUE, { connectionId: id } satisfies ConnectPayload, at, { orderKey: id }));
        await ctx.complete(tx);
      });
      deps.logger.info({ account: account.id, domain: p.domain }, "amoCRM account installed");
    },
  };

  const connect: JobHandler = {
    queue: AMO_CONNECT_QUEUE,
    maxAttempts: 10,
    backoffMs: 5000,
    concurrency: 4,
    async run(job, ctx) {
      const { connectionId } = job.payload as ConnectPayload;
      const connection = await store.read((tx) => tx.get("crmConnections", connectionId));
      if (!connection || connection.state === "disconnected" || !connection.refs.amojoId) {
        await store.transact((tx) => ctx.complete(tx));
        return;
      }
      const amojo = kit.amojo();
      if (!amojo) throw new AppError({ code: "amojo_not_configured", message: "AMOJO_CHANNEL_ID and AMOJO_CHANNEL_SECRET are not set", retryable: true });
      const { scopeId } = await amojo.connect(connection.refs.amojoId, "Branchline WhatsApp");
      await store.transact(async (tx) => {
        const c = await tx.get("crmConnections", connectionId);
        if (c && c.state !== "disconnected") await tx.put("crmConnections", { ...c, state: "connected", refs: { ...c.refs, scopeId }, updatedAt: now() });
        await ctx.complete(tx);
      });
      deps.logger.info({ connection: connectionId }, "amoCRM chat channel connected");
    },
  };
  return [exchange, connect];
}

/** Right after the exchange a blip must not waste the install: a few quick tries in place. */
async function readAccount<T>(read: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await read();
    } catch (err) {
      if (attempt >= 3 || !(err instanceof AppError && err.retryable)) throw err;
      await new Promise((r) => setTimeout(r, 500 * attempt));
    }
  }
}
