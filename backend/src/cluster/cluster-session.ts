import type pg from "pg";
import { AppError } from "../errors.js";
import type { Logger } from "../ops/logger.js";
import { advisoryKey } from "../store/pg/pg.store.js";

/** Where the session connection comes from: `PgStore.openSession`. */
export interface SessionSource {
  openSession(name?: string): Promise<pg.Client>;
}

export interface LeaseListener {
  gained(): void;
  lost(): void;
}

export interface ClusterSessionOptions {
  source: SessionSource;
  logger: Logger;
  /** How often a lost connection is reopened, a wanted lock tried again, and the connection pinged. */
  tickMs?: number;
}

interface Wanted {
  key: string;
  /** A lease competes; a liveness lock must be held (a reaper only ever holds it for an instant). */
  listener?: LeaseListener;
  waiters: Array<() => void>;
}

/**
 * One connection per instance, outside the pools, for everything that must outlive a transaction:
 * session-level advisory locks (the sender lease, this instance's liveness) and LISTEN/NOTIFY.
 * PostgreSQL ends a session's locks with its connection, so an instance killed with SIGKILL
 * releases them as soon as the OS closes its socket; a peer that vanished silently is found by
 * TCP keepalive and by the tick's ping (10 s query timeout). Locks are only ever *tried*
 * (`pg_try_advisory_lock`), so the one connection never blocks behind another instance.
 */
export class ClusterSession {
  private client?: pg.Client;
  private opening?: Promise<void>;
  private readonly held = new Set<string>();
  private readonly wanted = new Map<string, Wanted>();
  private readonly channels = new Map<string, () => void>();
  private timer?: NodeJS.Timeout;
  private ticking?: Promise<void>;
  private stopped = false;
  private started = false;
  private downLogged = false;

  constructor(private readonly opts: ClusterSessionOptions) {}

  /** Starts ticking (idempotent); the first tick opens the connection. */
  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    this.kick();
    this.timer = setInterval(() => this.kick(), this.opts.tickMs ?? 500);
    this.timer.unref();
  }

  /** Closes the connection: every lock it held is released at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.ticking;
    await this.opening;
    const client = this.client;
    this.dropped(undefined, false);
    await client?.end().catch(() => undefined);
  }

  /** Competes for the lock `name`: `gained` when this instance gets it, `lost` when its connection ends. */
  lease(name: string, listener: LeaseListener): void {
    const key = advisoryKey(name);
    this.wanted.set(key, { key, listener, waiters: [] });
    this.start();
    this.kick();
  }

  /**
   * Resolves once this session holds the lock `name`, taking it if needed (at once when held).
   * Rejects with 503 `cluster_session_down` after `timeoutMs` without it (no connection).
   */
  hold(name: string, timeoutMs = 5000): Promise<void> {
    const key = advisoryKey(name);
    if (this.held.has(key)) return Promise.resolve();
    let w = this.wanted.get(key);
    if (!w) this.wanted.set(key, (w = { key, waiters: [] }));
    this.start();
    const wanted = w;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        wanted.waiters = wanted.waiters.filter((f) => f !== done);
        reject(new AppError({ code: "cluster_session_down", message: "cannot reach PostgreSQL to hold this instance's lock", httpStatus: 503, retryable: true }));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      wanted.waiters.push(done);
      this.kick();
    });
  }

  /**
   * True when no session holds the lock `name` (taken and let go at once to find out). False when
   * it is held elsewhere, or when this session cannot ask (no connection): unknown counts as alive.
   * Never ask about a lock this session holds itself (session locks are re-entrant).
   */
  async isFree(name: string): Promise<boolean> {
    const client = this.client;
    if (!client) return false;
    const key = advisoryKey(name);
    if (this.held.has(key)) return false;
    try {
      const { rows } = await client.query<{ free: boolean }>("SELECT pg_try_advisory_lock($1::bigint) AS free", [key]);
      if (rows[0]?.free) await client.query("SELECT pg_advisory_unlock($1::bigint)", [key]);
      return rows[0]?.free === true;
    } catch (err) {
      this.failed(client, err);
      return false;
    }
  }

  /** Calls `fn` on every NOTIFY on `channel` (from any instance), and once after each reconnect. */
  listen(channel: string, fn: () => void): void {
    this.channels.set(channel, fn);
    const client = this.client;
    if (client) void client.query(`LISTEN ${quoteIdent(channel)}`).catch((err) => this.failed(client, err));
    this.start();
  }

  /** Wakes the listeners of `channel` on every instance; best effort (listeners also poll). */
  notify(channel: string): void {
    const client = this.client;
    if (!client) return;
    void client.query("SELECT pg_notify($1, '')", [channel]).catch((err) => this.failed(client, err));
  }

  /** True while this session holds the lock `name`. */
  holds(name: string): boolean {
    return this.held.has(advisoryKey(name));
  }

  private kick(): void {
    if (this.stopped || this.ticking) return;
    this.ticking = this.tick().finally(() => (this.ticking = undefined));
  }

  private async tick(): Promise<void> {
    if (!this.client) {
      this.opening ??= this.open().finally(() => (this.opening = undefined));
      await this.opening;
    }
    const client = this.client;
    if (!client || this.stopped) return;
    try {
      let asked = false;
      for (const w of this.wanted.values()) {
        if (this.held.has(w.key)) continue;
        asked = true;
        const { rows } = await client.query<{ ok: boolean }>("SELECT pg_try_advisory_lock($1::bigint) AS ok", [w.key]);
        if (client !== this.client) return;
        if (!rows[0]?.ok) continue;
        this.held.add(w.key);
        for (const f of w.waiters.splice(0)) f();
        w.listener?.gained();
      }
      if (!asked) await client.query("SELECT 1");
    } catch (err) {
      this.failed(client, err);
    }
  }

  private async open(): Promise<void> {
    let client: pg.Client;
    try {
      client = await this.opts.source.openSession("branchline-cluster");
    } catch (err) {
      if (!this.downLogged) this.opts.logger.warn({ err }, "cluster session: cannot connect to PostgreSQL; retrying");
      this.downLogged = true;
      return;
    }
    if (this.stopped) {
      await client.end().catch(() => undefined);
      return;
    }
    client.removeAllListeners("error");
    client.on("error", (err) => this.failed(client, err));
    client.on("end", () => this.failed(client, undefined));
    client.on("notification", (n) => this.channels.get(n.channel)?.());
    this.client = client;
    if (this.downLogged) this.opts.logger.info("cluster session: connected again");
    this.downLogged = false;
    try {
      for (const channel of this.channels.keys()) await client.query(`LISTEN ${quoteIdent(channel)}`);
    } catch (err) {
      this.failed(client, err);
      return;
    }
    // Anything announced while there was no connection was missed: listeners look now.
    for (const fn of this.channels.values()) fn();
  }

  private failed(client: pg.Client, err: unknown): void {
    if (client !== this.client) return;
    this.opts.logger.warn({ err }, "cluster session: connection lost; its locks are released");
    this.dropped(client, true);
  }

  /** The connection is gone (or closed by stop): every lock it held is gone with it. */
  private dropped(client: pg.Client | undefined, destroy: boolean): void {
    this.client = undefined;
    if (destroy) void client?.end().catch(() => undefined);
    const lost = [...this.held];
    this.held.clear();
    for (const key of lost) this.wanted.get(key)?.listener?.lost();
  }
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
