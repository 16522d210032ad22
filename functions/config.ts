import { z } from 'zod';

/**
 * The only reader of process.env. Parsed and validated once at cold start; a bad value stops
 * the function from starting with a message naming the variable, instead of failing requests.
 * Tests build Config objects directly.
 */

import { DATABASE_NAME_PATTERN } from './core/database-name';
import { isDatabasePattern, type ApiKey, type Role } from './core/principal';

export type { ApiKey };

// An empty variable (`MAX_PARAMS=`, or spaces only) means "use the default", not 0.
const unsetIfEmpty = (value: unknown) => (typeof value === 'string' && value.trim() === '' ? undefined : value);
const integer = (fallback: number, min = 0) => z.preprocess(unsetIfEmpty, z.coerce.number().int().min(min).default(fallback));
const megabytes = (fallback: number, min: number) => integer(fallback, min).transform((mb) => mb * 1024 * 1024);
const optionalString = z.string().trim().min(1).optional().catch(undefined);
// Used verbatim as the start of S3 keys, which the roles (`databases/*`) and lifecycle rules
// name: a space at either end would name keys nothing grants.
const keyPrefix = (fallback: string) => z.string().regex(/^\S(?:.*\S)?$/, 'must not be empty or start or end with a space').default(fallback);

/** One setting: the environment variable it is read from, and the schema that parses it. */
interface Setting<T extends z.ZodType = z.ZodType> {
  variable: string;
  schema: T;
}
const from = <T extends z.ZodType>(variable: string, schema: T): Setting<T> => ({ variable, schema });

/**
 * Every setting, in the shape of `Config`, each variable named once. The comments here are the
 * documentation of the fields (the README's configuration table lists them for operators).
 */
/** Lambda's 6 MB invocation payload holds a base64 body of 3/4 of it, less room for the event's other fields. */
const LARGEST_BODY_BYTES = 4_500_000;

