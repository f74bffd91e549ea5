import nock from "nock";
import { NUMBER } from "./meta-payloads.js";

/** productionEnv's WHATSAPP_GRAPH_URL: only nock answers there. */
const GRAPH_HOST = "http://graph.test";
const GRAPH_PATH = "/v25.0";

/** A message as it reached the fake Graph API, with the wamid the fake gave it. */
export interface GraphSend {
  body: any;
  wamid: string;
}

export interface GraphNock {
  /** Every message send accepted, in order (read receipts are answered but not kept). */
  sends: GraphSend[];
  /** The same sends' request bodies. */
  bodies: any[];
}

export interface GraphNockOptions {
  /** Template objects as `GET /{WABA_ID}/message_templates` lists them (WhatsApp doc §6.1). */
  templates: readonly unknown[];
  /** wamids are `wamid.<prefix><n>`, n from 1: a test can tell its sends from any other. */
  wamidPrefix: string;
  /** The listing's `paging` (default `{}`: one page). */
  paging?: Record<string, unknown>;
  waba?: string;
}

/**
 * Meta's Graph API faked at the HTTP boundary with nock: message sends answered as doc §3.4
 * (a read receipt with `{ success: true }`), the template listing as §6.1. Interceptors persist
 * until `nock.cleanAll()`; ones a test adds before this (a `.once()` failure) answer first.
 */
export function nockGraph(opts: GraphNockOptions): GraphNock {
  const sends: GraphSend[] = [];
  const bodies: any[] = [];
  nock(GRAPH_HOST)
    .persist()
    .get(`${GRAPH_PATH}/${opts.waba ?? NUMBER.waba}/message_templates`)
    .query(true)
    .reply(200, { data: opts.templates, paging: opts.paging ?? {} });
  nock(GRAPH_HOST)
    .persist()
    .post(`${GRAPH_PATH}/${NUMBER.phoneNumberId}/messages`)
    .reply(200, (_uri, body: any) => {
      if (body?.status === "read") return { success: true };
      const wamid = `wamid.${opts.wamidPrefix}${sends.length + 1}`;
      sends.push({ body, wamid });
      bodies.push(body);
      return { messaging_product: "whatsapp", contacts: [{ input: body?.to, wa_id: String(body?.to).replace("+", "") }], messages: [{ id: wamid }] };
    });
  return { sends, bodies };
}

/** Closes the network to all but loopback (the app under test and the fakes): undo with `openNetwork`. */
export function loopbackOnly(): void {
  nock.disableNetConnect();
  nock.enableNetConnect(/127\.0\.0\.1|localhost/);
}

/** Drops every interceptor and opens the network again (afterAll of a test that used nock). */
export function openNetwork(): void {
  nock.cleanAll();
  nock.enableNetConnect();
}
