import { randomBytes } from 'node:crypto';
import { S3Client } from '@aws-sdk/client-s3';
import type { ServiceOverrides } from '../../functions/app';
import { createApp, createRoutes, type App } from '../../functions/all-routes';
import { createDynamoDbClient, createS3Client } from '../../functions/adapters/aws-clients';
import type { Config } from '../../functions/config';
import { silentLogger, type Logger } from '../../functions/core/logger';
import { startLocalApi, type LocalApi } from '../../infra/local/api-gateway';

export const WRITE_KEY = 'test-write-key-0001';
export const READ_KEY = 'test-read-key-0001';
export const FLIGHTS_PASSWORD = 'test-flights-password';
/** The one browser origin the test stage allows on its keyed routes. */
export const ALLOWED_ORIGIN = 'https://app.example.test';

/** Config for tests, built directly (never by mutating process.env), pointing at the global stack. */
export function testConfig(overrides: Partial<Config> = {}): Config {
  const env = process.env;
  if (!env.S3_BUCKET || !env.LOCK_TABLE) throw new Error('no test target: jest globalSetup starts the local stack (or run npm run test:localstack / test:aws)');
  return {
    bucket: env.S3_BUCKET!,
    s3Endpoint: env.S3_ENDPOINT,
    keyPrefix: 'databases/',
    answerPrefix: 'idempotency/',
    stagingPrefix: 'staging/',
    exportPrefix: 'exports/',
    restoreWindowDays: 30,
    lockTable: env.LOCK_TABLE!,
    dynamoDbEndpoint: env.DYNAMODB_ENDPOINT,
    region: env.AWS_REGION ?? 'us-east-1',
    apiKeys: [
      { role: 'write', databases: '*', key: WRITE_KEY },
      { role: 'read', databases: '*', key: READ_KEY },
      { role: 'write', databases: '*', key: 'test-expired-key-01', expiresAtMs: Date.parse('2020-01-01T00:00:00Z') },
    ],
    keyTable: env.KEY_TABLE,
    keyCacheTtlMs: 60_000,
    secretCacheTtlMs: 300_000,
    flightsPassword: FLIGHTS_PASSWORD,
    flightsDatabase: uniqueDatabase('flights'),
    corsAllowedOrigins: [ALLOWED_ORIGIN],
    lockWaitMs: 5_000,
    leaseMs: 15_000,
    leaseSafetyMarginMs: 2_000,
    eventualMaxAgeMs: 5_000,
    statementTimeoutMs: 5_000,
    fileCheckTimeoutMs: 10_000,
    functionTimeoutMs: 0,
    limits: { maxBodyBytes: 1_048_576, maxStatements: 100, maxParams: 1_000, maxSqlLength: 100_000, maxResultBytes: 5_000_000, maxDatabaseBytes: 64 * 1024 * 1024 },
    sqliteHeapLimitBytes: 128 * 1024 * 1024,
    engineHeapLimitMb: 256,
    warmCacheBytes: 64 * 1024 * 1024,
    s3RequestTimeoutMs: 5_000,
    dynamoDbRequestTimeoutMs: 2_000,
    logLevel: 'ERROR',
    metrics: { sink: 'off', stage: 'test' },
    ...overrides,
  };
}

/** A database name no other test uses, so test files can share one bucket. */
export function uniqueDatabase(prefix: string): string {
  return `${prefix}-${randomBytes(5).toString('hex')}`;
}

export interface TestApi {
  url: string;
  app: App;
  close(): Promise<void>;
}

/** The real handlers, wired as in production, behind the local API gateway adapter, on a random port. */
export async function startTestApi(config: Config = testConfig(), overrides: ServiceOverrides = {}, logger: Logger = silentLogger): Promise<TestApi> {
  const app = createApp(config, logger, overrides);
  const api: LocalApi = await startLocalApi(createRoutes(app), { port: 0 });
  return {
    url: api.url,
    app,
    close: async () => {
      await api.close();
      await app.close();
    },
  };
}

export interface SqlCall {
  status: number;
  headers: Headers;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/**
 * Any route of the API at `url`: a body sent as is when it is bytes or text, else as JSON; the
 * answer's bytes, and its parsed JSON when it is JSON (an export is not).
 */
export function apiCaller(url: string) {
  return async (method: string, path: string, body?: unknown, key = WRITE_KEY, contentType = 'application/json', idempotencyKey?: string) => {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body !== undefined && { 'content-type': contentType }), ...(idempotencyKey !== undefined && { 'idempotency-key': idempotencyKey }) },
      body: body === undefined ? undefined : body instanceof Uint8Array || typeof body === 'string' ? body : JSON.stringify(body),
    });
    const bytes = new Uint8Array(await response.arrayBuffer());
    const isJson = response.headers.get('content-type')?.includes('json');
    return { status: response.status, headers: response.headers, bytes, body: isJson ? JSON.parse(Buffer.from(bytes).toString()) : undefined };
  };
}

/** POSTs a JSON body to /sql (or another path) and returns status, headers and parsed JSON. */
export async function postJson(url: string, body: unknown, key: string | undefined = WRITE_KEY, path = '/sql'): Promise<SqlCall> {
  const response = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined };
}

export function testS3Client(): S3Client {
  return createS3Client(testConfig());
}

export function testDynamoDbClient(endpoint = process.env.DYNAMODB_ENDPOINT) {
  return createDynamoDbClient({ ...testConfig(), dynamoDbEndpoint: endpoint });
}
