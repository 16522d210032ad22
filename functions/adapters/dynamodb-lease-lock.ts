import { createHash, randomUUID } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { LockTimeoutError, type StorageUnavailableError } from '../core/errors';
import { IDEMPOTENCY_RETENTION_MS } from '../core/idempotency';
import type { Logger } from '../core/logger';
import { attemptsOf, dynamoDbFailure } from './sdk-errors';
import {
  LeaseLostError,
  type HeldLease,
  type IdempotencyRecord,
  type IdempotencyStore,
  type Lease,
  type LeaseLock,
  type Publication,
  type VersionRecord,
} from '../core/ports';

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

/** Attributes of a database's item: its lease, its version record and its recent idempotency keys. */
/**
 * How soon a writer refused with LOCK_TIMEOUT should come back. Not when the holder's lease
 * ends: a live holder renews it every third of LOCK_LEASE_MS (15 s of the default 45), so that is
 * always 30 to 45 s away however soon the holder finishes, longer than clients wait to retry.
 * The lock frees up at any moment, and each attempt waits LOCK_WAIT_MS for it server-side anyway.
 */
const LOCK_RETRY_AFTER_SECONDS = 1;

const A = {
  id: 'lock_id',
  owner: 'owner',
  expiresAtMs: 'expires_at_ms',
  /** The table's TTL attribute: set only on idempotency items, never on a database's item. */
  ttl: 'expires_at',
  versionId: 'version_id',
  etag: 'etag',
  writeId: 'write_id',
  /** Present (true) while the published version is a delete marker. */
  deleted: 'deleted',
} as const;
const RECENT_KEY_PREFIX = 'key#';

