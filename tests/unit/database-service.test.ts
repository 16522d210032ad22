import { randomUUID } from 'node:crypto';
import { DatabaseService, type SqlRequest } from '../../functions/core/database-service';
import { IdempotencyKeyReusedError, StorageThrottledError, StorageUnavailableError, WriteConflictError, WriteOutcomeUnknownError } from '../../functions/core/errors';
import { PreconditionFailedError } from '../../functions/core/ports';
import { encode, SERVICE_OPTIONS, FakeClock, FakeEngine, FakeIdempotencyStore, FakeLeaseLock, FakeObjectStore } from '../helpers/fakes';

const DB = 'shop';
const KEY = 'databases/shop.sqlite';

function setup() {
  const clock = new FakeClock();
  const store = new FakeObjectStore();
  const lock = new FakeLeaseLock(clock);
  const idempotency = new FakeIdempotencyStore();
  const engine = new FakeEngine();
  const newService = () => new DatabaseService(SERVICE_OPTIONS, { store, lock, idempotency, engine, clock: clock.now });
  const service = newService();
  const run = (sql: string, extra: Partial<SqlRequest> = {}, s = service) =>
    s.execute({ database: DB, program: { kind: 'script', sql }, consistency: 'strong', ...extra }, 'write');
  const items = async (s = service) => (await run('SELECT', {}, s)).results[0]!.rows.map((row) => row[0]);
  const resetCounts = () => {
    store.requests.length = 0;
    lock.requests.length = 0;
    idempotency.requests.length = 0;
  };
  return { clock, store, lock, idempotency, engine, service, newService, run, items, resetCounts };
}

