import { Logger as PowertoolsLogger } from '@aws-lambda-powertools/logger';
import { createDynamoDbClient, createS3Client } from './adapters/aws-clients';
import { DynamoDbLeaseLock } from './adapters/dynamodb-lease-lock';
import { S3ObjectStore } from './adapters/s3-object-store';
import { SqlJsEngine } from './adapters/sqljs/sqljs-engine';
import type { Config } from './config';
import { DatabaseService } from './core/database-service';
import type { Logger } from './core/logger';
import type { LeaseLock } from './core/ports';
import { createFlightsReplaceHandler, createFlightsSearchHandler } from './flights/flights-routes';
import { createPreflightHandler } from './http/cors';
import { createHealthHandler } from './http/health-route';
import { createOpenApiHandler } from './http/openapi-route';
import { createSqlHandler } from './http/sql-routes';

/**
 * The composition root. Each Lambda entry point (functions/handlers/) builds only what its route
 * uses from these two builders; processes that serve every route at once (the local server,
 * tests, bench, soak) use `createApp` and `createRoutes`, the same wiring.
 */

export interface DatabaseServiceOverrides {
  /** A function that only reads gets a lock that refuses, instead of a DynamoDB client. */
  readOnly?: boolean;
  clock?: () => number;
}

export interface BuiltDatabaseService {
  service: DatabaseService;
  /** Stops the engine's worker. */
  close(): Promise<void>;
}

export function buildDatabaseService(config: Config, logger: Logger, overrides: DatabaseServiceOverrides = {}): BuiltDatabaseService {
  const engine = new SqlJsEngine({
    statementTimeoutMs: config.statementTimeoutMs,
    sqliteHeapLimitBytes: config.sqliteHeapLimitBytes,
    workerHeapLimitMb: config.engineHeapLimitMb,
    warmCacheBytes: config.warmCacheBytes,
  });
  const store = new S3ObjectStore(createS3Client(config), config.bucket, logger);
  const lock = overrides.readOnly
    ? refusingLock
    : new DynamoDbLeaseLock(createDynamoDbClient(config), { table: config.lockTable, leaseMs: config.leaseMs, waitMs: config.lockWaitMs, clock: overrides.clock }, logger);
  const service = new DatabaseService(
    {
      keyPrefix: config.keyPrefix,
      eventualMaxAgeMs: config.eventualMaxAgeMs,
      limits: { maxStatements: config.limits.maxStatements, maxResultBytes: config.limits.maxResultBytes },
      // Renew three times per lease so one or two failed renewals still leave it alive.
      leaseRenewIntervalMs: Math.max(100, Math.floor(config.leaseMs / 3)),
      leaseSafetyMarginMs: config.leaseSafetyMarginMs,
    },
    { store, lock, engine, clock: overrides.clock, logger },
  );
  return { service, close: () => engine.close() };
}

/** Reaching the write path from a read-only function is a bug in our code: fail loudly (a 500). */
const refusingLock: LeaseLock = {
  acquire: () => Promise.reject(new Error('this function only reads: it has no lock')),
  renew: () => Promise.reject(new Error('this function only reads: it has no lock')),
  release: () => Promise.resolve(),
};

/** Structured JSON logs through Powertools, behind the core's small Logger interface. */
export function createLogger(logLevel: Config['logLevel']): Logger {
  const powertools = new PowertoolsLogger({ serviceName: 'cloudlite', logLevel });
  return {
    debug: (message, fields) => powertools.debug(message, fields ?? {}),
    info: (message, fields) => powertools.info(message, fields ?? {}),
    warn: (message, fields) => powertools.warn(message, fields ?? {}),
    error: (message, fields) => powertools.error(message, fields ?? {}),
  };
}

/** Every route served by one process (local server, tests): one service shared by all routes. */
export interface App extends BuiltDatabaseService {
  config: Config;
  logger: Logger;
}

export function createApp(config: Config, logger: Logger = createLogger(config.logLevel)): App {
  return { config, logger, ...buildDatabaseService(config, logger) };
}

/** Every HTTP route and its handler; serverless.yml declares the same routes for API Gateway. */
export function createRoutes(app: App) {
  const deps = { config: app.config, logger: app.logger, service: app.service };
  const preflight = createPreflightHandler(deps);
  return {
    'POST /sql': createSqlHandler(deps),
    'GET /health': createHealthHandler(deps),
    'GET /flights': createFlightsSearchHandler(deps),
    'POST /flights': createFlightsReplaceHandler(deps),
    'GET /openapi.json': createOpenApiHandler(deps),
    'OPTIONS /sql': preflight,
    'OPTIONS /health': preflight,
    'OPTIONS /flights': preflight,
    'OPTIONS /openapi.json': preflight,
  };
}
