import { ApiError, createClient, SqlError, type Client } from '../../clients/typescript/src/index.ts';
import { READ_KEY, startTestApi, uniqueDatabase, WRITE_KEY, type TestApi } from '../helpers/test-app';

describe('the TypeScript client against the local stack', () => {
  let api: TestApi;
  let client: Client;
  let database: string;
  beforeAll(async () => {
    api = await startTestApi();
    database = uniqueDatabase('client');
    client = createClient({ url: api.url, key: WRITE_KEY, database });
    await client.execute('CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, big INTEGER, data BLOB)');
  });
  afterAll(async () => {
    await api.close();
  });

  it('execute writes and reports the rowid; query reads it back as typed objects', async () => {
    const inserted = await client.execute('INSERT INTO items (name) VALUES (?)', ['pen']);
    expect(inserted.changes).toBe(1);
    expect(typeof inserted.lastInsertRowid).toBe('number');
    expect(inserted.meta).toMatchObject({ database, wrote: true });

    interface Item {
      id: number;
      name: string;
    }
    const { rows } = await client.query<Item>('SELECT id, name FROM items WHERE id = :id', { id: inserted.lastInsertRowid! }, { rows: 'objects' });
    expect(rows).toEqual([{ id: inserted.lastInsertRowid, name: 'pen' }]);
  });

  it('64-bit integers and blobs survive the round trip exactly', async () => {
    const big = -9223372036854775808n;
    const data = new Uint8Array([0, 1, 254, 255]);
    const { lastInsertRowid } = await client.execute('INSERT INTO items (name, big, data) VALUES (?, ?, ?)', ['exact', big, data]);
    const { rows } = await client.query('SELECT big, data, big + 1 FROM items WHERE id = ?', [lastInsertRowid!], { bigIntColumns: ['big', 'big + 1'] });
    expect(rows).toEqual([[big, data, big + 1n]]);
  });

  it('a batch is atomic: a failing statement applies none, and says which one failed', async () => {
    const before = (await client.query('SELECT count(*) FROM items')).rows[0]![0];
    const failing = client.batch([{ sql: 'INSERT INTO items (name) VALUES (?)', params: ['ink'] }, 'INSERT INTO items (name) VALUES (NULL)']);
    await expect(failing).rejects.toBeInstanceOf(SqlError);
    await expect(failing).rejects.toMatchObject({ code: 'SQL_ERROR', status: 400, statementIndex: 1 });
    expect((await client.query('SELECT count(*) FROM items')).rows[0]![0]).toBe(before);

    const applied = await client.batch([{ sql: 'INSERT INTO items (name) VALUES (?)', params: ['ink'] }, 'SELECT count(*) FROM items']);
    expect(applied.results[1]!.rows).toEqual([[(before as number) + 1]]);
  });

  it('reads with eventual consistency, and writes carry an Idempotency-Key the server accepts', async () => {
    const seen: string[] = [];
    const recording = createClient({
      url: api.url,
      key: WRITE_KEY,
      database,
      fetch: (url, init) => {
        seen.push((init.headers as Record<string, string>)['idempotency-key'] ?? 'none');
        return fetch(url, init);
      },
    });
    await recording.execute('INSERT INTO items (name) VALUES (?)', ['keyed']);
    expect((await recording.query('SELECT 1', undefined, { consistency: 'eventual', idempotencyKey: false })).rows).toEqual([[1]]);
    expect(seen[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(seen[1]).toBe('none');
  });

  it('a read key that writes gets ApiError FORBIDDEN, and a missing database DATABASE_NOT_FOUND', async () => {
    const reader = createClient({ url: api.url, key: READ_KEY, database });
    await expect(reader.execute('DELETE FROM items')).rejects.toMatchObject({ name: 'ApiError', code: 'FORBIDDEN', status: 403 });
    const missing = reader.query('SELECT 1', undefined, { database: uniqueDatabase('never') });
    await expect(missing).rejects.toBeInstanceOf(ApiError);
    await expect(missing).rejects.toMatchObject({ code: 'DATABASE_NOT_FOUND', status: 404 });
  });
  // docs/lifecycle.md: a file above the inline limit goes through the staged upload
  // (`{"upload": true}`, a presigned POST, then `{"staged"}`). The client (and so `cloudlite
  // import`) only ever posted the bytes inline: a database that `exportDatabase` /
  // `cloudlite export` downloads (up to MAX_DATABASE_MB, 400 MB) could not be imported again
  // once it passed MAX_BODY_BYTES (4 MiB by default; 1 MiB here): 413 PAYLOAD_TOO_LARGE.
  it('(review) imports a file larger than the request body limit, as its export gave it', async () => {
    const source = uniqueDatabase('client-big');
    await client.execute('CREATE TABLE big (x BLOB); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1500) INSERT INTO big SELECT randomblob(1000) FROM n', undefined, { database: source });
    const file = await client.exportDatabase(source);
    expect(file.byteLength).toBeGreaterThan(1_048_576); // the test stack's maxBodyBytes
    const copy = uniqueDatabase('client-big-copy');
    await client.importDatabase(copy, file);
    const { rows } = await client.query('SELECT count(*), sum(length(x)) FROM big', undefined, { database: copy });
    expect(rows).toEqual([[1500, 1_500_000]]);
  });
});
