import { createGraphClient } from "../../backend/src/channels/whatsapp/graph.client.js";
import { createHash, randomBytes } from "node:crypto";
import { access, readdir, readFile } from "node:fs/promises";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import axios from "axios";
import express from "express";
import nock from "nock";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Job, MessageRecord } from "../../backend/src/domain/types.js";
import { AppError } from "../../backend/src/errors.js";
import { mediaRouter, signMediaUrl } from "../../backend/src/http/media.router.js";
import { enqueueMediaDownload, MEDIA_QUEUE, mediaHandler, type MediaRecord } from "../../backend/src/inbound/media.worker.js";
import type { JobHandler } from "../../backend/src/jobs/job-runner.js";
import { createLogger } from "../../backend/src/ops/logger.js";
import { LowdbStore } from "../../backend/src/store/lowdb/lowdb.store.js";
import { tempDir } from "../builders/harness.js";

const GRAPH = "http://graph.test";
const GRAPH_URL = `${GRAPH}/v25.0`;
const TOKEN = "test-token";
const LOOKASIDE = "https://lookaside.fbsbx.com";
const SECRET = "media-url-secret-0123456789abcdef0123456789";
const T0 = Date.UTC(2026, 4, 10, 12, 0, 0);

const b64 = (data: Buffer) => createHash("sha256").update(data).digest("base64");
const hex = (data: Buffer) => createHash("sha256").update(data).digest("hex");
const jpeg = (size = 2048) => Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), randomBytes(size - 4)]);

/** Meta answers `GET /{MEDIA_ID}` (§7 shape; file_size is a string there). */
function graphLookup(mediaId: string, body: { url: string; mime_type: string; sha256?: string; file_size?: number }, times = 1) {
  return nock(GRAPH)
    .get(`/v25.0/${mediaId}`)
    .matchHeader("authorization", `Bearer ${TOKEN}`)
    .times(times)
    .reply(200, {
      messaging_product: "whatsapp",
      url: body.url,
      mime_type: body.mime_type,
      ...(body.sha256 ? { sha256: body.sha256 } : {}),
      ...(body.file_size === undefined ? {} : { file_size: String(body.file_size) }),
      id: mediaId,
    });
}

function lookasideUrl(mid: string) {
  return `${LOOKASIDE}/whatsapp_business/attachments/?mid=${mid}&ext=1744344496&hash=ARk`;
}

function lookasideServes(mid: string, data: Buffer, mime: string) {
  return nock(LOOKASIDE)
    .get("/whatsapp_business/attachments/")
    .query({ mid, ext: "1744344496", hash: "ARk" })
    .matchHeader("authorization", `Bearer ${TOKEN}`)
    .reply(200, data, { "content-type": mime, "content-length": String(data.length) });
}