const SETTINGS = {
  bucket: from('S3_BUCKET', z.string().trim().min(1)),
  s3Endpoint: from('S3_ENDPOINT', z.string().url().optional()),
  keyPrefix: from('DB_KEY_PREFIX', keyPrefix('databases/')),
  /** Where stored answers of keyed writes too large to keep inline live (expired by a lifecycle rule). */
  answerPrefix: from('IDEMPOTENCY_KEY_PREFIX', keyPrefix('idempotency/')),
  /** Presigned import uploads and large SQL dumps (both expired by bucket lifecycle rules). */
  stagingPrefix: from('STAGING_KEY_PREFIX', keyPrefix('staging/')),
  exportPrefix: from('EXPORT_KEY_PREFIX', keyPrefix('exports/')),
  /** How long S3 keeps replaced versions (the bucket's noncurrent-version rule). */
  restoreWindowDays: from('RESTORE_WINDOW_DAYS', integer(30, 1)),
  lockTable: from('LOCK_TABLE', z.string().trim().min(1)),
  dynamoDbEndpoint: from('DYNAMODB_ENDPOINT', z.string().url().optional()),
  region: from('AWS_REGION', z.string().default('us-east-1')),
  // Only the endpoints that authenticate need keys, and they refuse to start without them
  // (auth-composition.ts), so the public functions never hold a secret. Each secret is either a
  // plain value (the local stack, tests) or the name of an SSM parameter read at run time
  // (deployed stages), so the template and the function configuration hold no secret.
  apiKeys: from('API_KEYS', z.string().trim().default('').transform((value) => parseApiKeys(value))),
  /** SSM parameter holding API_KEYS, read at run time; exclusive with `apiKeys`. */
  apiKeysParameter: from('API_KEYS_PARAMETER', optionalString),
  flightsPassword: from('FLIGHTS_PASSWORD', optionalString),
  /** SSM parameter holding the flights password; exclusive with `flightsPassword`. */
  flightsPasswordParameter: from('FLIGHTS_PASSWORD_PARAMETER', optionalString),
  /** DynamoDB table of tenant keys (partition key `key_hash`); absent = only API_KEYS. */
  keyTable: from('KEY_TABLE', optionalString),
  /** How long a container trusts what it read from the key table: a revoked key works at most this long. */
  keyCacheTtlMs: from('KEY_CACHE_TTL_MS', integer(60_000, 0)),
  /** How long a container uses a secret read from SSM before reading it again. */
  secretCacheTtlMs: from('SECRET_CACHE_TTL_MS', integer(300_000, 0)),
  flightsDatabase: from('FLIGHTS_DATABASE', z.string().regex(DATABASE_NAME_PATTERN, 'must be a valid database name').default('main')),
  /** Browser origins (scheme://host[:port]) allowed on the keyed routes; the public routes allow every origin. */
  corsAllowedOrigins: from('CORS_ALLOWED_ORIGINS', z.string().trim().default('').transform((value) => parseOrigins(value))),
  lockWaitMs: from('LOCK_WAIT_MS', integer(10_000, 0)),
  leaseMs: from('LOCK_LEASE_MS', integer(45_000, 1000)),
  leaseSafetyMarginMs: from('LEASE_SAFETY_MARGIN_MS', integer(5_000, 0)),
  eventualMaxAgeMs: from('EVENTUAL_MAX_AGE_MS', integer(5_000, 0)),
  statementTimeoutMs: from('STATEMENT_TIMEOUT_MS', integer(10_000, 1)),
  /**
   * How long an imported file's checks (or a SQL dump) may run: PRAGMA integrity_check of a
   * 400 MB file with a few indexes takes 7 to 10 s, and the download and upload around it must
   * fit the function timeout too.
   */
  fileCheckTimeoutMs: from('FILE_CHECK_TIMEOUT_MS', integer(15_000, 1)),
  /** The Lambda timeout (serverless.yml sets it; 0 = unknown), checked against the lease and statement timeout. */
  functionTimeoutMs: from('FUNCTION_TIMEOUT_MS', integer(0, 0)),
  limits: {
    // 4 MiB: even base64-encoded by API Gateway it stays under Lambda's 6 MB invocation payload,
    // which is also why it can be no larger: API Gateway would refuse the body with its own 413.
    maxBodyBytes: from('MAX_BODY_BYTES', integer(4_194_304, 1024).pipe(z.number().max(LARGEST_BODY_BYTES, `must be at most ${LARGEST_BODY_BYTES} (base64 of it fills Lambda's 6 MB payload)`))),
    maxStatements: from('MAX_STATEMENTS', integer(100, 1)),
    maxParams: from('MAX_PARAMS', integer(1_000, 0)),
    maxSqlLength: from('MAX_SQL_LENGTH', integer(100_000, 1)),
    maxResultBytes: from('MAX_RESULT_BYTES', integer(5_000_000, 1024)),
    /**
     * A write may not grow a database past this. A Lambda of 1769 MB holds about three copies of a
     * database during a write; past this size a database could no longer be opened again.
     */
    maxDatabaseBytes: from('MAX_DATABASE_MB', megabytes(400, 1)),
  },
  sqliteHeapLimitBytes: from('SQLITE_HEAP_LIMIT_MB', megabytes(256, 8)),
  engineHeapLimitMb: from('ENGINE_HEAP_LIMIT_MB', integer(256, 32)),
  warmCacheBytes: from('WARM_CACHE_MB', megabytes(512, 0)),
  s3RequestTimeoutMs: from('S3_REQUEST_TIMEOUT_MS', integer(20_000, 100)),
  dynamoDbRequestTimeoutMs: from('DYNAMODB_REQUEST_TIMEOUT_MS', integer(3_000, 100)),
  logLevel: from('LOG_LEVEL', z.enum(['DEBUG', 'INFO', 'WARN', 'ERROR']).default('INFO')),
  metrics: {
    // Embedded metric format is a JSON line on stdout that only CloudWatch Logs turns into
    // metrics: on by default inside Lambda (see `loadConfig`), off elsewhere, where it is noise.
    /** `emf`: count through Powertools Metrics (CloudWatch embedded metric format); `off`: count nothing. */
    sink: from('METRICS', z.preprocess(unsetIfEmpty, z.enum(['off', 'emf']).optional())),
    /** The metrics' `stage` dimension (serverless.yml sets it), which the stage's alarms select. */
    stage: from('STAGE', z.string().trim().min(1).default('local')),
  },
};

type Settings = { [field: string]: Setting | Settings };
/** The parsed shape of some settings; fields that may be undefined are optional. */
type Parsed<S> = OptionalWhereUndefined<{ [K in keyof S]: S[K] extends Setting<infer T> ? z.output<T> : Parsed<S[K]> }>;
type OptionalWhereUndefined<T> = { [K in keyof T as undefined extends T[K] ? never : K]: T[K] } & { [K in keyof T as undefined extends T[K] ? K : never]?: T[K] };

export type Config = Omit<Parsed<typeof SETTINGS>, 'metrics'> & { metrics: { sink: 'off' | 'emf'; stage: string } };

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const problems: string[] = [];
  const parsed = parseSettings(SETTINGS, env, problems) as Parsed<typeof SETTINGS>;
  if (problems.length > 0) throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  const insideLambda = env.AWS_LAMBDA_FUNCTION_NAME !== undefined && env.AWS_LAMBDA_FUNCTION_NAME !== '';
  const config: Config = { ...parsed, metrics: { ...parsed.metrics, sink: parsed.metrics.sink ?? (insideLambda ? 'emf' : 'off') } };
  validate(config);
  return config;
}

