import { Logger as PowertoolsLogger } from '@aws-lambda-powertools/logger';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import { createDynamoDbClient, createS3Client } from './adapters/aws-clients';
import { DynamoDbLeaseLock } from './adapters/dynamodb-lease-lock';
import { S3ObjectStore } from './adapters/s3-object-store';
import { SqlJsEngine } from './adapters/sqljs/sqljs-engine';
import { loadConfig, type Config } from './config';
import { DatabaseService } from './core/database-service';
import type { Logger } from './core/logger';

/** Everything a handler needs, built once per container (composition root). */
export interface App {
  config: Config;
  service: DatabaseService;
  logger: Logger;
  close(): Promise<void>;
}

export interface AppOverrides {
  s3Client?: S3Client;
  dynamoDbClient?: DynamoDBDocumentClient;
  clock?: () => number;
  logger?: Logger;
}

export function createApp(config: Config, overrides: AppOverrides = {}): App {
  const logger = overrides.logger ?? createLogger(config.logLevel);
  const engine = new SqlJsEngine({
    statementTimeoutMs: config.statementTimeoutMs,
    sqliteHeapLimitBytes: config.sqliteHeapLimitBytes,
    workerHeapLimitMb: config.engineHeapLimitMb,
    warmCacheBytes: config.warmCacheBytes,
  });
  const store = new S3ObjectStore(overrides.s3Client ?? createS3Client(config), config.bucket, logger);
  const lock = new DynamoDbLeaseLock(
    overrides.dynamoDbClient ?? createDynamoDbClient(config),
    { table: config.lockTable, leaseMs: config.leaseMs, waitMs: config.lockWaitMs, clock: overrides.clock },
    logger,
  );
  const service = new DatabaseService(
    {
      keyPrefix: config.keyPrefix,
      eventualMaxAgeMs: config.eventualMaxAgeMs,
      limits: {
        maxStatements: config.limits.maxStatements,
        maxResultBytes: config.limits.maxResultBytes,
        maxDatabaseBytes: config.limits.maxDatabaseBytes,
      },
      // Renew three times per lease so one or two failed renewals still leave it alive.
      leaseRenewIntervalMs: Math.max(100, Math.floor(config.leaseMs / 3)),
      leaseSafetyMarginMs: config.leaseSafetyMarginMs,
    },
    { store, lock, engine, clock: overrides.clock, logger },
  );
  return { config, service, logger, close: () => engine.close() };
}

/** Structured JSON logs through Powertools, behind the core's small Logger interface. */
function createLogger(logLevel: Config['logLevel']): Logger {
  const powertools = new PowertoolsLogger({ serviceName: 'cloudlite', logLevel });
  return {
    debug: (message, fields) => powertools.debug(message, fields ?? {}),
    info: (message, fields) => powertools.info(message, fields ?? {}),
    warn: (message, fields) => powertools.warn(message, fields ?? {}),
    error: (message, fields) => powertools.error(message, fields ?? {}),
  };
}

let shared: App | undefined;

/** The container's app: config is read and validated on first use, at cold start. */
export function sharedApp(): App {
  shared ??= createApp(loadConfig());
  return shared;
}
