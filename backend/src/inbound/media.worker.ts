import { createHash, randomUUID } from "node:crypto";
import { mkdir, open, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { AppError } from "../errors.js";
import type { MessageMedia, MessageRecord } from "../domain/types.js";
import type { JobHandler } from "../jobs/job-runner.js";
import type { Logger } from "../ops/logger.js";
import type { Store, Tx } from "../store/store.port.js";
import { syncDirectory } from "../ops/durable-fs.js";
import { newJob } from "../jobs/new-job.js";

export const MEDIA_QUEUE = "media";

/**
 * Where inbound media comes from: `GET /{media_id}` and the authenticated download of its URL
 * (WhatsApp Cloud API brief §7). A download of an expired URL (HTTP 404) throws an `AppError`
 * with code `media_url_expired`; network and 5xx errors should be retryable `AppError`s.
 */
export interface MediaSource {
  getMediaUrl(mediaId: string): Promise<{ url: string; mimeType?: string; sha256?: string; fileSize?: number }>;
  downloadMedia(url: string): Promise<{ data: Buffer; mimeType?: string }>;
}

export interface MediaDeps {
  store: Store;
  /** DATA_DIR: files go to `<dataDir>/media/<sha256 hex>.<ext>`. */
  dataDir: string;
  graph: MediaSource;
  now: () => number;
  logger: Logger;
  /** Default 8 (with 5 s base backoff: ~10 minutes in all; media ids from webhooks live 7 days). */
  maxAttempts?: number;
}

export type MediaKind = "image" | "audio" | "video" | "document" | "sticker";
export type MediaStatus = NonNullable<MessageMedia["status"]>;

/** A message's media as this worker reads and writes it. */
export type MediaRecord = MessageMedia;

export interface MediaJobPayload {
  messageId: string;
}

const KB = 1024;
const MB = 1024 * 1024;

/** §7 limits. Binary units: Meta already refuses bigger files, so err on the generous side. */
export const MEDIA_MAX_BYTES: Record<MediaKind, number> = {
  image: 5 * MB,
  audio: 16 * MB,
  video: 16 * MB,
  document: 100 * MB,
  sticker: 500 * KB,
};

/** §7 supported MIME types per kind, each with the extension its stored file gets. */
export const MEDIA_TYPES: Record<MediaKind, Record<string, string>> = {
  image: { "image/jpeg": "jpg", "image/png": "png" },
  sticker: { "image/webp": "webp" },
  audio: { "audio/aac": "aac", "audio/amr": "amr", "audio/mpeg": "mp3", "audio/mp4": "m4a", "audio/ogg": "ogg" },
  video: { "video/mp4": "mp4", "video/3gpp": "3gp" },
  document: {
    "text/plain": "txt",
    "application/pdf": "pdf",
    "application/msword": "doc",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.ms-excel": "xls",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "application/vnd.ms-powerpoint": "ppt",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "pptx",
  },
};

const isMediaKind = (k: unknown): k is MediaKind => typeof k === "string" && Object.hasOwn(MEDIA_MAX_BYTES, k);

/** `audio/ogg; codecs=opus` → `audio/ogg`. */
export function baseMimeType(mime: string | undefined): string | undefined {
  const base = mime?.split(";")[0]?.trim().toLowerCase();
  return base ? base : undefined;
}

/**
 * Queues the download of an inbound message's media (durable, unordered). Idempotent: the job id
 * is derived from the message id, so a second call while the first job lives is a no-op.
 */
export async function enqueueMediaDownload(tx: Tx, messageId: string, now: number): Promise<void> {
  const id = `job_media_${messageId}`;
  if (await tx.get("jobs", id)) return;
  const payload: MediaJobPayload = { messageId };
  await tx.enqueue(newJob(MEDIA_QUEUE, payload, now, { id }));
}

/** A check the file failed: final, the job completes with the message marked `failed`. */
class MediaRejected extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Downloads an inbound message's media from the Graph API, verifies it (size, type, sha256),
 * stores it content-addressed under `<dataDir>/media` and records it on the message in the same
 * transaction that completes the job. Checks that fail are permanent (`media.status = failed`, job
 * completed); Graph and network errors are thrown for the runner to retry, and the message is
 * marked `failed` when the last attempt fails or the error is not retryable.
 */
export function mediaHandler(deps: MediaDeps): JobHandler {
  const maxAttempts = deps.maxAttempts ?? 8;
  const mediaDir = join(deps.dataDir, "media");

  return {
    queue: MEDIA_QUEUE,
    maxAttempts,
    backoffMs: 5_000,
    concurrency: 4,
    async run(job, ctx) {
      const { messageId } = job.payload as MediaJobPayload;
      const message = await deps.store.read((tx) => tx.get("messages", messageId));
      const media = message?.media as MediaRecord | undefined;
      if (!message || !media?.mediaId) {
        deps.logger.warn({ jobId: job.id, messageId }, "media job for a message without media; dropped");
        await deps.store.transact((tx) => ctx.complete(tx));
        return;
      }
      if (media.status === "stored" && media.file) {
        await deps.store.transact((tx) => ctx.complete(tx));
        return;
      }

      let stored: { file: string; size: number; mimeType: string };
      try {
        stored = await fetchAndStore(message, media.mediaId);
      } catch (err) {
        if (err instanceof MediaRejected) {
          deps.logger.warn({ messageId, mediaId: media.mediaId, code: err.code, reason: err.message }, "inbound media rejected");
          await markFailed(messageId, { code: err.code, message: err.message }, (tx) => ctx.complete(tx));
          return;
        }
        const retryable = !(err instanceof AppError) || err.retryable;
        if (!retryable || job.attempts + 1 >= maxAttempts) {
          const reason = err instanceof AppError ? `${err.code}: ${err.message}` : err instanceof Error ? err.message : String(err);
          await markFailed(messageId, { code: "media_download_failed", message: `download failed after ${job.attempts + 1} attempt(s): ${reason}` }).catch(
            (e: unknown) => deps.logger.error({ err: e, messageId }, "could not mark media failed"),
          );
        }
        throw err;
      }

      await deps.store.transact(async (tx) => {
        const current = await tx.get("messages", messageId);
        if (current) {
          const prev = (current.media ?? {}) as MediaRecord;
          const next: MediaRecord = {
            ...prev,
            mimeType: prev.mimeType ?? stored.mimeType,
            file: stored.file,
            size: stored.size,
            status: "stored",
            error: undefined,
          };
          await tx.put("messages", { ...current, media: next, updatedAt: deps.now() });
        }
        await ctx.complete(tx);
      });
      deps.logger.info({ messageId, file: stored.file, size: stored.size }, "inbound media stored");
    },
  };

  async function fetchAndStore(message: MessageRecord, mediaId: string): Promise<{ file: string; size: number; mimeType: string }> {
    const media = message.media as MediaRecord;
    const kind = mediaKindOf(message);
    if (!kind) throw new MediaRejected("media_kind_unsupported", `message kind "${message.kind}" carries no downloadable media`);
    const max = MEDIA_MAX_BYTES[kind];

    // Always ask for a fresh URL: the webhook's lookaside URL has likely expired by now (5 minutes).
    let lookup = await deps.graph.getMediaUrl(mediaId);
    // Meta's metadata first (cheap refusals before a 100 MB download).
    if (lookup.fileSize !== undefined && Number.isFinite(lookup.fileSize) && lookup.fileSize > max) {
      throw new MediaRejected("media_too_large", `${kind} is ${lookup.fileSize} bytes; the limit is ${max}`);
    }
    const declared = lookup.mimeType ?? media.mimeType;
    if (declared) checkMime(kind, declared);

    let download: { data: Buffer; mimeType?: string };
    try {
      download = await deps.graph.downloadMedia(lookup.url);
    } catch (err) {
      if (!(err instanceof AppError && err.code === "media_url_expired")) throw err;
      deps.logger.info({ mediaId }, "media URL expired; fetching a fresh one");
      lookup = await deps.graph.getMediaUrl(mediaId);
      try {
        download = await deps.graph.downloadMedia(lookup.url);
      } catch (again) {
        if (again instanceof AppError && again.code === "media_url_expired") {
          throw new AppError({ code: "media_url_expired", message: "media URL expired twice in a row", retryable: true, cause: again });
        }
        throw again;
      }
    }

    const data = download.data;
    if (data.length > max) throw new MediaRejected("media_too_large", `${kind} is ${data.length} bytes; the limit is ${max}`);
    if (data.length === 0) throw new MediaRejected("media_empty", "downloaded file is empty");
    const mimeType = lookup.mimeType ?? media.mimeType ?? download.mimeType;
    const ext = checkMime(kind, mimeType);

    const digest = createHash("sha256").update(data).digest();
    for (const expected of new Set([lookup.sha256, media.sha256].filter((s): s is string => !!s))) {
      if (!sha256Matches(expected, digest)) {
        throw new MediaRejected("media_checksum_mismatch", `sha256 of the downloaded file (${digest.toString("base64")}) does not match Meta's ${expected}`);
      }
    }

    const file = `${digest.toString("hex")}.${ext}`;
    await writeAtomically(join(mediaDir, file), data);
    return { file, size: data.length, mimeType: mimeType! };
  }

  /** Marks the media `failed`; with `complete`, the job completes in the same transaction. */
  async function markFailed(messageId: string, error: { code: string; message: string }, complete?: (tx: Tx) => Promise<void>): Promise<void> {
    await deps.store.transact(async (tx) => {
      if (complete) await complete(tx);
      const current = await tx.get("messages", messageId);
      if (!current) return;
      const prev = (current.media ?? {}) as MediaRecord;
      if (prev.status === "stored") return;
      const next: MediaRecord = { ...prev, status: "failed", error };
      await tx.put("messages", { ...current, media: next, updatedAt: deps.now() });
    });
  }

  async function writeAtomically(path: string, data: Buffer): Promise<void> {
    await mkdir(mediaDir, { recursive: true });
    const temp = join(mediaDir, `.tmp-${randomUUID()}`);
    try {
      const fh = await open(temp, "wx", 0o640);
      try {
        await fh.writeFile(data);
        await fh.datasync();
      } finally {
        await fh.close();
      }
      await rename(temp, path);
    } catch (err) {
      await rm(temp, { force: true }).catch(() => undefined);
      throw new AppError({ code: "media_write_failed", message: `could not write media file: ${(err as Error).message}`, retryable: true, cause: err });
    }
    // Make the rename durable before the store records the file.
    await syncDirectory(mediaDir).catch(() => undefined);
  }
}

function mediaKindOf(message: MessageRecord): MediaKind | undefined {
  return isMediaKind(message.kind) ? message.kind : undefined;
}

/** Returns the stored file's extension, or rejects a type §7 does not list for that kind. */
function checkMime(kind: MediaKind, mime: string | undefined): string {
  const base = baseMimeType(mime);
  if (!base) throw new MediaRejected("media_type_unknown", `Meta gave no MIME type for this ${kind}`);
  const ext = MEDIA_TYPES[kind][base];
  if (!ext) throw new MediaRejected("media_type_unsupported", `${base} is not a supported ${kind} type (${Object.keys(MEDIA_TYPES[kind]).join(", ")})`);
  return ext;
}

/** Meta documents base64; hex is accepted too (§7: encoding unconfirmed). */
export function sha256Matches(expected: string, digest: Buffer): boolean {
  const e = expected.trim();
  if (/^[0-9a-f]{64}$/i.test(e)) return e.toLowerCase() === digest.toString("hex");
  const normalised = e.replace(/-/g, "+").replace(/_/g, "/").replace(/=+$/, "");
  return normalised === digest.toString("base64").replace(/=+$/, "");
}