/**
 * One DynamoDB item per database holds its lease and its version record. The lease is taken
 * with a conditional update that returns the record in the same request:
 *
 *   writer A: take(owner=A) ─ ok ── run ── PUT ── publish(owner=A, version=v0 → v1) ── released
 *   writer B:    take ✗ (held) … backoff … take ✗ … … take(owner=B, returns v1) ─ ok
 *   writer C (A crashed after take): take ✗ … until expires_at_ms < now … take ─ ok
 *
 * `attribute_not_exists(owner) OR expires_at_ms < :now` lets a writer take a free lease or one
 * whose holder stopped renewing; `owner = :me` on renew, publish and release means nobody extends,
 * publishes under or frees a lease they do not hold. Publishing also requires that the item still
 * names the version the write was built on, so a record can only move forward one write at a
 * time. The item never carries the TTL attribute: a version record must outlive every lease.
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

  async acquire(name: string): Promise<HeldLease> {
    const owner = randomUUID();
    const deadline = this.clock() + this.options.waitMs;
    const base = this.options.backoffBaseMs ?? 20;
    // A short cap keeps waiters polling often enough not to starve behind back-to-back writers;
    // each poll is one conditional write (one WRU, $0.000000625).
    const cap = this.options.backoffCapMs ?? 250;
    for (let attempt = 0; ; attempt++) {
      const now = this.clock();
      const lease: Lease = { name, owner, expiresAtMs: now + this.options.leaseMs };
      try {
        const taken = await this.client.send(
          new UpdateCommand({
            TableName: this.options.table,
            Key: { [A.id]: name },
            // Items written before version records carried the TTL attribute: drop it for good.
            UpdateExpression: 'SET #owner = :me, #expiresAtMs = :expiresAtMs REMOVE #ttl',
            ConditionExpression: 'attribute_not_exists(#owner) OR #expiresAtMs < :now',
            ExpressionAttributeNames: { '#owner': A.owner, '#expiresAtMs': A.expiresAtMs, '#ttl': A.ttl },
            ExpressionAttributeValues: { ':me': owner, ':expiresAtMs': lease.expiresAtMs, ':now': now },
            ReturnValues: 'ALL_NEW',
          }),
        );
        this.logger.debug('lease acquired', { lock: name, attempts: attempt + 1 });
        return held(lease, taken.Attributes);
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) {
          // An attempt may have landed before the failure we see: free the lease if it is ours,
          // or the database stays locked for a whole lease.
          await this.releaseIfOurs(lease).catch(() => undefined);
          throw this.unavailable('acquire', name, error);
        }
        // The SDK retried an update whose reply was lost, and our own first attempt is what
        // refused it: ask for the item whenever the SDK sent more than once.
        if (attemptsOf(error) > 1) {
          const item = await this.item(name);
          if (item?.[A.owner] === owner) return held({ ...lease, expiresAtMs: Number(item[A.expiresAtMs]) }, item);
        }
      }
      const remaining = deadline - this.clock();
      if (remaining <= 0) {
        throw new LockTimeoutError(`the write lock for "${name}" stayed busy for ${this.options.waitMs} ms; nothing was applied, retry`, LOCK_RETRY_AFTER_SECONDS);
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
          Key: { [A.id]: lease.name },
          UpdateExpression: 'SET #expiresAtMs = :expiresAtMs',
          ConditionExpression: '#owner = :me',
          ExpressionAttributeNames: { '#owner': A.owner, '#expiresAtMs': A.expiresAtMs },
          ExpressionAttributeValues: { ':me': lease.owner, ':expiresAtMs': renewed.expiresAtMs },
        }),
      );
      return renewed;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) throw new LeaseLostError(`lease on ${lease.name} is held by another writer`);
      throw this.unavailable('renew', lease.name, error);
    }
  }

  async publish(lease: Lease, publication: Publication): Promise<void> {
    const names: Record<string, string> = { '#owner': A.owner };
    const values: Record<string, unknown> = { ':me': lease.owner };
    const set: string[] = [];
    const remove: string[] = [];
    let condition = '#owner = :me';
    if (publication.base) {
      // The write id names one write's version exactly; the ETag guards against a record written
      // by hand. (A version id may be absent: unversioned buckets have none.)
      Object.assign(names, { '#writeId': A.writeId, '#etag': A.etag });
      Object.assign(values, { ':baseWriteId': publication.base.writeId, ':baseEtag': publication.base.version.etag });
      condition += ' AND #writeId = :baseWriteId AND #etag = :baseEtag';
    } else {
      names['#etag'] = A.etag;
      condition += ' AND attribute_not_exists(#etag)';
    }
    if (publication.next) {
      const { version, writeId } = publication.next;
      Object.assign(names, { '#versionId': A.versionId, '#etag': A.etag, '#writeId': A.writeId });
      Object.assign(values, { ':etag': version.etag, ':writeId': writeId });
      set.push('#etag = :etag', '#writeId = :writeId');
      names['#deleted'] = A.deleted;
      if (publication.next.deleted) {
        values[':deleted'] = true;
        set.push('#deleted = :deleted');
      } else remove.push('#deleted');
      if (version.versionId === undefined) remove.push('#versionId');
      else {
        values[':versionId'] = version.versionId;
        set.push('#versionId = :versionId');
      }
    }
    if (publication.key) {
      names['#newKey'] = recentKeyAttribute(publication.key.key);
      values[':newKey'] = toItem(publication.key);
      set.push('#newKey = :newKey');
    }
    (publication.forgetKeys ?? []).forEach((key, i) => {
      names[`#old${i}`] = recentKeyAttribute(key);
      remove.push(`#old${i}`);
    });
    if (!publication.keepLease) {
      names['#expiresAtMs'] = A.expiresAtMs;
      remove.push('#owner', '#expiresAtMs');
    }
    if (set.length === 0 && remove.length === 0) return;
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.options.table,
          Key: { [A.id]: lease.name },
          UpdateExpression: [set.length ? `SET ${set.join(', ')}` : '', remove.length ? `REMOVE ${remove.join(', ')}` : ''].join(' ').trim(),
          ConditionExpression: condition,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      );
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) {
        throw new LeaseLostError(`lease on ${lease.name} is no longer ours, or the database moved on`);
      }
      throw this.unavailable('publish', lease.name, error);
    }
  }

  async release(lease: Lease): Promise<void> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.options.table,
          Key: { [A.id]: lease.name },
          UpdateExpression: 'REMOVE #owner, #expiresAtMs',
          ConditionExpression: '#owner = :me',
          ExpressionAttributeNames: { '#owner': A.owner, '#expiresAtMs': A.expiresAtMs },
          ExpressionAttributeValues: { ':me': lease.owner },
        }),
      );
    } catch (error) {
      // Someone else holds it now (ours expired): theirs is not ours to free.
      if (error instanceof ConditionalCheckFailedException) return;
      throw this.unavailable('release', lease.name, error);
    }
  }

  async published(name: string): Promise<VersionRecord | undefined> {
    try {
      const got = await this.client.send(
        new GetCommand({
          TableName: this.options.table,
          Key: { [A.id]: name },
          ConsistentRead: true,
          ProjectionExpression: '#versionId, #etag, #writeId, #deleted',
          ExpressionAttributeNames: { '#versionId': A.versionId, '#etag': A.etag, '#writeId': A.writeId, '#deleted': A.deleted },
        }),
      );
      return recordOf(got.Item);
    } catch (error) {
      throw this.unavailable('read', name, error);
    }
  }

  async recentKey(name: string, key: string): Promise<IdempotencyRecord | undefined> {
    const attribute = recentKeyAttribute(key);
    try {
      const got = await this.client.send(
        new GetCommand({ TableName: this.options.table, Key: { [A.id]: name }, ConsistentRead: true, ProjectionExpression: '#key', ExpressionAttributeNames: { '#key': attribute } }),
      );
      const value = got.Item?.[attribute] as Record<string, unknown> | undefined;
      const record = value && fromItem(value);
      return record?.key === key ? record : undefined;
    } catch (error) {
      throw this.unavailable('read', name, error);
    }
  }

  private async releaseIfOurs(lease: Lease): Promise<void> {
    const item = await this.item(lease.name);
    if (item?.[A.owner] === lease.owner) await this.release(lease);
  }

  private async item(name: string): Promise<Record<string, unknown> | undefined> {
    try {
      const got = await this.client.send(new GetCommand({ TableName: this.options.table, Key: { [A.id]: name }, ConsistentRead: true }));
      return got.Item;
    } catch (error) {
      throw this.unavailable('read', name, error);
    }
  }

  private unavailable(action: string, name: string, error: unknown): StorageUnavailableError {
    return dynamoDbFailure(`the lock table could not ${action} the record of "${name}"; nothing was applied, retry`, error);
  }
}

/**
 * Idempotency records in their own items of the same table (`idem#<database>#<key>`), swept by
 * the table's TTL after the retention window. A record first commits on the database's item, in
 * the publishing update; the next writer copies it here and drops it from that item.
 */
