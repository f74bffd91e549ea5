import http from "node:http";
import { performance } from "node:perf_hooks";
import { signMetaPayload } from "../backend/src/channels/whatsapp/webhook-signature.js";

/**
 * Builds signed Meta webhook bodies shaped like `test/fixtures/whatsapp/text.basic.json`:
 * one entry, one `messages` change, 1–50 text messages from a fixed pool of customers.
 */

export interface PayloadConfig {
  appSecret: string;
  phoneNumberId: string;
  displayPhoneNumber: string;
  wabaId: string;
  /** Branch codes and keywords that some texts mention, so routing has real decisions to make. */
  codes: string[];
  keywords: string[];
  customers: number;
  /** Makes wamids unique across runs and processes. */
  runId: string;
  seed: number;
}

export interface SignedBatch {
  body: Buffer;
  signature: string;
  messages: number;
}

const PLAIN_TEXTS = [
  "Hello, are you open today?",
  "Do you have this in size 42?",
  "How much is delivery to my address?",
  "Can I book an appointment for tomorrow at 5pm?",
  "Здравствуйте, есть ли в наличии?",
  "Хочу записаться на маникюр в субботу",
  "Thanks, see you soon!",
  "What are your opening hours on Sunday?",
  "Is there parking nearby?",
  "Спасибо большое 🙏",
];

/** Small, fast, seeded PRNG (mulberry32): the same seed gives the same traffic. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Meta sends bodies with non-ASCII escaped as \uXXXX; do the same so the wire bytes look alike. */
const escapeNonAscii = (s: string): string =>
  s.replace(/[^\x00-\x7e]/g, (ch) => "\\u" + ch.charCodeAt(0).toString(16).padStart(4, "0"));

export class PayloadFactory {
  private seq = 0;
  private readonly random: () => number;

  constructor(private readonly cfg: PayloadConfig) {
    this.random = rng(cfg.seed);
  }

  /**
   * Mixed batch sizes, 1–50: 40 % single messages, 30 % 2–10, 20 % 11–30, 10 % 31–50
   * (mean ≈ 10 messages per request).
   */
  batchSize(): number {
    const r = this.random();
    if (r < 0.4) return 1;
    if (r < 0.7) return this.int(2, 10);
    if (r < 0.9) return this.int(11, 30);
    return this.int(31, 50);
  }

  build(size: number): SignedBatch {
    const nowSec = String(Math.floor(Date.now() / 1000));
    const contacts = new Map<string, string>();
    const messages: unknown[] = [];
    for (let i = 0; i < size; i++) {
      const customer = this.int(0, this.cfg.customers - 1);
      const waId = `7900${String(customer).padStart(7, "0")}`;
      contacts.set(waId, `Customer ${customer}`);
      messages.push({
        from: waId,
        id: `wamid.${Buffer.from(`bench:${this.cfg.runId}:${++this.seq}`).toString("base64")}`,
        timestamp: nowSec,
        type: "text",
        text: { body: this.text() },
      });
    }
    const envelope = {
      object: "whatsapp_business_account",
      entry: [
        {
          id: this.cfg.wabaId,
          changes: [
            {
              value: {
                messaging_product: "whatsapp",
                metadata: { display_phone_number: this.cfg.displayPhoneNumber, phone_number_id: this.cfg.phoneNumberId },
                contacts: [...contacts].map(([wa_id, name]) => ({ profile: { name }, wa_id })),
                messages,
              },
              field: "messages",
            },
          ],
        },
      ],
    };
    const body = Buffer.from(escapeNonAscii(JSON.stringify(envelope)), "utf8");
    return { body, signature: signMetaPayload(body, this.cfg.appSecret), messages: size };
  }

  /** 20 % mention a branch code, 10 % a branch keyword, the rest are plain questions. */
  private text(): string {
    const r = this.random();
    const plain = this.pick(PLAIN_TEXTS);
    if (r < 0.2 && this.cfg.codes.length) return `Hi ${this.pick(this.cfg.codes)}! ${plain}`;
    if (r < 0.3 && this.cfg.keywords.length) return `${plain} I am in ${this.pick(this.cfg.keywords)}`;
    return plain;
  }

  private int(min: number, max: number): number {
    return min + Math.floor(this.random() * (max - min + 1));
  }

  private pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.random() * items.length)]!;
  }
}

/**
 * POSTs one signed webhook as Meta would. `deadline` (performance.now() time) bounds the whole
 * request including time queued in the agent: a webhook Meta sees unanswered that long is failed.
 * Resolves undefined on 200, else what went wrong (`http_<status>`, an error code, "timeout").
 */
export function postWebhook(agent: http.Agent, target: URL, batch: Pick<SignedBatch, "body" | "signature">, deadline: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => req.destroy(Object.assign(new Error("timeout"), { code: "timeout" })), Math.max(0, deadline - performance.now()));
    const done = (failure?: string) => {
      clearTimeout(timer);
      resolve(failure);
    };
    const failed = (err: NodeJS.ErrnoException) => done(err.code ?? "error");
    const req = http.request(
      {
        agent,
        hostname: target.hostname,
        port: target.port,
        path: target.pathname,
        method: "POST",
        headers: { "content-type": "application/json", "content-length": batch.body.length, "x-hub-signature-256": batch.signature },
      },
      (res) => {
        res.resume();
        res.on("end", () => done(res.statusCode === 200 ? undefined : `http_${res.statusCode}`));
        res.on("error", failed);
      },
    );
    req.on("error", failed);
    req.end(batch.body);
  });
}
