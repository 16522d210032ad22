import { PutObjectCommand } from '@aws-sdk/client-s3';
import initSqlJs from 'sql.js';
import { FaultProxy, leaseStep, S3_CONDITIONAL_CONFLICT, DYNAMODB_INTERNAL_ERROR, DYNAMODB_THROTTLED, S3_INTERNAL_ERROR, S3_SLOW_DOWN, type ProxiedRequest } from '../helpers/fault-proxy';
import { postJson, READ_KEY, startTestApi, testConfig, testS3Client, uniqueDatabase, type TestApi } from '../helpers/test-app';
import { buildService, holdAfterWrite, script, sleep, storedBytes, storedVersions } from '../helpers/test-service';

/**
 * Faults injected by real proxies in front of the local S3 and DynamoDB servers. Every case
 * must end in a documented, retryable answer (never a false success), the stored database
 * exactly old or exactly new, the lease released or expiring, and the next request working.
 */
describe('failures of S3 and DynamoDB', () => {
  let s3: FaultProxy;
  let dynamoDb: FaultProxy;
  let api: TestApi;

  beforeAll(async () => {
    s3 = await new FaultProxy(process.env.S3_ENDPOINT!).start();
    dynamoDb = await new FaultProxy(process.env.DYNAMODB_ENDPOINT!).start();
    api = await startTestApi(
      testConfig({ s3Endpoint: s3.url, dynamoDbEndpoint: dynamoDb.url, s3RequestTimeoutMs: 1_000, dynamoDbRequestTimeoutMs: 500, leaseMs: 3_000, leaseSafetyMarginMs: 500 }),
    );
  });
  afterEach(() => {
    s3.clear();
    dynamoDb.clear();
  });
  afterAll(async () => {
    await api.close();
    await Promise.all([s3.close(), dynamoDb.close()]);
  });

  const putOf = (database: string) => (r: ProxiedRequest) => r.method === 'PUT' && r.path.includes(`${database}.sqlite`);
  const getOf = (database: string) => (r: ProxiedRequest) => r.method === 'GET' && r.path.includes(`${database}.sqlite`);
  const operation = (name: string) => (r: ProxiedRequest) => r.operation === name;

  async function seeded(prefix: string): Promise<{ database: string; version?: string; bytes: Buffer }> {
    const database = uniqueDatabase(prefix);
    const created = await postJson(api.url, { database, sql_statement: 'CREATE TABLE t(x INTEGER); INSERT INTO t VALUES (1)' });
    expect(created.status).toBe(200);
    return { database, version: (await storedVersions(database)).current, bytes: await storedBytes(database) };
  }

  async function expectUnchanged(seed: { database: string; version?: string; bytes: Buffer }): Promise<void> {
    expect((await storedVersions(seed.database)).current).toBe(seed.version);
    expect((await storedBytes(seed.database)).equals(seed.bytes)).toBe(true);
  }

  async function expectNextWriteWorks(database: string): Promise<void> {
    const next = await postJson(api.url, { database, sql_statement: 'INSERT INTO t VALUES (2)' });
    expect(next.status).toBe(200);
    expect(next.body.meta.wrote).toBe(true);
  }

  it.each([
    ['fails with 500 InternalError', S3_INTERNAL_ERROR],
    ['is throttled with 503 SlowDown', S3_SLOW_DOWN],
    ['times out', { kind: 'hang' } as const],
  ])('an upload that %s is an unknown outcome (503 with its write id, never "not applied"); here it stored nothing', async (_name, fault) => {
    const seed = await seeded('putfail');
    s3.inject(putOf(seed.database), fault);

    const answer = await postJson(api.url, { database: seed.database, sql_statement: 'INSERT INTO t VALUES (99)' });

    // S3 may still store an upload it answered with an error or never answered at all.
    expect(answer.status).toBe(503);
    expect(answer.body.error).toMatchObject({ code: 'WRITE_OUTCOME_UNKNOWN', write_id: expect.any(String) });
    expect(answer.headers.get('retry-after')).toBe('1');
    s3.clear();
    await expectUnchanged(seed);
    await expectNextWriteWorks(seed.database);
  });

  it('an upload that landed but whose answer was lost is reported as the success it was', async () => {
    const seed = await seeded('lostreply');
    s3.inject(putOf(seed.database), { kind: 'drop-response' }, 1);

    const answer = await postJson(api.url, { database: seed.database, sql_statement: 'INSERT INTO t VALUES (7)' });

    expect(answer.status).toBe(200);
    expect(answer.body.meta.wrote).toBe(true);
    const read = await postJson(api.url, { database: seed.database, sql_statement: 'SELECT x FROM t ORDER BY x' }, READ_KEY);
    expect(read.body.results[0].rows).toEqual([[1], [7]]);
    expect((await storedVersions(seed.database)).current).toBe(answer.body.meta.version);
  });

  it('an upload whose fate S3 cannot tell (reply lost, then HEAD failing) answers WRITE_OUTCOME_UNKNOWN, never a false 409', async () => {
    const seed = await seeded('unknownfate');
    s3.inject(putOf(seed.database), { kind: 'drop-response' }, 1);
    s3.inject((r) => r.method === 'HEAD', S3_INTERNAL_ERROR);

    const answer = await postJson(api.url, { database: seed.database, sql_statement: 'INSERT INTO t VALUES (3)' });

    expect(answer.status).toBe(503);
    expect(answer.body.error.code).toBe('WRITE_OUTCOME_UNKNOWN');
    expect(answer.body.error.message).toMatch(/may have been applied/);
  });

  it('a slow first upload attempt: the SDK retry meets 409 ConditionalRequestConflict, the answer is unknown, and the late upload is kept', async () => {
    const seed = await seeded('slowput');
    // The first attempt reaches S3 but its reply never comes back in time; S3 answers the retry
    // with 409 because a conditional write to the key is in flight, and the HEAD that would show
    // the outcome fails too (in S3 it would still show the old version while the first attempt runs).
    s3.inject(putOf(seed.database), { kind: 'drop-response' }, 1);
    s3.inject(putOf(seed.database), S3_CONDITIONAL_CONFLICT, 1);
    s3.inject((r) => r.method === 'HEAD', S3_INTERNAL_ERROR);

    const answer = await postJson(api.url, { database: seed.database, sql_statement: 'INSERT INTO t VALUES (7)', idempotency_key: 'slow-put-7' });
    expect(answer.status).toBe(503);
    expect(answer.body.error.code).toBe('WRITE_OUTCOME_UNKNOWN');

    // The retry with the same key settles it: the stored upload is published, exactly once.
    s3.clear();
    const retry = await postJson(api.url, { database: seed.database, sql_statement: 'INSERT INTO t VALUES (7)', idempotency_key: 'slow-put-7' });
    expect(retry.status).toBe(200);
    expect(retry.body.meta).toMatchObject({ wrote: true, replayed: true });
    const read = await postJson(api.url, { database: seed.database, sql_statement: 'SELECT x FROM t ORDER BY x' }, READ_KEY);
    expect(read.body.results[0].rows).toEqual([[1], [7]]);
  });

  it('a crash between the upload and the publish: unknown to the client, invisible to readers, adopted by the next writer', async () => {
    const seed = await seeded('crashpublish');
    dynamoDb.inject((r) => leaseStep(r) === 'publish', DYNAMODB_INTERNAL_ERROR);
    dynamoDb.inject((r) => leaseStep(r) === 'read', DYNAMODB_INTERNAL_ERROR, 1); // nor can the record be asked

    const lost = await postJson(api.url, { database: seed.database, sql_statement: 'INSERT INTO t VALUES (2)' });
    expect(lost.status).toBe(503);
    expect(lost.body.error.code).toBe('WRITE_OUTCOME_UNKNOWN');
    dynamoDb.clear();

    const before = await postJson(api.url, { database: seed.database, sql_statement: 'SELECT x FROM t ORDER BY x' }, READ_KEY);
    expect(before.body.results[0].rows).toEqual([[1]]);
    // The lease of the crashed writer (3 s) runs out; the next writer's fence fails on the
    // unpublished version, and it publishes that version and builds on it.
    const next = await postJson(api.url, { database: seed.database, sql_statement: 'INSERT INTO t VALUES (3)' });
    expect(next.status).toBe(200);
    const after = await postJson(api.url, { database: seed.database, sql_statement: 'SELECT x FROM t ORDER BY x' }, READ_KEY);
    expect(after.body.results[0].rows).toEqual([[1], [2], [3]]);
  });

  it('a failing download answers 503 and the next read works', async () => {
    const seed = await seeded('getfail');
    s3.inject(getOf(seed.database), S3_INTERNAL_ERROR);
    const other = await startTestApi(testConfig({ s3Endpoint: s3.url, dynamoDbEndpoint: dynamoDb.url, s3RequestTimeoutMs: 1_000 }));
    try {
      const failed = await postJson(other.url, { database: seed.database, sql_statement: 'SELECT x FROM t' }, READ_KEY);
      expect(failed.status).toBe(503);
      expect(failed.body.error.code).toBe('STORAGE_UNAVAILABLE');
      s3.clear();
      const read = await postJson(other.url, { database: seed.database, sql_statement: 'SELECT x FROM t' }, READ_KEY);
      expect(read.status).toBe(200);
      expect(read.body.results[0].rows).toEqual([[1]]);
    } finally {
      await other.close();
    }
  });

  it.each([
    ['throttled', DYNAMODB_THROTTLED],
    ['failing', DYNAMODB_INTERNAL_ERROR],
    ['hanging', { kind: 'hang' } as const],
  ])('a %s lock table on acquire answers 503 and changes nothing', async (_name, fault) => {
    const seed = await seeded('acquirefail');
    dynamoDb.inject((r) => leaseStep(r) === 'acquire', fault);

    const answer = await postJson(api.url, { database: seed.database, sql_statement: 'INSERT INTO t VALUES (99)' });

    expect(answer.status).toBe(503);
    expect(answer.body.error.code).toBe('STORAGE_UNAVAILABLE');
    dynamoDb.clear();
    await expectUnchanged(seed);
    await expectNextWriteWorks(seed.database);
  });

  it('a publish whose reply was lost is confirmed from the record and acknowledged', async () => {
    const seed = await seeded('publishlost');
    dynamoDb.inject((r) => leaseStep(r) === 'publish', { kind: 'drop-response' });

    const answer = await postJson(api.url, { database: seed.database, sql_statement: 'INSERT INTO t VALUES (5)' });
    expect(answer.status).toBe(200);
    expect(answer.body.meta.wrote).toBe(true);
    dynamoDb.clear();

    // The orphaned lease (3 s) blocks the next writer only until it expires.
    const next = await postJson(api.url, { database: seed.database, sql_statement: 'INSERT INTO t VALUES (6)' });
    expect(next.status).toBe(200);
    const read = await postJson(api.url, { database: seed.database, sql_statement: 'SELECT x FROM t ORDER BY x' }, READ_KEY);
    expect(read.body.results[0].rows).toEqual([[1], [5], [6]]);
  });

  it('a failing renewal does not abort a write whose lease is still safe', async () => {
    const seed = await seeded('renewfail');
    dynamoDb.inject((r) => leaseStep(r) === 'renew', DYNAMODB_INTERNAL_ERROR);
    // The writer renews every 100 ms and its statement is held for 600 ms, so several renewals
    // fail; its 5 s lease still has far more than the safety margin left when it commits.
    const writer = buildService({
      dynamoDbEndpoint: dynamoDb.url,
      lock: { leaseMs: 5_000 },
      service: { leaseRenewIntervalMs: 100, leaseSafetyMarginMs: 1_000 },
      wrapEngine: holdAfterWrite(() => sleep(600)),
    });
    try {
      const result = await writer.service.write({ database: seed.database, program: script('INSERT INTO t VALUES (8)') });
      expect(result.meta.wrote).toBe(true);
      expect(dynamoDb.seen.filter((r) => leaseStep(r) === 'renew').length).toBeGreaterThanOrEqual(2);
    } finally {
      await writer.close();
    }
  });
});

