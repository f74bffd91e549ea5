import axios from "axios";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { OAuthTokenManager } from "../../backend/src/crm/oauth-tokens.js";
import { refreshTokens } from "../../backend/src/crm/amocrm/amocrm.oauth.js";
import type { CrmConnection, OAuthTokens } from "../../backend/src/domain/types.js";
import { createLogger } from "../../backend/src/ops/logger.js";
import { SecretBox } from "../../backend/src/security/secret-box.js";
import { PgStore } from "../../backend/src/store/pg/pg.store.js";
import { expectEachOnce, launchInstance, runLoad, startFaultReceiver, startGraphProcess, type Instance } from "../builders/cluster.js";
import { startFakeAmo } from "../builders/fake-amocrm.js";
import { APP_SECRET, api, productionEnv, tempDir, waitFor } from "../builders/harness.js";
import { NUMBER } from "../builders/meta-payloads.js";
import { findPostgres } from "../builders/postgres.js";

const found = await findPostgres();
const MPS = 10;
const ADMIN_TOKEN = "multi-instance-admin-token";
const SECRET_KEY = "multi-instance-secret-key-0123456789abcdef";
const SENDS_FOR = "this instance now sends for the number";

if (!found.available) {
  console.warn(`PostgreSQL not available: ${found.reason} — the multi-instance tests are SKIPPED`);
  describe("several instances on one PostgreSQL database", () => {
    it.skip(`PostgreSQL not available: ${found.reason}`, () => undefined);
  });
} else {
  const server = found.server;
  const cleanups: Array<() => Promise<unknown>> = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    await server.stop();
  });

  describe("several instances on one PostgreSQL database", () => {
    it("three instances share webhooks and branch API calls; one is killed mid-load: each message once, the rate held, nothing stuck", { timeout: 150_000 }, async () => {
      const db = await server.createDatabase();
      cleanups.push(() => db.drop());
      const graph = await startGraphProcess({ appSecret: APP_SECRET, phoneNumberId: NUMBER.phoneNumberId });
      cleanups.push(() => graph.close());
      const receiver = await startFaultReceiver();
      cleanups.push(() => receiver.close());

      const instances: Instance[] = await Promise.all(
        ["a", "b", "c"].map(async (name) => {
          const { dir, remove } = await tempDir(`branchline-multi-${name}-`);
          cleanups.push(remove);
          const env = productionEnv(dir, {
            DATABASE_URL: db.url,
            ADMIN_TOKEN,
            SECRET_KEY,
            WHATSAPP_GRAPH_URL: graph.url,
            WHATSAPP_MPS: String(MPS),
            SEND_RECONCILE_SECONDS: "8",
            LOG_LEVEL: "info",
          });
          const instance = await launchInstance(name, env);
          cleanups.push(() => instance.stop());
              return instance;
        }),
      );
      const live = () => instances.filter((i) => i.alive()).map((i) => i.url);
      await graph.targets(instances.map((i) => i.url));
      // Exactly one instance holds the number's sender lease.
      const holders = () => instances.filter((i) => i.alive() && i.output().includes(SENDS_FOR));
      const first = await waitFor(() => (holders().length > 0 ? holders() : undefined), "a sender lease holder", 15_000);
      expect(first).toHaveLength(1);

      const [a, b, c] = instances as [Instance, Instance, Instance];
      // One branch (so no menu): its CRM is a webhook receiver; its key calls the branch API.
      const created = await api(a.url, ADMIN_TOKEN, "POST", "/admin/api/branches", { name: "Art Play", code: "ARTPLAY", crm: "webhook", webhookUrl: receiver.url, isHq: true });
      expect(created.status).toBe(201);
      const apiKey: string = created.body.apiKey;
      // Every instance sees what another one wrote.
      for (const other of [b, c]) expect((await api(other.url, ADMIN_TOKEN, "GET", "/admin/api/branches")).body).toHaveLength(1);

      const CUSTOMERS = 12;
      const OUTBOUND = 3;
      const { acked, accepted, done } = runLoad({ urls: live, apiKey, receiver, prefix: "7916500", customers: CUSTOMERS, inbound: 4, outbound: OUTBOUND });

      // Kill the sender holder (kill -9) while it is sending.
      await waitFor(async () => (await graph.records()).records.length >= 8, "sends under way", 60_000);
      const victim = first[0]!;
      await victim.kill();
      await done;

      // Another instance takes the lease over.
      await waitFor(() => holders().length === 1 && holders()[0] !== victim, "another instance to take the lease over", 15_000);

      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      cleanups.push(() => client.end());
      const jobsLeft = async () => (await client.query<{ n: number }>("SELECT count(*)::int AS n FROM store_jobs")).rows[0]!.n;

      await expectEachOnce({ receiver, graph, acked, accepted, mps: MPS, jobsLeft });
      expect(accepted.size).toBe(CUSTOMERS * OUTBOUND);
    });

    it("serialises CRM token refreshes across instances: one refresh, one new pair for all", { timeout: 60_000 }, async () => {
      const db = await server.createDatabase();
      cleanups.push(() => db.drop());
      const amo = await startFakeAmo({ clientId: "client-1", clientSecret: "secret-1", redirectUri: "http://127.0.0.1/amocrm/oauth", channelId: "ch", channelSecret: "chs" });
      cleanups.push(() => amo.close());
      const account = await amo.addAccount({ id: 30_100_001, subdomain: "branch" });
      const box = new SecretBox(SECRET_KEY);
      const logger = createLogger("silent");
      // Two "instances": two stores (pools) on the same database, each with its own token manager.
      const stores = await Promise.all([PgStore.open({ url: db.url, poolSize: 4 }), PgStore.open({ url: db.url, poolSize: 4 })]);
      cleanups.push(() => Promise.all(stores.map((s) => s.close())));
      const expired: OAuthTokens = { accessToken: account.accessToken, refreshToken: account.refreshToken, expiresAt: Date.now() - 1000 };
      const connection: CrmConnection = { id: "amo:30100001", kind: "amocrm", account: String(account.id), domain: account.domain, state: "connected", tokensSealed: box.seal(JSON.stringify(expired)), refs: {}, createdAt: 0, updatedAt: 0 };
      await stores[0].transact((tx) => tx.put("crmConnections", connection));
      const oauth = { http: axios.create(), scheme: "http" as const, clientId: "client-1", clientSecret: "secret-1", redirectUri: "http://127.0.0.1/amocrm/oauth" };
      const managers = stores.map((store) => new OAuthTokenManager({ store, box, now: Date.now, logger, refreshers: { amocrm: (c, refreshToken) => refreshTokens(oauth, c.domain, refreshToken) } }));

      const tokens = await Promise.all(managers.flatMap((m) => [m.source(connection.id).current(), m.source(connection.id).current()]));

      // amoCRM kills a refresh token once used: a second refresh with it would have failed.
      expect(account.refreshCount).toBe(1);
      expect(account.oauthRequests.filter((r) => r.status !== 200)).toEqual([]);
      expect(new Set(tokens)).toEqual(new Set([account.accessToken]));
      const stored = await stores[1].read((tx) => tx.get("crmConnections", connection.id));
      expect(JSON.parse(box.open(stored!.tokensSealed!)).refreshToken).toBe(account.refreshToken);
    });
  });
}
