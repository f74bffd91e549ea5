import type { Job } from "../domain/types.js";
import type { Logger } from "../ops/logger.js";
import type { Sender } from "../outbound/sender.js";
import type { ClusterSession } from "./cluster-session.js";

/** What the lease drives: the number's one sender in this process. */
export type LeasedSender = Pick<Sender, "start" | "stop" | "release" | "rescan" | "useLease">;

export interface SenderLeaseOptions {
  session: ClusterSession;
  sender: LeasedSender;
  logger: Logger;
  /** The number sent for (`phone_number_id`, or "sandbox"): one lease per number. */
  number: string;
  /**
   * Wait after gaining the lease before the first send: longer than the sender's one-second window,
   * so the previous holder's last second of sends and this holder's first second never overlap.
   */
  quietMs?: number;
  /** The holder looks for send jobs other instances committed this often (and at once when told). */
  pollMs?: number;
}

/** The NOTIFY channel on which instances that do not send announce newly committed send jobs. */
export const SEND_CHANNEL = "branchline_send";

/**
 * One sender per number across instances: the instance whose session holds the advisory lock
 * `sender:<number>` sends; the others only commit send jobs. When the holder dies its connection
 * ends, PostgreSQL drops the lock, and the next instance to try takes it over (within a tick), waits
 * `quietMs`, loads every pending send from the store and goes on — so `WHATSAPP_MPS` is one budget
 * for the whole deployment. Sends the dead holder left `sending` wait for their status webhook
 * (the sender's reconcile) before they are sent again.
 */
export class SenderLease {
  private holding = false;
  private quietTimer?: NodeJS.Timeout;
  private pollTimer?: NodeJS.Timeout;
  private scanning?: Promise<void>;
  private scanAgain = false;
  private nudgeTimer?: NodeJS.Timeout;
  private readonly name: string;

  constructor(private readonly opts: SenderLeaseOptions) {
    this.name = `sender:${opts.number}`;
  }

  start(): void {
    // Jobs queued here while another instance sends: tell the holder (coalesced per 20 ms).
    this.opts.sender.useLease((_job: Job) => this.nudge());
    this.opts.session.listen(SEND_CHANNEL, () => this.scan());
    this.opts.session.lease(this.name, { gained: () => this.gained(), lost: () => this.lost() });
  }

  /** Stops sending here (the store keeps what is queued); the session's end releases the lock. */
  async stop(): Promise<void> {
    this.clearTimers();
    this.holding = false;
    this.opts.sender.release();
    await this.opts.sender.stop();
    await this.scanning;
  }

  get isHolder(): boolean {
    return this.holding;
  }

  private gained(): void {
    this.holding = true;
    this.opts.logger.info({ number: this.opts.number }, "this instance now sends for the number");
    this.startAfter(this.opts.quietMs ?? 1100);
  }

  private startAfter(ms: number): void {
    this.quietTimer = setTimeout(() => {
      this.quietTimer = undefined;
      if (!this.holding) return;
      void this.opts.sender.start().then(
        () => {
          if (!this.holding) return;
          this.pollTimer = setInterval(() => this.scan(), this.opts.pollMs ?? 1000);
          this.pollTimer.unref();
        },
        (err) => {
          // The queue could not be loaded (store down): try again while the lease is ours.
          this.opts.logger.error({ err }, "sender could not start after gaining the lease; retrying");
          this.opts.sender.release();
          if (this.holding) this.startAfter(this.opts.pollMs ?? 1000);
        },
      );
    }, ms);
  }

  private lost(): void {
    if (!this.holding) return;
    this.holding = false;
    this.clearTimers();
    this.opts.sender.release();
    this.opts.logger.warn({ number: this.opts.number }, "this instance lost the sender lease; another instance takes over");
  }

  private scan(): void {
    if (!this.holding) return;
    if (this.scanning) {
      this.scanAgain = true;
      return;
    }
    this.scanning = this.opts.sender
      .rescan()
      .then(
        () => undefined,
        (err) => this.opts.logger.warn({ err }, "looking for send jobs of other instances failed"),
      )
      .finally(() => {
        this.scanning = undefined;
        if (this.scanAgain) {
          this.scanAgain = false;
          this.scan();
        }
      });
  }

  private nudge(): void {
    if (this.nudgeTimer) return;
    this.nudgeTimer = setTimeout(() => {
      this.nudgeTimer = undefined;
      this.opts.session.notify(SEND_CHANNEL);
    }, 20);
  }

  private clearTimers(): void {
    if (this.quietTimer) clearTimeout(this.quietTimer);
    if (this.pollTimer) clearInterval(this.pollTimer);
    if (this.nudgeTimer) clearTimeout(this.nudgeTimer);
    this.quietTimer = this.pollTimer = this.nudgeTimer = undefined;
  }
}