describe.each([['DynamoDB Local', process.env.DYNAMODB_LOCAL_ENDPOINT]].filter(([, endpoint]) => endpoint !== undefined))(
  'a lost reply on the lock table (%s)',
  (_server, endpoint) => {
    it("an acquire whose reply was lost is recognised as ours when the SDK's retry is refused, not waited out", async () => {
      const proxy = await new FaultProxy(endpoint!).start();
      const writer = buildService({ dynamoDbEndpoint: proxy.url, lock: { waitMs: 2_000 } });
      try {
        const database = uniqueDatabase('lostlock');
        proxy.inject((r) => leaseStep(r) === 'acquire', { kind: 'drop-response' }, 1);
        const result = await writer.service.write({ database, program: script('CREATE TABLE t(x)') });
        expect(result.meta.wrote).toBe(true);
        // Two acquire attempts (the SDK's retry was refused by our own first one), then one
        // consistent read that found our lease: no polling until the wait budget ran out.
        expect(proxy.seen.filter((r) => leaseStep(r) === 'acquire').length).toBe(2);
        expect(proxy.seen.filter((r) => r.operation === 'GetItem' && JSON.parse(r.body).ConsistentRead === true && !JSON.parse(r.body).ProjectionExpression).length).toBe(1);
      } finally {
        await writer.close();
        await proxy.close();
      }
    });
  },
);

