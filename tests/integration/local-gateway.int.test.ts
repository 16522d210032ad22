import http from 'node:http';
import { randomBytes } from 'node:crypto';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { startLocalApi, type LambdaHttpHandler, type LocalApi } from '../../infra/local/api-gateway';

/**
 * The local API gateway answers as the deployed HTTP API does: its own 404 and 413 bodies,
 * route keys with path parameters, base64 for binary bodies, and a request id per request.
 * Handlers here are recorders: the question is what reaches a function, not what it does.
 */

interface Answer { status: number; headers: http.IncomingHttpHeaders; body: Buffer; reusedSocket: boolean }

function request(api: LocalApi, method: string, path: string, options: { body?: Buffer | string; headers?: http.OutgoingHttpHeaders; agent?: http.Agent } = {}) {
  return new Promise<Answer>((resolve, reject) => {
    const req = http.request(`${api.url}${path}`, { method, headers: options.headers, agent: options.agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), reusedSocket: req.reusedSocket }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

const json = (answer: Answer) => JSON.parse(answer.body.toString('utf8')) as unknown;

describe('local API gateway', () => {
  const events: APIGatewayProxyEventV2[] = [];
  const recorder = (name: string): LambdaHttpHandler => async (event) => {
    events.push(event);
    return { statusCode: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ handler: name }) };
  };
  let api: LocalApi;
  const lastEvent = () => events.at(-1)!;

  beforeAll(async () => {
    api = await startLocalApi({
      'GET /health': recorder('health'),
      'POST /sql': recorder('sql'),
      'OPTIONS /sql': recorder('sql-preflight'),
      'GET /databases': recorder('list'),
      'GET /databases/{name}': recorder('describe'),
      'DELETE /databases/{name}': recorder('delete'),
      'POST /databases/{name}/restore': recorder('restore'),
      'GET /databases/{name}/versions': recorder('versions'),
      'GET /databases/{name}/export': async () => ({
        statusCode: 200, headers: { 'content-type': 'application/vnd.sqlite3' }, body: Buffer.from([0, 1, 2, 255]).toString('base64'), isBase64Encoded: true,
      }),
      'POST /databases/{name}/import': recorder('import'),
      'GET /databases/main': recorder('literal-main'),
    }, { port: 0 });
  });
  afterAll(() => api.close());

  it('a body well over 10 MB gets 413 {"message":"Request Entity Too Large"} and the next request on the same keep-alive connection is answered', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const tooLarge = await request(api, 'POST', '/sql', { agent, body: Buffer.alloc(24 * 1024 * 1024, 0x61), headers: { 'content-type': 'text/plain' } });
      const next = await request(api, 'GET', '/health', { agent });

      expect([tooLarge.status, json(tooLarge)]).toEqual([413, { message: 'Request Entity Too Large' }]);
      expect([next.status, json(next)]).toEqual([200, { handler: 'health' }]);
      expect(next.reusedSocket).toBe(true);
    } finally {
      agent.destroy();
    }
  });

  it('an unknown path, a method the path does not have, HEAD on a GET route and OPTIONS without an OPTIONS route all get 404 {"message":"Not Found"}', async () => {
    const before = events.length;
    const answers = [
      await request(api, 'GET', '/nope'),
      await request(api, 'DELETE', '/sql'),
      await request(api, 'GET', '/databases/shop/unknown'),
      await request(api, 'OPTIONS', '/health'),
      await request(api, 'GET', '/health/'),
    ];
    const head = await request(api, 'HEAD', '/health');

    for (const answer of answers) {
      expect([answer.status, answer.headers['content-type'], json(answer)]).toEqual([404, 'application/json', { message: 'Not Found' }]);
    }
    expect([head.status, head.body.length]).toEqual([404, 0]);
    expect(events.length).toBe(before);
  });

  it('routes with {param} segments fill routeKey and pathParameters (decoded); a literal route wins over a parameter', async () => {
    const cases: [string, string, string, Record<string, string> | undefined][] = [
      ['GET', '/databases', 'GET /databases', undefined],
      ['GET', '/databases/shop', 'GET /databases/{name}', { name: 'shop' }],
      ['DELETE', '/databases/shop?confirm=shop', 'DELETE /databases/{name}', { name: 'shop' }],
      ['POST', '/databases/my%20db/restore', 'POST /databases/{name}/restore', { name: 'my db' }],
      ['GET', '/databases/shop/versions?limit=2', 'GET /databases/{name}/versions', { name: 'shop' }],
      ['GET', '/databases/main', 'GET /databases/main', undefined],
    ];

    for (const [method, path, routeKey, pathParameters] of cases) {
      const answer = await request(api, method, path);
      expect(answer.status).toBe(200);
      expect([lastEvent().routeKey, lastEvent().requestContext.routeKey, lastEvent().pathParameters]).toEqual([routeKey, routeKey, pathParameters]);
    }
    expect(lastEvent().rawPath).toBe('/databases/main');
  });

  it('binary request bodies arrive base64-encoded with isBase64Encoded, JSON arrives as text, and a base64 response is sent as bytes', async () => {
    const file = Buffer.concat([Buffer.from('SQLite format 3\0'), randomBytes(64)]);

    await request(api, 'POST', '/databases/shop/import', { body: file, headers: { 'content-type': 'application/vnd.sqlite3' } });
    const binary = lastEvent();
    await request(api, 'POST', '/databases/shop/import', { body: file, headers: { 'content-type': 'application/octet-stream' } });
    const octets = lastEvent();
    await request(api, 'POST', '/sql', { body: '{"sql_statement":"SELECT 1"}', headers: { 'content-type': 'application/json' } });
    const text = lastEvent();
    const exported = await request(api, 'GET', '/databases/shop/export');

    for (const event of [binary, octets]) {
      expect(event.isBase64Encoded).toBe(true);
      expect(Buffer.from(event.body!, 'base64').equals(file)).toBe(true);
    }
    expect([text.isBase64Encoded, text.body]).toEqual([false, '{"sql_statement":"SELECT 1"}']);
    expect([...exported.body]).toEqual([0, 1, 2, 255]);
    expect(exported.headers['content-type']).toBe('application/vnd.sqlite3');
  });

  it('OPTIONS reaches a declared OPTIONS route, where the function answers the preflight itself', async () => {
    const answer = await request(api, 'OPTIONS', '/sql', { headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' } });

    expect([answer.status, json(answer)]).toEqual([200, { handler: 'sql-preflight' }]);
    expect(lastEvent().routeKey).toBe('OPTIONS /sql');
    expect(lastEvent().headers.origin).toBe('https://app.example');
  });

  it('every request gets its own API Gateway style request id, sent back as apigw-requestid, and a source IP', async () => {
    const answers = [await request(api, 'GET', '/health'), await request(api, 'GET', '/health'), await request(api, 'GET', '/nope')];
    const ids = events.slice(-2).map((event) => event.requestContext.requestId);

    expect(new Set(answers.map((a) => a.headers['apigw-requestid'])).size).toBe(3);
    expect(ids).toEqual(answers.slice(0, 2).map((a) => a.headers['apigw-requestid']));
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9+/]{15}=$/);
    expect(lastEvent().requestContext.http.sourceIp).toBe('127.0.0.1');
  });
});
