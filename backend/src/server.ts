import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { createHttpClient } from "./ops/http-client.js";
import { createApp, type App } from "./app.js";
import { seedDemoBranches } from "./bootstrap/demo.js";
import { loadOrCreateSecrets } from "./bootstrap/secrets.js";
import { loadConfig, type Config } from "./config.js";
import { createLogger, type Logger } from "./ops/logger.js";
import { LowdbStore } from "./store/lowdb/lowdb.store.js";
import { PgStore } from "./store/pg/pg.store.js";
import type { Store } from "./store/store.port.js";

export interface RunningServer {
  url: string;
  config: Config;
  adminToken: string;
  app: App;
  store: Store;
  /** Demo branches created on this start (sandbox mode, empty store), with their keys. */
  demoBranches: Array<{ name: string; code: string; apiKey: string }>;
  close(): Promise<void>;
}

/** Builds the real dependencies from the environment and listens. Used by main.ts, tests and benchmarks. */
export async function startServer(env: Record<string, string | undefined>, opts: { logger?: Logger; webDir?: string } = {}): Promise<RunningServer> {
  const config = loadConfig(env);
  const logger = opts.logger ?? createLogger(config.LOG_LEVEL);
  const { secrets } = await loadOrCreateSecrets(config.DATA_DIR);
  const store: Store = config.DATABASE_URL ? await PgStore.open({ url: config.DATABASE_URL, logger }) : await LowdbStore.open({ dir: config.DATA_DIR, messageRetentionDays: config.MESSAGE_RETENTION_DAYS });
  const adminToken = config.ADMIN_TOKEN ?? secrets.adminToken;
  const app = createApp({
    config,
    store,
    logger,
    http: createHttpClient(),
    adminToken,
    secretKey: config.SECRET_KEY ?? secrets.secretKey,
    appSecret: config.WHATSAPP_APP_SECRET ?? secrets.sandboxAppSecret,
    webDir: opts.webDir,
  });
  const demoBranches = config.sandbox ? await seedDemoBranches(app.branches) : [];
  const server: Server = await new Promise((resolve) => {
    const s = app.express.listen(config.PORT, () => resolve(s));
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;
  app.setSelfUrl(url);
  await app.start();
  return {
    url,
    config,
    adminToken,
    app,
    store,
    demoBranches,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await app.stop();
      await store.close();
    },
  };
}