describe('a long write keeps its lease alive', () => {
  it('the lease is renewed (heartbeat) while a long write runs within its budget, and no one else gets in', async () => {
    const database = uniqueDatabase('heartbeat');
    // The writer's work takes 1.8 s in all (held after the statement, as a long statement
    // would), well past its 1 s lease: only renewals every 250 ms keep the lease its own.
    const writer = buildService({
      lock: { leaseMs: 1_000 },
      service: { leaseRenewIntervalMs: 250, leaseSafetyMarginMs: 200 },
      wrapEngine: holdAfterWrite(() => sleep(1_800)),
    });
    const rival = buildService({ lock: { waitMs: 0 } });
    try {
      await rival.service.write({ database, program: script('CREATE TABLE t(x INTEGER)') });
      const long = writer.service.write({ database, program: script('INSERT INTO t VALUES (1)') });

      await sleep(1_300);
      await expect(rival.service.write({ database, program: script('INSERT INTO t VALUES (-1)') })).rejects.toMatchObject({ code: 'LOCK_TIMEOUT' });

      expect((await long).meta.wrote).toBe(true);
      const read = await rival.service.execute({ database, program: script('SELECT x FROM t'), consistency: 'strong' }, 'read');
      expect(read.results[0]!.rows).toEqual([[1n]]);
    } finally {
      await Promise.all([writer.close(), rival.close()]);
    }
  });
});

