import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoDbIdempotencyStore } from '../../functions/adapters/dynamodb-lease-lock';
import { DynamoDbKeyTable } from '../../functions/adapters/dynamodb-key-table';
import { DatabaseService, type SqlRequest, type SqlResponse } from '../../functions/core/database-service';
import { StorageUnavailableError, WriteOutcomeUnknownError } from '../../functions/core/errors';
import type { Logger } from '../../functions/core/logger';
import { metricsOfFailure } from '../../functions/http/metrics';
import type { HttpResponse } from '../../functions/http/responses';
import { createSqlHandler } from '../../functions/http/sql-routes';
import { createLogger } from '../../functions/logging';
import { SERVICE_OPTIONS, FakeClock, FakeEngine, FakeIdempotencyStore, FakeLeaseLock, FakeObjectStore } from '../helpers/fakes';

/**
 * What the operator on call has at 3 a.m.: the one access-log line per request (with its
 * phase timings), and the metrics the alarms (infra/alarms.yml) watch. docs/deploy.md, "Alarms and
 * metrics": on an unknown outcome, "find the request in the logs (code: WRITE_OUTCOME_UNKNOWN;
 * the error body and log carry the write_id ...) and check the client did [retry with its
 * Idempotency-Key]".
 */

const WRITE_KEY = 'unit-write-key-01';
const config = {
  apiKeys: [{ role: 'write' as const, databases: '*', key: WRITE_KEY }],
  keyCacheTtlMs: 60_000,
  secretCacheTtlMs: 300_000,
  region: 'us-east-1',
  dynamoDbRequestTimeoutMs: 1_000,
  limits: { maxBodyBytes: 1024, maxStatements: 10, maxParams: 10, maxSqlLength: 1000, maxResultBytes: 100_000, maxDatabaseBytes: 1_000_000 },
  corsAllowedOrigins: [],
};

function recordingLogger() {
  const lines: { level: string; message: string; fields: Record<string, unknown> }[] = [];
  const at = (level: string) => (message: string, fields?: Record<string, unknown>) => void lines.push({ level, message, fields: fields ?? {} });
  const logger: Logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
  return { lines, logger };
}

const service = (run: (request: SqlRequest) => Promise<SqlResponse>) => ({ execute: run, write: (request: Omit<SqlRequest, 'consistency'>) => run({ ...request, consistency: 'strong' }) });

