import { ListObjectVersionsCommand } from '@aws-sdk/client-s3';
import { createS3Client } from '../../functions/adapters/aws-clients';
import { DYNAMODB_INTERNAL_ERROR, FaultProxy, leaseStep, type ProxiedRequest } from '../helpers/fault-proxy';
import { postJson, READ_KEY, startTestApi, testConfig, testS3Client, uniqueDatabase, WRITE_KEY, type TestApi } from '../helpers/test-app';
import { buildService, gate, script, storedVersions } from '../helpers/test-service';

/**
 * A delete is a write like any other: fenced on the version it was built on (`If-Match` on the
 * DeleteObject, which S3 honours on general purpose buckets since 2025-09), published with its
 * idempotency record, and answered truthfully when its reply is lost. Faults come from real
 * proxies in front of the local servers; each test checks what S3 and DynamoDB hold afterwards.
 */

async function deleteMarkers(database: string): Promise<number> {
  const config = testConfig();
  const listed = await testS3Client().send(new ListObjectVersionsCommand({ Bucket: config.bucket, Prefix: `${config.keyPrefix}${database}.sqlite` }));
  return (listed.DeleteMarkers ?? []).length;
}

describe('a delete whose lease ran out', () => {
  let s3: FaultProxy;
  beforeAll(async () => {
    s3 = await new FaultProxy(process.env.S3_ENDPOINT!).start();
  });
  afterAll(async () => {
    await s3.close();
  });

  it('cannot delete a version another writer committed after taking its lease over (409, newer data intact)', async () => {
    const database = uniqueDatabase('zombiedel');
    // The deleting writer freezes (no heartbeat, as in a GC pause or a frozen function) with its
    // 1 s lease, while its first S3 request is held in the network.
    const frozen = gate();
    const held = gate();
    const zombie = buildService({
      s3Client: createS3Client({ ...testConfig(), s3Endpoint: s3.url, s3RequestTimeoutMs: 30_000 }),
      lock: { leaseMs: 1_000 },
      service: { leaseRenewIntervalMs: 600_000, leaseSafetyMarginMs: 100 },
    });
    const rival = buildService();
    try {
      await rival.service.write({ database, program: script('CREATE TABLE t(x INTEGER); INSERT INTO t VALUES (1)') });
      s3.inject((r: ProxiedRequest) => r.method === 'PUT' && r.path.includes(`/${database}/delete-of-`), { kind: 'hold', until: frozen.opened, reached: held.open }, 1);

      const deleting = zombie.lifecycle.delete(database, database, {});
      deleting.catch(() => undefined);
      await held.opened;
      // The lease runs out; the rival takes it over and commits a newer version.
      const newer = await rival.service.write({ database, program: script('INSERT INTO t VALUES (2)') });
      frozen.open();

      await expect(deleting).rejects.toMatchObject({ code: 'WRITE_CONFLICT' });
      // S3 still holds the newer version as current: no delete marker was placed over it.
      expect((await storedVersions(database)).current).toBe(newer.meta.version);
      expect(await deleteMarkers(database)).toBe(0);
      const next = await rival.service.write({ database, program: script('INSERT INTO t VALUES (3)') });
      expect(next.meta.wrote).toBe(true);
      const read = await rival.service.execute({ database, program: script('SELECT x FROM t ORDER BY x'), consistency: 'strong' }, 'read');
      expect(read.results[0]!.rows).toEqual([[1n], [2n], [3n]]);
    } finally {
      frozen.open();
      await Promise.all([zombie.close(), rival.close()]);
    }
  });
});

