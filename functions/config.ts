import { z } from 'zod';

/**
 * The only reader of process.env. Parsed and validated once at cold start; a bad value stops
 * the function from starting with a message naming the variable, instead of failing requests.
 * Tests build Config objects directly.
 */

import { DATABASE_NAME_PATTERN } from './core/database-name';
import { isDatabasePattern, type ApiKey, type Role } from './core/principal';

export type { ApiKey };

// An empty variable (`MAX_PARAMS=`) means "use the default", not 0.
const integer = (fallback: number, min = 0) =>
  z.preprocess((value) => (value === '' ? undefined : value), z.coerce.number().int().min(min).default(fallback));
const optionalString = z.string().trim().min(1).optional().catch(undefined);

const EnvSchema = z.object({
  S3_BUCKET: z.string().trim().min(1),
  S3_ENDPOINT: z.string().url().optional(),
  DB_KEY_PREFIX: z.string().default('databases/'),
  IDEMPOTENCY_KEY_PREFIX: z.string().default('idempotency/'),
  STAGING_KEY_PREFIX: z.string().default('staging/'),
  EXPORT_KEY_PREFIX: z.string().default('exports/'),
  RESTORE_WINDOW_DAYS: integer(30, 1),
  LOCK_TABLE: z.string().trim().min(1),
  DYNAMODB_ENDPOINT: z.string().url().optional(),
  AWS_REGION: z.string().default('us-east-1'),
  // Optional here: only the endpoints that authenticate need keys, and they refuse to start
  // without them (http/auth.ts), so the public functions never hold a secret.
  // Each secret is either a plain value (the local stack, tests) or the name of an SSM parameter
  // read at run time (deployed stages), so the template and the function configuration hold no
  // secret.
  API_KEYS: z.string().trim().default(''),
  API_KEYS_PARAMETER: optionalString,
  FLIGHTS_PASSWORD: optionalString,
  FLIGHTS_PASSWORD_PARAMETER: optionalString,
  KEY_TABLE: optionalString,
  KEY_CACHE_TTL_MS: integer(60_000, 0),
  SECRET_CACHE_TTL_MS: integer(300_000, 0),
  FLIGHTS_DATABASE: z.string().regex(DATABASE_NAME_PATTERN, 'must be a valid database name').default('main'),
  // Origins (scheme://host[:port]) whose browser pages may call the keyed routes; the public
  // routes allow every origin.
  CORS_ALLOWED_ORIGINS: z.string().trim().default(''),
  LOCK_WAIT_MS: integer(10_000, 0),
  LOCK_LEASE_MS: integer(45_000, 1000),
  LEASE_SAFETY_MARGIN_MS: integer(5_000, 0),
  EVENTUAL_MAX_AGE_MS: integer(5_000, 0),
  STATEMENT_TIMEOUT_MS: integer(10_000, 1),
  FUNCTION_TIMEOUT_MS: integer(0, 0),
  // 4 MiB: even base64-encoded by API Gateway it stays under Lambda's 6 MB invocation payload.
  MAX_BODY_BYTES: integer(4_194_304, 1024),
  MAX_STATEMENTS: integer(100, 1),
  MAX_PARAMS: integer(1_000, 0),
  MAX_SQL_LENGTH: integer(100_000, 1),
  MAX_RESULT_BYTES: integer(5_000_000, 1024),
  // A Lambda of 1769 MB holds about three copies of a database during a write; past this size a
  // database could no longer be opened again, so writes that would grow it further are refused.
  MAX_DATABASE_MB: integer(400, 1),
  SQLITE_HEAP_LIMIT_MB: integer(256, 8),
  ENGINE_HEAP_LIMIT_MB: integer(256, 32),
  WARM_CACHE_MB: integer(512, 0),
  S3_REQUEST_TIMEOUT_MS: integer(20_000, 100),
  DYNAMODB_REQUEST_TIMEOUT_MS: integer(3_000, 100),
  LOG_LEVEL: z.enum(['DEBUG', 'INFO', 'WARN', 'ERROR']).default('INFO'),
  // Embedded metric format is a JSON line on stdout that only CloudWatch Logs turns into metrics:
  // on by default inside Lambda, off elsewhere (local server, tests), where it would be noise.
  METRICS: z.preprocess((value) => (value === '' ? undefined : value), z.enum(['off', 'emf']).optional()),
  AWS_LAMBDA_FUNCTION_NAME: optionalString,
  // The metrics' `stage` dimension (serverless.yml sets it), which the stage's alarms select.
  STAGE: z.string().trim().min(1).default('local'),
});

