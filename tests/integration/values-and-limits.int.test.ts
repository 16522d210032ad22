import { randomBytes } from 'node:crypto';
import { postJson, startTestApi, testConfig, uniqueDatabase, type TestApi } from '../helpers/test-app';
import { storedVersions } from '../helpers/test-service';

const RUNAWAY = 'WITH RECURSIVE forever(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM forever) SELECT count(*) FROM forever';

describe('values round-trip exactly, and limits answer clearly', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startTestApi(testConfig({ statementTimeoutMs: 1_500, limits: { ...testConfig().limits, maxResultBytes: 200_000 } }));
  });
  afterAll(async () => {
    await api.close();
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

  it('a runaway statement is stopped with 504 STATEMENT_TIMEOUT and the service keeps answering', async () => {
    const database = uniqueDatabase('runaway');
    expect((await postJson(api.url, { database, sql_statement: 'CREATE TABLE t(x); INSERT INTO t VALUES (1)' })).status).toBe(200);

    const started = Date.now();
    const stopped = await postJson(api.url, { database, sql_statement: RUNAWAY });
    expect(stopped.status).toBe(504);
    expect(stopped.body.error.code).toBe('STATEMENT_TIMEOUT');
    expect(Date.now() - started).toBeLessThan(10_000);

    const after = await postJson(api.url, { database, sql_statement: 'SELECT x FROM t' });
    expect(after.status).toBe(200);
    expect(after.body.results[0].rows).toEqual([[1]]);
  });

  it('a write that times out changes nothing and releases the lease', async () => {
    const database = uniqueDatabase('slowwrite');
    expect((await postJson(api.url, { database, sql_statement: 'CREATE TABLE t(x); INSERT INTO t VALUES (1)' })).status).toBe(200);
    const before = await storedVersions(database);

    const stopped = await postJson(api.url, { database, sql_statement: `INSERT INTO t ${RUNAWAY}` });
    expect(stopped.status).toBe(504);
    expect(await storedVersions(database)).toEqual(before);

    // The next writer gets the lease at once rather than waiting for it to expire.
    const next = await postJson(api.url, { database, sql_statement: 'INSERT INTO t VALUES (2)' });
    expect(next.status).toBe(200);
    expect(next.body.meta.timings.lock_ms).toBeLessThan(1_000);
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
