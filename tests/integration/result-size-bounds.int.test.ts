import { postJson, READ_KEY, startTestApi, testConfig, uniqueDatabase, type TestApi } from '../helpers/test-app';

/**
 * MAX_RESULT_BYTES bounds the whole answer, not only the cells the engine counts: whatever
 * repeats per row in the JSON (an object key) or is sent beside the rows is the tenant's to
 * choose, and an answer built past the limit costs the function's memory and CPU before any
 * check sees it (a 90,000-character column name over 150,000 rows took a local server to
 * 2.7 GB and 41 s of its main thread, then answered 500).
 */
describe('MAX_RESULT_BYTES bounds the answer as it is sent', () => {
  const MAX_RESULT_BYTES = 100_000;
  let api: TestApi;
  const database = uniqueDatabase('result-size');
  beforeAll(async () => {
    api = await startTestApi(testConfig({ limits: { ...testConfig().limits, maxResultBytes: MAX_RESULT_BYTES } }));
    expect((await postJson(api.url, { database, sql_statement: 'CREATE TABLE t(x)' })).status).toBe(200);
  });
  afterAll(async () => {
    await api.close();
  });

  it('rows as objects: a long column name repeated in every row counts (2 MB of keys against a 100 KB limit)', async () => {
    const name = 'k'.repeat(2_000);
    const answer = await postJson(
      api.url,
      { database, rows: 'objects', sql_statement: `WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 1000) SELECT i AS ${name} FROM r` },
      READ_KEY,
    );
    expect({ status: answer.status, code: answer.body.error?.code }).toEqual({ status: 413, code: 'RESULT_TOO_LARGE' });
  });

  it('column names count: one row whose 500 column names are 1 MB against a 100 KB limit', async () => {
    const named = uniqueDatabase('long-column');
    expect((await postJson(api.url, { database: named, sql_statement: `CREATE TABLE t(${'c'.repeat(2_000)}); INSERT INTO t VALUES (1)` })).status).toBe(200);
    const everyColumn500Times = Array.from({ length: 500 }, () => '*').join(', ');
    const answer = await postJson(api.url, { database: named, sql_statement: `SELECT ${everyColumn500Times} FROM t` }, READ_KEY);
    expect({ status: answer.status, code: answer.body.error?.code }).toEqual({ status: 413, code: 'RESULT_TOO_LARGE' });
  });
});
