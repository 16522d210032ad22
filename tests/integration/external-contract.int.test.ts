import { postJson, startTestApi, uniqueDatabase, WRITE_KEY, type TestApi } from '../helpers/test-app';

/**
 * What a deployment must do whatever the storage's permissions: create a database on its first
 * write, answer 404 for a missing one, and read the current version through its version record
 * and a past version by its S3 version id. The local stack enforces no IAM, so `npm run test:aws
 * -- --url <HttpApiUrl> --key <write key>` runs this file through the deployed API, where every
 * request runs under the role the stage gives its function (a GET of a missing key is a 404
 * only with s3:ListBucket; a past version needs s3:GetObjectVersion; the version record
 * dynamodb:GetItem). Everywhere else it runs through the local API on the suite's stack.
 */

const deployed = process.env.CLOUDLITE_TEST_API_URL ? { url: process.env.CLOUDLITE_TEST_API_URL.replace(/\/$/, ''), key: process.env.CLOUDLITE_TEST_API_KEY } : undefined;

describe(`the storage contract, through ${deployed ? 'the deployed API and its roles' : 'the local API'}`, () => {
  let api: TestApi | undefined;
  let url: string;
  let key: string;
  beforeAll(async () => {
    if (deployed && !deployed.key) throw new Error('CLOUDLITE_TEST_API_URL needs CLOUDLITE_TEST_API_KEY: a write key for databases named contract-*');
    api = deployed ? undefined : await startTestApi();
    url = deployed?.url ?? api!.url;
    key = deployed?.key ?? WRITE_KEY;
  });
  afterAll(async () => {
    await api?.close();
  });
  const sql = (body: Record<string, unknown>) => postJson(url, body, key);

  it('a first write creates a database, and a strong read then finds it at that version', async () => {
    const database = uniqueDatabase('contract');

    const created = await sql({ database, sql_statement: "CREATE TABLE notes(body TEXT); INSERT INTO notes VALUES ('first')" });
    const read = await sql({ database, sql_statement: 'SELECT body FROM notes' });

    expect(created.status).toBe(200);
    expect(created.body.meta).toMatchObject({ database, wrote: true, version: expect.any(String) });
    expect(read.status).toBe(200);
    expect(read.body.results[0].rows).toEqual([['first']]);
    expect(read.body.meta).toMatchObject({ wrote: false, version: created.body.meta.version });
  });

  it('a read of a missing database is 404 DATABASE_NOT_FOUND, on POST /sql and on GET /databases/{name}', async () => {
    const database = uniqueDatabase('contract');

    const read = await sql({ database, sql_statement: 'SELECT 1' });
    const info = await fetch(`${url}/databases/${database}`, { headers: { authorization: `Bearer ${key}` } });

    expect([read.status, read.body.error.code]).toEqual([404, 'DATABASE_NOT_FOUND']);
    expect(info.status).toBe(404);
    expect(((await info.json()) as { error: { code: string } }).error.code).toBe('DATABASE_NOT_FOUND');
  });

  it('a strong read answers from the version record, and a read of a past version gets exactly that S3 version', async () => {
    const database = uniqueDatabase('contract');
    const first = await sql({ database, sql_statement: "CREATE TABLE notes(body TEXT); INSERT INTO notes VALUES ('first')" });
    const second = await sql({ database, sql_statement: "UPDATE notes SET body = 'second'" });
    expect([first.status, second.status]).toEqual([200, 200]);
    expect(second.body.meta.version).not.toBe(first.body.meta.version);

    const current = await sql({ database, sql_statement: 'SELECT body FROM notes' });
    const past = await sql({ database, version: first.body.meta.version, sql_statement: 'SELECT body FROM notes' });

    expect(current.status).toBe(200);
    expect(current.body.meta.version).toBe(second.body.meta.version);
    expect(current.body.results[0].rows).toEqual([['second']]);
    expect(past.status).toBe(200);
    expect(past.body.meta.version).toBe(first.body.meta.version);
    expect(past.body.results[0].rows).toEqual([['first']]);
  });
});
