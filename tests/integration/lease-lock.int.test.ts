import { DynamoDbLeaseLock } from '../../functions/adapters/dynamodb-lease-lock';
import { LockTimeoutError } from '../../functions/core/errors';
import { silentLogger } from '../../functions/core/logger';
import { LeaseLostError } from '../../functions/core/ports';
import { testConfig, testDynamoDbClient, uniqueDatabase } from '../helpers/test-app';

/** The lease lock through the real SDK, against dynalite and (where Java exists) AWS's DynamoDB Local. */
const servers: [string, string | undefined][] = [
  // The suite's DynamoDB: dynalite, or LocalStack / AWS itself (no endpoint) under test:localstack / test:aws.
  [process.env.CLOUDLITE_TEST_TARGET ?? 'dynalite', process.env.DYNAMODB_ENDPOINT],
  ...(process.env.DYNAMODB_LOCAL_ENDPOINT ? [['DynamoDB Local', process.env.DYNAMODB_LOCAL_ENDPOINT] as [string, string]] : []),
];

describe.each(servers)('the DynamoDB lease lock on %s', (_server, endpoint) => {
  function lockWith(options: { leaseMs?: number; waitMs?: number; clock?: () => number } = {}) {
    return new DynamoDbLeaseLock(
      testDynamoDbClient(endpoint),
      { table: testConfig().lockTable, leaseMs: options.leaseMs ?? 10_000, waitMs: options.waitMs ?? 0, clock: options.clock },
      silentLogger,
    );
  }

  it('a held lease cannot be taken by another writer until it expires', async () => {
    const name = uniqueDatabase('lease');
    const holder = await lockWith().acquire(name);
    await expect(lockWith({ waitMs: 200 }).acquire(name)).rejects.toBeInstanceOf(LockTimeoutError);
    await lockWith().release(holder);
    await expect(lockWith().acquire(name)).resolves.toMatchObject({ name });
  });

  it('an expired lease is taken over, and its old owner can neither renew nor release it', async () => {
    const name = uniqueDatabase('lease');
    const stale = await lockWith({ leaseMs: 1_000, clock: () => Date.now() - 5_000 }).acquire(name);
    const fresh = await lockWith().acquire(name);
    expect(fresh.owner).not.toBe(stale.owner);

    await expect(lockWith().renew(stale)).rejects.toBeInstanceOf(LeaseLostError);
    await lockWith().release(stale); // must not delete the new owner's lease
    await expect(lockWith({ waitMs: 100 }).acquire(name)).rejects.toBeInstanceOf(LockTimeoutError);
    await lockWith().release(fresh);
  });

  it('renewing extends the lease of its owner', async () => {
    const name = uniqueDatabase('lease');
    const lock = lockWith({ leaseMs: 2_000 });
    const lease = await lock.acquire(name);
    const renewed = await lock.renew(lease);
    expect(renewed.expiresAtMs).toBeGreaterThanOrEqual(lease.expiresAtMs);
    await lock.release(renewed);
  });

  it('a waiting writer gets the lease as soon as the holder releases it', async () => {
    const name = uniqueDatabase('lease');
    const holder = await lockWith().acquire(name);
    const waiting = lockWith({ waitMs: 5_000 }).acquire(name);
    setTimeout(() => void lockWith().release(holder), 300);
    await expect(waiting).resolves.toMatchObject({ name });
  });

  it('LOCK_TIMEOUT tells the caller when the holder lease ends', async () => {
    const name = uniqueDatabase('lease');
    const holder = await lockWith({ leaseMs: 8_000 }).acquire(name);
    const error = await lockWith({ waitMs: 50 }).acquire(name).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LockTimeoutError);
    expect((error as LockTimeoutError).retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect((error as LockTimeoutError).retryAfterSeconds).toBeLessThanOrEqual(9);
    await lockWith().release(holder);
  });
});
