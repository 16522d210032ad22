import { WriteConflictError } from './errors';
import type { Logger } from './logger';
import { LeaseLostError, type Lease, type LeaseLock } from './ports';

export interface LeaseKeeperOptions {
  renewIntervalMs: number;
  /** A commit must still have this much lease left, so it lands well before anyone may take over. */
  safetyMarginMs: number;
}

/**
 * Renews a held lease in the background (a heartbeat) while a write runs, so a long statement
 * within its time budget keeps its lease, and tells the writer before it uploads whether the
 * lease is still safely its own. The fence on the upload stays the real guarantee; this check
 * just avoids uploading when we already know we are late.
 */
export class LeaseKeeper {
  private lease: Lease;
  private lost = false;
  private readonly timer: NodeJS.Timeout;
  private renewing?: Promise<void>;

  constructor(
    private readonly lock: LeaseLock,
    lease: Lease,
    private readonly options: LeaseKeeperOptions,
    private readonly clock: () => number,
    private readonly logger: Logger,
  ) {
    this.lease = lease;
    this.timer = setInterval(() => void this.renew(), options.renewIntervalMs);
    this.timer.unref();
  }

  get current(): Lease {
    return this.lease;
  }

  private renew(): Promise<void> {
    if (this.renewing || this.lost) return this.renewing ?? Promise.resolve();
    this.renewing = this.lock
      .renew(this.lease)
      .then((renewed) => {
        this.lease = renewed;
        this.logger.debug('lease renewed', { lock: renewed.name, expiresAtMs: renewed.expiresAtMs });
      })
      .catch((error: unknown) => {
        if (error instanceof LeaseLostError) this.lost = true;
        // A failed renewal is not fatal: the lease still runs until its expiry, which the
        // commit check below looks at.
        this.logger.warn('lease renewal failed', { lock: this.lease.name, error: String(error) });
      })
      .finally(() => {
        this.renewing = undefined;
      });
    return this.renewing;
  }

  /** Throws WriteConflictError when the lease is gone or too close to its end to commit. */
  assertSafeToCommit(): void {
    const remainingMs = this.lease.expiresAtMs - this.clock();
    if (this.lost || remainingMs < this.options.safetyMarginMs) {
      throw new WriteConflictError(
        this.lost
          ? 'the write lock was taken over by another writer before this write could be stored; nothing was applied, retry'
          : 'the write lock was about to expire before this write could be stored; nothing was applied, retry',
      );
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