export class DynamoDbIdempotencyStore implements IdempotencyStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly clock: () => number = Date.now,
  ) {}

  async find(database: string, key: string): Promise<IdempotencyRecord | undefined> {
    try {
      const got = await this.client.send(new GetCommand({ TableName: this.table, Key: { [A.id]: itemId(database, key) }, ConsistentRead: true }));
      return got.Item ? fromItem(got.Item) : undefined;
    } catch (error) {
      throw dynamoDbFailure('the lock table could not read an idempotency record; nothing was applied, retry', error);
    }
  }

  async save(database: string, record: IdempotencyRecord): Promise<void> {
    const expiresAtMs = Math.max(record.committedAtMs, this.clock()) + IDEMPOTENCY_RETENTION_MS;
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.table,
          Item: { [A.id]: itemId(database, record.key), ...toItem(record), [A.ttl]: Math.ceil(expiresAtMs / 1000) },
        }),
      );
    } catch (error) {
      throw dynamoDbFailure('the lock table could not store an idempotency record', error);
    }
  }
}

function held(lease: Lease, item: Record<string, unknown> | undefined): HeldLease {
  const recentKeys = Object.entries(item ?? {})
    .filter(([name]) => name.startsWith(RECENT_KEY_PREFIX))
    .map(([, value]) => fromItem(value as Record<string, unknown>));
  return { lease, published: recordOf(item), recentKeys };
}

function recordOf(item: Record<string, unknown> | undefined): VersionRecord | undefined {
  if (!item || typeof item[A.etag] !== 'string') return undefined;
  const versionId = item[A.versionId];
  return {
    version: { etag: item[A.etag] as string, ...(typeof versionId === 'string' && { versionId }) },
    writeId: String(item[A.writeId] ?? 'unknown'),
    ...(item[A.deleted] === true && { deleted: true as const }),
  };
}

/** Attribute names are limited in size: a key of up to 128 characters is named by its digest. */
function recentKeyAttribute(key: string): string {
  return `${RECENT_KEY_PREFIX}${createHash('sha256').update(key).digest('hex').slice(0, 32)}`;
}

/** Database names cannot contain '#', so these ids never collide with a database's item. */
function itemId(database: string, key: string): string {
  return `idem#${database}#${key}`;
}

function toItem(record: IdempotencyRecord): Record<string, unknown> {
  return {
    key: record.key,
    fingerprint: record.fingerprint,
    version: record.version,
    wrote: record.wrote,
    answer: record.answer,
    committed_at_ms: record.committedAtMs,
  };
}

function fromItem(item: Record<string, unknown>): IdempotencyRecord {
  return {
    key: String(item.key),
    fingerprint: String(item.fingerprint),
    version: typeof item.version === 'string' ? item.version : null,
    wrote: item.wrote === true,
    answer: item.answer as IdempotencyRecord['answer'],
    committedAtMs: Number(item.committed_at_ms),
  };
}
