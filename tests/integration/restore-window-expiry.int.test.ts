import { randomUUID } from 'node:crypto';
import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import initSqlJs from 'sql.js';
import { postJson, READ_KEY, startTestApi, testConfig, testS3Client, uniqueDatabase, type TestApi } from '../helpers/test-app';

/**
 * The bucket's noncurrent-version rule (infra/database-bucket.yml, restore-window) expires a
 * version `restoreWindowDays` after another version was stored on top of it. A version stored by
 * a writer that never published it (it crashed, or its publish failed: 503 WRITE_OUTCOME_UNKNOWN)
 * is on top of the version the record names: if nobody writes for the restore window, the
 * published version itself expires. Built here as S3 leaves it: an unpublished, stamped object
 * on top, then the record's version removed as the lifecycle rule removes it.
 */
describe('a published version that expired under a version nobody published', () => {
  const config = testConfig();
  const s3 = testS3Client();
  let api: TestApi;
  beforeAll(async () => {
    api = await startTestApi(config);
  });
  afterAll(async () => {
    await api?.close();
  });

  async function quietForTheRestoreWindowAfterACrashedWrite(database: string): Promise<void> {
    const published = await postJson(api.url, { database, sql_statement: 'CREATE TABLE t(n INTEGER); INSERT INTO t VALUES (1)' });
    expect(published.status).toBe(200);
    const SQL = await initSqlJs();
    const file = new SQL.Database();
    file.run('CREATE TABLE t(n INTEGER); INSERT INTO t VALUES (1); INSERT INTO t VALUES (2)');
    const key = `${config.keyPrefix}${database}.sqlite`;
    // The crashed write's upload: stamped, fenced on the published version, never published.
    await s3.send(new PutObjectCommand({ Bucket: config.bucket, Key: key, Body: file.export(), Metadata: { 'cloudlite-write-id': randomUUID() } }));
    file.close();
    // restoreWindowDays later: the published version is noncurrent, and expires.
    await s3.send(new DeleteObjectCommand({ Bucket: config.bucket, Key: key, VersionId: published.body.meta.version }));
  }

  it('is taken over by the next writer, from a cold container too (today every write answers 503 STORAGE_UNAVAILABLE, for good)', async () => {
    const database = uniqueDatabase('expiredrecord');
    await quietForTheRestoreWindowAfterACrashedWrite(database);
    // Every container is cold by now.
    const cold = await startTestApi(config);
    try {
      // The next writer adopts the unpublished version, as it does while the published one exists.
      const write = await postJson(cold.url, { database, sql_statement: 'INSERT INTO t VALUES (3)' });
      expect([write.status, write.body.error?.code]).toEqual([200, undefined]);
      const after = await postJson(cold.url, { database, sql_statement: 'SELECT n FROM t ORDER BY n' }, READ_KEY);
      expect(after.body.results[0].rows).toEqual([[1], [2], [3]]);
    } finally {
      await cold.close();
    }
  });

  it('is not said to be missing by describe, versions and export while GET /databases lists it (today 404 "does not exist; a write creates it")', async () => {
    const database = uniqueDatabase('expiredhistory');
    await quietForTheRestoreWindowAfterACrashedWrite(database);
    const listed = await fetch(`${api.url}/databases?limit=1000`, { headers: { authorization: `Bearer ${READ_KEY}` } });
    expect(((await listed.json()) as { databases: { name: string }[] }).databases.map((d: { name: string }) => d.name)).toContain(database);
    for (const path of [`/databases/${database}`, `/databases/${database}/versions`, `/databases/${database}/export`]) {
      const response = await fetch(`${api.url}${path}`, { headers: { authorization: `Bearer ${READ_KEY}` } });
      expect([path, response.status]).not.toEqual([path, 404]);
    }
  });
});