export interface Config {
  bucket: string;
  s3Endpoint?: string;
  keyPrefix: string;
  /** Where stored answers of keyed writes too large to keep inline live (expired by a lifecycle rule). */
  answerPrefix: string;
  /** Presigned import uploads and large SQL dumps (both expired by bucket lifecycle rules). */
  stagingPrefix: string;
  exportPrefix: string;
  /** How long S3 keeps replaced versions (the bucket's noncurrent-version rule). */
  restoreWindowDays: number;
  lockTable: string;
  dynamoDbEndpoint?: string;
  region: string;
  apiKeys: ApiKey[];
  /** SSM parameter holding API_KEYS, read at run time; exclusive with `apiKeys`. */
  apiKeysParameter?: string;
  flightsPassword?: string;
  /** SSM parameter holding the flights password; exclusive with `flightsPassword`. */
  flightsPasswordParameter?: string;
  /** DynamoDB table of tenant keys (partition key `key_hash`); absent = only API_KEYS. */
  keyTable?: string;
  /** How long a container trusts what it read from the key table: a revoked key works at most this long. */
  keyCacheTtlMs: number;
  /** How long a container uses a secret read from SSM before reading it again. */
  secretCacheTtlMs: number;
  flightsDatabase: string;
  /** Browser origins allowed on the keyed routes (POST /sql, POST /flights). */
  corsAllowedOrigins: string[];
  lockWaitMs: number;
  leaseMs: number;
  leaseSafetyMarginMs: number;
  eventualMaxAgeMs: number;
  statementTimeoutMs: number;
  limits: {
    maxBodyBytes: number;
    maxStatements: number;
    maxParams: number;
    maxSqlLength: number;
    maxResultBytes: number;
    /** A write may not grow a database past this (MAX_DATABASE_MB). */
    maxDatabaseBytes: number;
  };
  sqliteHeapLimitBytes: number;
  engineHeapLimitMb: number;
  warmCacheBytes: number;
  s3RequestTimeoutMs: number;
  dynamoDbRequestTimeoutMs: number;
  logLevel: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
  /** `emf`: count through Powertools Metrics (CloudWatch embedded metric format); `off`: count nothing. */
  metrics: { sink: 'off' | 'emf'; stage: string };
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  }
  const e = parsed.data;
  const config: Config = {
    bucket: e.S3_BUCKET,
    s3Endpoint: e.S3_ENDPOINT,
    keyPrefix: e.DB_KEY_PREFIX,
    answerPrefix: e.IDEMPOTENCY_KEY_PREFIX,
    stagingPrefix: e.STAGING_KEY_PREFIX,
    exportPrefix: e.EXPORT_KEY_PREFIX,
    restoreWindowDays: e.RESTORE_WINDOW_DAYS,
    lockTable: e.LOCK_TABLE,
    dynamoDbEndpoint: e.DYNAMODB_ENDPOINT,
    region: e.AWS_REGION,
    apiKeys: parseApiKeys(e.API_KEYS),
    apiKeysParameter: e.API_KEYS_PARAMETER,
    flightsPassword: e.FLIGHTS_PASSWORD,
    flightsPasswordParameter: e.FLIGHTS_PASSWORD_PARAMETER,
    keyTable: e.KEY_TABLE,
    keyCacheTtlMs: e.KEY_CACHE_TTL_MS,
    secretCacheTtlMs: e.SECRET_CACHE_TTL_MS,
    flightsDatabase: e.FLIGHTS_DATABASE,
    corsAllowedOrigins: parseOrigins(e.CORS_ALLOWED_ORIGINS),
    lockWaitMs: e.LOCK_WAIT_MS,
    leaseMs: e.LOCK_LEASE_MS,
    leaseSafetyMarginMs: e.LEASE_SAFETY_MARGIN_MS,
    eventualMaxAgeMs: e.EVENTUAL_MAX_AGE_MS,
    statementTimeoutMs: e.STATEMENT_TIMEOUT_MS,
    limits: {
      maxBodyBytes: e.MAX_BODY_BYTES,
      maxStatements: e.MAX_STATEMENTS,
      maxParams: e.MAX_PARAMS,
      maxSqlLength: e.MAX_SQL_LENGTH,
      maxResultBytes: e.MAX_RESULT_BYTES,
      maxDatabaseBytes: e.MAX_DATABASE_MB * 1024 * 1024,
    },
    sqliteHeapLimitBytes: e.SQLITE_HEAP_LIMIT_MB * 1024 * 1024,
    engineHeapLimitMb: e.ENGINE_HEAP_LIMIT_MB,
    warmCacheBytes: e.WARM_CACHE_MB * 1024 * 1024,
    s3RequestTimeoutMs: e.S3_REQUEST_TIMEOUT_MS,
    dynamoDbRequestTimeoutMs: e.DYNAMODB_REQUEST_TIMEOUT_MS,
    logLevel: e.LOG_LEVEL,
    metrics: { sink: e.METRICS ?? (e.AWS_LAMBDA_FUNCTION_NAME ? 'emf' : 'off'), stage: e.STAGE },
  };
  validate(config, e.FUNCTION_TIMEOUT_MS);
  return config;
}

