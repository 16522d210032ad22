import { randomBytes } from 'node:crypto';
import { postJson, READ_KEY, startTestApi, testConfig, uniqueDatabase, type TestApi } from '../helpers/test-app';
import { storedVersions } from '../helpers/test-service';

const RUNAWAY = 'WITH RECURSIVE forever(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM forever) SELECT count(*) FROM forever';

describe('values round-trip exactly, and limits answer clearly', () => {
  // Statement timeouts far beyond what the memory bombs and large results need, so those tests
  // see the limit they are about even on a busy machine; the runaway tests use `impatient`.
  let api: TestApi;
  let impatient: TestApi;
  const existing = uniqueDatabase('bind');
  beforeAll(async () => {
    api = await startTestApi(testConfig({ statementTimeoutMs: 25_000, limits: { ...testConfig().limits, maxResultBytes: 200_000, maxDatabaseBytes: 256 * 1024 } }));
    impatient = await startTestApi(testConfig({ statementTimeoutMs: 1_500 }));
    expect((await postJson(api.url, { database: existing, sql_statement: 'CREATE TABLE t(x)' })).status).toBe(200);
  });
  afterAll(async () => {
    await api.close();
    await impatient.close();
  });

  it('big integers, reals, text, blobs, booleans and nulls round-trip exactly', async () => {
    const database = uniqueDatabase('values');
    const blob = randomBytes(4096).toString('base64');
    const write = await postJson(api.url, {
      database,
      statements: [
        { sql: 'CREATE TABLE v(i INTEGER, r REAL, t TEXT, b BLOB, flag INTEGER, n)' },
        {
          sql: 'INSERT INTO v VALUES (?, ?, ?, ?, ?, ?), (?, ?, ?, ?, ?, ?)',
          params: [
            { integer: '9223372036854775807' }, 3.25, 'héllo ✓', { base64: blob }, true, null,
            { integer: '-9223372036854775808' }, -0.5, '', { base64: '' }, false, null,
          ],
        },
        { sql: 'INSERT INTO v(i) VALUES (:safe)', params: { safe: 9007199254740991 } },
      ],
    });
    expect(write.status).toBe(200);

    const read = await postJson(api.url, { database, sql_statement: 'SELECT i, r, t, b, flag, n, typeof(i), typeof(b) FROM v ORDER BY rowid' });
    expect(read.status).toBe(200);
    expect(read.body.results[0].rows).toEqual([
      ['9223372036854775807', 3.25, 'héllo ✓', { base64: blob }, 1, null, 'integer', 'blob'],
      ['-9223372036854775808', -0.5, '', { base64: '' }, 0, null, 'integer', 'blob'],
      [9007199254740991, null, null, null, null, null, 'integer', 'null'],
    ]);
  });

  it.each([
    [3_000_000_000, ['integer', 428_571_428]],
    [-3_000_000_000, ['integer', -428_571_428]],
    [9007199254740991, ['integer', 1_286_742_750_677_284]],
    [1.5, ['real', 0.21428571428571427]],
  ])('the JSON number %p binds as %j (typeof, ? / 7)', async (value, expected) => {
    const answer = await postJson(api.url, { database: existing, sql_statement: 'SELECT typeof(?1), ?1 / 7', params: [value] });
    expect(answer.status).toBe(200);
    expect(answer.body.results[0].rows).toEqual([expected]);
  });

  it('{"integer": "<decimal>"} binds as that exact 64-bit INTEGER', async () => {
    const answer = await postJson(api.url, {
      database: existing,
      sql_statement: 'SELECT typeof(:big), :big, :big - 1',
      params: { big: { integer: '9223372036854775807' } },
    });
    expect(answer.status).toBe(200);
    expect(answer.body.results[0].rows).toEqual([['integer', '9223372036854775807', '9223372036854775806']]);
  });

  it('last_insert_rowid is reported whenever a row was inserted, also a rowid the connection had reported before', async () => {
    const database = uniqueDatabase('rowid');
    expect((await postJson(api.url, { database, sql_statement: "CREATE TABLE t(id INTEGER PRIMARY KEY, x); INSERT INTO t VALUES (5, 'a')" })).status).toBe(200);
    const replaced = await postJson(api.url, { database, sql_statement: "INSERT OR REPLACE INTO t VALUES (5, 'b')" });
    expect(replaced.body.results[0]).toMatchObject({ changes: 1, last_insert_rowid: 5 });
    const failed = await postJson(api.url, { database, sql_statement: "INSERT INTO t VALUES (6, 'c'); INSERT INTO nowhere VALUES (1)" });
    expect(failed.status).toBe(400);
    const reused = await postJson(api.url, { database, sql_statement: "INSERT INTO t VALUES (6, 'c')" });
    expect(reused.body.results[0]).toMatchObject({ changes: 1, last_insert_rowid: 6 });
  });

  it('TEMP tables work within a request, read or write, and are gone after it', async () => {
    const database = uniqueDatabase('temp');
    const staged = await postJson(api.url, {
      database,
      sql_statement: 'CREATE TABLE t(x); CREATE TEMP TABLE stage(x); INSERT INTO stage VALUES (1), (2); INSERT INTO t SELECT x * 10 FROM stage',
    });
    expect(staged.status).toBe(200);
    const read = await postJson(api.url, { database, sql_statement: 'CREATE TEMP VIEW big AS SELECT x FROM t WHERE x > 10; SELECT x FROM big' }, READ_KEY);
    expect(read.status).toBe(200);
    expect(read.body.results[1].rows).toEqual([[20]]);
    for (const gone of ['SELECT * FROM stage', 'SELECT * FROM big']) {
      const answer = await postJson(api.url, { database, sql_statement: gone });
      expect(answer.body.error).toMatchObject({ code: 'SQL_ERROR', message: expect.stringMatching(/^no such table/) });
    }
  });

  it('a write that would grow the database past MAX_DATABASE_MB gets 413 DATABASE_TOO_LARGE and stores nothing', async () => {
    const database = uniqueDatabase('toolarge');
    expect((await postJson(api.url, { database, sql_statement: 'CREATE TABLE b(x)' })).status).toBe(200);
    const before = await storedVersions(database);
    const answer = await postJson(api.url, { database, sql_statement: 'INSERT INTO b VALUES (zeroblob(300000))' });
    expect(answer.status).toBe(413);
    expect(answer.body.error.code).toBe('DATABASE_TOO_LARGE');
    expect(await storedVersions(database)).toEqual(before);
    expect((await postJson(api.url, { database, sql_statement: 'SELECT count(*) FROM b' })).body.results[0].rows).toEqual([[0]]);
  });

  it('"params" given to a script of several statements says that it needs a single statement', async () => {
    const answer = await postJson(api.url, { database: existing, sql_statement: 'SELECT ?; SELECT ?', params: [1] });
    expect(answer.status).toBe(400);
    expect(answer.body.error.message).toMatch(/"params" needs a single statement/);
  });

  it('a runaway statement is stopped with 504 STATEMENT_TIMEOUT and the service keeps answering', async () => {
    const database = uniqueDatabase('runaway');
    expect((await postJson(api.url, { database, sql_statement: 'CREATE TABLE t(x); INSERT INTO t VALUES (1)' })).status).toBe(200);

    const stopped = await postJson(impatient.url, { database, sql_statement: RUNAWAY });
    expect(stopped.status).toBe(504);
    expect(stopped.body.error.code).toBe('STATEMENT_TIMEOUT');

    const after = await postJson(impatient.url, { database, sql_statement: 'SELECT x FROM t' });
    expect(after.status).toBe(200);
    expect(after.body.results[0].rows).toEqual([[1]]);
  });

  it('a write that times out changes nothing and releases the lease', async () => {
    const database = uniqueDatabase('slowwrite');
    expect((await postJson(impatient.url, { database, sql_statement: 'CREATE TABLE t(x); INSERT INTO t VALUES (1)' })).status).toBe(200);
    const before = await storedVersions(database);

    const stopped = await postJson(impatient.url, { database, sql_statement: `INSERT INTO t ${RUNAWAY}` });
    expect(stopped.status).toBe(504);
    expect(await storedVersions(database)).toEqual(before);

    // The lease (15 s) outlasts the lock wait (5 s): had it not been released, this would be 503 LOCK_TIMEOUT.
    const next = await postJson(impatient.url, { database, sql_statement: 'INSERT INTO t VALUES (2)' });
    expect(next.status).toBe(200);
  });

  it.each([
    ['randomblob(2000000000)', 'SELECT randomblob(2000000000)'],
    ['a zeroblob bomb', 'SELECT zeroblob(900000000)'],
    ['a huge group_concat', "WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r WHERE x < 10000) SELECT length(group_concat(hex(zeroblob(100000)))) FROM r"],
  ])('%s gets 422 RESOURCE_LIMIT and the process survives', async (_name, sql) => {
    const database = uniqueDatabase('memory');
    expect((await postJson(api.url, { database, sql_statement: 'CREATE TABLE t(x)' })).status).toBe(200);
    const answer = await postJson(api.url, { database, sql_statement: sql });
    expect(answer.status).toBe(422);
    expect(answer.body.error.code).toBe('RESOURCE_LIMIT');
    expect((await postJson(api.url, { database, sql_statement: 'SELECT 1' })).status).toBe(200);
  });

  it('a result within the row budget but past Lambda\'s 6 MB response once encoded gets 413, not a bare 502', async () => {
    const roomy = await startTestApi(testConfig({ limits: { ...testConfig().limits, maxResultBytes: 20_000_000 } }));
    try {
      const database = uniqueDatabase('escaped');
      expect((await postJson(roomy.url, { database, sql_statement: 'CREATE TABLE t(x)' })).status).toBe(200);
      // One million control characters: 1 MB in SQLite, 6 MB as JSON escapes, more once Lambda
      // encodes the body string again.
      const answer = await postJson(roomy.url, { database, sql_statement: "SELECT replace(hex(zeroblob(500000)), '0', char(1))" });
      expect(answer.status).toBe(413);
      expect(answer.body.error.code).toBe('RESULT_TOO_LARGE');

      // A write whose rows cannot travel was still stored: it says so, without the rows.
      const write = await postJson(roomy.url, {
        database,
        statements: [{ sql: 'INSERT INTO t VALUES (42)' }, { sql: "SELECT replace(hex(zeroblob(500000)), '0', char(1)) AS big" }],
      });
      expect(write.status).toBe(200);
      expect(write.body.meta).toMatchObject({ wrote: true, rows_omitted: true });
      expect(write.body.results).toEqual([
        { columns: [], rows: [], changes: 1, last_insert_rowid: 1 },
        { columns: ['big'], rows: [], changes: 0, last_insert_rowid: null },
      ]);
      expect((await postJson(roomy.url, { database, sql_statement: 'SELECT x FROM t' })).body.results[0].rows).toEqual([[42]]);
    } finally {
      await roomy.close();
    }
  });

  it('a result past the size limit gets 413 RESULT_TOO_LARGE', async () => {
    const database = uniqueDatabase('bigresult');
    expect((await postJson(api.url, { database, sql_statement: 'CREATE TABLE t(x)' })).status).toBe(200);
    const answer = await postJson(api.url, {
      database,
      sql_statement: "WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r WHERE x < 100000) SELECT x, 'padding padding padding' FROM r",
    });
    expect(answer.status).toBe(413);
    expect(answer.body.error.code).toBe('RESULT_TOO_LARGE');
  });
});