describe("inbound media: download, verify, store, serve", () => {
  let dir: string;
  let removeDir: () => Promise<void>;
  let store: LowdbStore;
  let clock: number;
  let handler: JobHandler;
  let server: Server;
  let base: string;
  const maxAttempts = 3;

  beforeAll(() => {
    nock.disableNetConnect();
    nock.enableNetConnect(/127\.0\.0\.1|localhost/);
  });
  afterAll(() => {
    nock.enableNetConnect();
  });

  beforeEach(async () => {
    ({ dir, remove: removeDir } = await tempDir("branchline-media-"));
    store = await LowdbStore.open({ dir: join(dir, "db") });
    clock = T0;
    const now = () => clock;
    handler = mediaHandler({
      store,
      dataDir: dir,
      graph: createGraphClient({ http: axios.create(), graphUrl: GRAPH_URL, phoneNumberId: "106540352242922", accessToken: TOKEN }),
      now,
      logger: createLogger("silent"),
      maxAttempts,
    });
    const app = express();
    app.use(mediaRouter({ store, dataDir: dir, secret: SECRET, now }));
    server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, "127.0.0.1", () => resolve(s));
    });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterEach(async () => {
    const pending = nock.pendingMocks();
    nock.cleanAll();
    await new Promise((r) => server.close(r));
    await store.close();
    await removeDir();
    expect(pending, "every faked Graph call was made").toEqual([]);
  });

  /** An inbound media message as the inbound worker records it (the webhook `url` is stale by now). */
  async function seedMessage(id: string, kind: string, media: { mediaId: string; mimeType?: string; sha256?: string; filename?: string }) {
    const message: MessageRecord = {
      id,
      direction: "in",
      customerId: "wa:16505551234",
      wamid: `wamid.${id}`,
      kind,
      media: { ...media },
      status: "received",
      sentAt: T0 - 60_000,
      createdAt: T0 - 60_000,
      updatedAt: T0 - 60_000,
      inboundJson: JSON.stringify({ kind, content: { kind, ...media, url: `${LOOKASIDE}/whatsapp_business/attachments/?mid=stale` } }),
    };
    await store.transact((tx) => tx.put("messages", message));
  }

  async function enqueue(messageId: string): Promise<Job> {
    await store.transact((tx) => enqueueMediaDownload(tx, messageId, clock));
    const jobs = await store.read((tx) => tx.byIndex("jobs", "queue", MEDIA_QUEUE));
    const job = jobs.find((j) => (j.payload as { messageId: string }).messageId === messageId);
    expect(job).toBeDefined();
    return job!;
  }

  const run = (job: Job) =>
    handler.run(job, {
      complete: (tx) => tx.delete("jobs", job.id),
      defer: () => {
        throw new Error("the media handler never defers");
      },
    });
  const jobExists = (id: string) => store.read(async (tx) => (await tx.get("jobs", id)) !== undefined);
  const mediaOf = async (id: string) => (await store.read((tx) => tx.get("messages", id)))!.media as MediaRecord;
  const storedFiles = async () => (await readdir(join(dir, "media")).catch(() => [] as string[])).filter((f) => !f.startsWith("."));

  it("stores a verified image and serves it through a signed, expiring URL", async () => {
    const data = jpeg();
    const mediaId = "1003383421387256";
    await seedMessage("in_img", "image", { mediaId, mimeType: "image/jpeg", sha256: b64(data) });
    graphLookup(mediaId, { url: lookasideUrl("img1"), mime_type: "image/jpeg", sha256: b64(data), file_size: data.length });
    lookasideServes("img1", data, "image/jpeg");

    const job = await enqueue("in_img");
    expect(job).toMatchObject({ queue: "media", state: "pending", attempts: 0 });
    expect(job.orderKey).toBeUndefined();
    // enqueueing twice is a no-op while the job lives
    await store.transact((tx) => enqueueMediaDownload(tx, "in_img", clock));
    expect(await store.read((tx) => tx.countByIndex("jobs", "queue", MEDIA_QUEUE))).toBe(1);

    await run(job);

    const media = await mediaOf("in_img");
    expect(media).toMatchObject({ status: "stored", size: data.length, file: `${hex(data)}.jpg`, mimeType: "image/jpeg" });
    expect(media.error).toBeUndefined();
    expect(await readFile(join(dir, "media", media.file!))).toEqual(data);
    expect(await jobExists(job.id)).toBe(false);
    expect(await storedFiles()).toEqual([`${hex(data)}.jpg`]); // no temp files left behind

    // a repeated job completes without calling Graph (nock would refuse the connection)
    const again = await enqueue("in_img");
    await run(again);
    expect(await jobExists(again.id)).toBe(false);

    const expiresAt = clock + 10 * 60_000;
    const url = signMediaUrl(`${base}/`, SECRET, "in_img", expiresAt);
    expect(url).toMatch(new RegExp(`^${base}/media/in_img\\?exp=${Math.floor(expiresAt / 1000)}&sig=[A-Za-z0-9_-]{43}$`));
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("image/jpeg");
    expect(res.headers.get("content-disposition")).toBe("inline");
    expect(res.headers.get("cache-control")).toBe("private, max-age=600");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(Buffer.from(await res.arrayBuffer())).toEqual(data);

    const sig = new URL(url).searchParams.get("sig")!;
    const exp = new URL(url).searchParams.get("exp")!;
    const tampered = sig.slice(0, -2) + (sig.endsWith("AA") ? "BB" : "AA");
    expect((await fetch(`${base}/media/in_img?exp=${exp}&sig=${tampered}`)).status).toBe(403);
    expect((await fetch(`${base}/media/in_img?exp=${exp}`)).status).toBe(403);
    expect((await fetch(`${base}/media/in_img?exp=${Number(exp) + 3600}&sig=${sig}`)).status).toBe(403); // extended expiry
    expect((await fetch(`${base}/media/in_other?exp=${exp}&sig=${sig}`)).status).toBe(403); // another message, same sig
    expect((await fetch(signMediaUrl(base, "another-secret-0123456789abcdef012345", "in_img", expiresAt))).status).toBe(403);

    clock = expiresAt + 1000;
    const expired = await fetch(url);
    expect(expired.status).toBe(410);
    expect((await fetch(signMediaUrl(base, SECRET, "in_img", T0 - 1000))).status).toBe(410);
  });

  it("answers 404 for a validly signed message without a stored file", async () => {
    await seedMessage("in_pending", "image", { mediaId: "555", mimeType: "image/jpeg" });
    expect((await fetch(signMediaUrl(base, SECRET, "in_pending", clock + 60_000))).status).toBe(404);
    expect((await fetch(signMediaUrl(base, SECRET, "in_missing", clock + 60_000))).status).toBe(404);
  });

  it("fetches a fresh URL when the lookaside URL has expired, then stores the file", async () => {
    const data = jpeg(4096);
    const mediaId = "2001";
    await seedMessage("in_exp", "image", { mediaId, mimeType: "image/jpeg", sha256: b64(data) });
    graphLookup(mediaId, { url: lookasideUrl("old"), mime_type: "image/jpeg", sha256: b64(data) });
    nock(LOOKASIDE).get("/whatsapp_business/attachments/").query({ mid: "old", ext: "1744344496", hash: "ARk" }).reply(404, "Not Found");
    graphLookup(mediaId, { url: lookasideUrl("fresh"), mime_type: "image/jpeg", sha256: b64(data) });
    lookasideServes("fresh", data, "image/jpeg");

    const job = await enqueue("in_exp");
    await run(job);
    expect(await mediaOf("in_exp")).toMatchObject({ status: "stored", file: `${hex(data)}.jpg`, size: data.length });
    expect(await jobExists(job.id)).toBe(false);
  });

  it("marks a sha256 mismatch failed and completes the job (no retry, no file)", async () => {
    const data = jpeg();
    const mediaId = "3001";
    await seedMessage("in_bad", "image", { mediaId, mimeType: "image/jpeg" });
    graphLookup(mediaId, { url: lookasideUrl("bad"), mime_type: "image/jpeg", sha256: b64(Buffer.from("something else")) });
    lookasideServes("bad", data, "image/jpeg");

    const job = await enqueue("in_bad");
    await expect(run(job)).resolves.toBeUndefined();
    const media = await mediaOf("in_bad");
    expect(media.status).toBe("failed");
    expect(media.error?.code).toBe("media_checksum_mismatch");
    expect(media.error?.message).toMatch(/sha256/);
    expect(media.file).toBeUndefined();
    expect(await jobExists(job.id)).toBe(false);
    expect(await storedFiles()).toEqual([]);
    expect((await fetch(signMediaUrl(base, SECRET, "in_bad", clock + 60_000))).status).toBe(404);
  });

  it("refuses files over the kind's limit: by Meta's file_size before downloading, and by the bytes received", async () => {
    await seedMessage("in_big1", "video", { mediaId: "4001", mimeType: "video/mp4" });
    graphLookup("4001", { url: lookasideUrl("never"), mime_type: "video/mp4", file_size: 16 * 1024 * 1024 + 1 });
    const j1 = await enqueue("in_big1");
    await run(j1); // no download mocked: downloading would fail the test
    expect(await mediaOf("in_big1")).toMatchObject({ status: "failed", error: { code: "media_too_large" } });
    expect(await jobExists(j1.id)).toBe(false);

    const big = jpeg(5 * 1024 * 1024 + 1);
    await seedMessage("in_big2", "image", { mediaId: "4002", mimeType: "image/jpeg" });
    graphLookup("4002", { url: lookasideUrl("big"), mime_type: "image/jpeg" });
    lookasideServes("big", big, "image/jpeg");
    const j2 = await enqueue("in_big2");
    await run(j2);
    expect(await mediaOf("in_big2")).toMatchObject({ status: "failed", error: { code: "media_too_large" } });
    expect(await jobExists(j2.id)).toBe(false);

    const sticker = Buffer.concat([Buffer.from("RIFF"), randomBytes(500 * 1024)]);
    await seedMessage("in_sticker", "sticker", { mediaId: "4003", mimeType: "image/webp" });
    graphLookup("4003", { url: lookasideUrl("stk"), mime_type: "image/webp" });
    lookasideServes("stk", sticker, "image/webp");
    await run(await enqueue("in_sticker"));
    expect(await mediaOf("in_sticker")).toMatchObject({ status: "failed", error: { code: "media_too_large" } });
    expect(await storedFiles()).toEqual([]);
  });

  it("refuses a MIME type §7 does not list for the kind, and tolerates MIME parameters", async () => {
    await seedMessage("in_gif", "image", { mediaId: "5001", mimeType: "image/gif" });
    graphLookup("5001", { url: lookasideUrl("gif"), mime_type: "image/gif" });
    const j = await enqueue("in_gif");
    await run(j);
    const media = await mediaOf("in_gif");
    expect(media).toMatchObject({ status: "failed", error: { code: "media_type_unsupported" } });
    expect(media.error?.message).toMatch(/image\/gif/);
    expect(await jobExists(j.id)).toBe(false);

    // a voice note: `audio/ogg; codecs=opus`, sha256 given as hex
    const ogg = Buffer.concat([Buffer.from("OggS"), randomBytes(1000)]);
    await seedMessage("in_voice", "audio", { mediaId: "5002", mimeType: "audio/ogg; codecs=opus", sha256: hex(ogg) });
    graphLookup("5002", { url: lookasideUrl("ogg"), mime_type: "audio/ogg; codecs=opus", sha256: hex(ogg) });
    lookasideServes("ogg", ogg, "audio/ogg");
    await run(await enqueue("in_voice"));
    expect(await mediaOf("in_voice")).toMatchObject({ status: "stored", file: `${hex(ogg)}.ogg`, size: ogg.length });
    const res = await fetch(signMediaUrl(base, SECRET, "in_voice", clock + 30_000));
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("audio/ogg; codecs=opus");
    expect(res.headers.get("content-disposition")).toBe("attachment");
    expect(res.headers.get("cache-control")).toBe("private, max-age=30");
    expect(Buffer.from(await res.arrayBuffer())).toEqual(ogg);
  });

  it("throws a retryable error on a Graph 500 and marks the media failed only on the last attempt", async () => {
    await seedMessage("in_500", "image", { mediaId: "6001", mimeType: "image/jpeg" });
    nock(GRAPH)
      .get("/v25.0/6001")
      .times(2)
      .reply(500, { error: { message: "An unknown error has occurred.", type: "OAuthException", code: 1, fbtrace_id: "A1" } });

    const job = await enqueue("in_500");
    const err = await run(job).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).retryable).toBe(true);
    expect(await jobExists(job.id)).toBe(true); // left for the runner's backoff
    expect((await mediaOf("in_500")).status).toBeUndefined();

    const last = { ...job, attempts: maxAttempts - 1 };
    await expect(run(last)).rejects.toMatchObject({ retryable: true });
    expect(await jobExists(job.id)).toBe(true); // the runner dead-letters it
    const media = await mediaOf("in_500");
    expect(media.status).toBe("failed");
    expect(media.error?.code).toBe("media_download_failed");
    expect(media.error?.message).toMatch(/3 attempt/);
  });

  it("serves a document as an attachment with its non-ASCII file name (RFC 5987)", async () => {
    const pdf = Buffer.concat([Buffer.from("%PDF-1.7\n"), randomBytes(3000)]);
    const filename = "Currículum café.pdf";
    await seedMessage("in_doc", "document", { mediaId: "7001", mimeType: "application/pdf", filename, sha256: b64(pdf) });
    graphLookup("7001", { url: lookasideUrl("doc"), mime_type: "application/pdf", sha256: hex(pdf), file_size: pdf.length });
    lookasideServes("doc", pdf, "application/pdf");
    await run(await enqueue("in_doc"));
    const media = await mediaOf("in_doc");
    expect(media).toMatchObject({ status: "stored", file: `${hex(pdf)}.pdf`, filename });
    await access(join(dir, "media", media.file!));

    const res = await fetch(signMediaUrl(base, SECRET, "in_doc", clock + 3_600_000));
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/pdf");
    expect(res.headers.get("content-disposition")).toBe(`attachment; filename="Curriculum cafe.pdf"; filename*=UTF-8''Curr%C3%ADculum%20caf%C3%A9.pdf`);
    expect(res.headers.get("cache-control")).toBe("private, max-age=3600");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(Buffer.from(await res.arrayBuffer())).toEqual(pdf);
  });
});
