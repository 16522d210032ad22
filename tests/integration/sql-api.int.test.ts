import { ALLOWED_ORIGIN, postJson, READ_KEY, startTestApi, uniqueDatabase, WRITE_KEY, type TestApi } from '../helpers/test-app';

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

describe('POST /sql the way curl and browsers send it', () => {
  let api: TestApi;
  const database = uniqueDatabase('curl');
  beforeAll(async () => {
    api = await startTestApi();
  });
  afterAll(async () => {
    await api.close();
  });
  const post = (body: string, headers: Record<string, string>, query = '') =>
    fetch(`${api.url}/sql${query}`, { method: 'POST', headers: { authorization: `Bearer ${WRITE_KEY}`, ...headers }, body });

  it("takes a JSON body under curl's default content type (was 415), and a script as raw SQL", async () => {
    const created = await post(JSON.stringify({ database, sql_statement: 'CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT)' }), { 'content-type': 'application/x-www-form-urlencoded' });
    expect(created.status).toBe(200);

    // What `curl --data-binary @script.sql -H 'Content-Type: application/sql'` sends: newlines and comments intact.
    const script = "-- two notes\nINSERT INTO notes(body) VALUES ('a');\nINSERT INTO notes(body) VALUES ('b'); -- done\n";
    const inserted = await post(script, { 'content-type': 'application/sql' }, `?database=${database}`);
    expect(inserted.status).toBe(200);
    expect(((await inserted.json()) as { results: unknown[] }).results).toHaveLength(2);

    const read = await post(`sql_statement=SELECT+n.id%2C+m.id+FROM+notes+n+JOIN+notes+m+ON+m.id+%3D+n.id+ORDER+BY+n.id&database=${database}&rows=objects`, {
      'content-type': 'application/x-www-form-urlencoded',
    });
    expect(((await read.json()) as { results: { rows: unknown[] }[] }).results[0]!.rows).toEqual([
      { id: 1, 'id:1': 1 },
      { id: 2, 'id:1': 2 },
    ]);
  });

  it('answers x-request-id on every answer, and the same id in error bodies', async () => {
    const failed = await post('SELEC 1', { 'content-type': 'text/plain' }, `?database=${database}`);
    const body = (await failed.json()) as { error: { code: string; request_id: string } };
    expect(body.error.code).toBe('SQL_ERROR');
    expect(body.error.request_id).toBe(failed.headers.get('x-request-id'));
    expect(failed.headers.get('x-request-id')).toMatch(/\S{8,}/);
  });

  it('lets the configured browser origin preflight and read POST /sql, and no other', async () => {
    const preflight = (origin: string) =>
      fetch(`${api.url}/sql`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type, idempotency-key' } });
    const allowed = await preflight(ALLOWED_ORIGIN);
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get('access-control-allow-origin')).toBe(ALLOWED_ORIGIN);
    expect(allowed.headers.get('access-control-allow-headers')).toMatch(/Idempotency-Key/);
    expect((await preflight('https://elsewhere.example')).headers.get('access-control-allow-origin')).toBeNull();

    const answered = await post('SELECT 1', { 'content-type': 'application/sql', origin: ALLOWED_ORIGIN }, `?database=${database}`);
    expect(answered.headers.get('access-control-allow-origin')).toBe(ALLOWED_ORIGIN);
    expect(answered.headers.get('access-control-expose-headers')).toMatch(/x-request-id/);
  });
});
