import { z } from "zod";

/**
 * Every setting of the contract, parsed once at start-up. A bad value stops start-up with one
 * line naming the variable (see `ConfigError`).
 */
const port = z.coerce.number().int().min(0).max(65535);
const url = z.string().url();
const optionalText = z.string().min(1).optional();
const durationMs = z.coerce.number().int().positive();

const schema = z.object({
  PORT: port.default(3000),
  PUBLIC_URL: url.optional(),
  DATA_DIR: z.string().min(1).default("./data"),
  /** Embedded store: messages and webhook bodies older than this many days are dropped; 0 keeps them. */
  MESSAGE_RETENTION_DAYS: z.coerce.number().int().min(0).default(0),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, "must start with postgres://")
    .optional(),
  ADMIN_TOKEN: z.string().min(16, "must be at least 16 characters").optional(),
  SECRET_KEY: z.string().min(32, "must be at least 32 characters").optional(),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  WHATSAPP_GRAPH_URL: url.default("https://graph.facebook.com/v25.0"),
  WHATSAPP_ACCESS_TOKEN: optionalText,
  WHATSAPP_APP_SECRET: optionalText,
  WHATSAPP_VERIFY_TOKEN: optionalText,
  WHATSAPP_PHONE_NUMBER_ID: z.string().regex(/^\d+$/, "must be the numeric phone_number_id").optional(),
  WHATSAPP_WABA_ID: z.string().regex(/^\d+$/, "must be the numeric WABA id").optional(),
  WHATSAPP_MPS: z.coerce.number().int().min(1).max(10_000).default(80),
  WHATSAPP_PAIR_BURST: z.coerce.number().int().min(1).max(45).default(45),
  SEND_RECONCILE_SECONDS: z.coerce.number().positive().max(86_400).default(120),
  AMOCRM_CLIENT_ID: optionalText,
  AMOCRM_CLIENT_SECRET: optionalText,
  AMOCRM_REDIRECT_URI: url.optional(),
  AMOCRM_SCHEME: z.enum(["https", "http"]).default("https"),
  AMOJO_URL: url.default("https://amojo.amocrm.ru"),
  AMOJO_CHANNEL_ID: optionalText,
  AMOJO_CHANNEL_SECRET: optionalText,
  AMOJO_BOT_ID: optionalText,
  /** Extra origins allowed to call the amoCRM widget API (comma-separated), e.g. a test host page. */
  AMOCRM_ALLOWED_ORIGINS: z.string().optional(),
  BITRIX24_CLIENT_ID: optionalText,
  BITRIX24_CLIENT_SECRET: optionalText,
  /** Bitrix24's OAuth server (tests: a local fake); the only host that ever gets the client secret. */
  BITRIX24_OAUTH_URL: url.default("https://oauth.bitrix.info"),
  /** Extra origins allowed to frame the Bitrix24 pages (comma-separated), besides each portal's own, e.g. a test host page. */
  BITRIX24_FRAME_ORIGINS: z.string().optional(),
  // Our own additions (documented in the README).
  TRUST_PROXY: z.coerce.number().int().min(0).max(10).default(0),
  BINDING_TTL_DAYS: z.coerce.number().positive().default(30),
  CHANGE_BRANCH_PHRASES: z.string().optional(),
  OPT_OUT_WORDS: z.string().optional(),
  OPT_IN_WORDS: z.string().optional(),
  DELIVERY_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(100).default(12),
  DELIVERY_BACKOFF_MS: durationMs.default(1000),
  // Flows and operator alerts (issue 6).
  /** The NPS example's default: at most one survey per customer per this many days. */
  NPS_PERIOD_DAYS: z.coerce.number().positive().max(3650).default(30),
  /** Operator alerts: remind the branch's operators, then call HQ's, while nobody answers (minutes from the handover). */
  ALERT_RENOTIFY_MINUTES: z.coerce.number().positive().max(10_080).default(15),
  ALERT_ESCALATE_MINUTES: z.coerce.number().positive().max(10_080).default(30),
  /** `name:language` of the approved template for operators outside their 24-hour window (params: customer, link). */
  ALERT_TEMPLATE: z.string().regex(/^[a-z0-9_]{1,512}:[A-Za-z]{2,3}(_[A-Za-z0-9]{2,4})?$/, "must be name:language, e.g. operator_alert:ru").optional(),
  SANDBOX: z.enum(["auto", "on", "off"]).default("auto"),
  // Security (issue 7).
  /** Admin API requests per minute per client IP (burst the same); failed admin logins: a sixtieth of it, at least 5. */
  ADMIN_RATE_LIMIT: z.coerce.number().int().min(1).max(1_000_000).default(600),
  /** Unique customers the number may reach with business-initiated messages per moving 24 h (Meta's tiers: 250, 2000, 10000, 100000, unlimited). */
  WHATSAPP_MESSAGING_LIMIT: z
    .union([z.literal("unlimited"), z.coerce.number().int().min(1).max(100_000_000)], { error: "must be a whole number of customers or 'unlimited'" })
    .default(1000),
});

export type RawConfig = z.infer<typeof schema>;

export interface Config extends RawConfig {
  PUBLIC_URL: string;
  AMOCRM_REDIRECT_URI: string;
  /** True when outbound messages go to the simulated phone instead of Meta. */
  sandbox: boolean;
}

export class ConfigError extends Error {
  constructor(
    readonly setting: string,
    readonly problem: string,
  ) {
    super(`${setting}: ${problem}`);
    this.name = "ConfigError";
  }
}

/** Parses the environment; throws `ConfigError` naming the first bad setting. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  // Empty strings mean "unset" (a common `.env` habit), so they fall back to defaults.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const parsed = schema.safeParse(cleaned);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ConfigError(String(issue.path[0] ?? "config"), issue.message);
  }
  const raw = parsed.data;
  if (raw.ALERT_ESCALATE_MINUTES <= raw.ALERT_RENOTIFY_MINUTES) throw new ConfigError("ALERT_ESCALATE_MINUTES", "must be greater than ALERT_RENOTIFY_MINUTES"); // alerts (issue 6)
  const publicUrl = (raw.PUBLIC_URL ?? `http://localhost:${raw.PORT}`).replace(/\/+$/, "");
  const sandbox = raw.SANDBOX === "on" || (raw.SANDBOX === "auto" && !raw.WHATSAPP_ACCESS_TOKEN);
  if (!sandbox) {
    for (const name of ["WHATSAPP_APP_SECRET", "WHATSAPP_VERIFY_TOKEN", "WHATSAPP_PHONE_NUMBER_ID"] as const) {
      if (!raw[name]) throw new ConfigError(name, "is required when WHATSAPP_ACCESS_TOKEN is set");
    }
  }
  return {
    ...raw,
    PUBLIC_URL: publicUrl,
    AMOCRM_REDIRECT_URI: raw.AMOCRM_REDIRECT_URI ?? `${publicUrl}/amocrm/oauth`,
    sandbox,
  };
}