describe('DatabaseService on fakes: reads', () => {
  it('a strong read of a warm copy costs one version-record read and no S3 request', async () => {
    const t = setup();
    await t.run('ADD a');
    t.resetCounts();
    const read = await t.run('SELECT');
    expect(read.results[0]!.rows).toEqual([['a']]);
    expect(t.lock.requests).toEqual(['published']);
    expect(t.store.requests).toEqual([]);
  });

  it('a strong read runs on its warm copy while the version record is read, and only once', async () => {
    const t = setup();
    await t.run('ADD a');
    let release!: () => void;
    const paused = new Promise<void>((resolve) => (release = resolve));
    t.lock.onPublished = async (read) => {
      await paused;
      return read();
    };
    const readsBefore = t.engine.reads;
    const strong = t.run('SELECT');
    await new Promise((resolve) => setImmediate(resolve));
    expect(t.engine.reads).toBe(readsBefore + 1); // running before the record has answered
    release();
    expect((await strong).results[0]!.rows).toEqual([['a']]);
    expect(t.engine.reads).toBe(readsBefore + 1);
  });

  it('a strong read whose warm copy is stale answers from the current version, not from its early run', async () => {
    const t = setup();
    await t.run('ADD a');
    expect(await t.items()).toEqual(['a']); // this container's copy: ['a']
    // Another container (its own engine) writes.
    const other = new DatabaseService(SERVICE_OPTIONS, { store: t.store, lock: t.lock, idempotency: t.idempotency, engine: new FakeEngine(), clock: t.clock.now });
    await other.execute({ database: DB, program: { kind: 'script', sql: 'ADD b' }, consistency: 'strong' }, 'write');
    const [readsBefore, fetchesBefore] = [t.engine.reads, t.engine.fetches];
    expect(await t.items()).toEqual(['a', 'b']);
    expect(t.engine.reads).toBe(readsBefore + 2); // the early run on ['a'], discarded, and the run on the current version
    expect(t.engine.fetches).toBe(fetchesBefore + 1);
  });

  // The engine runs one job at a time and STATEMENT_TIMEOUT_MS bounds each job,
  // not the request. Reading first, then writing, on a stale copy ran the reads three times (the
  // early run, which already found the write; again on the current version; then the write),
  // so with the shipped 10 s / 29 s a request whose statements each finish in time is cut off by
  // the function's deadline (WRITE_OUTCOME_UNKNOWN). Which statement writes does not depend on
  // the copy's age (the eventual path and firstStatementWrites already rely on that).
  it('a request that reads, then writes, runs its reads once before the write even when its warm copy is stale', async () => {
    const t = setup();
    await t.run('ADD a');
    expect(await t.items()).toEqual(['a']); // this container's copy: ['a']
    const other = new DatabaseService(SERVICE_OPTIONS, { store: t.store, lock: t.lock, idempotency: t.idempotency, engine: new FakeEngine(), clock: t.clock.now });
    await other.execute({ database: DB, program: { kind: 'script', sql: 'ADD b' }, consistency: 'strong' }, 'write');
    const readsBefore = t.engine.reads;
    const answer = await t.run('SELECT; ADD c');
    expect(answer.results[0]!.rows).toEqual([['a'], ['b']]); // the write ran on the current version
    expect(await t.items()).toEqual(['a', 'b', 'c']);
    expect(t.engine.reads).toBe(readsBefore + 1 + 1); // the request's one read job, then the check above
  });

  it('a strong read on a cold container fetches exactly the published version', async () => {
    const t = setup();
    await t.run('ADD a');
    const published = t.lock.items.get(DB)!.record!;
    // An unpublished upload is newer in S3, but readers must not see it.
    t.store.storeDirectly(KEY, encode(['a', 'unpublished']), { writeId: 'ghost' });
    t.engine.restart();
    const read = await t.run('SELECT');
    expect(read.results[0]!.rows).toEqual([['a']]);
    expect(read.meta.version).toBe(published.version.versionId);
    expect(t.store.count('getVersion')).toBe(1);
  });

  it('a strong read on a cold container fetches the file alongside the version record, once', async () => {
    const t = setup();
    await t.run('ADD a');
    t.engine.restart();
    t.resetCounts();
    let release!: () => void;
    const paused = new Promise<void>((resolve) => (release = resolve));
    t.lock.onPublished = async (read) => {
      await paused;
      return read();
    };
    const read = t.run('SELECT');
    await new Promise((resolve) => setImmediate(resolve));
    expect(t.store.requests).toEqual(['get']); // sent before the record has answered
    release();
    expect((await read).results[0]!.rows).toEqual([['a']]);
    expect(t.store.requests).toEqual(['get']); // the latest object is the published version: no second fetch
    expect(t.lock.requests).toEqual(['published']);
  });

  it('a cold strong read whose prefetch fails fetches the published version instead', async () => {
    const t = setup();
    await t.run('ADD a');
    t.engine.restart();
    t.store.onGet = () => Promise.reject(new StorageUnavailableError('S3 timed out'));
    expect(await t.items()).toEqual(['a']);
    expect(t.store.count('getVersion')).toBe(1);
  });

  it('an eventual read inside the window makes no request; after it, one', async () => {
    const t = setup();
    await t.run('ADD a');
    await t.run('SELECT');
    t.resetCounts();
    t.clock.advance(4_000);
    await t.run('SELECT', { consistency: 'eventual' });
    expect([...t.lock.requests, ...t.store.requests]).toEqual([]);
    t.clock.advance(2_000);
    await t.run('SELECT', { consistency: 'eventual' });
    expect(t.lock.requests).toEqual(['published']);
  });

  it('an eventual read that fails on a stale copy is decided again on the current version', async () => {
    const t = setup();
    await t.run('ADD a');
    await t.run('SELECT');
    t.resetCounts();
    await expect(t.run('FAIL', { consistency: 'eventual' })).rejects.toThrow('no such table');
    expect(t.lock.requests).toEqual(['published']);
  });

  it('a strong read that checked before a write committed does not roll the eventual window back', async () => {
    const t = setup();
    await t.run('ADD a');
    let release!: () => void;
    const paused = new Promise<void>((resolve) => (release = resolve));
    t.lock.onPublished = async (read) => {
      const record = await read(); // the record before the write below
      t.lock.onPublished = undefined;
      await paused;
      return record;
    };
    const slowRead = t.run('SELECT');
    await new Promise((resolve) => setImmediate(resolve));
    await t.run('ADD b');
    release();
    expect((await slowRead).results[0]!.rows).toEqual([['a']]);
    const eventual = await t.run('SELECT', { consistency: 'eventual' });
    expect(eventual.results[0]!.rows).toEqual([['a'], ['b']]);
  });

  it('a read of a database never written is DATABASE_NOT_FOUND', async () => {
    const t = setup();
    await expect(t.run('SELECT')).rejects.toMatchObject({ code: 'DATABASE_NOT_FOUND' });
  });

  it('a database written before version records is read from its latest object', async () => {
    const t = setup();
    t.store.storeDirectly(KEY, encode(['legacy']));
    expect(await t.items()).toEqual(['legacy']);
    expect(t.store.count('get')).toBe(1);
    // The next write publishes a record; reads then use it.
    await t.run('ADD b');
    t.resetCounts();
    expect(await t.items()).toEqual(['legacy', 'b']);
    expect(t.store.requests).toEqual([]);
  });

  it('a throttled version-record read falls back to the latest object instead of failing', async () => {
    const t = setup();
    await t.run('ADD a');
    t.lock.onPublished = async () => {
      throw new StorageThrottledError('throttled');
    };
    t.resetCounts();
    expect(await t.items()).toEqual(['a']);
    expect(t.store.requests).toEqual(['get']);
  });

  it('reads on after the engine lost its copy, fetching it once', async () => {
    const t = setup();
    await t.run('ADD a');
    t.engine.restart();
    const before = t.engine.fetches;
    expect(await t.items()).toEqual(['a']);
    expect(t.engine.fetches).toBe(before + 1);
  });

  it('after a write whose bytes equal an earlier version, reads report the current version id', async () => {
    const t = setup();
    const first = await t.run('ADD a');
    await t.run('ADD b');
    const third = await t.run('DROP b'); // the same bytes as the first version
    expect(t.store.latest(KEY)!.version.etag).toBe(t.store.objects.get(KEY)![0]!.version.etag);
    t.engine.restart();
    const read = await t.run('SELECT');
    expect(read.meta.version).toBe(third.meta.version);
    expect(read.meta.version).not.toBe(first.meta.version);
  });
});

