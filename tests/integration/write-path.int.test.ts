import { DynamoDbLeaseLock } from '../../functions/adapters/dynamodb-lease-lock';
import { silentLogger } from '../../functions/core/logger';
import { postJson, READ_KEY, startTestApi, testConfig, testDynamoDbClient, uniqueDatabase, type TestApi } from '../helpers/test-app';
import { buildService, gate, holdAfterWrite, script, storedBytes, storedVersions } from '../helpers/test-service';

describe('the write path: lock, load, run, fenced upload', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startTestApi();
  });
  afterAll(async () => {
    await api.close();
  });

  async function createCounter(database: string): Promise<void> {
    const created = await postJson(api.url, { database, sql_statement: 'CREATE TABLE counter(n INTEGER NOT NULL); INSERT INTO counter VALUES (0)' });
    expect(created.status).toBe(200);
  }

  async function counterValue(database: string): Promise<number> {
    const read = await postJson(api.url, { database, sql_statement: 'SELECT n FROM counter' }, READ_KEY);
    expect(read.status).toBe(200);
    return read.body.results[0].rows[0][0];
  }

  it('20 concurrent writers, spread over 4 containers, each incrementing one counter end at exactly 20', async () => {
    const database = uniqueDatabase('counter');
    await createCounter(database);
    const containers = await Promise.all([0, 1, 2].map(() => startTestApi()));
    try {
      const urls = [api.url, ...containers.map((c) => c.url)];
      const answers = await Promise.all(
        Array.from({ length: 20 }, (_, i) => postJson(urls[i % urls.length]!, { database, sql_statement: 'UPDATE counter SET n = n + 1' })),
      );
      expect(answers.map((a) => a.status)).toEqual(Array(20).fill(200));
      expect(answers.every((a) => a.body.meta.wrote === true)).toBe(true);
      expect(await counterValue(database)).toBe(20);
      // One stored version per write: the create plus twenty increments.
      expect((await storedVersions(database)).all).toHaveLength(21);
    } finally {
      await Promise.all(containers.map((c) => c.close()));
    }
  });

  it('a failing statement in a batch leaves the stored file and its version unchanged', async () => {
    const database = uniqueDatabase('atomic');
    await createCounter(database);
    const before = await storedVersions(database);
    const bytesBefore = await storedBytes(database);

    const failed = await postJson(api.url, {
      database,
      statements: [{ sql: 'UPDATE counter SET n = 99' }, { sql: 'INSERT INTO counter VALUES (NULL)' }],
    });

    expect(failed.status).toBe(400);
    expect(failed.body.error).toMatchObject({ code: 'SQL_ERROR', statement_index: 1 });
    expect(failed.body.error.message).toMatch(/NOT NULL/);
    expect(await storedVersions(database)).toEqual(before);
    expect((await storedBytes(database)).equals(bytesBefore)).toBe(true);
    expect(await counterValue(database)).toBe(0);
  });

  it('a write that changes nothing uploads nothing', async () => {
    const database = uniqueDatabase('noop');
    await createCounter(database);
    const before = await storedVersions(database);
    const answer = await postJson(api.url, { database, sql_statement: 'DELETE FROM counter WHERE n < 0' });
    expect(answer.status).toBe(200);
    expect(answer.body.meta.wrote).toBe(false);
    expect(await storedVersions(database)).toEqual(before);
  });

  it('a statement that only looks like a read (WITH ... DELETE) is treated as a write', async () => {
    const database = uniqueDatabase('cte');
    await createCounter(database);
    const sql = 'WITH doomed AS (SELECT 1) DELETE FROM counter WHERE n IN (SELECT 0 FROM doomed)';

    const asReader = await postJson(api.url, { database, sql_statement: sql }, READ_KEY);
    expect(asReader.status).toBe(403);
    expect(asReader.body.error.code).toBe('FORBIDDEN');

    const asWriter = await postJson(api.url, { database, sql_statement: `/* looks harmless */ ${sql}` });
    expect(asWriter.status).toBe(200);
    expect(asWriter.body.meta.wrote).toBe(true);
    expect(asWriter.body.results[0].changes).toBe(1);
  });

  it.each([
    ["ATTACH DATABASE '/etc/passwd' AS secrets", 'ATTACH'],
    ["attach ':memory:' as scratch", 'ATTACH'],
    ['PRAGMA writable_schema = 1', 'writable_schema'],
    ['BEGIN; SELECT 1', 'BEGIN'],
    ["VACUUM INTO '/tmp/copy.db'", 'VACUUM INTO'],
    ["VACUUM main INTO '/tmp/copy.db'", 'VACUUM INTO'],
    ['EXPLAIN PRAGMA writable_schema = 1', 'writable_schema'],
    ['/* hidden */ EXPLAIN QUERY PLAN PRAGMA query_only = 0', 'query_only'],
    ['PRAGMA hard_heap_limit = 100000', 'hard_heap_limit'],
  ])('%s is refused with 403 STATEMENT_NOT_ALLOWED', async (sql, named) => {
    const database = uniqueDatabase('policy');
    await createCounter(database);
    const answer = await postJson(api.url, { database, sql_statement: sql });
    expect(answer.status).toBe(403);
    expect(answer.body.error.code).toBe('STATEMENT_NOT_ALLOWED');
    expect(answer.body.error.message).toContain(named);
  });

  it('a refused PRAGMA leaves no trace on the warm connection: later writes still obey CHECK constraints', async () => {
    const database = uniqueDatabase('pragma');
    expect((await postJson(api.url, { database, sql_statement: 'CREATE TABLE prices(p INTEGER CHECK (p > 0))' })).status).toBe(200);

    const refused = await postJson(api.url, { database, sql_statement: 'PRAGMA ignore_check_constraints = ON' }, READ_KEY);
    expect(refused.status).toBe(403);

    const violating = await postJson(api.url, { database, sql_statement: 'INSERT INTO prices VALUES (-5)' });
    expect(violating.status).toBe(400);
    expect(violating.body.error.message).toMatch(/CHECK constraint failed/);
  });

  it('a TEMP object is never left on the warm copy for later reads', async () => {
    const database = uniqueDatabase('temp');
    await createCounter(database);
    const shadowing = "CREATE TEMP VIEW counter AS SELECT 'never stored' AS n"; // shadows main.counter within the request
    expect((await postJson(api.url, { database, sql_statement: shadowing }, READ_KEY)).status).toBe(200);
    expect((await postJson(api.url, { database, sql_statement: `${shadowing}; CREATE TABLE other(x)` })).status).toBe(200);
    expect(await counterValue(database)).toBe(0);
  });

  it('a deferred foreign key violated at COMMIT is a 400 SQL_ERROR and nothing is stored', async () => {
    const database = uniqueDatabase('deferred');
    expect(
      (await postJson(api.url, {
        database,
        sql_statement: 'CREATE TABLE parent(id INTEGER PRIMARY KEY); CREATE TABLE child(parent_id INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)',
      })).status,
    ).toBe(200);
    const before = await storedVersions(database);
    const answer = await postJson(api.url, { database, sql_statement: 'INSERT INTO child VALUES (42)' });
    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatchObject({ code: 'SQL_ERROR', message: expect.stringMatching(/FOREIGN KEY/) });
    expect(await storedVersions(database)).toEqual(before);
  });

  it.each([
    ['a bare name binds whichever prefix the statement uses', 'SELECT @a, $b', { a: 1, b: 2 }, 200],
    ['a name given with and without its prefix is refused', 'SELECT :a', { a: 1, ':a': 2 }, 400],
    ['named params for positional placeholders are refused', 'SELECT ?', {}, 400],
  ])('%s', async (_name, sql, params, status) => {
    const database = uniqueDatabase('named');
    await createCounter(database);
    const answer = await postJson(api.url, { database, sql_statement: sql, params });
    expect(answer.status).toBe(status);
    if (status === 200) expect(answer.body.results[0].rows).toEqual([[1, 2]]);
  });

  it('reads are never blocked by a held write lock', async () => {
    const database = uniqueDatabase('locked');
    await createCounter(database);
    const config = testConfig();
    const lock = new DynamoDbLeaseLock(testDynamoDbClient(), { table: config.lockTable, leaseMs: 30_000, waitMs: 0 }, silentLogger);
    const { lease } = await lock.acquire(database);
    try {
      const started = Date.now();
      const read = await postJson(api.url, { database, sql_statement: 'SELECT n FROM counter' }, READ_KEY);
      expect(read.status).toBe(200);
      expect(Date.now() - started).toBeLessThan(config.lockWaitMs);

      const write = await postJson(testApiWithShortWait.url, { database, sql_statement: 'UPDATE counter SET n = 5' });
      expect(write.status).toBe(503);
      expect(write.body.error.code).toBe('LOCK_TIMEOUT');
      expect(Number(write.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    } finally {
      await lock.release(lease);
    }
    expect(await counterValue(database)).toBe(0);
  });

  let testApiWithShortWait: TestApi;
  beforeAll(async () => {
    testApiWithShortWait = await startTestApi(testConfig({ lockWaitMs: 300 }));
  });
  afterAll(async () => {
    await testApiWithShortWait.close();
  });

  it('a writer whose lease expired and was taken over cannot overwrite the newer version (409, newer data intact)', async () => {
    const database = uniqueDatabase('fenced');
    await createCounter(database);

    // Writer A: its clock stands still and it never renews, like a Lambda frozen mid-write,
    // so it still believes its 1 s lease is fresh when it finally uploads.
    const frozenAt = Date.now();
    const paused = gate();
    const resume = gate();
    const writerA = buildService({
      clock: () => frozenAt,
      lock: { leaseMs: 1_000 },
      service: { leaseRenewIntervalMs: 3_600_000, leaseSafetyMarginMs: 0 },
      wrapEngine: holdAfterWrite(async () => {
        paused.open();
        await resume.opened;
      }),
    });
    const writerB = buildService({ lock: { waitMs: 10_000 } });
    try {
      const a = writerA.service.write({ database, program: script('UPDATE counter SET n = n + 100') });
      await paused.opened;

      // Writer B takes the lease once A's expires, and commits a newer version.
      const b = await writerB.service.write({ database, program: script('UPDATE counter SET n = n + 1') });
      expect(b.meta.wrote).toBe(true);

      resume.open();
      await expect(a).rejects.toMatchObject({ code: 'WRITE_CONFLICT' });
      expect(await counterValue(database)).toBe(1);
      expect((await storedVersions(database)).current).toBe(b.meta.version);
    } finally {
      resume.open();
      await Promise.all([writerA.close(), writerB.close()]);
    }
  });
});

