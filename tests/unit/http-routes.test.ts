import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import type { SqlRequest, SqlResponse } from '../../functions/core/database-service';
import { SqlError, StorageUnavailableError } from '../../functions/core/errors';
import type { Logger } from '../../functions/core/logger';
import { createFlightsSearchHandler, matchesEtag } from '../../functions/flights/flights-routes';
import { createPreflightHandler } from '../../functions/http/cors';
import type { DatabaseLifecycle } from '../../functions/core/database-lifecycle';
import { createLifecycleRoutes } from '../../functions/http/database-routes';
import { createHealthHandler } from '../../functions/http/health-route';
import type { HttpResponse } from '../../functions/http/responses';
import { createSqlHandler, objectKeys } from '../../functions/http/sql-routes';

/**
 * The HTTP layer on its own: real handlers and middlewares, a fake service as small as the
 * question (it records what it was asked and answers what the test says), and no network.
 */

const WRITE_KEY = 'unit-write-key-01';
const ORIGIN = 'https://app.example.test';
const limits = { maxBodyBytes: 1024, maxStatements: 10, maxParams: 10, maxSqlLength: 1000, maxResultBytes: 100_000, maxDatabaseBytes: 1_000_000 };
const config = {
  apiKeys: [{ role: 'write' as const, databases: '*', key: WRITE_KEY }],
  keyCacheTtlMs: 60_000,
  secretCacheTtlMs: 300_000,
  region: 'us-east-1',
  dynamoDbRequestTimeoutMs: 1_000,
  limits,
  corsAllowedOrigins: [ORIGIN],
  flightsDatabase: 'flights',
  eventualMaxAgeMs: 5_000,
};

function answer(results: SqlResponse['results'] = [], version = 'v1'): SqlResponse {
  return { results, meta: { database: 'main', version, wrote: false, duration_ms: 1, timings: { lock_ms: 0, load_ms: 0, exec_ms: 0, store_ms: 0 } } };
}

function fakeService(run: (request: SqlRequest) => Promise<SqlResponse> = async () => answer()) {
  const requests: SqlRequest[] = [];
  return { requests, execute: async (request: SqlRequest) => (requests.push(request), run(request)), write: async (request: Omit<SqlRequest, 'consistency'>) => run({ ...request, consistency: 'strong' }) };
}

function recordingLogger() {
  const lines: { level: string; message: string; fields: Record<string, unknown> }[] = [];
  const at = (level: string) => (message: string, fields?: Record<string, unknown>) => void lines.push({ level, message, fields: fields ?? {} });
  const logger: Logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
  return { lines, logger };
}

let sequence = 0;
function event(method: string, path: string, options: { body?: string; headers?: Record<string, string>; query?: Record<string, string> } = {}): APIGatewayProxyEventV2 {
  const requestId = `apigw-${++sequence}`;
  return {
    version: '2.0',
    routeKey: `${method} ${path}`,
    rawPath: path,
    rawQueryString: new URLSearchParams(options.query ?? {}).toString(),
    headers: { ...options.headers },
    queryStringParameters: options.query,
    body: options.body,
    isBase64Encoded: false,
    requestContext: { requestId, http: { method, path }, routeKey: `${method} ${path}` } as APIGatewayProxyEventV2['requestContext'],
  };
}

const context = () => ({ awsRequestId: `lambda-${sequence}` }) as Context;
type Invoke = (event: APIGatewayProxyEventV2, context: Context) => Promise<HttpResponse>;
const call = (handler: unknown, e: APIGatewayProxyEventV2) => (handler as Invoke)(e, context());

const keyed = (contentType: string | undefined, body: string, extra: Record<string, string> = {}) => ({
  body,
  headers: { authorization: `Bearer ${WRITE_KEY}`, ...(contentType ? { 'content-type': contentType } : {}), ...extra },
});