describe('DatabaseService on fakes: writes', () => {
  it('a write on a warm copy costs one S3 request and two lock requests', async () => {
    const t = setup();
    await t.run('ADD a');
    t.resetCounts();
    const written = await t.run('ADD b');
    expect(written.meta.wrote).toBe(true);
    expect(t.store.requests).toEqual(['put']);
    expect(t.lock.requests).toEqual(['acquire', 'publish']);
    expect(t.lock.isLocked(DB)).toBe(false);
  });

  it('a request says it starts changing the database before its lease is taken; a read never says so', async () => {
    const t = setup();
    await t.run('ADD a');
    const told: string[] = [];
    const onChanging = () => told.push(`changing, lock requests so far: ${t.lock.requests.length}`);
    t.resetCounts();

    await t.run('SELECT', { onChanging });
    await t.run('ADD b', { onChanging });

    expect(told).toEqual(['changing, lock requests so far: 1']); // the read's version-record read only
  });

  it('a write that changes nothing uploads nothing and keeps the version', async () => {
    const t = setup();
    const first = await t.run('ADD a');
    t.resetCounts();
    const noop = await t.run('ENSURE a');
    expect(noop.meta).toMatchObject({ wrote: false, version: first.meta.version });
    expect(t.store.requests).toEqual([]);
    expect(t.lock.isLocked(DB)).toBe(false);
  });

  it('a read key is refused a request that writes, before anything is locked', async () => {
    const t = setup();
    await expect(t.service.execute({ database: DB, program: { kind: 'script', sql: 'ADD a' }, consistency: 'strong' }, 'read')).rejects.toMatchObject({
      code: 'FORBIDDEN',
    });
    expect(t.lock.count('acquire')).toBe(0);
  });

  it('an upload whose reply was lost but that landed is answered as success', async () => {
    const t = setup();
    await t.run('ADD a');
    t.store.onPut = async (store) => {
      await store();
      throw new StorageUnavailableError('socket hang up');
    };
    const written = await t.run('ADD b');
    expect(written.meta.wrote).toBe(true);
    t.store.onPut = undefined;
    expect(await t.items()).toEqual(['a', 'b']);
  });

  it('an upload that fails ambiguously (409 while an attempt is in flight) is an unknown outcome, never "not applied"', async () => {
    const t = setup();
    await t.run('ADD a');
    let landLater: (() => Promise<unknown>) | undefined;
    t.store.onPut = async (store) => {
      landLater = store;
      throw new StorageUnavailableError('409 ConditionalRequestConflict');
    };
    await expect(t.run('ADD b')).rejects.toBeInstanceOf(WriteOutcomeUnknownError);
    t.store.onPut = undefined;
    await landLater!(); // the first attempt lands after all
    // Invisible until the next writer, who adopts it and builds on it: nothing is lost.
    expect(await t.items()).toEqual(['a']);
    await t.run('ADD c');
    expect(await t.items()).toEqual(['a', 'b', 'c']);
  });

  it('a definite 412 on our base with nothing newer stored is a conflict with nothing applied', async () => {
    const t = setup();
    await t.run('ADD a');
    t.store.onPut = async () => {
      throw new PreconditionFailedError('412');
    };
    await expect(t.run('ADD b')).rejects.toBeInstanceOf(WriteConflictError);
    t.store.onPut = undefined;
    expect(await t.items()).toEqual(['a']);
    expect(t.lock.isLocked(DB)).toBe(false);
  });

  it('a publish whose reply was lost but that applied is answered as success', async () => {
    const t = setup();
    await t.run('ADD a');
    t.lock.onPublish = async (publish) => {
      await publish();
      throw new StorageUnavailableError('timeout');
    };
    const written = await t.run('ADD b');
    expect(written.meta.wrote).toBe(true);
    t.lock.onPublish = undefined;
    expect(await t.items()).toEqual(['a', 'b']);
  });

  it('a crash between upload and publish: unknown to the client, invisible to readers, adopted by the next writer', async () => {
    const t = setup();
    await t.run('ADD a');
    t.lock.onPublish = async () => {
      throw new StorageUnavailableError('DynamoDB unavailable');
    };
    const failed = await t.run('ADD b').catch((error: unknown) => error);
    expect(failed).toBeInstanceOf(WriteOutcomeUnknownError);
    expect((failed as WriteOutcomeUnknownError).writeId).toEqual(expect.any(String));
    t.lock.onPublish = undefined;
    expect(await t.items()).toEqual(['a']);
    await t.run('ADD c');
    expect(await t.items()).toEqual(['a', 'b', 'c']);
  });

  it('a writer whose lease ran out before the upload stores nothing', async () => {
    const t = setup();
    await t.run('ADD a');
    const versionsBefore = t.store.objects.get(KEY)!.length;
    t.engine.write = ((write) => async (request) => {
      const outcome = await write(request);
      t.clock.advance(29_000); // past lease end minus the safety margin
      return outcome;
    })(t.engine.write.bind(t.engine));
    await expect(t.run('ADD b')).rejects.toBeInstanceOf(WriteConflictError);
    expect(t.store.objects.get(KEY)!.length).toBe(versionsBefore);
  });
});

