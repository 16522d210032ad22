import { CopyObjectCommand } from '@aws-sdk/client-s3';
import { postJson, READ_KEY, startTestApi, testConfig, testS3Client, uniqueDatabase, type TestApi } from '../helpers/test-app';
import { storedVersions } from '../helpers/test-service';

/**
 * docs/deploy.md, "5. Restore a database to an earlier point in time": copy an old version over
 * the current one with `aws s3api copy-object`, and "Warm Lambdas notice the new ETag on their
 * next strong read".
 */
describe('docs/deploy.md: a restore by hand with aws s3api copy-object', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startTestApi();
  });
  afterAll(async () => {
    await api.close();
  });

  it('the next strong read, in a new container too, answers the restored state', async () => {
    const database = uniqueDatabase('hand-restore');
    expect((await postJson(api.url, { database, sql_statement: 'CREATE TABLE counter(n INTEGER); INSERT INTO counter VALUES (0)' })).status).toBe(200);
    const [old] = (await storedVersions(database)).all;
    expect((await postJson(api.url, { database, sql_statement: 'UPDATE counter SET n = 1' })).status).toBe(200);

    // The documented command, through the SDK.
    const { bucket, keyPrefix } = testConfig();
    const key = `${keyPrefix}${database}.sqlite`;
    await testS3Client().send(new CopyObjectCommand({ Bucket: bucket, Key: key, CopySource: `${bucket}/${key}?versionId=${old}` }));

    const cold = await startTestApi();
    try {
      const warmRead = await postJson(api.url, { database, sql_statement: 'SELECT n FROM counter', consistency: 'strong' }, READ_KEY);
      const coldRead = await postJson(cold.url, { database, sql_statement: 'SELECT n FROM counter', consistency: 'strong' }, READ_KEY);
      expect([warmRead.body.results?.[0]?.rows, coldRead.body.results?.[0]?.rows]).toEqual([[[0]], [[0]]]);
    } finally {
      await cold.close();
    }
  });
});