/** Checks the fields against each other: a lease shorter than a write could take is unsafe. */
export function validate(config: Config, functionTimeoutMs = 0): void {
  const problems: string[] = [];
  if (config.leaseSafetyMarginMs >= config.leaseMs) problems.push('LEASE_SAFETY_MARGIN_MS must be below LOCK_LEASE_MS');
  if (config.statementTimeoutMs + config.leaseSafetyMarginMs >= config.leaseMs) {
    problems.push('LOCK_LEASE_MS must exceed STATEMENT_TIMEOUT_MS + LEASE_SAFETY_MARGIN_MS');
  }
  if (config.apiKeys.length > 0 && config.apiKeysParameter) problems.push('set API_KEYS or API_KEYS_PARAMETER, not both');
  if (config.flightsPassword && config.flightsPasswordParameter) problems.push('set FLIGHTS_PASSWORD or FLIGHTS_PASSWORD_PARAMETER, not both');
  if (functionTimeoutMs > 0) {
    if (config.leaseMs <= functionTimeoutMs) problems.push('LOCK_LEASE_MS must be longer than the function timeout');
    if (config.statementTimeoutMs >= functionTimeoutMs) problems.push('STATEMENT_TIMEOUT_MS must be shorter than the function timeout');
  }
  if (problems.length > 0) throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
}

const EXPIRY = String.raw`\d{4}-\d{2}-\d{2}(?:T[\d:.]+Z)?`;
const KEY_ENTRY = new RegExp(String.raw`^(read|write)(?:@([^:\s]+))?:(?:sha256:([0-9a-fA-F]{64})|([^:\s]{8,}))(?::(${EXPIRY}))?$`);

/**
 * `API_KEYS` is a comma-separated list of `role[@pattern]:key[:expiry]` or
 * `role[@pattern]:sha256:<64 hex>[:expiry]`: role `read` or `write`; `pattern` a database name
 * or a glob (`acme-*`, `*`), all databases when left out; a key of 8+ characters, or its SHA-256
 * digest; expiry an ISO date or UTC date-time. E.g. `write@acme-*:k1-secret,read:k2-secret:2027-01-01`.
 * Entries never echo the key in their error messages.
 */
export function parseApiKeys(value: string): ApiKey[] {
  return value
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0)
    .map((entry, index) => {
      const problem = (what: string) => new ConfigError(`invalid configuration: API_KEYS entry ${index + 1} ${what}`);
      const match = KEY_ENTRY.exec(entry);
      if (!match) {
        throw problem('must be role[@pattern]:key[:expiry] or role[@pattern]:sha256:<64 hex digits>[:expiry], with role read or write and a key of 8+ characters');
      }
      const [, role, databases = '*', sha256, key, expiry] = match;
      if (!isDatabasePattern(databases)) throw problem('has an invalid database pattern (letters a-z, digits, _, - and *)');
      const expiresAtMs = expiry ? Date.parse(expiry.includes('T') ? expiry : `${expiry}T00:00:00Z`) : undefined;
      if (expiresAtMs !== undefined && Number.isNaN(expiresAtMs)) throw problem('has an invalid expiry');
      const secret = sha256 ? { sha256: sha256.toLowerCase() } : { key: key! };
      return { role: role as Role, databases, ...secret, expiresAtMs };
    });
}

/**
 * `CORS_ALLOWED_ORIGINS` is a comma-separated list of exact origins, e.g.
 * `https://app.example.com,http://localhost:5173`. A browser sends its origin exactly so (no
 * path, no trailing slash), and matching is exact, so anything else could never match.
 */
export function parseOrigins(value: string): string[] {
  return value
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0)
    .map((entry, index) => {
      let origin: string | undefined;
      try {
        origin = new URL(entry).origin;
      } catch {
        origin = undefined;
      }
      if (origin !== entry || !/^https?:/.test(entry)) {
        throw new ConfigError(`invalid configuration: CORS_ALLOWED_ORIGINS entry ${index + 1} must be an origin like https://app.example.com (scheme, host and optional port; no path)`);
      }
      return entry;
    });
}
