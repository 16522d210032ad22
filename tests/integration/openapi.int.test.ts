import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createRoutes } from '../../functions/all-routes';
import { openApiDocumentPath } from '../../functions/http/openapi-route';
import { CORS_ROUTES } from '../../functions/http/cors';
import { applyMigrationsInProcess } from '../../scripts/migrate';
import { seedFlightsIfEmpty } from '../../scripts/seed-flights';
import { openApiContract, type Exchange } from '../helpers/openapi-contract';
import { ALLOWED_ORIGIN, FLIGHTS_PASSWORD, READ_KEY, startTestApi, testConfig, uniqueDatabase, WRITE_KEY, type TestApi } from '../helpers/test-app';

/**
 * docs/openapi.yaml cannot drift: it is a valid OpenAPI 3.1 document, it names exactly the
 * routes that exist, and real answers of the local stack, successes and errors, match it.
 */
const contract = openApiContract();

describe('docs/openapi.yaml', () => {
  it('is a valid OpenAPI 3.1 document', () => {
    // The validator ships as an ES module only (it finds its schemas through import.meta.url),
    // which jest's CommonJS runtime cannot load: run it in node as it is meant to run.
    const script = `
      import { Validator } from '@seriousme/openapi-schema-validator';
      const result = await new Validator().validate(process.argv[1]);
      process.stdout.write(JSON.stringify({ valid: result.valid, errors: result.errors ?? [] }));`;
    const output = execFileSync(process.execPath, ['--input-type=module', '-e', script, openApiDocumentPath()], { cwd: path.resolve(__dirname, '../..') });
    expect(JSON.parse(output.toString())).toEqual({ valid: true, errors: [] });
  });

  it('documents exactly the routes of the route table, serverless.yml and the CORS table', () => {
    const documented = Object.entries(contract.document.paths as Record<string, object>)
      .flatMap(([route, operations]) => Object.keys(operations).map((method) => `${method.toUpperCase()} ${route}`))
      .sort();
    const served = Object.keys(createRoutes({ config: testConfig(), logger: undefined!, metrics: undefined!, service: undefined!, lifecycle: undefined!, close: async () => undefined })).sort();
    const serverless = readFileSync(path.resolve(__dirname, '../../serverless.yml'), 'utf8');
    const deployed = [...serverless.matchAll(/method: (\w+)\n\s+path: '?([^'\s]+)'?/g)].map(([, method, route]) => `${method} ${route}`).sort();
    const cors = Object.entries(CORS_ROUTES)
      .flatMap(([route, methods]) => [...Object.keys(methods), 'OPTIONS'].map((method) => `${method} ${route}`))
      .sort();
    expect(served).toEqual(documented);
    expect(deployed).toEqual(documented);
    expect(cors).toEqual(documented);
  });
});