/** Parses every setting, collecting each problem under its variable's name. */
function parseSettings(settings: Settings, env: NodeJS.ProcessEnv, problems: string[]): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(settings).map(([field, setting]) => {
      if (!isSetting(setting)) return [field, parseSettings(setting, env, problems)];
      const result = setting.schema.safeParse(env[setting.variable]);
      if (!result.success) problems.push(`${setting.variable}: ${result.error.issues[0]?.message ?? 'invalid'}`);
      return [field, result.data];
    }),
  );
}

function isSetting(value: Setting | Settings): value is Setting {
  return typeof value.variable === 'string' && value.schema instanceof z.ZodType;
}

/** Checks the fields against each other: a lease shorter than a write could take is unsafe. */
export function validate(config: Config): void {
  const { functionTimeoutMs = 0 } = config;
  const problems: string[] = [];
  // A held lease is renewed every third of LOCK_LEASE_MS (app.ts), so just before a renewal it
  // has two thirds left: a margin above that would refuse healthy writes as "about to expire".
  if (config.leaseSafetyMarginMs >= (config.leaseMs * 2) / 3) problems.push('LEASE_SAFETY_MARGIN_MS must be below two thirds of LOCK_LEASE_MS (a lease is renewed every third of it)');
  if (config.statementTimeoutMs + config.leaseSafetyMarginMs >= config.leaseMs) {
    problems.push('LOCK_LEASE_MS must exceed STATEMENT_TIMEOUT_MS + LEASE_SAFETY_MARGIN_MS');
  }
  if (config.apiKeys.length > 0 && config.apiKeysParameter) problems.push('set API_KEYS or API_KEYS_PARAMETER, not both');
  if (config.flightsPassword && config.flightsPasswordParameter) problems.push('set FLIGHTS_PASSWORD or FLIGHTS_PASSWORD_PARAMETER, not both');
  if (functionTimeoutMs > 0) {
    if (config.leaseMs <= functionTimeoutMs) problems.push('LOCK_LEASE_MS must be longer than the function timeout');
    if (config.statementTimeoutMs >= functionTimeoutMs) problems.push('STATEMENT_TIMEOUT_MS must be shorter than the function timeout');
    if (config.fileCheckTimeoutMs >= functionTimeoutMs) problems.push('FILE_CHECK_TIMEOUT_MS must be shorter than the function timeout');
    // A writer waiting for the lock past the deadline would be answered WRITE_OUTCOME_UNKNOWN, not LOCK_TIMEOUT.
    if (config.lockWaitMs >= functionTimeoutMs) problems.push('LOCK_WAIT_MS must be shorter than the function timeout');
  }
  problems.push(...prefixProblems(config));
  if (problems.length > 0) throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
}

/**
 * The bucket's lifecycle rules expire everything under the staging and export prefixes after a
 * day and under the idempotency prefix after three, current versions included; an import may
 * take any key under the staging prefix. So no side prefix may be a start of the databases'
 * prefix (the rule would expire databases, an import could name one) or of another side prefix.
 */
function prefixProblems(config: Config): string[] {
  const prefixes: [string, string][] = [
    ['DB_KEY_PREFIX', config.keyPrefix],
    ['IDEMPOTENCY_KEY_PREFIX', config.answerPrefix],
    ['STAGING_KEY_PREFIX', config.stagingPrefix],
    ['EXPORT_KEY_PREFIX', config.exportPrefix],
  ];
  const problems: string[] = [];
  for (const [side, sidePrefix] of prefixes.slice(1)) {
    for (const [other, otherPrefix] of prefixes) {
      if (other !== side && otherPrefix.startsWith(sidePrefix)) problems.push(`${side} ("${sidePrefix}") must not be the start of ${other} ("${otherPrefix}")`);
    }
    // Database keys are DB_KEY_PREFIX + name + ".sqlite", names without "/": a side prefix that
    // continues DB_KEY_PREFIX without a "/" is the start of some database's key.
    if (sidePrefix.startsWith(config.keyPrefix) && sidePrefix !== config.keyPrefix && !sidePrefix.slice(config.keyPrefix.length).includes('/')) {
      problems.push(`${side} ("${sidePrefix}") must not be the start of database keys under DB_KEY_PREFIX ("${config.keyPrefix}"): end its part after the prefix with "/"`);
    }
  }
  return problems;
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
