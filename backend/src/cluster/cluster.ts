import type { Logger } from "../ops/logger.js";
import { PgStore } from "../store/pg/pg.store.js";
import type { Store } from "../store/store.port.js";
import { ClusterSession } from "./cluster-session.js";
import { JobReaper, livenessLock } from "./job-reaper.js";
import { SenderLease, type LeasedSender } from "./sender-lease.js";

export interface ClusterDeps {
  store: Store;
  sender: LeasedSender;
  /** Wakes the job runner (jobs of a dead instance were released). */
  wake(): void;
  logger: Logger;
  now: () => number;
  /** The number this deployment sends for (`phone_number_id`; "sandbox" in sandbox mode). */
  number: string;
  tickMs?: number;
}

/** What several instances on one PostgreSQL database need to share the work (see README.md). */
export interface Cluster {
  /** Competes for the sender lease (the sender starts once it is gained) and starts the reaper. */
  start(): Promise<void>;
  /** Stops sending here and ends the session: its locks go to the other instances at once. */
  stop(): Promise<void>;
  readonly isSenderHolder: boolean;
}

/**
 * The coordination of several instances, for a store they share (PostgreSQL); undefined for the
 * embedded store, where the one process sends and claims alone. Installs the claim guard at once
 * (before the job runner's first claim): no job is leased before this instance holds its liveness lock.
 */
export function clusterFor(deps: ClusterDeps): Cluster | undefined {
  const { store } = deps;
  if (!(store instanceof PgStore)) return undefined;
  const session = new ClusterSession({ source: store, logger: deps.logger, tickMs: deps.tickMs });
  const owners = new Set<string>();
  store.guardClaims(async (owner) => {
    owners.add(owner);
    await session.hold(livenessLock(owner));
  });
  const lease = new SenderLease({ session, sender: deps.sender, logger: deps.logger, number: deps.number });
  const reaper = new JobReaper({ store, session, logger: deps.logger, now: deps.now, ownOwners: owners, onReleased: deps.wake });
  return {
    async start() {
      session.start();
      lease.start();
      reaper.start();
    },
    async stop() {
      await reaper.stop();
      await lease.stop();
      await session.stop();
    },
    get isSenderHolder() {
      return lease.isHolder;
    },
  };
}