describe('corrupt objects in the bucket', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startTestApi();
  });
  afterAll(async () => {
    await api.close();
  });

  async function putRaw(database: string, body: Uint8Array): Promise<string | undefined> {
    const config = testConfig();
    const put = await testS3Client().send(new PutObjectCommand({ Bucket: config.bucket, Key: `${config.keyPrefix}${database}.sqlite`, Body: body }));
    return put.VersionId;
  }

  async function damagedDatabase(): Promise<Uint8Array> {
    const SQL = await initSqlJs();
    const db = new SQL.Database();
    db.run("CREATE TABLE t(x TEXT); CREATE INDEX t_x ON t(x); INSERT INTO t WITH RECURSIVE r(v) AS (SELECT 1 UNION ALL SELECT v + 1 FROM r WHERE v < 2000) SELECT printf('%0200d', v) FROM r");
    const bytes = db.export();
    db.close();
    // Keep the header valid but scribble over index and table pages.
    for (let i = 4096 * 2; i < bytes.length; i += 97) bytes[i] = 0xff;
    return bytes;
  }

  it.each([
    ['not a SQLite file', async () => new TextEncoder().encode('this is not a database at all, just some text that is long enough')],
    ['a SQLite file that fails quick_check', damagedDatabase],
  ])('%s: reads and writes answer CORRUPT_DATABASE and nothing is uploaded over it', async (_name, makeBody) => {
    const database = uniqueDatabase('corrupt');
    const version = await putRaw(database, await makeBody());

    const read = await postJson(api.url, { database, sql_statement: 'SELECT 1' });
    expect(read.body.error.code).toBe('CORRUPT_DATABASE');
    expect(read.status).toBe(500);

    const write = await postJson(api.url, { database, sql_statement: 'CREATE TABLE u(y)' });
    expect(write.body.error.code).toBe('CORRUPT_DATABASE');
    expect((await storedVersions(database)).current).toBe(version);

    expect((await postJson(api.url, { database: uniqueDatabase('healthy'), sql_statement: 'CREATE TABLE ok(x)' })).status).toBe(200);
  });
});
