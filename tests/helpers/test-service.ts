import { GetObjectCommand, ListObjectVersionsCommand } from '@aws-sdk/client-s3';
import { DynamoDbLeaseLock, type LeaseLockOptions } from '../../functions/adapters/dynamodb-lease-lock';
import { S3ObjectStore } from '../../functions/adapters/s3-object-store';
import { SqlJsEngine } from '../../functions/adapters/sqljs/sqljs-engine';
import { DatabaseService, type DatabaseServiceOptions } from '../../functions/core/database-service';
import { silentLogger } from '../../functions/core/logger';
import type { SqlEngine } from '../../functions/core/ports';
import { testConfig, testDynamoDbClient, testS3Client } from './test-app';

/**
 * A DatabaseService wired to the real adapters and the local servers, with the knobs tests turn:
 * lease timing, clocks, and a wrapper around the (real) engine to pause a writer mid-flight.
 */
export interface ServiceParts {
  lock?: Partial<LeaseLockOptions>;
  service?: Partial<DatabaseServiceOptions>;
  wrapEngine?: (engine: SqlEngine) => SqlEngine;
  clock?: () => number;
  dynamoDbEndpoint?: string;
}

export function buildService(parts: ServiceParts = {}): { service: DatabaseService; close(): Promise<void> } {
  const config = testConfig();
  const engine = new SqlJsEngine({
    statementTimeoutMs: config.statementTimeoutMs,
    sqliteHeapLimitBytes: config.sqliteHeapLimitBytes,
    workerHeapLimitMb: config.engineHeapLimitMb,
    warmCacheBytes: config.warmCacheBytes,
  });
  const store = new S3ObjectStore(testS3Client(), config.bucket, silentLogger);
  const lock = new DynamoDbLeaseLock(
    testDynamoDbClient(parts.dynamoDbEndpoint),
    { table: config.lockTable, leaseMs: config.leaseMs, waitMs: config.lockWaitMs, clock: parts.clock, ...parts.lock },
    silentLogger,
  );
  const service = new DatabaseService(
    {
      keyPrefix: config.keyPrefix,
      eventualMaxAgeMs: config.eventualMaxAgeMs,
      limits: { maxStatements: 100, maxResultBytes: config.limits.maxResultBytes, maxDatabaseBytes: config.limits.maxDatabaseBytes },
      leaseRenewIntervalMs: 1_000,
      leaseSafetyMarginMs: config.leaseSafetyMarginMs,
      ...parts.service,
    },
    { store, lock, engine: parts.wrapEngine ? parts.wrapEngine(engine) : engine, clock: parts.clock, logger: silentLogger },
  );
  return { service, close: () => engine.close() };
}

/** The stored object's current version id and every version S3 keeps for the database. */
export async function storedVersions(database: string): Promise<{ current?: string; all: string[] }> {
  const config = testConfig();
  const listed = await testS3Client().send(
    new ListObjectVersionsCommand({ Bucket: config.bucket, Prefix: `${config.keyPrefix}${database}.sqlite` }),
  );
  const versions = listed.Versions ?? [];
  return { current: versions.find((v) => v.IsLatest)?.VersionId, all: versions.map((v) => v.VersionId!) };
}

export async function storedBytes(database: string): Promise<Buffer> {
  const config = testConfig();
  const response = await testS3Client().send(new GetObjectCommand({ Bucket: config.bucket, Key: `${config.keyPrefix}${database}.sqlite` }));
  return Buffer.from(await response.Body!.transformToByteArray());
}

/** A promise with its resolve exposed: lets a test hold a writer at a chosen point. */
export function gate(): { opened: Promise<void>; open(): void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

/** Wraps the real engine so each write, once executed, waits for `hold` before it is stored. */
export function holdAfterWrite(hold: () => Promise<void>): (engine: SqlEngine) => SqlEngine {
  return (engine) => ({
    warmVersion: (database) => engine.warmVersion(database),
    firstStatementWrites: (database, program) => engine.firstStatementWrites(database, program),
    read: (request) => engine.read(request),
    write: async (request) => {
      const outcome = await engine.write(request);
      await hold();
      return outcome;
    },
    commitWrite: (writeId, version) => engine.commitWrite(writeId, version),
    abandonWrite: (writeId) => engine.abandonWrite(writeId),
    close: () => engine.close(),
  });
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function script(sql: string, params?: (string | number | null)[]) {
  return { kind: 'script' as const, sql, params };
}
