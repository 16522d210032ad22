import { randomUUID } from 'node:crypto';
import { CreateBucketCommand, DeleteObjectCommand, HeadObjectCommand, ListObjectVersionsCommand, PutBucketVersioningCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import initSqlJs from 'sql.js';
import { postJson, startTestApi, testConfig, testDynamoDbClient, testS3Client, uniqueDatabase, WRITE_KEY, type TestApi } from '../helpers/test-app';

/**
 * A stage upgraded from the release before version records (docs/deploy.md, "Upgrading a stage
 * from an earlier release"). That release left, built here directly through the SDK:
 * - database objects with no version record, stamped `cloudlite-write-id` (or by hand, unstamped);
 * - lock items of the old lease shape: `owner`, `expires_at_ms` and the table's TTL attribute
 *   `expires_at`, left behind by a writer that crashed (its release was a DeleteItem);
 * - databases deleted by hand: a delete marker, no record (infra/database-bucket.yml: "A database
 *   deleted by hand leaves a delete marker; once its old versions have expired, the marker goes too");
 * - objects from before the bucket was versioned, whose version id is "null".
 */
describe('databases written before version records', () => {
  const config = testConfig();
  const s3 = testS3Client();
  const dynamoDb = testDynamoDbClient();
  let api: TestApi;
  let s3Requests: string[] = [];
  let dynamoDbRequests: string[] = [];

  beforeAll(async () => {
    const s3Client = testS3Client();
    s3Client.middlewareStack.add((next, context) => async (args) => (s3Requests.push(context.commandName!), next(args)), { step: 'initialize' });
    const dynamoDbClient = testDynamoDbClient();
    dynamoDbClient.middlewareStack.add((next, context) => async (args) => (dynamoDbRequests.push(context.commandName!), next(args)), { step: 'initialize' });
    api = await startTestApi(config, { s3Client, dynamoDbClient });
  });
  afterAll(async () => {
    await api?.close();
  });

  const keyOf = (database: string) => `${config.keyPrefix}${database}.sqlite`;
  const countRequests = () => {
    s3Requests = [];
    dynamoDbRequests = [];
  };
  const sql = (database: string, sql_statement: string, extra: Record<string, unknown> = {}) => postJson(api.url, { database, sql_statement, ...extra });
  const call = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${api.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${WRITE_KEY}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as any }; // eslint-disable-line @typescript-eslint/no-explicit-any
  };

  async function sqliteFile(sql: string): Promise<Uint8Array> {
    const SQL = await initSqlJs();
    const db = new SQL.Database();
    db.run(sql);
    const bytes = db.export();
    db.close();
    return bytes;
  }
  /** An object as the earlier release stored it: no record, its write id in the metadata (or none, written by hand). */
  async function legacyObject(database: string, sql: string, { stamped = true, bucket = config.bucket } = {}): Promise<string | undefined> {
    const put = await s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: keyOf(database), Body: await sqliteFile(sql), ...(stamped && { Metadata: { 'cloudlite-write-id': randomUUID() } }) }),
    );
    return put.VersionId;
  }
  /** The earlier release's lease item, left by a writer that crashed holding it until `expiresAtMs`. */
  async function crashedOldLease(database: string, expiresAtMs: number): Promise<void> {
    await dynamoDb.send(
      new PutCommand({ TableName: config.lockTable, Item: { lock_id: database, owner: randomUUID(), expires_at_ms: expiresAtMs, expires_at: Math.ceil(expiresAtMs / 1000) + 1 } }),
    );
  }
  async function lockItem(database: string) {
    return (await dynamoDb.send(new GetCommand({ TableName: config.lockTable, Key: { lock_id: database }, ConsistentRead: true }))).Item;
  }
  /** What S3's lifecycle rules do once the restore window has passed: every version, then the lone marker, expires. */
  async function restoreWindowPasses(database: string): Promise<void> {
    const listed = await s3.send(new ListObjectVersionsCommand({ Bucket: config.bucket, Prefix: keyOf(database) }));
    for (const version of [...(listed.Versions ?? []), ...(listed.DeleteMarkers ?? [])]) {
      await s3.send(new DeleteObjectCommand({ Bucket: config.bucket, Key: keyOf(database), VersionId: version.VersionId }));
    }
  }

  it('a strong read costs one GetItem and one (conditional) GET, and writes nothing to the lock table', async () => {
    const database = uniqueDatabase('legacyread');
    const version = await legacyObject(database, 'CREATE TABLE t(n INTEGER); INSERT INTO t VALUES (1)');

    countRequests();
    const cold = await sql(database, 'SELECT n FROM t');
    expect([cold.status, cold.body.results[0].rows, cold.body.meta.version]).toEqual([200, [[1]], version]);
    expect([s3Requests, dynamoDbRequests]).toEqual([['GetObjectCommand'], ['GetItemCommand']]);

    countRequests();
    const warm = await sql(database, 'SELECT n FROM t');
    expect([warm.body.results[0].rows, warm.body.meta.version]).toEqual([[[1]], version]);
    expect([s3Requests, dynamoDbRequests]).toEqual([['GetObjectCommand'], ['GetItemCommand']]);

    countRequests();
    const eventual = await sql(database, 'SELECT n FROM t', { consistency: 'eventual' });
    expect(eventual.body.meta.version).toBe(version);
    expect([s3Requests, dynamoDbRequests]).toEqual([[], []]);
    expect(await lockItem(database)).toBeUndefined();
  });

  it.each([
    ['stamped by the earlier release', true],
    ['written by hand (no stamp)', false],
  ])('the first write on a database %s records its version, drops the TTL of a crashed old lease, and keeps every row', async (_, stamped) => {
    const database = uniqueDatabase('legacywrite');
    const legacy = await legacyObject(database, 'CREATE TABLE t(n INTEGER); INSERT INTO t VALUES (1)', { stamped });
    await crashedOldLease(database, Date.now() - 1_000);

    const written = await sql(database, 'INSERT INTO t VALUES (2)');
    expect(written.status).toBe(200);
    const item = await lockItem(database);
    // The record names the new version; the sweep can never remove it (no TTL attribute, no lease).
    expect(item).toMatchObject({ version_id: written.body.meta.version });
    expect(item).not.toHaveProperty('expires_at');
    expect(item).not.toHaveProperty('owner');
    expect((await sql(database, 'SELECT n FROM t ORDER BY n')).body.results[0].rows).toEqual([[1], [2]]);
    const versions = await call('GET', `/databases/${database}/versions`);
    expect(versions.body.versions.map((v: { version: string; current: boolean }) => [v.version, v.current])).toEqual([
      [written.body.meta.version, true],
      [legacy, false],
    ]);
  });

  it('a lease an old writer still holds makes writers wait for it, then the first one through records the version', async () => {
    const database = uniqueDatabase('legacyheld');
    await legacyObject(database, 'CREATE TABLE t(n INTEGER); INSERT INTO t VALUES (1)');
    await crashedOldLease(database, Date.now() + 60_000);
    const waiting = await startTestApi(testConfig({ lockWaitMs: 300 }));
    try {
      const refused = await postJson(waiting.url, { database, sql_statement: 'INSERT INTO t VALUES (2)' });
      expect([refused.status, refused.body.error.code]).toEqual([503, 'LOCK_TIMEOUT']);
      expect((await sql(database, 'SELECT n FROM t')).body.results[0].rows).toEqual([[1]]);
    } finally {
      await waiting.close();
    }
    await crashedOldLease(database, Date.now() - 1);
    expect((await sql(database, 'INSERT INTO t VALUES (2)')).status).toBe(200);
    expect(await lockItem(database)).not.toHaveProperty('expires_at');
    expect((await sql(database, 'SELECT n FROM t ORDER BY n')).body.results[0].rows).toEqual([[1], [2]]);
  });

  it('an object from before the bucket was versioned (version id "null") is read, written, listed and restored', async () => {
    const bucket = `cloudlite-unversioned-${randomUUID().slice(0, 8)}`;
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const database = uniqueDatabase('nullversion');
    await legacyObject(database, 'CREATE TABLE t(n INTEGER); INSERT INTO t VALUES (1)', { bucket });
    await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
    expect((await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: keyOf(database) }))).VersionId).toBe('null');
    const other = await startTestApi(testConfig({ bucket }));
    const at = (sql_statement: string, extra: Record<string, unknown> = {}) => postJson(other.url, { database, sql_statement, ...extra });
    try {
      expect((await at('SELECT n FROM t')).body.meta.version).toBe('null');
      const written = await at('INSERT INTO t VALUES (2)');
      expect(written.status).toBe(200);
      expect((await at('SELECT n FROM t ORDER BY n')).body.results[0].rows).toEqual([[1], [2]]);
      expect((await at('SELECT n FROM t ORDER BY n', { version: 'null' })).body.results[0].rows).toEqual([[1]]);
      const restored = await fetch(`${other.url}/databases/${database}/restore`, {
        method: 'POST',
        headers: { authorization: `Bearer ${WRITE_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ version: 'null' }),
      });
      expect(await restored.json()).toMatchObject({ restored_from: 'null', replaced: written.body.meta.version });
      expect((await at('SELECT n FROM t ORDER BY n')).body.results[0].rows).toEqual([[1]]);
    } finally {
      await other.close();
    }
  });

  it('a database deleted by hand is not promised to a write that then refuses it', async () => {
    const database = uniqueDatabase('handdeleted');
    await legacyObject(database, 'CREATE TABLE t(n INTEGER); INSERT INTO t VALUES (1)');
    await s3.send(new DeleteObjectCommand({ Bucket: config.bucket, Key: keyOf(database) }));

    const read = await sql(database, 'SELECT n FROM t');
    const write = await sql(database, 'CREATE TABLE u(x)');

    // Today: the read answers 404 "does not exist; a write creates it", and the write that follows
    // answers 404 "was deleted; restore it" (it adopted the marker as a deletion).
    expect(read.status).toBe(404);
    if (/a write creates it/.test(read.body.error.message)) expect([write.status, write.body.error]).toEqual([200, undefined]);
    else expect(write.body.error.message).toBe(read.body.error.message);
  });

  // Not only a stage upgraded: a database deleted through the API is in the same state once its window passes.
  it('a deleted database stays usable once its restore window has passed', async () => {
    const database = uniqueDatabase('expireddelete');
    expect((await sql(database, 'CREATE TABLE t(n INTEGER); INSERT INTO t VALUES (1)')).status).toBe(200);
    expect((await call('DELETE', `/databases/${database}?confirm=${database}`)).status).toBe(200);
    expect(await lockItem(database)).toMatchObject({ deleted: true });
    await restoreWindowPasses(database);

    // Nothing is left to restore: restore answers 404 VERSION_NOT_FOUND, and the database is not
    // listed, even with ?deleted=true. Yet every write answers 404 "was deleted; restore it".
    expect((await call('POST', `/databases/${database}/restore`, { as_of: new Date().toISOString() })).body.error.code).toBe('VERSION_NOT_FOUND');
    const created = await sql(database, 'CREATE TABLE t(n INTEGER); INSERT INTO t VALUES (2)');
    expect([created.status, created.body.error?.message]).toEqual([200, undefined]);
    expect((await sql(database, 'SELECT n FROM t')).body.results[0].rows).toEqual([[2]]);
  });
});
