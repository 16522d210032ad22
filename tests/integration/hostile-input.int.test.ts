import { postJson, READ_KEY, startTestApi, testConfig, uniqueDatabase, WRITE_KEY, type TestApi } from '../helpers/test-app';
import { storedBytes, storedVersions } from '../helpers/test-service';

/**
 * A corpus of bad requests. Every one must get its documented status and error code in a JSON
 * body, and none may change the stored data.
 */
interface HostileCase {
  name: string;
  body?: string | Buffer;
  json?: unknown;
  headers?: Record<string, string | undefined>;
  method?: string;
  path?: string;
  status: number;
  code: string;
}

const database = uniqueDatabase('hostile');
const sql = (statement: string, extra: Record<string, unknown> = {}) => ({ json: { database, sql_statement: statement, ...extra } });
const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);

const cases: HostileCase[] = [
  // Malformed JSON
  { name: 'an unterminated object', body: '{', status: 400, code: 'BAD_REQUEST' },
  { name: 'a missing value', body: '{"sql_statement": }', status: 400, code: 'BAD_REQUEST' },
  { name: 'plain text', body: 'SELECT 1', status: 400, code: 'BAD_REQUEST' },
  { name: 'a trailing comma', body: '{"sql_statement": "SELECT 1",}', status: 400, code: 'BAD_REQUEST' },
  { name: 'single quotes', body: "{'sql_statement': 'SELECT 1'}", status: 400, code: 'BAD_REQUEST' },
  { name: 'trailing garbage', body: '{"sql_statement": "SELECT 1"} x', status: 400, code: 'BAD_REQUEST' },
  { name: 'an empty body', body: '', status: 400, code: 'BAD_REQUEST' },
  { name: 'JSON null', body: 'null', status: 400, code: 'BAD_REQUEST' },
  { name: 'a JSON number', body: '123', status: 400, code: 'BAD_REQUEST' },
  { name: 'a JSON string', body: '"SELECT 1"', status: 400, code: 'BAD_REQUEST' },
  { name: 'a JSON array', body: '[{"sql_statement": "SELECT 1"}]', status: 400, code: 'BAD_REQUEST' },
  { name: 'a raw NUL byte outside strings', body: Buffer.from('{"sql_statement":\u0000"SELECT 1"}'), status: 400, code: 'BAD_REQUEST' },
  // Wrong types
  { name: 'sql_statement as a number', json: { sql_statement: 1 }, status: 400, code: 'BAD_REQUEST' },
  { name: 'sql_statement as an array', json: { sql_statement: ['SELECT 1'] }, status: 400, code: 'BAD_REQUEST' },
  { name: 'sql_statement as null', json: { sql_statement: null }, status: 400, code: 'BAD_REQUEST' },
  { name: 'statements as a string', json: { statements: 'SELECT 1' }, status: 400, code: 'BAD_REQUEST' },
  { name: 'statements of strings', json: { statements: ['SELECT 1'] }, status: 400, code: 'BAD_REQUEST' },
  { name: 'a statement without sql', json: { statements: [{ params: [] }] }, status: 400, code: 'BAD_REQUEST' },
  { name: 'a statement with numeric sql', json: { statements: [{ sql: 5 }] }, status: 400, code: 'BAD_REQUEST' },
  { name: 'params as a string', ...sql('SELECT ?', { params: '1' }), status: 400, code: 'BAD_REQUEST' },
  { name: 'params as a number', ...sql('SELECT ?', { params: 1 }), status: 400, code: 'BAD_REQUEST' },
  { name: 'database as a number', json: { sql_statement: 'SELECT 1', database: 7 }, status: 400, code: 'BAD_REQUEST' },
  { name: 'consistency as a number', ...sql('SELECT 1', { consistency: 1 }), status: 400, code: 'BAD_REQUEST' },
  { name: 'an unknown consistency', ...sql('SELECT 1', { consistency: 'weak' }), status: 400, code: 'BAD_REQUEST' },
  // Missing and unknown fields
  { name: 'an empty object', json: {}, status: 400, code: 'BAD_REQUEST' },
  { name: 'params alone', json: { params: [1] }, status: 400, code: 'BAD_REQUEST' },
  { name: 'both sql_statement and statements', json: { sql_statement: 'SELECT 1', statements: [{ sql: 'SELECT 1' }] }, status: 400, code: 'BAD_REQUEST' },
  { name: 'an unknown top-level field', ...sql('SELECT 1', { query: 'x' }), status: 400, code: 'BAD_REQUEST' },
  { name: 'an unknown statement field', json: { database, statements: [{ sql: 'SELECT 1', param: [] }] }, status: 400, code: 'BAD_REQUEST' },
  { name: 'an empty statement', ...sql(' ; '), status: 400, code: 'BAD_REQUEST' },
  { name: 'only a comment', ...sql('-- nothing here'), status: 400, code: 'BAD_REQUEST' },
  // Encoding
  { name: 'invalid UTF-8', body: Buffer.concat([Buffer.from('{"sql_statement": "SELECT \''), Buffer.from([0xff, 0xfe]), Buffer.from('\'"}')]), status: 400, code: 'BAD_REQUEST' },
  { name: 'an overlong UTF-8 encoding', body: Buffer.concat([Buffer.from('{"sql_statement": "SELECT \''), Buffer.from([0xc0, 0xaf]), Buffer.from('\'"}')]), status: 400, code: 'BAD_REQUEST' },
  { name: 'a NUL character inside the SQL', ...sql("SELECT 1;\u0000DROP TABLE t"), status: 400, code: 'BAD_REQUEST' },
  // Parameters
  { name: 'deeply nested params', body: `{"sql_statement": "SELECT ?", "params": ${nested(5000)}}`, status: 400, code: 'BAD_REQUEST' },
  { name: 'a deeply nested object param', body: `{"sql_statement": "SELECT ?", "params": [${'{"a":'.repeat(3000)}1${'}'.repeat(3000)}]}`, status: 400, code: 'BAD_REQUEST' },
  { name: 'too few positional params', ...sql('SELECT ?, ?', { params: [1] }), status: 400, code: 'BAD_REQUEST' },
  { name: 'too many positional params', ...sql('SELECT ?', { params: [1, 2] }), status: 400, code: 'BAD_REQUEST' },
  { name: 'no params for a placeholder', ...sql('SELECT ?'), status: 400, code: 'BAD_REQUEST' },
  { name: 'a missing named param', ...sql('SELECT :a, :b', { params: { a: 1 } }), status: 400, code: 'BAD_REQUEST' },
  { name: 'an unknown named param', ...sql('SELECT :a', { params: { a: 1, zzz: 2 } }), status: 400, code: 'BAD_REQUEST' },
  { name: 'params for several statements', ...sql('SELECT ?; SELECT ?', { params: [1] }), status: 400, code: 'BAD_REQUEST' },
  { name: 'an object param of unknown shape', ...sql('SELECT ?', { params: [{ a: 1 }] }), status: 400, code: 'BAD_REQUEST' },
  { name: 'a bad big integer', ...sql('SELECT ?', { params: [{ integer: '1e9' }] }), status: 400, code: 'BAD_REQUEST' },
  { name: 'bad base64', ...sql('SELECT ?', { params: [{ base64: 'not base64!' }] }), status: 400, code: 'BAD_REQUEST' },
  { name: 'too many params', ...sql('SELECT 1', { params: Array(1001).fill(1) }), status: 400, code: 'BAD_REQUEST' },
  // Database names
  { name: 'a path-traversal database', json: { sql_statement: 'SELECT 1', database: '../x' }, status: 400, code: 'BAD_REQUEST' },
  { name: 'an empty database name', json: { sql_statement: 'SELECT 1', database: '' }, status: 400, code: 'BAD_REQUEST' },
  { name: 'a 200-character database name', json: { sql_statement: 'SELECT 1', database: 'a'.repeat(200) }, status: 400, code: 'BAD_REQUEST' },
  { name: 'a database name with a slash', json: { sql_statement: 'SELECT 1', database: 'a/b' }, status: 400, code: 'BAD_REQUEST' },
  { name: 'an upper-case database name', json: { sql_statement: 'SELECT 1', database: 'Main' }, status: 400, code: 'BAD_REQUEST' },
  { name: 'a database name starting with a dash', json: { sql_statement: 'SELECT 1', database: '-x' }, status: 400, code: 'BAD_REQUEST' },
  { name: 'a database name with unicode', json: { sql_statement: 'SELECT 1', database: 'dé' }, status: 400, code: 'BAD_REQUEST' },
  { name: 'a database name with an encoded dot', json: { sql_statement: 'SELECT 1', database: '%2e%2e' }, status: 400, code: 'BAD_REQUEST' },
  // Sizes
  { name: 'an oversized body', body: JSON.stringify({ sql_statement: `SELECT '${'x'.repeat(2_000_000)}'` }), status: 413, code: 'PAYLOAD_TOO_LARGE' },
  { name: 'an over-long statement', ...sql(`SELECT '${'x'.repeat(100_001)}'`), status: 400, code: 'BAD_REQUEST' },
  { name: 'too many statements in a batch', json: { database, statements: Array(101).fill({ sql: 'SELECT 1' }) }, status: 400, code: 'BAD_REQUEST' },
  { name: 'too many statements in a script', ...sql('SELECT 1;'.repeat(101)), status: 400, code: 'BAD_REQUEST' },
  // Content types (application/sql, text/plain and curl's default form type are raw SQL or forms)
  { name: 'JSON sent as text/plain (read as SQL)', json: { sql_statement: 'SELECT 1' }, path: `/sql?database=${database}`, headers: { 'content-type': 'text/plain' }, status: 400, code: 'SQL_ERROR' },
  { name: 'a form with an unknown field', body: 'sql_statement=SELECT+1&databse=x', headers: { 'content-type': 'application/x-www-form-urlencoded' }, status: 400, code: 'BAD_REQUEST' },
  { name: 'a form with params', body: 'sql_statement=SELECT+%3F&params=1', headers: { 'content-type': 'application/x-www-form-urlencoded' }, status: 400, code: 'BAD_REQUEST' },
  { name: 'raw SQL with an unknown query parameter', body: 'SELECT 1', path: '/sql?db=x', headers: { 'content-type': 'application/sql' }, status: 400, code: 'BAD_REQUEST' },
  { name: 'raw SQL that writes with a read key', body: `INSERT INTO t VALUES (7)`, path: `/sql?database=${database}`, headers: { 'content-type': 'application/sql', authorization: `Bearer ${READ_KEY}` }, status: 403, code: 'FORBIDDEN' },
  { name: 'an Idempotency-Key that differs from the body', ...sql('SELECT 1', { idempotency_key: 'a' }), headers: { 'idempotency-key': 'b' }, status: 400, code: 'BAD_REQUEST' },
  { name: 'an over-long Idempotency-Key', ...sql('SELECT 1'), headers: { 'idempotency-key': 'k'.repeat(129) }, status: 400, code: 'BAD_REQUEST' },
  { name: 'an as_of without a zone', ...sql('SELECT 1', { as_of: '2025-01-01T00:00:00' }), status: 400, code: 'BAD_REQUEST' },
  { name: 'XML', body: '<sql>SELECT 1</sql>', headers: { 'content-type': 'application/xml' }, status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
  { name: 'no content type', body: Buffer.from(JSON.stringify({ sql_statement: 'SELECT 1' })), headers: { 'content-type': undefined }, status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
  { name: 'multipart', body: '--x\r\n\r\nSELECT 1\r\n--x--', headers: { 'content-type': 'multipart/form-data; boundary=x' }, status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
  // Keys
  { name: 'no Authorization header', ...sql('SELECT 1'), headers: { authorization: undefined }, status: 401, code: 'UNAUTHORIZED' },
  { name: 'Bearer without a key', ...sql('SELECT 1'), headers: { authorization: 'Bearer ' }, status: 401, code: 'UNAUTHORIZED' },
  { name: 'Basic auth', ...sql('SELECT 1'), headers: { authorization: `Basic ${Buffer.from(`u:${WRITE_KEY}`).toString('base64')}` }, status: 401, code: 'UNAUTHORIZED' },
  { name: 'a wrong key', ...sql('SELECT 1'), headers: { authorization: 'Bearer not-the-key-0001' }, status: 401, code: 'UNAUTHORIZED' },
  { name: 'a key prefix', ...sql('SELECT 1'), headers: { authorization: `Bearer ${WRITE_KEY.slice(0, -1)}` }, status: 401, code: 'UNAUTHORIZED' },
  { name: 'an expired key', ...sql('SELECT 1'), headers: { authorization: 'Bearer test-expired-key-01' }, status: 401, code: 'UNAUTHORIZED' },
  { name: 'a key as a query parameter', ...sql('SELECT 1'), path: `/sql?key=${WRITE_KEY}`, headers: { authorization: undefined }, status: 401, code: 'UNAUTHORIZED' },
  { name: 'a read key inserting', ...sql('INSERT INTO t VALUES (99)'), headers: { authorization: `Bearer ${READ_KEY}` }, status: 403, code: 'FORBIDDEN' },
  { name: 'a read key creating a table', ...sql('CREATE TABLE u(x)'), headers: { authorization: `Bearer ${READ_KEY}` }, status: 403, code: 'FORBIDDEN' },
  { name: 'a read key setting user_version', ...sql('PRAGMA user_version = 9'), headers: { authorization: `Bearer ${READ_KEY}` }, status: 403, code: 'FORBIDDEN' },
  // Statements refused or failing in SQLite
  { name: 'ATTACH', ...sql("ATTACH DATABASE 'file:/etc/passwd' AS p"), status: 403, code: 'STATEMENT_NOT_ALLOWED' },
  { name: 'DETACH', ...sql('DETACH DATABASE main'), status: 403, code: 'STATEMENT_NOT_ALLOWED' },
  { name: 'PRAGMA writable_schema', ...sql('PRAGMA writable_schema = ON'), status: 403, code: 'STATEMENT_NOT_ALLOWED' },
  { name: 'PRAGMA journal_mode', ...sql('PRAGMA journal_mode = OFF'), status: 403, code: 'STATEMENT_NOT_ALLOWED' },
  { name: 'PRAGMA query_only', ...sql('PRAGMA query_only = OFF'), status: 403, code: 'STATEMENT_NOT_ALLOWED' },
  { name: 'COMMIT', ...sql('COMMIT'), status: 403, code: 'STATEMENT_NOT_ALLOWED' },
  { name: 'VACUUM INTO', ...sql("VACUUM INTO '/tmp/copy.db'"), status: 403, code: 'STATEMENT_NOT_ALLOWED' },
  { name: 'a read key creating a table if it does not exist', ...sql('CREATE TABLE IF NOT EXISTS t(x)'), headers: { authorization: `Bearer ${READ_KEY}` }, status: 403, code: 'FORBIDDEN' },
  { name: 'load_extension', ...sql("SELECT load_extension('/tmp/evil.so')"), status: 400, code: 'SQL_ERROR' },
  { name: 'a syntax error', ...sql('SELEC 1'), status: 400, code: 'SQL_ERROR' },
  { name: 'a missing table', ...sql('SELECT * FROM nowhere'), status: 400, code: 'SQL_ERROR' },
  { name: 'a constraint failure', ...sql('INSERT INTO t VALUES (NULL)'), status: 400, code: 'SQL_ERROR' },
];

describe('hostile input', () => {
  let api: TestApi;
  let before: { version?: string; bytes: Buffer };

  beforeAll(async () => {
    api = await startTestApi(testConfig());
    const seeded = await postJson(api.url, { database, sql_statement: 'CREATE TABLE t(x INTEGER NOT NULL); INSERT INTO t VALUES (1)' });
    expect(seeded.status).toBe(200);
    before = { version: (await storedVersions(database)).current, bytes: await storedBytes(database) };
  });
  afterAll(async () => {
    await api.close();
  });

  it('has at least 60 cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(60);
  });

  it.each(cases.map((c) => [c.name, c] as const))('%s gets its documented error and changes nothing', async (_name, c) => {
    const headers: Record<string, string> = { 'content-type': 'application/json', authorization: `Bearer ${WRITE_KEY}` };
    for (const [name, value] of Object.entries(c.headers ?? {})) {
      if (value === undefined) delete headers[name];
      else headers[name] = value;
    }
    const response = await fetch(`${api.url}${c.path ?? '/sql'}`, {
      method: c.method ?? 'POST',
      headers,
      body: c.body ?? JSON.stringify(c.json),
    });

    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    const body = (await response.json()) as { error: { code: string; message: string } };
    expect({ status: response.status, code: body.error.code }).toEqual({ status: c.status, code: c.code });
    expect(body.error.message.length).toBeGreaterThan(0);
    expect((await storedVersions(database)).current).toBe(before.version);
  });

  it('leaves the stored database byte for byte as it was', async () => {
    expect((await storedBytes(database)).equals(before.bytes)).toBe(true);
    const read = await postJson(api.url, { database, sql_statement: 'SELECT x FROM t' }, READ_KEY);
    expect(read.body.results[0].rows).toEqual([[1]]);
  });
});
