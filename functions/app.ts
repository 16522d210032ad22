import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import { createDynamoDbClient, createS3Client } from './adapters/aws-clients';
import { DynamoDbIdempotencyStore, DynamoDbLeaseLock, type LeaseLockOptions } from './adapters/dynamodb-lease-lock';
import { PowertoolsMetrics } from './adapters/powertools-metrics';
import { S3ObjectStore } from './adapters/s3-object-store';
import { SqlJsFileInspector } from './adapters/sqljs/database-file-inspector';
import { SqlJsEngine } from './adapters/sqljs/sqljs-engine';
import type { Config } from './config';
import { DatabaseLifecycle, VersionHistory } from './core/database-lifecycle';
import { DatabaseService, type DatabaseServiceOptions } from './core/database-service';
import type { Logger } from './core/logger';
import { createLogger } from './logging';
import type { SqlEngine } from './core/ports';
import { metricsOfEvent, noMetrics, type RequestMetrics } from './http/metrics';

export { createLogger };

/**
 * The composition root: the one place that builds the database service from config. Handlers
 * call it at module scope (once per container); tests call it too, with overrides for the knobs
 * they turn, so no test wires the service differently from production.
 */
export interface ServiceOverrides {
  s3Client?: S3Client;
  dynamoDbClient?: DynamoDBDocumentClient;
  clock?: () => number;
  /** Lets a test pause the real engine at a chosen point. */
  wrapEngine?: (engine: SqlEngine) => SqlEngine;
  lock?: Partial<LeaseLockOptions>;
  service?: Partial<DatabaseServiceOptions>;
  /** Start the SQL worker now (handlers at init: a cold start then overlaps its WASM compile). */
  prestartEngine?: boolean;
}

export interface BuiltService {
  service: DatabaseService;
  /** List, versions, restore, export, import, clone, delete: on the service's one write path. */
  lifecycle: DatabaseLifecycle;
  close(): Promise<void>;
}

/** `metrics` also counts what happens inside the service (read fallbacks, replays); the edge flushes it. */
export function buildDatabaseService(config: Config, logger: Logger, overrides: ServiceOverrides = {}, metrics: RequestMetrics = noMetrics): BuiltService {
  const engine = new SqlJsEngine({
    statementTimeoutMs: config.statementTimeoutMs,
    sqliteHeapLimitBytes: config.sqliteHeapLimitBytes,
    workerHeapLimitMb: config.engineHeapLimitMb,
    warmCacheBytes: config.warmCacheBytes,
  });
  const dynamoDb = overrides.dynamoDbClient ?? createDynamoDbClient(config);
  const store = new S3ObjectStore(overrides.s3Client ?? createS3Client(config), config.bucket);
  const lock = new DynamoDbLeaseLock(
    dynamoDb,
    { table: config.lockTable, leaseMs: config.leaseMs, waitMs: config.lockWaitMs, clock: overrides.clock, ...overrides.lock },
    logger,
  );
  const leaseMs = overrides.lock?.leaseMs ?? config.leaseMs;
  const pastVersions = new VersionHistory(store, lock, config.keyPrefix);
  const service = new DatabaseService(
    {
      keyPrefix: config.keyPrefix,
      answerPrefix: config.answerPrefix,
      eventualMaxAgeMs: config.eventualMaxAgeMs,
      limits: { maxStatements: config.limits.maxStatements, maxResultBytes: config.limits.maxResultBytes, maxDatabaseBytes: config.limits.maxDatabaseBytes },
      // Renew three times per lease so one or two failed renewals still leave it alive.
      leaseRenewIntervalMs: Math.max(100, Math.floor(leaseMs / 3)),
      leaseSafetyMarginMs: config.leaseSafetyMarginMs,
      ...overrides.service,
    },
    {
      store,
      lock,
      idempotency: new DynamoDbIdempotencyStore(dynamoDb, config.lockTable, overrides.clock),
      engine: overrides.wrapEngine ? overrides.wrapEngine(engine) : engine,
      pastVersions,
      clock: overrides.clock,
      logger,
      onEvent: (event) => metricsOfEvent(event).forEach((name) => metrics.count(name)),
    },
  );
  const inspector = new SqlJsFileInspector({
    timeoutMs: config.fileCheckTimeoutMs,
    heapLimitMb: config.engineHeapLimitMb,
    sqliteHeapLimitBytes: config.sqliteHeapLimitBytes,
    // With the open database beside it (up to MAX_DATABASE_MB) and the engine's warm copies, a
    // larger dump would not fit a 1769 MB function; the file export has no such bound.
    maxDumpBytes: 128 * 1024 * 1024,
  });
  const lifecycle = new DatabaseLifecycle(
    {
      keyPrefix: config.keyPrefix,
      stagingPrefix: config.stagingPrefix,
      exportPrefix: config.exportPrefix,
      maxDatabaseBytes: config.limits.maxDatabaseBytes,
      // Lambda answers at most 6 MB (6,291,456 bytes), headers and the response's own JSON included.
      inlineTransferBytes: 5_900_000,
      presignExpirySeconds: 900,
      rowCountLimit: 10_000,
      restoreWindowDays: config.restoreWindowDays,
    },
    { service, history: pastVersions, store, archive: store, lock, inspector },
  );
  if (overrides.prestartEngine) engine.prestart();
  return { service, lifecycle, close: () => engine.close() };
}

/** What the edge counts: embedded metric format inside Lambda, nothing elsewhere (config decides). */
export function createMetrics(config: Config): RequestMetrics {
  return config.metrics.sink === 'emf' ? new PowertoolsMetrics(config.metrics.stage) : noMetrics;
}
