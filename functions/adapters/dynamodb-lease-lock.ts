import { randomUUID } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { LockTimeoutError, StorageUnavailableError } from '../core/errors';
import type { Logger } from '../core/logger';
import { LeaseLostError, type Lease, type LeaseLock } from '../core/ports';
import { describe } from './sdk-errors';

export interface LeaseLockOptions {
  table: string;
  /** How long a lease lasts unless renewed; longer than the function timeout. */
  leaseMs: number;
  /** How long acquire keeps trying before LOCK_TIMEOUT. */
  waitMs: number;
  backoffBaseMs?: number;
  backoffCapMs?: number;
  clock?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/**
 * A per-database lease in DynamoDB, taken with a conditional write.
 *
 *   writer A: put(owner=A, expires=t0+L) ─ ok ─────────── crash ·····················
 *   writer B:        put ✗ (held) … backoff … put ✗ … … put(owner=B) ─ ok (t > t0+L)
 *
 * The condition `attribute_not_exists(lock_id) OR expires_at_ms < :now` lets a writer take a
 * free lease or one whose holder stopped renewing it; `owner = :me` on renew and release means
 * nobody ever extends or deletes a lease they do not hold. `expires_at` (seconds) is the
 * table's TTL attribute, so abandoned items are eventually swept; correctness never waits for
 * the sweep, only for the precise `expires_at_ms`.
 */
export class DynamoDbLeaseLock implements LeaseLock {
  private readonly clock: () => number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly options: LeaseLockOptions,
    private readonly logger: Logger,
  ) {
    this.clock = options.clock ?? Date.now;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  async acquire(name: string): Promise<Lease> {
    const owner = randomUUID();
    const deadline = this.clock() + this.options.waitMs;
    const base = this.options.backoffBaseMs ?? 20;
    // A short cap keeps waiters polling often enough not to starve behind back-to-back writers;
    // each poll is one conditional write (one WRU, $0.000000625).
    const cap = this.options.backoffCapMs ?? 250;
    let holderExpiresAtMs: number | undefined;
    for (let attempt = 0; ; attempt++) {
      const now = this.clock();
      const lease = { name, owner, expiresAtMs: now + this.options.leaseMs };
      try {
        await this.client.send(
          new PutCommand({
            TableName: this.options.table,
            Item: this.item(lease),
            ConditionExpression: 'attribute_not_exists(#id) OR #expiresAtMs < :now',
            ExpressionAttributeNames: { '#id': 'lock_id', '#expiresAtMs': 'expires_at_ms' },
            ExpressionAttributeValues: { ':now': now },
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          }),
        );
        this.logger.debug('lease acquired', { lock: name, attempts: attempt + 1 });
        return lease;
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw this.unavailable('acquire', name, error);
        // The SDK retried a put whose reply was lost, and our own first put is what refused it.
        if (error.Item?.owner?.S === owner) return { ...lease, expiresAtMs: Number(error.Item.expires_at_ms?.N ?? lease.expiresAtMs) };
        holderExpiresAtMs = Number(error.Item?.expires_at_ms?.N ?? holderExpiresAtMs ?? now + 1000);
      }
      const remaining = deadline - this.clock();
      if (remaining <= 0) {
        const retryAfterSeconds = Math.max(1, Math.ceil(((holderExpiresAtMs ?? 0) - this.clock()) / 1000));
        throw new LockTimeoutError(
          `the write lock for "${name}" stayed busy for ${this.options.waitMs} ms; nothing was applied, retry`,
          Math.min(retryAfterSeconds, 60),
        );
      }
      // Exponential backoff with full jitter spreads competing writers apart.
      await this.sleep(Math.min(remaining, Math.random() * Math.min(cap, base * 2 ** attempt)));
    }
  }

  async renew(lease: Lease): Promise<Lease> {
    const renewed = { ...lease, expiresAtMs: this.clock() + this.options.leaseMs };
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.options.table,
          Key: { lock_id: lease.name },
          UpdateExpression: 'SET #expiresAtMs = :expiresAtMs, #expiresAt = :expiresAt',
          ConditionExpression: '#owner = :me',
          ExpressionAttributeNames: { '#owner': 'owner', '#expiresAtMs': 'expires_at_ms', '#expiresAt': 'expires_at' },
          ExpressionAttributeValues: { ':me': lease.owner, ':expiresAtMs': renewed.expiresAtMs, ':expiresAt': ttlSeconds(renewed.expiresAtMs) },
        }),
      );
      return renewed;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) throw new LeaseLostError(`lease on ${lease.name} is held by another writer`);
      throw this.unavailable('renew', lease.name, error);
    }
  }

  async release(lease: Lease): Promise<void> {
    try {
      await this.client.send(
        new DeleteCommand({
          TableName: this.options.table,
          Key: { lock_id: lease.name },
          ConditionExpression: '#owner = :me',
          ExpressionAttributeNames: { '#owner': 'owner' },
          ExpressionAttributeValues: { ':me': lease.owner },
        }),
      );
    } catch (error) {
      // Someone else holds it now (ours expired): theirs is not ours to delete.
      if (error instanceof ConditionalCheckFailedException) return;
      throw this.unavailable('release', lease.name, error);
    }
  }

  private item(lease: Lease): Record<string, unknown> {
    return { lock_id: lease.name, owner: lease.owner, expires_at_ms: lease.expiresAtMs, expires_at: ttlSeconds(lease.expiresAtMs) };
  }

  private unavailable(action: string, name: string, error: unknown): StorageUnavailableError {
    this.logger.error(`DynamoDB lease ${action} failed`, { lock: name, error: describe(error) });
    return new StorageUnavailableError(`the lock table could not ${action} the write lock; nothing was applied, retry`, { cause: error });
  }
}

/** TTL wants epoch seconds; round up so the sweep never runs before the precise expiry. */
function ttlSeconds(expiresAtMs: number): number {
  return Math.ceil(expiresAtMs / 1000) + 1;
}