function keyedPost(body: unknown, headers: Record<string, string> = {}): APIGatewayProxyEventV2 {
  return {
    version: '2.0',
    routeKey: 'POST /sql',
    rawPath: '/sql',
    rawQueryString: '',
    headers: { authorization: `Bearer ${WRITE_KEY}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
    isBase64Encoded: false,
    requestContext: { requestId: 'apigw-obs-1', http: { method: 'POST', path: '/sql' }, routeKey: 'POST /sql' } as APIGatewayProxyEventV2['requestContext'],
  };
}

type Invoke = (event: APIGatewayProxyEventV2, context: Context) => Promise<HttpResponse>;
const invoke = (handler: unknown, event: APIGatewayProxyEventV2) => (handler as Invoke)(event, { awsRequestId: 'lambda-obs-1' } as Context);

const written = (replayed: boolean): SqlResponse => ({
  results: [{ columns: [], rows: [], changes: 1, lastInsertRowid: 1n }],
  meta: { database: 'shop', version: 'v-7', wrote: true, duration_ms: 1, timings: { lock_ms: 0, load_ms: 0, exec_ms: 0, store_ms: 0 }, ...(replayed && { replayed: true as const }) },
});

describe('the access line lets an operator settle an unknown outcome', () => {
  it('an unknown outcome is logged at error level, so a stage with LOG_LEVEL=ERROR still has the line its alarm sends the operator to', async () => {
    // The alarm fires on one unknown outcome ("one is enough to look"); error-table.ts: "error: someone must look".
    const stdout = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const stderr = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const logger = createLogger('ERROR');
      const failing = service(async () => {
        throw new WriteOutcomeUnknownError('w-123', { cause: new StorageUnavailableError('the object store could not write the database; retry') });
      });

      const response = await invoke(createSqlHandler({ config, logger, service: failing }), keyedPost({ database: 'shop', sql_statement: 'INSERT INTO t VALUES (1)' }));

      expect(response.statusCode).toBe(503);
      const printed = [...stdout.mock.calls, ...stderr.mock.calls].map(([chunk]) => String(chunk)).filter((line) => line.includes('"message":"request"'));
      expect(printed).toHaveLength(1);
      expect(JSON.parse(printed[0]!)).toMatchObject({ level: 'ERROR', code: 'WRITE_OUTCOME_UNKNOWN', database: 'shop' });
    } finally {
      stdout.mockRestore();
      stderr.mockRestore();
    }
  });

  it("the unknown outcome's line carries its write id and the request's Idempotency-Key as fields", async () => {
    const { lines, logger } = recordingLogger();
    const failing = service(async () => {
      throw new WriteOutcomeUnknownError('w-123');
    });

    await invoke(createSqlHandler({ config, logger, service: failing }), keyedPost({ database: 'shop', sql_statement: 'INSERT INTO t VALUES (1)' }, { 'idempotency-key': 'order-42' }));

    expect(lines).toHaveLength(1);
    expect(lines[0]!.fields).toMatchObject({ code: 'WRITE_OUTCOME_UNKNOWN', database: 'shop', writeId: 'w-123', idempotencyKey: 'order-42' });
  });

  it("the retry that settles it is visible: a replayed answer's line says replayed (not wrote) and names the same Idempotency-Key", async () => {
    const { lines, logger } = recordingLogger();

    const response = await invoke(
      createSqlHandler({ config, logger, service: service(async () => written(true)) }),
      keyedPost({ database: 'shop', sql_statement: 'INSERT INTO t VALUES (1)' }, { 'idempotency-key': 'order-42' }),
    );

    expect(JSON.parse(response.body).meta.replayed).toBe(true);
    expect(lines).toHaveLength(1);
    // This request stored nothing: a line saying wrote:true makes every retried write count twice.
    expect(lines[0]!.fields).toMatchObject({ status: 200, database: 'shop', replayed: true, idempotencyKey: 'order-42', version: 'v-7' });
    expect(lines[0]!.fields.wrote).not.toBe(true);
  });
});

describe('where the time of a request went', () => {
  it("is in the request's own access line (lock, load, exec, store), never in lines of their own that no request id ties together", async () => {
    const clock = new FakeClock();
    const { lines, logger } = recordingLogger();
    const databaseService = new DatabaseService(SERVICE_OPTIONS, {
      store: new FakeObjectStore(),
      lock: new FakeLeaseLock(clock),
      idempotency: new FakeIdempotencyStore(),
      engine: new FakeEngine(),
      clock: clock.now,
      logger,
    });

    await invoke(createSqlHandler({ config, logger, service: databaseService }), keyedPost({ database: 'shop', sql_statement: 'ADD a' }));

    expect(lines.map((line) => line.message)).toEqual(['request']);
    expect(lines[0]!.fields).toMatchObject({ requestId: 'apigw-obs-1', database: 'shop', timings: { lock_ms: expect.any(Number), load_ms: expect.any(Number), exec_ms: expect.any(Number), store_ms: expect.any(Number) } });
  });
});

describe('Throttles counts every DynamoDB refusal for load that fails a request', () => {
  // docs/deploy.md: "Throttles | DynamoDB or S3 refused for load (after the SDK's retries): a failed request".
  const throttled = Object.assign(new Error('Rate of requests exceeds the allowed throughput.'), { name: 'ThrottlingException' });
  const client = { send: async () => Promise.reject(throttled) } as unknown as DynamoDBDocumentClient;

  it('a throttled idempotency-record read (the GetItem every keyed write makes) counts as a throttle', async () => {
    const error = await new DynamoDbIdempotencyStore(client, 'locks').find('shop', 'order-42').catch((e: unknown) => e);

    expect(error).toBeInstanceOf(StorageUnavailableError);
    expect(metricsOfFailure('STORAGE_UNAVAILABLE', error)).toContain('Throttles');
  });

  it('a throttled key-table lookup (a key not in API_KEYS) counts as a throttle', async () => {
    const error = await new DynamoDbKeyTable(client, 'keys').find('ab'.repeat(32)).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(StorageUnavailableError);
    expect(metricsOfFailure('STORAGE_UNAVAILABLE', error)).toContain('Throttles');
  });
});

describe('a request answered at the function deadline', () => {
  it('whose change finishes later logs how it ended, under the same request id, so the unknown outcome can be settled from the logs', async () => {
    const { lines, logger } = recordingLogger();
    let finish!: () => void;
    const finished = new Promise<void>((resolve) => (finish = resolve));
    const slowWrite = service(async (request) => {
      request.onChanging?.();
      await finished;
      return written(false);
    });
    const nearTheLimit = { awsRequestId: 'lambda-late', getRemainingTimeInMillis: () => 300 } as Context;

    const response = await (createSqlHandler({ config, logger, service: slowWrite }) as unknown as Invoke)(
      keyedPost({ database: 'shop', sql_statement: 'INSERT INTO t VALUES (1)' }, { 'idempotency-key': 'order-43' }),
      nearTheLimit,
    );
    expect(JSON.parse(response.body).error.code).toBe('WRITE_OUTCOME_UNKNOWN');
    finish();
    await new Promise((resolve) => setImmediate(resolve));

    // The answer said "unknown"; once the write is known (it stored v-7), the log says so.
    expect(lines.map((line) => line.fields.requestId)).toEqual(['apigw-obs-1', 'apigw-obs-1']);
    expect(lines[1]!.fields).toMatchObject({ database: 'shop', version: 'v-7' });
  });
});
