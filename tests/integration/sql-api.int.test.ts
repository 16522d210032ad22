import { postJson, READ_KEY, startTestApi, uniqueDatabase, type TestApi } from '../helpers/test-app';

describe('POST /sql through the local API gateway, S3 and DynamoDB', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startTestApi();
  });
  afterAll(async () => {
    await api.close();
  });

  it('writes create a database and reads see them, with the version in meta', async () => {
    const database = uniqueDatabase('roundtrip');
    const created = await postJson(api.url, {
      database,
      sql_statement: "CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT); INSERT INTO items(name) VALUES ('a'), ('b')",
    });
    expect(created.status).toBe(200);
    expect(created.body.meta).toMatchObject({ database, wrote: true });
    expect(created.body.results[1]).toMatchObject({ changes: 2, last_insert_rowid: 2 });

    const read = await postJson(api.url, { database, sql_statement: 'SELECT id, name FROM items ORDER BY id' }, READ_KEY);
    expect(read.status).toBe(200);
    expect(read.body.results).toEqual([{ columns: ['id', 'name'], rows: [[1, 'a'], [2, 'b']], changes: 0, last_insert_rowid: null }]);
    expect(read.body.meta).toMatchObject({ database, wrote: false, version: created.body.meta.version });
  });

  it('a read of a database never written answers 404 DATABASE_NOT_FOUND', async () => {
    const response = await postJson(api.url, { database: uniqueDatabase('missing'), sql_statement: 'SELECT 1' });
    expect(response.status).toBe(404);
    expect(response.body.error.code).toBe('DATABASE_NOT_FOUND');
  });

  it('a read of a missing table in a database never written is also 404 DATABASE_NOT_FOUND', async () => {
    const response = await postJson(api.url, { database: uniqueDatabase('missing'), sql_statement: 'SELECT * FROM items' });
    expect(response.status).toBe(404);
    expect(response.body.error.code).toBe('DATABASE_NOT_FOUND');
  });
});