describe('DatabaseService on fakes: idempotency keys', () => {
  it('a retry with the same key replays the first answer and applies nothing', async () => {
    const t = setup();
    const first = await t.run('ADD a', { idempotencyKey: 'k-1' });
    const again = await t.run('ADD a', { idempotencyKey: 'k-1' });
    expect(again.meta).toMatchObject({ version: first.meta.version, wrote: true, replayed: true });
    expect(again.results).toEqual(first.results);
    expect(await t.items()).toEqual(['a']);
  });

  it('the same key with a different request is IDEMPOTENCY_KEY_REUSED', async () => {
    const t = setup();
    await t.run('ADD a', { idempotencyKey: 'k-1' });
    await expect(t.run('ADD b', { idempotencyKey: 'k-1' })).rejects.toBeInstanceOf(IdempotencyKeyReusedError);
    expect(await t.items()).toEqual(['a']);
  });

  it('a key is found after the next write moved it to its own record', async () => {
    const t = setup();
    await t.run('ADD a', { idempotencyKey: 'k-1' });
    await t.run('ADD b', { idempotencyKey: 'k-2' });
    expect(t.idempotency.records.has(`${DB}#k-1`)).toBe(true);
    expect(t.lock.items.get(DB)!.recentKeys.has('k-1')).toBe(false);
    const again = await t.run('ADD a', { idempotencyKey: 'k-1' });
    expect(again.meta.replayed).toBe(true);
    expect(await t.items()).toEqual(['a', 'b']);
  });

  it('a write that changed nothing is recorded, so its retry can never apply later', async () => {
    const t = setup();
    await t.run('ADD a');
    const noop = await t.run('ENSURE a', { idempotencyKey: 'k-noop' });
    expect(noop.meta.wrote).toBe(false);
    // Someone removes nothing but the state moves on; the retry must still replay "no change".
    await t.run('ADD z');
    const again = await t.run('ENSURE a', { idempotencyKey: 'k-noop' });
    expect(again.meta).toMatchObject({ wrote: false, replayed: true, version: noop.meta.version });
  });

  it('a retry after an unknown outcome applies the write exactly once', async () => {
    const t = setup();
    await t.run('ADD a');
    t.lock.onPublish = async () => {
      throw new StorageUnavailableError('DynamoDB unavailable');
    };
    await expect(t.run('ADD b', { idempotencyKey: 'k-b' })).rejects.toBeInstanceOf(WriteOutcomeUnknownError);
    t.lock.onPublish = undefined;
    const retry = await t.run('ADD b', { idempotencyKey: 'k-b' });
    expect(retry.meta).toMatchObject({ wrote: true, replayed: true });
    expect(await t.items()).toEqual(['a', 'b']);
  });

  it('a retry after a failed attempt that stored nothing applies it once', async () => {
    const t = setup();
    await t.run('ADD a');
    t.store.onPut = async () => {
      throw new StorageUnavailableError('503 Slow Down');
    };
    await expect(t.run('ADD b', { idempotencyKey: 'k-b' })).rejects.toBeInstanceOf(WriteOutcomeUnknownError);
    t.store.onPut = undefined;
    const retry = await t.run('ADD b', { idempotencyKey: 'k-b' });
    expect(retry.meta).toMatchObject({ wrote: true });
    expect(retry.meta.replayed).toBeUndefined();
    expect(await t.items()).toEqual(['a', 'b']);
  });

  it('a large answer is kept in a side object and replayed from it', async () => {
    const t = setup();
    const many = [...Array.from({ length: 200 }, () => `ADD ${randomUUID()}`), 'SELECT'].join(';');
    const first = await t.run(many, { idempotencyKey: 'k-big' });
    expect(t.store.blobs.size).toBe(1);
    const again = await t.run(many, { idempotencyKey: 'k-big' });
    expect(again.results).toEqual(first.results);
    expect(again.meta.replayed).toBe(true);
  });

  it('a write by another service instance sees the first instance\'s key', async () => {
    const t = setup();
    await t.run('ADD a', { idempotencyKey: 'k-1' });
    const other = t.newService();
    const again = await t.run('ADD a', { idempotencyKey: 'k-1' }, other);
    expect(again.meta.replayed).toBe(true);
  });
});