describe('consistency across containers', () => {
  const containers = [buildService(), buildService()];
  afterAll(async () => {
    await Promise.all(containers.map((container) => container.close()));
  });
  const [a, b] = containers.map((container) => container.service) as [(typeof containers)[0]['service'], (typeof containers)[0]['service']];
  const run = (service: typeof a, sql: string, consistency: 'strong' | 'eventual' = 'strong', idempotencyKey?: string) =>
    service.execute({ database, program: script(sql), consistency, idempotencyKey }, 'write');
  const database = uniqueDatabase('containers');

  it('eventual never decides from a stale copy that a request writes or fails: an INSERT into a table made elsewhere seconds ago works', async () => {
    await run(a, 'CREATE TABLE seen(x)');
    await run(b, 'SELECT count(*) FROM seen', 'eventual'); // b's warm copy, confirmed now
    await run(a, 'CREATE TABLE t(x)'); // b's copy is stale within its eventual window

    const inserted = await run(b, 'INSERT INTO t VALUES (1)', 'eventual');
    expect(inserted.meta.wrote).toBe(true);
    const dropped = await run(b, 'DROP TABLE IF EXISTS seen', 'eventual');
    expect(dropped.meta.wrote).toBe(true);
    const tables = await run(a, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name");
    expect(tables.results[0]!.rows).toEqual([['t']]);
  });

  it('a strong read on a stale warm copy answers from the current version, even one its copy would fail on', async () => {
    await run(a, 'CREATE TABLE early(x)');
    await run(b, 'SELECT count(*) FROM early'); // b's warm copy
    await run(a, 'CREATE TABLE later(x); INSERT INTO later VALUES (7)');

    // b starts the read on its copy (where "later" does not exist) while it reads the version record.
    const read = await run(b, 'SELECT x FROM later');
    expect(read.results[0]!.rows).toEqual([[7n]]);
    expect(read.meta.version).toBe((await storedVersions(database)).current);
  });

  it('a keyed write retried on another container replays the first answer and applies nothing', async () => {
    const first = await run(a, 'INSERT INTO t VALUES (2)', 'strong', 'two-containers');
    const again = await run(b, 'INSERT INTO t VALUES (2)', 'strong', 'two-containers');
    expect(again.meta).toMatchObject({ version: first.meta.version, wrote: true, replayed: true });
    expect(again.results).toEqual(first.results);
    expect((await run(b, 'SELECT x FROM t ORDER BY x')).results[0]!.rows).toEqual([[1n], [2n]]);
  });

  it('the same key with a different request is IDEMPOTENCY_KEY_REUSED (422) and applies nothing', async () => {
    await expect(run(b, 'INSERT INTO t VALUES (3)', 'strong', 'two-containers')).rejects.toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' });
    expect((await run(a, 'SELECT count(*) FROM t')).results[0]!.rows).toEqual([[2n]]);
  });
});

describe('a keyed retry whose first attempt applied, when the retry no longer runs', () => {
  const container = buildService();
  const cold = buildService();
  afterAll(async () => {
    await Promise.all([container.close(), cold.close()]);
  });
  const keyed = (database: string, sql: string, idempotencyKey: string) => ({ database, program: script(sql), consistency: 'strong' as const, idempotencyKey });

  it('a retried CREATE TABLE replays its first answer instead of "table already exists", warm or cold', async () => {
    const database = uniqueDatabase('keyed-create');
    const request = keyed(database, 'CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT)', 'create-items-1');
    const first = await container.service.execute(request, 'write');
    expect(first.meta.wrote).toBe(true);

    const again = await container.service.execute(request, 'write');
    expect(again.meta).toMatchObject({ version: first.meta.version, wrote: true, replayed: true });
    const elsewhere = await cold.service.execute(request, 'write');
    expect(elsewhere.meta).toMatchObject({ version: first.meta.version, wrote: true, replayed: true });
  });

  it('a retried INSERT replays after a later write dropped its table, with the key moved to its own record', async () => {
    const database = uniqueDatabase('keyed-insert');
    const run = (sql: string) => container.service.execute({ database, program: script(sql), consistency: 'strong' }, 'write');
    await run('CREATE TABLE t(x)');
    const request = keyed(database, 'INSERT INTO t VALUES (1)', 'insert-1');
    const first = await container.service.execute(request, 'write');
    await run('DROP TABLE t'); // the next writer also moves the key off the database's item

    const again = await container.service.execute(request, 'write');
    expect(again.meta).toMatchObject({ version: first.meta.version, wrote: true, replayed: true });
  });

  it('the same key with another failing request is IDEMPOTENCY_KEY_REUSED; a key never used, or a read key, gets the SQL error', async () => {
    const database = uniqueDatabase('keyed-fail');
    await container.service.execute(keyed(database, 'CREATE TABLE t(x)', 'make-t'), 'write');
    await expect(container.service.execute(keyed(database, 'SELECT * FROM nope', 'make-t'), 'write')).rejects.toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' });
    await expect(container.service.execute(keyed(database, 'SELECT * FROM nope', 'fresh-key'), 'write')).rejects.toMatchObject({ code: 'SQL_ERROR' });
    await expect(container.service.execute(keyed(database, 'CREATE TABLE t(x)', 'make-t'), 'read')).rejects.toMatchObject({ code: 'SQL_ERROR' });
  });
});