describe('POST /sql bodies', () => {
  it.each([
    ['JSON', 'application/json', '{"sql_statement": "SELECT 1"}', 'SELECT 1'],
    ["a JSON object under curl's default form type", 'application/x-www-form-urlencoded', '  {"sql_statement": "SELECT 1"}', 'SELECT 1'],
    ["a form under curl's default type", 'application/x-www-form-urlencoded', 'sql_statement=SELECT+1%3B&database=main', 'SELECT 1;'],
    // http-api.md: "after leading whitespace: `{` → JSON; `sql_statement=` → form" (a file posted with -d @form.txt may start with a newline)
    ["a form after leading white space under curl's default type", 'application/x-www-form-urlencoded', '\n  sql_statement=SELECT+1%3B&database=main', 'SELECT 1;'],
    ["raw SQL under curl's default type", 'application/x-www-form-urlencoded', 'SELECT 1', 'SELECT 1'],
    ['application/sql, newlines and comments kept', 'application/sql', '-- count\nSELECT 1;\nSELECT 2', '-- count\nSELECT 1;\nSELECT 2'],
    ['text/plain with a charset', 'text/plain; charset=utf-8', 'SELECT 1', 'SELECT 1'],
  ])('reads %s', async (_name, contentType, body, sql) => {
    const service = fakeService();
    const response = await call(createSqlHandler({ config, logger: recordingLogger().logger, service }), event('POST', '/sql', keyed(contentType, body)));
    expect(response.statusCode).toBe(200);
    expect(service.requests[0]!.program).toEqual({ kind: 'script', sql, params: undefined });
  });

  it.each([
    ['malformed JSON (through the middy parser)', 'application/json', '{"sql_statement": }', 400, 'BAD_REQUEST', /not valid JSON/],
    ['invalid UTF-8', 'application/sql', Buffer.from([0x53, 0xff]).toString('latin1'), 400, 'BAD_REQUEST', /UTF-8/],
    ['XML', 'application/xml', '<sql/>', 415, 'UNSUPPORTED_MEDIA_TYPE', /application\/sql/],
    ['no content type', undefined, 'SELECT 1', 415, 'UNSUPPORTED_MEDIA_TYPE', /application\/json/],
    ['an empty body', 'application/sql', '', 400, 'BAD_REQUEST', /empty/],
    ['a body over the limit', 'application/sql', `SELECT '${'x'.repeat(2000)}'`, 413, 'PAYLOAD_TOO_LARGE', /limit is 1024/],
  ])('refuses %s', async (_name, contentType, body, status, code, message) => {
    const e = event('POST', '/sql', keyed(contentType, body));
    // The local gateway and API Gateway pass bytes that are not UTF-8 base64-encoded.
    if (_name === 'invalid UTF-8') Object.assign(e, { body: Buffer.from([0x53, 0xff]).toString('base64'), isBase64Encoded: true });
    const response = await call(createSqlHandler({ config, logger: recordingLogger().logger, service: fakeService() }), e);
    expect(response.statusCode).toBe(status);
    expect(JSON.parse(response.body).error).toMatchObject({ code, message: expect.stringMatching(message), request_id: e.requestContext.requestId });
  });
});

describe('answers', () => {
  it('carry x-request-id, answer rows as objects on request, and write one log line with both request ids', async () => {
    const { lines, logger } = recordingLogger();
    const service = fakeService(async () => answer([{ columns: ['id', 'id', 'id:1'], rows: [[1n, 2n, 3n]], changes: 0, lastInsertRowid: null }]));
    const e = event('POST', '/sql', { ...keyed('application/sql', 'SELECT a.id, b.id, 3 AS "id:1" FROM a, b'), query: { rows: 'objects' } });
    const response = await call(createSqlHandler({ config, logger, service }), e);
    expect(response.headers['x-request-id']).toBe(e.requestContext.requestId);
    expect(JSON.parse(response.body).results[0].rows).toEqual([{ id: 1, 'id:2': 2, 'id:1': 3 }]);
    expect(lines).toEqual([{ level: 'info', message: 'request', fields: expect.objectContaining({ requestId: e.requestContext.requestId, awsRequestId: `lambda-${sequence}`, status: 200, database: 'main' }) }]);
  });

  it('hide an unexpected failure from the caller and log it once, with the request id', async () => {
    const { lines, logger } = recordingLogger();
    const service = fakeService(async () => {
      throw new TypeError('internal detail: /var/task/secret');
    });
    const e = event('POST', '/sql', keyed('application/sql', 'SELECT 1'));
    const response = await call(createSqlHandler({ config, logger, service }), e);
    expect(response.statusCode).toBe(500);
    expect(response.body).not.toContain('secret');
    expect(response.headers['x-request-id']).toBe(e.requestContext.requestId);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'error', fields: { requestId: e.requestContext.requestId, status: 500, code: 'INTERNAL', error: expect.stringContaining('secret') } });
  });

  it("log a caller's mistake as info and a throttle as a warning, each once", async () => {
    const run = async (error: Error) => {
      const { lines, logger } = recordingLogger();
      await call(createSqlHandler({ config, logger, service: fakeService(async () => Promise.reject(error)) }), event('POST', '/sql', keyed('application/sql', 'SELECT 1')));
      return lines.map((line) => [line.level, line.fields.code]);
    };
    expect(await run(new SqlError('no such table: t'))).toEqual([['info', 'SQL_ERROR']]);
    expect(await run(new StorageUnavailableError('slow down'))).toEqual([['warn', 'STORAGE_UNAVAILABLE']]);
  });
});

