import { DynamoDbIdempotencyStore, DynamoDbLeaseLock } from '../../functions/adapters/dynamodb-lease-lock';
import { LockTimeoutError } from '../../functions/core/errors';
import { silentLogger } from '../../functions/core/logger';
import { LeaseLostError, type IdempotencyRecord, type VersionRecord } from '../../functions/core/ports';
import { testConfig, testDynamoDbClient, uniqueDatabase } from '../helpers/test-app';

/**
 * The lease lock, version record and idempotency records through the real SDK, against dynalite
 * and (where Java exists) AWS's DynamoDB Local.
 */
const servers: [string, string | undefined][] = [
  // The suite's DynamoDB: dynalite, or LocalStack / AWS itself (no endpoint) under test:localstack / test:aws.
  [process.env.CLOUDLITE_TEST_TARGET ?? 'dynalite', process.env.DYNAMODB_ENDPOINT],
  ...(process.env.DYNAMODB_LOCAL_ENDPOINT ? [['DynamoDB Local', process.env.DYNAMODB_LOCAL_ENDPOINT] as [string, string]] : []),
];

const v1: VersionRecord = { version: { etag: '"e1"', versionId: 'v1' }, writeId: 'w1' };
const v2: VersionRecord = { version: { etag: '"e2"', versionId: 'v2' }, writeId: 'w2' };

function keyRecord(key: string, version: string): IdempotencyRecord {
  return { key, fingerprint: 'f'.repeat(64), version, wrote: true, answer: { inline: 'H4sIAAAAAAAAA4uOBQApu0wNAgAAAA==' }, committedAtMs: Date.now() };
}

describe.each(servers)('the DynamoDB lease lock on %s', (_server, endpoint) => {
  function lockWith(options: { leaseMs?: number; waitMs?: number; clock?: () => number } = {}) {
    return new DynamoDbLeaseLock(
      testDynamoDbClient(endpoint),
      { table: testConfig().lockTable, leaseMs: options.leaseMs ?? 10_000, waitMs: options.waitMs ?? 0, clock: options.clock },
      silentLogger,
    );
  }

  it('a held lease cannot be taken by another writer until it is released', async () => {
    const name = uniqueDatabase('lease');
    const holder = await lockWith().acquire(name);
    await expect(lockWith({ waitMs: 200 }).acquire(name)).rejects.toBeInstanceOf(LockTimeoutError);
    await lockWith().release(holder.lease);
    await expect(lockWith().acquire(name)).resolves.toMatchObject({ lease: { name } });
  });

  it('an expired lease is taken over, and its old owner can neither renew, publish nor release it', async () => {
    const name = uniqueDatabase('lease');
    const stale = (await lockWith({ leaseMs: 1_000, clock: () => Date.now() - 5_000 }).acquire(name)).lease;
    const fresh = (await lockWith().acquire(name)).lease;
    expect(fresh.owner).not.toBe(stale.owner);

    await expect(lockWith().renew(stale)).rejects.toBeInstanceOf(LeaseLostError);
    await expect(lockWith().publish(stale, { next: v1 })).rejects.toBeInstanceOf(LeaseLostError);
    await lockWith().release(stale); // must not free the new owner's lease
    await expect(lockWith({ waitMs: 100 }).acquire(name)).rejects.toBeInstanceOf(LockTimeoutError);
    expect(await lockWith().published(name)).toBeUndefined();
    await lockWith().release(fresh);
  });

  it('publishing records the version, releases the lease, and the next acquire returns the record', async () => {
    const name = uniqueDatabase('lease');
    const lock = lockWith();
    const first = await lock.acquire(name);
    expect(first.published).toBeUndefined();
    await lock.publish(first.lease, { next: v1 });
    expect(await lock.published(name)).toEqual(v1);

    const second = await lock.acquire(name); // free again: the publish released it
    expect(second.published).toEqual(v1);
    await lock.publish(second.lease, { base: v1, next: v2 });
    expect(await lock.published(name)).toEqual(v2);
  });

  it('a publish built on a version that is no longer current is refused and changes nothing', async () => {
    const name = uniqueDatabase('lease');
    const lock = lockWith();
    await lock.publish((await lock.acquire(name)).lease, { next: v1 });
    const held = await lock.acquire(name);
    await expect(lock.publish(held.lease, { next: v2 })).rejects.toBeInstanceOf(LeaseLostError); // claims "no record yet"
    await expect(lock.publish(held.lease, { base: v2, next: v1 })).rejects.toBeInstanceOf(LeaseLostError);
    expect(await lock.published(name)).toEqual(v1);
    await lock.release(held.lease);
  });

  it('keepLease publishes an adopted version and keeps the lease for the write that follows', async () => {
    const name = uniqueDatabase('lease');
    const lock = lockWith();
    const held = await lock.acquire(name);
    await lock.publish(held.lease, { next: v1, keepLease: true });
    await expect(lockWith({ waitMs: 50 }).acquire(name)).rejects.toBeInstanceOf(LockTimeoutError);
    await lock.publish(held.lease, { base: v1, next: v2 });
    expect((await lock.acquire(name)).published).toEqual(v2);
  });

  it('an idempotency key commits with the version, comes back on acquire, and moves to its own item', async () => {
    const name = uniqueDatabase('lease');
    const lock = lockWith();
    const keys = new DynamoDbIdempotencyStore(testDynamoDbClient(endpoint), testConfig().lockTable);
    await lock.publish((await lock.acquire(name)).lease, { next: v1, key: keyRecord('retry-me', 'v1') });

    const held = await lock.acquire(name);
    expect(held.recentKeys).toEqual([keyRecord('retry-me', 'v1')].map((r) => ({ ...r, committedAtMs: expect.any(Number) })));
    await keys.save(name, held.recentKeys[0]!);
    await lock.publish(held.lease, { base: v1, forgetKeys: ['retry-me'] });

    expect((await lock.acquire(name)).recentKeys).toEqual([]);
    expect(await keys.find(name, 'retry-me')).toMatchObject({ key: 'retry-me', version: 'v1', wrote: true });
    expect(await keys.find(name, 'never-used')).toBeUndefined();
  });

  it('renewing extends the lease of its owner', async () => {
    const name = uniqueDatabase('lease');
    const lock = lockWith({ leaseMs: 2_000 });
    const { lease } = await lock.acquire(name);
    const renewed = await lock.renew(lease);
    expect(renewed.expiresAtMs).toBeGreaterThanOrEqual(lease.expiresAtMs);
    await lock.release(renewed);
  });

  it('a waiting writer gets the lease as soon as the holder releases it', async () => {
    const name = uniqueDatabase('lease');
    const holder = await lockWith().acquire(name);
    const waiting = lockWith({ waitMs: 5_000 }).acquire(name);
    setTimeout(() => void lockWith().release(holder.lease), 300);
    await expect(waiting).resolves.toMatchObject({ lease: { name } });
  });

  it("LOCK_TIMEOUT asks the caller back in a second, not when the holder's lease ends (a live holder keeps renewing it)", async () => {
    const name = uniqueDatabase('lease');
    const holder = await lockWith({ leaseMs: 40_000 }).acquire(name);
    const error = await lockWith({ waitMs: 50 }).acquire(name).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LockTimeoutError);
    expect((error as LockTimeoutError).retryAfterSeconds).toBe(1);
    await lockWith().release(holder.lease);
  });
});
