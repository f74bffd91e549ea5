import { pino, type Logger } from "pino";

/**
 * pino JSON logs. Secrets are redacted wherever they could appear; message text is logged only
 * at debug (customers' words are not operations data).
 */
export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
      base: { service: "branchline" },
      redact: {
        paths: [
          "req.headers.authorization",
          "req.headers['x-hub-signature-256']",
          "req.headers['x-auth-token']",
          "*.apiKey",
          "*.accessToken",
          "*.refreshToken",
          "*.webhookSecret",
          "*.secret",
          "*.token",
        ],
        censor: "[redacted]",
      },
    },
    destination as never,
  );
}

export type { Logger };