describe('object keys for repeated column names', () => {
  it.each([
    [['a', 'b'], ['a', 'b']],
    [['id', 'id', 'id'], ['id', 'id:1', 'id:2']],
    [['id', 'id', 'id:1'], ['id', 'id:2', 'id:1']],
    [['id:1', 'id', 'id'], ['id:1', 'id', 'id:2']],
    [['', ''], ['', ':1']],
  ])('%j -> %j', (columns, keys) => {
    expect(objectKeys(columns)).toEqual(keys);
  });
});

describe('CORS', () => {
  const sql = () => createSqlHandler({ config, logger: recordingLogger().logger, service: fakeService() });

  it('lets a configured origin read the keyed answer, and no other', async () => {
    const allowed = await call(sql(), event('POST', '/sql', keyed('application/sql', 'SELECT 1', { origin: ORIGIN })));
    expect(allowed.headers).toMatchObject({ 'access-control-allow-origin': ORIGIN, 'access-control-expose-headers': 'x-request-id, retry-after, etag, x-cloudlite-version, content-disposition', vary: 'Origin' });
    const other = await call(sql(), event('POST', '/sql', keyed('application/sql', 'SELECT 1', { origin: 'https://evil.example' })));
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('lets every origin read the public routes, errors included', async () => {
    const health = await call(createHealthHandler({ logger: recordingLogger().logger }), event('GET', '/health', { headers: { origin: 'https://anyone.example' } }));
    expect(health.headers['access-control-allow-origin']).toBe('*');
  });

  it.each([
    ['GET /flights from any origin', '/flights', 'GET', 'https://anyone.example', '*', 'GET'],
    ['POST /flights from the configured origin', '/flights', 'POST', ORIGIN, ORIGIN, 'GET, POST'],
    ['POST /flights from another origin', '/flights', 'POST', 'https://anyone.example', undefined, undefined],
    ['POST /sql from the configured origin', '/sql', 'POST', ORIGIN, ORIGIN, 'POST'],
    ['POST /sql from another origin', '/sql', 'POST', 'https://anyone.example', undefined, undefined],
    ['a method the path does not have', '/sql', 'DELETE', ORIGIN, undefined, undefined],
  ])('preflight: %s', async (_name, path, method, origin, allowOrigin, allowMethods) => {
    const handler = createPreflightHandler({ config, logger: recordingLogger().logger });
    const response = await call(handler, event('OPTIONS', path, { headers: { origin, 'access-control-request-method': method, 'access-control-request-headers': 'authorization' } }));
    expect(response.statusCode).toBe(204);
    expect(response.headers['access-control-allow-origin']).toBe(allowOrigin);
    expect(response.headers['access-control-allow-methods']).toBe(allowMethods);
    if (allowOrigin) expect(response.headers['access-control-allow-headers']).toBe('Authorization, Content-Type, Idempotency-Key, If-None-Match');
  });
});

describe('GET /flights revalidation', () => {
  const countAndPage = answer([{ columns: ['count(*)'], rows: [[0n]], changes: 0, lastInsertRowid: null }, { columns: [], rows: [], changes: 0, lastInsertRowid: null }]);

  it('names the version and the normalized search in its ETag and answers 304 to a match', async () => {
    let version = 'v1';
    const handler = createFlightsSearchHandler({ config, logger: recordingLogger().logger, service: fakeService(async () => ({ ...countAndPage, meta: { ...countAndPage.meta, version } })) });
    const first = await call(handler, event('GET', '/flights', { query: { origin: 'Delhi' } }));
    const etag = first.headers.etag!;
    expect(first.statusCode).toBe(200);

    const same = await call(handler, event('GET', '/flights', { query: { origin: ' Delhi ', page: '1' }, headers: { 'if-none-match': `W/${etag}` } }));
    expect({ status: same.statusCode, body: same.body, etag: same.headers.etag }).toEqual({ status: 304, body: '', etag });

    const otherSearch = await call(handler, event('GET', '/flights', { query: { origin: 'Goa' }, headers: { 'if-none-match': etag } }));
    expect(otherSearch.statusCode).toBe(200);
    version = 'v2';
    const newVersion = await call(handler, event('GET', '/flights', { query: { origin: 'Delhi' }, headers: { 'if-none-match': etag } }));
    expect(newVersion.statusCode).toBe(200);
    expect(newVersion.headers.etag).not.toBe(etag);
  });

  it.each([
    [undefined, false],
    ['"a"', true],
    ['"b", W/"a"', true],
    ['*', true],
    ['"b"', false],
  ])('If-None-Match %p matches "a": %p', (header, matches) => {
    expect(matchesEtag(header, '"a"')).toBe(matches);
  });
});

describe("a request still running at the function's time limit", () => {
  // Lambda's clock: the time limit comes 300 ms from now, and the service never answers.
  const nearTheLimit = () => ({ awsRequestId: 'lambda-late', getRemainingTimeInMillis: () => 300 }) as Context;
  const never = () => new Promise<SqlResponse>(() => undefined);
  const sqlHandler = (run: (request: SqlRequest) => Promise<SqlResponse>) => createSqlHandler({ config, logger: recordingLogger().logger, service: fakeService(run) }) as unknown as Invoke;

  it('once it has started changing its database, is answered WRITE_OUTCOME_UNKNOWN: its change may yet be applied', async () => {
    const startsWriting = (request: SqlRequest) => {
      request.onChanging?.();
      return never();
    };
    const response = await sqlHandler(startsWriting)(event('POST', '/sql', keyed('application/sql', 'INSERT INTO t VALUES (1)')), nearTheLimit());
    expect(response.statusCode).toBe(503);
    expect(response.headers?.['retry-after']).toBe('1');
    const { error } = JSON.parse(response.body);
    expect(error).toMatchObject({ code: 'WRITE_OUTCOME_UNKNOWN', message: expect.stringMatching(/^the function ran out of time .* retry with the same Idempotency-Key/) });
    expect(error.write_id).toBeUndefined();
  });

  it('before it changed anything (a POST /sql still reading, GET /flights), is answered 504 REQUEST_TIMEOUT', async () => {
    const reading = await sqlHandler(never)(event('POST', '/sql', keyed('application/sql', 'SELECT 1')), nearTheLimit());
    const flights = await (createFlightsSearchHandler({ config, logger: recordingLogger().logger, service: fakeService(never) }) as unknown as Invoke)(event('GET', '/flights'), nearTheLimit());
    for (const response of [reading, flights]) {
      expect(response.statusCode).toBe(504);
      expect(JSON.parse(response.body).error).toMatchObject({ code: 'REQUEST_TIMEOUT', message: expect.stringContaining('nothing was changed') });
    }
  });
});

describe('lifecycle routes and names that are not database names', () => {
  // A tenant key whose pattern holds two globs: the kind a regular expression backtracks on.
  const TENANT_KEY = 'unit-tenant-key-01';
  const tenantConfig = { ...config, limits: { ...limits, maxBodyBytes: 1_000_000 }, apiKeys: [{ role: 'write' as const, databases: 'acme-*-*', key: TENANT_KEY }] };
  const asked: string[] = [];
  const lifecycle = new Proxy({}, { get: (_target, method) => async () => void asked.push(String(method)) }) as unknown as DatabaseLifecycle;
  const routes = createLifecycleRoutes({ config: tenantConfig, logger: recordingLogger().logger, lifecycle });
  const routed = (method: string, route: string, name: string, body?: unknown) => {
    const e = event(method, route, { headers: { authorization: `Bearer ${TENANT_KEY}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    e.pathParameters = { name };
    const handlers: Record<string, unknown> = { ...routes.read, ...routes.write };
    return call(handlers[`${method} ${route}`], e);
  };

  it.each([
    // POST /sql answers these 400 (its parser checks the name before the scope): so must every route.
    ['a path name in upper case', () => routed('GET', '/databases/{name}', 'ACME-A-B')],
    ['a path name with a slash', () => routed('GET', '/databases/{name}/versions', 'globex-x/y')],
    ["a clone's target with a newline", () => routed('POST', '/databases/{name}/clone', 'acme-a-b', { to: 'acme-a-b-copy\n' })],
    // Matched as `^acme-.*-.*$` the work grows with the square of its length: 300 KB held the
    // local server's only thread for 44 s, and a 4 MB body would hold a Lambda to its time limit.
    ["a clone's 20 KB target", () => routed('POST', '/databases/{name}/clone', 'acme-a-b', { to: `acme-${'-'.repeat(20_000)}\n` })],
  ])('%s is a 400 BAD_REQUEST, decided before the scope is matched and without asking the lifecycle', async (_name, request) => {
    const response = await request();
    expect([response.statusCode, JSON.parse(response.body).error.code]).toEqual([400, 'BAD_REQUEST']);
    expect(asked).toEqual([]);
  });
});