describe('a delete whose reply was lost', () => {
  let s3: FaultProxy;
  let dynamoDb: FaultProxy;
  let api: TestApi;
  beforeAll(async () => {
    s3 = await new FaultProxy(process.env.S3_ENDPOINT!).start();
    dynamoDb = await new FaultProxy(process.env.DYNAMODB_ENDPOINT!).start();
    api = await startTestApi(testConfig({ s3Endpoint: s3.url, dynamoDbEndpoint: dynamoDb.url, s3RequestTimeoutMs: 1_000, dynamoDbRequestTimeoutMs: 500, leaseMs: 3_000, leaseSafetyMarginMs: 500 }));
  });
  afterEach(() => {
    s3.clear();
    dynamoDb.clear();
  });
  afterAll(async () => {
    await api.close();
    await Promise.all([s3.close(), dynamoDb.close()]);
  });

  const deleteCall = async (database: string, idempotencyKey?: string) => {
    const response = await fetch(`${api.url}/databases/${database}?confirm=${database}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${WRITE_KEY}`, ...(idempotencyKey && { 'idempotency-key': idempotencyKey }) },
    });
    return { status: response.status, body: (await response.json()) as any }; // eslint-disable-line @typescript-eslint/no-explicit-any
  };
  const markerDelete = (database: string) => (r: ProxiedRequest) => r.method === 'DELETE' && r.path.includes(`${database}.sqlite`);

  async function seeded(prefix: string): Promise<string> {
    const database = uniqueDatabase(prefix);
    expect((await postJson(api.url, { database, sql_statement: 'CREATE TABLE t(x INTEGER); INSERT INTO t VALUES (1)' })).status).toBe(200);
    return database;
  }

  it('is answered as the success it was, with exactly one delete marker stored', async () => {
    const database = await seeded('lostdel');
    s3.inject(markerDelete(database), { kind: 'drop-response' }, 1);

    const answer = await deleteCall(database, 'lost-delete-1');

    expect(answer.status).toBe(200);
    expect(answer.body.deleted_version).toEqual(expect.any(String));
    expect(await deleteMarkers(database)).toBe(1);
    const read = await postJson(api.url, { database, sql_statement: 'SELECT x FROM t' }, READ_KEY);
    expect(read.status).toBe(404);
  });

  it("a keyed delete whose outcome was unknown replays its answer after another client's delete, and that client is not told it replayed", async () => {
    const database = await seeded('twodel');
    // The first delete's marker lands, but its publish fails and the record cannot be read to tell.
    dynamoDb.inject((r) => leaseStep(r) === 'publish', DYNAMODB_INTERNAL_ERROR);
    dynamoDb.inject((r) => leaseStep(r) === 'read' && r.body.includes('"version_id"'), DYNAMODB_INTERNAL_ERROR);
    const first = await deleteCall(database, 'delete-a');
    expect(first.body.error.code).toBe('WRITE_OUTCOME_UNKNOWN');
    dynamoDb.clear();

    // Another client deletes the same database with a key of its own; then the first one retries.
    const other = await deleteCall(database, 'delete-b');
    const retry = await deleteCall(database, 'delete-a');

    expect(await deleteMarkers(database)).toBe(1);
    expect({ status: retry.status, replayed: retry.body.replayed }).toEqual({ status: 200, replayed: true });
    expect(other.body.replayed).toBeUndefined();
  });
});

describe('a keyed write that changed nothing, whose commit reply was lost', () => {
  let dynamoDb: FaultProxy;
  let api: TestApi;
  beforeAll(async () => {
    dynamoDb = await new FaultProxy(process.env.DYNAMODB_ENDPOINT!).start();
    api = await startTestApi(testConfig({ dynamoDbEndpoint: dynamoDb.url, dynamoDbRequestTimeoutMs: 500 }));
  });
  afterAll(async () => {
    await api.close();
    await dynamoDb.close();
  });

  it('is not answered "nothing was applied" when its key was committed', async () => {
    const database = uniqueDatabase('nooplost');
    expect((await postJson(api.url, { database, sql_statement: 'CREATE TABLE t(x INTEGER); INSERT INTO t VALUES (1)' })).status).toBe(200);
    // The publish that records the key lands; its reply is lost and the SDK's retry is refused by it.
    dynamoDb.inject((r) => leaseStep(r) === 'publish', { kind: 'drop-response' }, 1);

    const first = await postJson(api.url, { database, sql_statement: 'DELETE FROM t WHERE x = 5', idempotency_key: 'noop-lost-1' });
    const retry = await postJson(api.url, { database, sql_statement: 'DELETE FROM t WHERE x = 5', idempotency_key: 'noop-lost-1' });

    expect(retry.body.meta).toMatchObject({ replayed: true, wrote: false }); // the key was committed by the first attempt
    expect(first.status).toBe(200);
    expect(first.body.meta).toMatchObject({ wrote: false });
  });
});
