import { ConfigError } from "./config.js";
import { startServer } from "./server.js";

/** `npm start`: the backend on PORT, embedded store in DATA_DIR, sandbox mode without WhatsApp credentials. */
async function main(): Promise<void> {
  let running;
  try {
    running = await startServer(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`Configuration error: ${err.message}`);
      process.exit(1);
    }
    throw err;
  }
  const { config, adminToken, demoBranches } = running;
  const base = config.PUBLIC_URL;
  const lines = [
    `Branchline listening on port ${config.PORT} (${config.sandbox ? "SANDBOX mode: no WhatsApp account needed" : "WhatsApp Cloud API"})`,
    `  admin token:  ${adminToken}`,
    `  admin API:    ${base}/admin/api/branches`,
    `  branch inbox: ${base}/inbox`,
    ...(config.sandbox ? [`  phone:        ${base}/sandbox`] : []),
    ...demoBranches.map((b) => `  demo branch ${b.name} (${b.code}) inbox key: ${b.apiKey}`),
  ];
  // Printed to the terminal on purpose (contract: the admin token is printed at start), not logged.
  console.log(lines.join("\n"));
  const shutdown = () => {
    void running.close().then(() => process.exit(0));
  };
  process.once("SIGINT", shutdown);
  process.once("SIGTERM", shutdown);
}

void main();
