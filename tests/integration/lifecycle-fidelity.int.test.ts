import initSqlJs from 'sql.js';
import { apiCaller, postJson, READ_KEY, startTestApi, uniqueDatabase, WRITE_KEY, type TestApi } from '../helpers/test-app';

/**
 * The lifecycle as an operator relies on it: what export, import, restore and describe
 * promise about the data they carry. Real handlers behind the local API gateway, real SDK against
 * the local S3 and DynamoDB; each test uses its own databases.
 */
describe('database lifecycle as an operator relies on it', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startTestApi();
  });
  afterAll(async () => {
    await api.close();
  });

  const call: ReturnType<typeof apiCaller> = (...args) => apiCaller(api.url)(...args);
  const sql = async (database: string, sql_statement: string, extra: Record<string, unknown> = {}) => postJson(api.url, { database, sql_statement, ...extra });

  it('a SQL dump keeps a table whose name starts with "sqlite" but not "sqlite_" (sqlitedata, SQLite1), and describe lists it', async () => {
    // SQLite reserves only names starting "sqlite_"; LIKE 'sqlite_%' also matches "sqlitedata" ('_' is any character).
    const db = uniqueDatabase('sqlitenames');
    const created = await sql(db, "CREATE TABLE sqlitedata(a); INSERT INTO sqlitedata VALUES (1), (2); CREATE TABLE SQLite1(b); INSERT INTO SQLite1 VALUES ('x'); CREATE TABLE plain(c)");
    expect(created.status).toBe(200);

    const described = await call('GET', `/databases/${db}`, undefined, READ_KEY);
    expect(described.body.tables.map((t: { name: string }) => t.name).sort()).toEqual(['SQLite1', 'plain', 'sqlitedata']);

    const dump = await call('GET', `/databases/${db}/export?format=sql`, undefined, READ_KEY);
    expect(dump.status).toBe(200);
    const rebuilt = uniqueDatabase('sqlitenames-rebuilt');
    expect((await call('POST', `/databases/${rebuilt}/import`, dump.bytes, WRITE_KEY, 'application/sql')).status).toBe(200);
    expect((await sql(rebuilt, 'SELECT a FROM sqlitedata ORDER BY a')).body.results?.[0]?.rows).toEqual([[1], [2]]);
    expect((await sql(rebuilt, 'SELECT b FROM SQLite1')).body.results?.[0]?.rows).toEqual([['x']]);
  });

  it('the SQL dump of an imported UTF-16 database rebuilds its text exactly', async () => {
    // import accepts a UTF-16 file (sqlite3 and Python make them with PRAGMA encoding); its dump must load back.
    const SQL = await initSqlJs();
    const utf16 = new SQL.Database();
    utf16.run("PRAGMA encoding = 'UTF-16le'; CREATE TABLE t(s TEXT); INSERT INTO t VALUES ('héllo'), ('plain ascii')");
    const file = utf16.export();
    utf16.close();
    const db = uniqueDatabase('utf16');
    expect((await call('POST', `/databases/${db}/import`, file, WRITE_KEY, 'application/vnd.sqlite3')).status).toBe(200);
    expect((await sql(db, 'SELECT s FROM t ORDER BY rowid')).body.results[0].rows).toEqual([['héllo'], ['plain ascii']]);

    const dump = await call('GET', `/databases/${db}/export?format=sql`, undefined, READ_KEY);
    const rebuilt = uniqueDatabase('utf16-rebuilt');
    expect((await call('POST', `/databases/${rebuilt}/import`, dump.bytes, WRITE_KEY, 'application/sql')).status).toBe(200);
    expect((await sql(rebuilt, 'SELECT s FROM t ORDER BY rowid')).body.results[0].rows).toEqual([['héllo'], ['plain ascii']]);
  });

  it('the SQL dump keeps the bytes of a text that is not valid UTF-8 (as it keeps one holding NUL)', async () => {
    // POST /sql stores such a text (CAST of a blob); the file export keeps it, so must the dump.
    const db = uniqueDatabase('badutf8');
    expect((await sql(db, "CREATE TABLE t(s TEXT); INSERT INTO t VALUES (CAST(X'FF80' AS TEXT)), ('ok')")).status).toBe(200);
    const dump = await call('GET', `/databases/${db}/export?format=sql`, undefined, READ_KEY);
    const rebuilt = uniqueDatabase('badutf8-rebuilt');
    expect((await call('POST', `/databases/${rebuilt}/import`, dump.bytes, WRITE_KEY, 'application/sql')).status).toBe(200);
    const original = (await sql(db, 'SELECT typeof(s), hex(s) FROM t ORDER BY rowid')).body.results[0].rows;
    expect(original).toEqual([['text', 'FF80'], ['text', '6F6B']]);
    expect((await sql(rebuilt, 'SELECT typeof(s), hex(s) FROM t ORDER BY rowid')).body.results[0].rows).toEqual(original);
  });

  describe('a database holding a contentless FTS4 table (content=""), which POST /sql makes', () => {
    // Such a table answers MATCH but refuses a full scan ("SQL logic error"): nothing here may scan it.
    let db: string;
    const search = "SELECT docid FROM f WHERE f MATCH 'hello'";
    beforeAll(async () => {
      db = uniqueDatabase('contentless');
      const created = await sql(db, "CREATE TABLE t(n); INSERT INTO t VALUES (1); CREATE VIRTUAL TABLE f USING fts4(content='', body); INSERT INTO f(docid, body) VALUES (7, 'hello world')");
      expect(created.status).toBe(200);
      expect((await sql(db, search)).body.results[0].rows).toEqual([[7]]);
    });

    it('is described', async () => {
      const described = await call('GET', `/databases/${db}`, undefined, READ_KEY);
      expect(described.status).toBe(200);
      expect(described.body.tables).toEqual(expect.arrayContaining([{ name: 't', rows: 1, rows_capped: false }]));
    });

    it('imports again from its exported file', async () => {
      const file = await call('GET', `/databases/${db}/export?format=sqlite`, undefined, READ_KEY);
      expect(file.status).toBe(200);
      const copy = uniqueDatabase('contentless-copy');
      const imported = await call('POST', `/databases/${copy}/import`, file.bytes, WRITE_KEY, 'application/vnd.sqlite3');
      expect([imported.status, imported.body.error?.message]).toEqual([200, undefined]);
      expect((await sql(copy, search)).body.results[0].rows).toEqual([[7]]);
    });

    it('exports as a SQL dump that rebuilds it (not a 500)', async () => {
      const dump = await call('GET', `/databases/${db}/export?format=sql`, undefined, READ_KEY);
      expect([dump.status, dump.body?.error?.code]).toEqual([200, undefined]);
      const rebuilt = uniqueDatabase('contentless-rebuilt');
      expect((await call('POST', `/databases/${rebuilt}/import`, dump.bytes, WRITE_KEY, 'application/sql')).status).toBe(200);
      expect((await sql(rebuilt, search)).body.results[0].rows).toEqual([[7]]);
    });
  });

  it('a first write with a syntax error is answered with the syntax error, not "does not exist; a write creates it"', async () => {
    // The user was writing: the missing database is not what went wrong, the statement is.
    const db = uniqueDatabase('firsttypo');
    const answer = await sql(db, 'CREATE TABLE t(a,)');
    expect([answer.status, answer.body.error.code, answer.body.error.message]).toEqual([400, 'SQL_ERROR', 'near ")": syntax error']);
  });
});
