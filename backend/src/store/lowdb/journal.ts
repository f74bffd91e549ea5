import { open, rename, type FileHandle } from "node:fs/promises";
import { crc32 } from "node:zlib";

/** One committed batch: every change of one group commit. `row: null` deletes. */
export interface JournalBatch {
  seq: number;
  /** The job sequence counter after this batch (jobs created and finished inside it leave no row). */
  jobSeq?: number;
  ops: Array<[collection: string, id: string, row: unknown]>;
}

/**
 * Append-only, checksummed journal of committed batches. Each batch is one line
 * `<crc32 hex> <json>\n`, appended and fdatasync'ed in one write: a crash mid-write leaves a torn
 * last line, which fails its checksum and is cut off on the next open.
 */
export class Journal {
  private handle?: FileHandle;
  private size = 0;

  constructor(private readonly file: string) {}

  /** Reads every intact batch and truncates a torn tail. */
  async open(): Promise<JournalBatch[]> {
    this.handle = await open(this.file, "a+");
    const content = await this.handle.readFile();
    const batches: JournalBatch[] = [];
    let offset = 0;
    while (offset < content.length) {
      const end = content.indexOf(0x0a, offset);
      if (end < 0) break;
      const line = content.subarray(offset, end);
      const space = line.indexOf(0x20);
      const body = line.subarray(space + 1);
      if (space !== 8 || line.subarray(0, 8).toString() !== checksum(body)) break;
      try {
        batches.push(JSON.parse(body.toString("utf8")) as JournalBatch);
      } catch {
        break;
      }
      offset = end + 1;
    }
    if (offset < content.length) await this.handle.truncate(offset);
    this.size = offset;
    return batches;
  }

  /** Appends one batch durably. Throws on I/O errors (disk full, read-only); nothing is half-applied. */
  async append(batch: JournalBatch): Promise<void> {
    const body = Buffer.from(JSON.stringify(batch), "utf8");
    const line = Buffer.concat([Buffer.from(`${checksum(body)} `), body, Buffer.from("\n")]);
    const handle = this.requireOpen();
    try {
      // write(2) may take only part of the line (file size limit, disk filling up): go on until
      // it is all written or the write fails.
      for (let done = 0; done < line.length; ) {
        const { bytesWritten } = await handle.write(line, done, line.length - done, this.size + done);
        if (bytesWritten <= 0) throw new Error("journal write made no progress");
        done += bytesWritten;
      }
      await handle.datasync();
    } catch (err) {
      // Drop whatever part reached the file so a retry appends at a clean boundary.
      await handle.truncate(this.size).catch(() => undefined);
      throw err;
    }
    this.size += line.length;
  }

  get bytes(): number {
    return this.size;
  }

  /**
   * Moves the current file aside to `path` (kept until a snapshot covers it) and starts an empty
   * one, so writing goes on while the snapshot is written.
   */
  async rotateTo(path: string): Promise<void> {
    await this.requireOpen().close();
    await rename(this.file, path);
    this.handle = await open(this.file, "a+");
    this.size = 0;
  }

  /** Reads the intact batches of a rotated journal file. */
  static async read(path: string): Promise<JournalBatch[]> {
    const j = new Journal(path);
    try {
      return await j.open();
    } finally {
      await j.close();
    }
  }

  async close(): Promise<void> {
    await this.handle?.close();
    this.handle = undefined;
  }

  private requireOpen(): FileHandle {
    if (!this.handle) throw new Error("journal is not open");
    return this.handle;
  }
}

const checksum = (body: Buffer) => crc32(body).toString(16).padStart(8, "0");