describe('answers of the local stack match docs/openapi.yaml', () => {
  let api: TestApi;
  const exchanges: Exchange[] = [];
  const database = uniqueDatabase('contract');

  async function send(method: string, route: string, init: { body?: string | Buffer; headers?: Record<string, string> } = {}): Promise<Exchange> {
    const response = await fetch(`${api.url}${route}`, { method, headers: init.headers, body: init.body });
    const exchange = { method, path: new URL(route, api.url).pathname, status: response.status, headers: response.headers, body: await response.text() };
    exchanges.push(exchange);
    return exchange;
  }
  const sql = (body: string, contentType = 'application/json', key = WRITE_KEY, query = '') =>
    send('POST', `/sql${query}`, { body, headers: { 'content-type': contentType, authorization: `Bearer ${key}` } });

  beforeAll(async () => {
    api = await startTestApi();
  });
  afterAll(async () => {
    await api.close();
  });

  it('for every route and many error codes', async () => {
    const flightsDatabase = api.app.config.flightsDatabase;
    expect((await send('GET', '/flights')).status).toBe(503); // not migrated yet: NOT_READY
    await applyMigrationsInProcess(api.app, flightsDatabase);
    await seedFlightsIfEmpty(api.app, flightsDatabase, 30);

    expect((await send('GET', '/health')).status).toBe(200);
    expect((await send('GET', '/openapi.json')).status).toBe(200);
    for (const route of Object.keys(CORS_ROUTES)) {
      const method = Object.keys(CORS_ROUTES[route]!)[0]!;
      const concrete = route.replace('{name}', database);
      expect((await send('OPTIONS', concrete, { headers: { origin: ALLOWED_ORIGIN, 'access-control-request-method': method } })).status).toBe(204);
    }

    expect((await sql(JSON.stringify({ database, sql_statement: 'CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB); INSERT INTO t VALUES (1, x\'00ff\')' }))).status).toBe(200);
    expect((await sql('SELECT t.id, t.id, b FROM t', 'application/sql', READ_KEY, `?database=${database}&rows=objects`)).status).toBe(200);
    expect((await sql(`sql_statement=SELECT+9007199254740993&database=${database}`, 'application/x-www-form-urlencoded')).status).toBe(200);
    expect((await sql('{"sql_statement": ', 'application/json')).status).toBe(400);
    expect((await sql(JSON.stringify({ database, sql_statement: 'SELEC 1' }))).status).toBe(400);
    expect((await sql(JSON.stringify({ database, sql_statement: 'SELECT 1' }), 'application/json', 'not-a-key-000')).status).toBe(401);
    expect((await sql(JSON.stringify({ database, sql_statement: 'DELETE FROM t' }), 'application/json', READ_KEY)).status).toBe(403);
    expect((await sql(JSON.stringify({ database: uniqueDatabase('missing'), sql_statement: 'SELECT 1' }))).status).toBe(404);
    expect((await sql('<sql/>', 'application/xml')).status).toBe(415);
    expect((await sql(`SELECT '${'x'.repeat(1_100_000)}'`, 'application/sql')).status).toBe(413);
    expect((await sql(`SELECT '${'x'.repeat(10_500_000)}'`, 'application/sql')).status).toBe(413); // the gateway's own

    // The database lifecycle.
    const keyed = (key: string) => ({ headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' } });
    expect((await send('GET', '/databases?limit=5', keyed(READ_KEY))).status).toBe(200);
    expect((await send('GET', `/databases/${database}`, keyed(READ_KEY))).status).toBe(200);
    const versions = await send('GET', `/databases/${database}/versions`, keyed(READ_KEY));
    expect(versions.status).toBe(200);
    const first = (JSON.parse(versions.body) as { versions: { version: string }[] }).versions.at(-1)!.version;
    expect((await send('GET', `/databases/${database}/export?format=sql`, keyed(READ_KEY))).status).toBe(200);
    expect((await send('GET', `/databases/${database}/export`, keyed(READ_KEY))).status).toBe(200);
    expect((await send('POST', `/databases/${database}/restore`, { ...keyed(WRITE_KEY), body: JSON.stringify({ version: first }) })).status).toBe(200);
    expect((await send('POST', `/databases/${database}/restore`, { ...keyed(READ_KEY), body: JSON.stringify({ version: first }) })).status).toBe(403);
    const copy = uniqueDatabase('contract-copy');
    expect((await send('POST', `/databases/${database}/clone`, { ...keyed(WRITE_KEY), body: JSON.stringify({ to: copy }) })).status).toBe(200);
    expect((await send('POST', `/databases/${database}/clone`, { ...keyed(WRITE_KEY), body: JSON.stringify({ to: copy }) })).status).toBe(409);
    expect((await send('POST', `/databases/${copy}/import`, { headers: { authorization: `Bearer ${WRITE_KEY}`, 'content-type': 'application/vnd.sqlite3' }, body: 'not a database' })).status).toBe(400);
    expect((await send('DELETE', `/databases/${copy}`, keyed(WRITE_KEY))).status).toBe(400);
    expect((await send('DELETE', `/databases/${copy}?confirm=${copy}`, keyed(WRITE_KEY))).status).toBe(200);
    expect((await send('GET', `/databases/${copy}`, keyed(READ_KEY))).status).toBe(404);

    const page = await send('GET', '/flights?origin=Delhi&limit=3');
    expect(page.status).toBe(200);
    expect((await send('GET', '/flights?origin=Delhi&limit=3', { headers: { 'if-none-match': page.headers.get('etag')! } })).status).toBe(304);
    expect((await send('GET', '/flights?page=0')).status).toBe(400);
    const flight = { date: '2030-01-01', origin: 'Delhi', destination: 'Goa', airline: 'IndiGo', price_inr: 4000 };
    expect((await send('POST', `/flights?password=${FLIGHTS_PASSWORD}`, { body: JSON.stringify([flight]), headers: { 'content-type': 'application/json' } })).status).toBe(200);
    expect((await send('POST', '/flights?password=wrong', { body: JSON.stringify([flight]), headers: { 'content-type': 'application/json' } })).status).toBe(401);
    expect((await send('POST', `/flights?password=${FLIGHTS_PASSWORD}`, { body: '[]', headers: { 'content-type': 'application/json' } })).status).toBe(400);

    expect(exchanges.flatMap((exchange) => contract.check(exchange))).toEqual([]);
  }, 60_000);

  it('the served document is docs/openapi.yaml', async () => {
    const served = await fetch(`${api.url}/openapi.json`);
    expect(await served.json()).toEqual(contract.document);
  });
});
