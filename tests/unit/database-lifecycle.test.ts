import { DatabaseLifecycle, VersionHistory } from '../../functions/core/database-lifecycle';
import { DatabaseService, type SqlRequest } from '../../functions/core/database-service';
import {
  BadRequestError,
  DatabaseExistsError,
  DatabaseNotFoundError,
  IdempotencyKeyReusedError,
  InvalidDatabaseFileError,
  LockTimeoutError,
  PayloadTooLargeError,
  StorageUnavailableError,
  VersionNotFoundError,
  VersionReadOnlyError,
  WriteConflictError,
  WriteOutcomeUnknownError,
} from '../../functions/core/errors';
import { PreconditionFailedError } from '../../functions/core/ports';
import { encode, SERVICE_OPTIONS, FakeClock, FakeEngine, FakeIdempotencyStore, FakeInspector, FakeLeaseLock, FakeObjectStore } from '../helpers/fakes';

const DB = 'shop';
const KEY = 'databases/shop.sqlite';
/** The patterns of a key that may see every database. */
const EVERYTHING = ['*'];

function setup(overrides: { inlineTransferBytes?: number; maxDatabaseBytes?: number } = {}) {
  const clock = new FakeClock();
  const store = new FakeObjectStore(clock.now);
  const lock = new FakeLeaseLock(clock);
  const engine = new FakeEngine();
  const inspector = new FakeInspector();
  // One history of committed versions serves the service's past reads and the lifecycle, as in production.
  const history = new VersionHistory(store, lock, 'databases/');
  const service = new DatabaseService(SERVICE_OPTIONS, { store, lock, idempotency: new FakeIdempotencyStore(), engine, pastVersions: history, clock: clock.now });
  const lifecycle = new DatabaseLifecycle(
    {
      keyPrefix: 'databases/',
      stagingPrefix: 'staging/',
      exportPrefix: 'exports/',
      maxDatabaseBytes: overrides.maxDatabaseBytes ?? 1_000_000,
      inlineTransferBytes: overrides.inlineTransferBytes ?? 1_000_000,
      presignExpirySeconds: 900,
      rowCountLimit: 10_000,
      restoreWindowDays: 30,
    },
    { service, history, store, archive: store, lock, inspector },
  );
  const run = (sql: string, extra: Partial<SqlRequest> = {}, database = DB) =>
    service.execute({ database, program: { kind: 'script', sql }, consistency: 'strong', ...extra }, 'write');
  const items = async (database = DB, extra: Partial<SqlRequest> = {}) => (await run('SELECT', extra, database)).results[0]!.rows.map((row) => row[0]);
  /** A write one second after the previous one, so each version has its own time. */
  const writeLater = async (sql: string) => {
    clock.advance(1_000);
    return (await run(sql)).meta.version!;
  };
  return { clock, store, lock, engine, inspector, service, lifecycle, run, items, writeLater };
}

describe('reads of past versions', () => {
  it('a version id reads exactly that state, and the answer names it', async () => {
    const t = setup();
    const v1 = await t.writeLater('ADD a');
    await t.writeLater('ADD b');
    const read = await t.run('SELECT', { at: { version: v1 } });
    expect(read.results[0]!.rows).toEqual([['a']]);
    expect(read.meta.version).toBe(v1);
  });

  it('as_of between two versions reads the older, exactly at one reads that one, before the first is 404', async () => {
    const t = setup();
    await t.writeLater('ADD a');
    const firstAt = t.clock.nowMs;
    await t.writeLater('ADD b');
    const secondAt = t.clock.nowMs;
    expect(await t.items(DB, { at: { asOfMs: firstAt + 500 } })).toEqual(['a']);
    expect(await t.items(DB, { at: { asOfMs: secondAt } })).toEqual(['a', 'b']);
    await expect(t.run('SELECT', { at: { asOfMs: firstAt - 1_000 } })).rejects.toThrow(VersionNotFoundError);
  });

  it('a tie within one second goes to the newest version of that second', async () => {
    const t = setup();
    await t.writeLater('ADD a');
    await t.run('ADD b'); // the same second
    expect(await t.items(DB, { at: { asOfMs: t.clock.nowMs } })).toEqual(['a', 'b']);
  });

  it('a request that writes on a past version is refused and stores nothing', async () => {
    const t = setup();
    const v1 = await t.writeLater('ADD a');
    const before = t.store.objects.get(KEY)!.length;
    await expect(t.run('ADD x', { at: { version: v1 } })).rejects.toThrow(VersionReadOnlyError);
    expect(t.store.objects.get(KEY)).toHaveLength(before);
    expect(t.lock.count('acquire')).toBe(1);
  });

  it('an unknown version id is 404, and so is a stored version that was never published', async () => {
    const t = setup();
    await t.writeLater('ADD a');
    const ghost = t.store.storeDirectly(KEY, encode(['ghost']), { writeId: 'crashed-writer' });
    await expect(t.run('SELECT', { at: { version: 'nope' } })).rejects.toThrow(VersionNotFoundError);
    await expect(t.run('SELECT', { at: { version: ghost.versionId! } })).rejects.toThrow(VersionNotFoundError);
  });
});

describe('versions', () => {
  it('lists committed versions newest first with who made them, paginated, hiding unpublished ones', async () => {
    const t = setup();
    const v1 = await t.writeLater('ADD a');
    const v2 = await t.service.execute(
      { database: DB, program: { kind: 'script', sql: 'ADD b' }, consistency: 'strong', madeBy: { keyId: 'key-7', requestId: 'req-1' } },
      'write',
    );
    t.store.storeDirectly(KEY, encode(['ghost']), { writeId: 'crashed-writer' });

    const first = await t.lifecycle.versions(DB, { limit: 1 });
    expect(first.versions).toEqual([expect.objectContaining({ version: v2.meta.version, current: true, deleted: false, made_by: { key_id: 'key-7', request_id: 'req-1' } })]);
    expect(first.next_before).toBe(v2.meta.version);
    const second = await t.lifecycle.versions(DB, { limit: 1, before: first.next_before! });
    expect(second.versions.map((v) => [v.version, v.current])).toEqual([[v1, false]]);
    expect(second.next_before).toBeNull();
    expect(first.restore_window_days).toBe(30);
  });

  it('a database never written is 404', async () => {
    const t = setup();
    await expect(t.lifecycle.versions('nothing', { limit: 10 })).rejects.toThrow(DatabaseNotFoundError);
  });
});

describe('restore', () => {
  it('makes a past state current as a new version; restoring "replaced" undoes it', async () => {
    const t = setup();
    const v1 = await t.writeLater('ADD a');
    const v2 = await t.writeLater('ADD b');
    const restored = await t.lifecycle.restore(DB, { version: v1 }, {});
    expect(restored.fields).toEqual({ restored_from: v1, replaced: v2 });
    expect(restored.version).not.toBe(v1);
    expect(await t.items()).toEqual(['a']);

    const undone = await t.lifecycle.restore(DB, { version: String(restored.fields.replaced) }, {});
    expect(await t.items()).toEqual(['a', 'b']);
    expect(undone.fields.replaced).toBe(restored.version);
    // History is never rewritten: four versions, each still readable.
    expect(t.store.objects.get(KEY)).toHaveLength(4);
  });

  it('restoring the current version changes nothing', async () => {
    const t = setup();
    const v1 = await t.writeLater('ADD a');
    const answer = await t.lifecycle.restore(DB, { version: v1 }, {});
    expect(answer.version).toBe(v1);
    expect(t.store.objects.get(KEY)).toHaveLength(1);
  });

  it('a retry with the same Idempotency-Key replays the first answer and restores nothing more', async () => {
    const t = setup();
    const v1 = await t.writeLater('ADD a');
    await t.writeLater('ADD b');
    const first = await t.lifecycle.restore(DB, { version: v1 }, { idempotencyKey: 'restore-1' });
    await t.writeLater('ADD c');
    const retry = await t.lifecycle.restore(DB, { version: v1 }, { idempotencyKey: 'restore-1' });
    expect(retry).toEqual({ ...first, replayed: true });
    expect(await t.items()).toEqual(['a', 'c']);
  });

  it('a restore racing a write: the loser is told to retry and nothing is lost', async () => {
    const t = setup();
    const v1 = await t.writeLater('ADD a');
    await t.writeLater('ADD b');
    // A writer holds the lease while the restore asks for it: the restore is told to retry.
    const writer = await t.lock.acquire(DB);
    await expect(t.lifecycle.restore(DB, { version: v1 }, {})).rejects.toThrow(LockTimeoutError);
    await t.lock.release(writer.lease);
    await t.run('ADD c');
    expect(await t.items()).toEqual(['a', 'b', 'c']);
    await t.lifecycle.restore(DB, { version: v1 }, {});
    expect(await t.items()).toEqual(['a']);
  });
});

describe('delete', () => {
  it('needs the name repeated', async () => {
    const t = setup();
    await t.writeLater('ADD a');
    await expect(t.lifecycle.delete(DB, 'other', {})).rejects.toThrow(BadRequestError);
    expect(await t.items()).toEqual(['a']);
  });

  it('then reads, writes, imports and clones into it answer 404; its versions stay listed; restore brings it back', async () => {
    const t = setup();
    const v1 = await t.writeLater('ADD a');
    const deleted = await t.lifecycle.delete(DB, DB, {});
    expect(deleted.fields).toEqual({ deleted_version: v1 });

    await expect(t.run('SELECT')).rejects.toThrow(DatabaseNotFoundError);
    await expect(t.run('ADD b')).rejects.toThrow(DatabaseNotFoundError);
    await expect(t.lifecycle.import(DB, { bytes: encode(['x']) }, {})).rejects.toThrow(DatabaseNotFoundError);
    await t.run('ADD other', {}, 'other');
    await expect(t.lifecycle.clone('other', DB, undefined, {})).rejects.toThrow(DatabaseNotFoundError);
    await expect(t.lifecycle.export(DB, 'sqlite')).rejects.toThrow(DatabaseNotFoundError);

    const versions = await t.lifecycle.versions(DB, { limit: 10 });
    expect(versions.versions.map((v) => [v.deleted, v.current])).toEqual([
      [true, true],
      [false, false],
    ]);
    expect((await t.lifecycle.list({ limit: 10, includeDeleted: false, patterns: EVERYTHING })).databases.map((d) => d.name)).toEqual(['other']);
    expect((await t.lifecycle.list({ limit: 10, includeDeleted: true, patterns: EVERYTHING })).databases.map((d) => [d.name, d.deleted])).toEqual([
      ['other', undefined],
      [DB, true],
    ]);

    const restored = await t.lifecycle.restore(DB, { version: v1 }, {});
    expect(restored.fields.replaced).toBeNull();
    expect(await t.items()).toEqual(['a']);
    await t.run('ADD b');
    expect(await t.items()).toEqual(['a', 'b']);
  });

  it('as_of at a time the database was deleted is 404', async () => {
    const t = setup();
    await t.writeLater('ADD a');
    t.clock.advance(1_000);
    await t.lifecycle.delete(DB, DB, {});
    await expect(t.lifecycle.restore(DB, { asOfMs: t.clock.nowMs }, {})).rejects.toThrow(VersionNotFoundError);
  });

  it('a database that does not exist cannot be deleted', async () => {
    const t = setup();
    await expect(t.lifecycle.delete('nothing', 'nothing', {})).rejects.toThrow(DatabaseNotFoundError);
  });
});

describe('clone', () => {
  it('copies a state inside the store (no bytes read) and is independent afterwards', async () => {
    const t = setup();
    const v1 = await t.writeLater('ADD a');
    await t.writeLater('ADD b');
    const read = t.store.bytesRead;
    const cloned = await t.lifecycle.clone(DB, 'branch', { version: v1 }, {});
    expect(t.store.bytesRead).toBe(read);
    expect(cloned.fields).toEqual({ cloned_from: DB, source_version: v1 });
    expect(await t.items('branch')).toEqual(['a']);
    await t.run('ADD only-in-branch', {}, 'branch');
    expect(await t.items()).toEqual(['a', 'b']);
    expect(await t.items('branch')).toEqual(['a', 'only-in-branch']);
    // The copy carries its own write, never the source's metadata.
    expect(t.store.objects.get('databases/branch.sqlite')![0]!.stamp!.writeId).not.toBe(t.store.objects.get(KEY)![0]!.stamp!.writeId);
  });

  it('into an existing database is refused with DATABASE_EXISTS and changes nothing', async () => {
    const t = setup();
    await t.writeLater('ADD a');
    await t.run('ADD mine', {}, 'taken');
    await expect(t.lifecycle.clone(DB, 'taken', undefined, {})).rejects.toThrow(DatabaseExistsError);
    expect(await t.items('taken')).toEqual(['mine']);
  });
});

describe('import', () => {
  it('replaces the database as a new version and answers what it replaced', async () => {
    const t = setup();
    const v1 = await t.writeLater('ADD a');
    const imported = await t.lifecycle.import(DB, { bytes: encode(['x', 'y']) }, {});
    expect(imported.fields).toEqual({ replaced: v1, converted_from_wal: 0 });
    expect(await t.items()).toEqual(['x', 'y']);
  });

  it.each([
    ['a file that is not a database', Buffer.from('hello'), InvalidDatabaseFileError],
    ['a file whose schema the policy refuses', encode(['REFUSED']), InvalidDatabaseFileError],
    ['a file over the size limit', encode(['x'.repeat(200)]), PayloadTooLargeError],
  ])('refuses %s with the data untouched and no lease taken', async (_, bytes, error) => {
    const t = setup({ maxDatabaseBytes: 100 });
    await t.writeLater('ADD a');
    const acquires = t.lock.count('acquire');
    await expect(t.lifecycle.import(DB, { bytes: new Uint8Array(bytes) }, {})).rejects.toThrow(error);
    expect(await t.items()).toEqual(['a']);
    expect(t.lock.count('acquire')).toBe(acquires);
  });

  it('a SQL dump (format=sql) replaces the database with what it makes, and a retry with its key replays', async () => {
    const t = setup();
    const v1 = await t.writeLater('ADD a');
    const dump = () => Buffer.from('ADD x;\nADD y;\n');
    const imported = await t.lifecycle.import(DB, { bytes: dump(), format: 'sql' }, { idempotencyKey: 'load-1' });
    expect(imported.fields).toEqual({ replaced: v1, converted_from_wal: 0 });
    expect(await t.items()).toEqual(['x', 'y']);
    const again = await t.lifecycle.import(DB, { bytes: dump(), format: 'sql' }, { idempotencyKey: 'load-1' });
    expect(again).toMatchObject({ version: imported.version, replayed: true });
    // The same key with another dump is another request.
    await expect(t.lifecycle.import(DB, { bytes: Buffer.from('ADD z;\n'), format: 'sql' }, { idempotencyKey: 'load-1' })).rejects.toThrow(IdempotencyKeyReusedError);
  });

  it('a keyed import retried after it was applied replays without fetching or checking the upload again, even once a staged upload expired', async () => {
    const t = setup();
    const { staged } = await t.lifecycle.stageUpload(DB);
    await t.store.putBlob(staged, Buffer.from('ADD x;\n'));
    const first = await t.lifecycle.import(DB, { staged, format: 'sql' }, { idempotencyKey: 'load-2' });
    // The bucket's rule expires staged uploads after a day; keys are kept 25 hours.
    t.store.blobs.delete(staged);
    const builds = jest.spyOn(t.inspector, 'build');
    expect(await t.lifecycle.import(DB, { staged, format: 'sql' }, { idempotencyKey: 'load-2' })).toEqual({ ...first, replayed: true });
    expect(builds).not.toHaveBeenCalled();
    // The same key for another upload is another request.
    const other = await t.lifecycle.stageUpload(DB);
    await expect(t.lifecycle.import(DB, { staged: other.staged, format: 'sql' }, { idempotencyKey: 'load-2' })).rejects.toThrow(IdempotencyKeyReusedError);

    const file = setup();
    const imported = await file.lifecycle.import(DB, { bytes: encode(['f']) }, { idempotencyKey: 'file-1' });
    const inspections = jest.spyOn(file.inspector, 'inspect');
    expect(await file.lifecycle.import(DB, { bytes: encode(['f']) }, { idempotencyKey: 'file-1' })).toEqual({ ...imported, replayed: true });
    expect(inspections).not.toHaveBeenCalled();
  });

  it('a SQL dump that fails is refused with the data untouched and no lease taken', async () => {
    const t = setup();
    await t.writeLater('ADD a');
    const acquires = t.lock.count('acquire');
    await expect(t.lifecycle.import(DB, { bytes: Buffer.from('ADD x;\nDROP EVERYTHING;\n'), format: 'sql' }, {})).rejects.toThrow(/SQL dump was refused and nothing was changed: its SQL failed/);
    expect(await t.items()).toEqual(['a']);
    expect(t.lock.count('acquire')).toBe(acquires);
  });

  it('says when it converted a WAL-mode file', async () => {
    const t = setup();
    const imported = await t.lifecycle.import(DB, { bytes: encode(['x', 'WAL']) }, {});
    expect(imported.fields.converted_from_wal).toBe(1);
    expect(await t.items()).toEqual(['x']);
  });

  it('a staged upload: only this database staging keys, validated like an inline one', async () => {
    const t = setup();
    const { staged, upload } = await t.lifecycle.stageUpload(DB);
    expect(staged).toMatch(/^staging\/shop\//);
    expect(upload.fields?.['content-length-range']).toBe('0,1000000');
    await expect(t.lifecycle.import(DB, { staged: 'staging/other/x.sqlite' }, {})).rejects.toThrow(BadRequestError);
    await expect(t.lifecycle.import(DB, { staged }, {})).rejects.toThrow(/nothing was uploaded/);
    await t.store.putBlob(staged, encode(['big']));
    await t.lifecycle.import(DB, { staged }, {});
    expect(await t.items()).toEqual(['big']);
  });
});

describe('export', () => {
  it('answers small files inline and large ones with a presigned GET of that exact version', async () => {
    const t = setup({ inlineTransferBytes: 10 });
    const v1 = await t.writeLater('ADD a');
    await t.writeLater('ADD bbbbbbbbbbbb');
    const small = await t.lifecycle.export(DB, 'sqlite', { version: v1 });
    expect(small).toEqual({ version: v1, transfer: { kind: 'inline', body: encode(['a']) } });
    const large = await t.lifecycle.export(DB, 'sqlite');
    expect(large.transfer).toMatchObject({ kind: 'presigned', request: { url: expect.stringContaining(`versionId=${large.version}`) } });
  });

  it('format=sql answers the dump', async () => {
    const t = setup();
    await t.writeLater('ADD a');
    expect((await t.lifecycle.export(DB, 'sql')).transfer).toEqual({ kind: 'inline', body: 'ADD a;' });
  });

  it('a dump is measured as the answer carries it (a JSON string): one of quotes that fits raw is presigned', async () => {
    const plain = setup({ inlineTransferBytes: 24 });
    await plain.writeLater('ADD abcdefghijklmn'); // "ADD abcdefghijklmn;": 19 bytes, 21 as a JSON string
    expect((await plain.lifecycle.export(DB, 'sql')).transfer).toEqual({ kind: 'inline', body: 'ADD abcdefghijklmn;' });
    const quoted = setup({ inlineTransferBytes: 24 });
    await quoted.writeLater(`ADD ${'"'.repeat(14)}`); // 19 bytes too, but 35 as a JSON string
    expect((await quoted.lifecycle.export(DB, 'sql')).transfer).toMatchObject({ kind: 'presigned' });
  });
});

it("a keyed clone retried after its source was deleted replays its first answer (the key is the target's)", async () => {
  const t = setup();
  await t.writeLater('ADD a');
  const clone = await t.lifecycle.clone(DB, 'copy', undefined, { idempotencyKey: 'C' });
  await t.lifecycle.delete(DB, DB, {});
  const retry = await t.lifecycle.clone(DB, 'copy', undefined, { idempotencyKey: 'C' });
  expect(retry).toMatchObject({ version: clone.version, replayed: true });
  expect(await t.items('copy')).toEqual(['a']);
  // Without the key, the same request is refused on what it finds now.
  await expect(t.lifecycle.clone(DB, 'copy-2', undefined, {})).rejects.toThrow(DatabaseNotFoundError);
});

describe('list', () => {
  it('lists databases in name order with their published version, page by page', async () => {
    const t = setup();
    for (const name of ['c', 'a', 'b']) await t.run('ADD x', {}, name);
    const first = await t.lifecycle.list({ limit: 2, includeDeleted: false, patterns: EVERYTHING });
    expect(first.databases.map((d) => d.name)).toEqual(['a', 'b']);
    expect(first.databases[0]!.version).toBe(t.lock.items.get('a')!.record!.version.versionId);
    const second = await t.lifecycle.list({ limit: 2, cursor: first.next_cursor!, includeDeleted: false, patterns: EVERYTHING });
    expect(second).toEqual({ databases: [expect.objectContaining({ name: 'c' })], next_cursor: null });
  });

  it.each([
    ['names', ['ta', 'tc', 'te'], ['ta', 'tc', 'te']],
    ['patterns', ['t*c', 'ta*', 'te'], ['ta', 'tc', 'te']],
    ['a pattern starting with *', ['*a', 'tc', 'te'], ['a', 'ta', 'tc', 'te']],
  ])('a scoped key pages through its own databases only (%s): no page or cursor names another', async (_case, patterns, expected) => {
    const t = setup();
    for (const name of ['a', 'ta', 'tb', 'tc', 'td', 'te', 'z']) await t.run('ADD x', {}, name);
    const pages: { names: string[]; cursor: string | null }[] = [];
    let cursor: string | undefined;
    do {
      const page = await t.lifecycle.list({ limit: 1, cursor, includeDeleted: false, patterns });
      pages.push({ names: page.databases.map((d) => d.name), cursor: page.next_cursor });
      cursor = page.next_cursor ?? undefined;
    } while (cursor !== undefined);
    expect(pages).toEqual(expected.map((name, i) => ({ names: [name], cursor: i < expected.length - 1 ? name : null })));
  });

  it("a page for a key with several patterns lists under each pattern's fixed start, whatever else the bucket holds", async () => {
    const t = setup();
    await t.run('ADD x', {}, 'acme-1');
    await t.run('ADD x', {}, 'globex-1');
    // Other tenants' databases, between the two in key order.
    for (let i = 0; i < 5_000; i++) t.store.storeDirectly(`databases/b-${String(i).padStart(5, '0')}.sqlite`, encode(['x']));
    const before = t.store.count('listObjects');
    const page = await t.lifecycle.list({ limit: 10, includeDeleted: false, patterns: ['acme-*', 'globex-*'] });
    expect(page).toEqual({ databases: [expect.objectContaining({ name: 'acme-1' }), expect.objectContaining({ name: 'globex-1' })], next_cursor: null });
    expect(t.store.count('listObjects') - before).toBe(2);
  });
});

it('a write conflict during a restore is retryable and leaves the database as it was', async () => {
  const t = setup();
  const v1 = await t.writeLater('ADD a');
  await t.writeLater('ADD b');
  t.store.onPut = async () => {
    throw new PreconditionFailedError('raced');
  };
  await expect(t.lifecycle.restore(DB, { version: v1 }, {})).rejects.toThrow(WriteConflictError);
  t.store.onPut = undefined;
  expect(await t.items()).toEqual(['a', 'b']);
});

describe('the write protocol when a step is lost (found in review)', () => {
  const lostPublish = async () => {
    throw new StorageUnavailableError('the publish never reached DynamoDB');
  };

  it('a keyed first write of a new database whose publish was lost applies once on retry', async () => {
    const t = setup();
    t.lock.onPublish = lostPublish;
    await expect(t.run('ADD a', { idempotencyKey: 'K' })).rejects.toBeInstanceOf(WriteOutcomeUnknownError);
    t.lock.onPublish = undefined;
    const retry = await t.run('ADD a', { idempotencyKey: 'K' });
    expect(retry.meta.replayed).toBe(true);
    expect(await t.items()).toEqual(['a']);
  });

  it('an unkeyed first write whose publish was lost is kept by the next write', async () => {
    const t = setup();
    t.lock.onPublish = lostPublish;
    await expect(t.run('ADD a')).rejects.toBeInstanceOf(WriteOutcomeUnknownError);
    t.lock.onPublish = undefined;
    await t.run('ADD b');
    expect(await t.items()).toEqual(['a', 'b']);
  });

  it('a delete whose publish was lost is settled by its keyed retry, and the database then answers 404 until restored', async () => {
    const t = setup();
    const v1 = await t.writeLater('ADD a');
    t.lock.onPublish = lostPublish;
    await expect(t.lifecycle.delete(DB, DB, { idempotencyKey: 'D' })).rejects.toBeInstanceOf(WriteOutcomeUnknownError);
    t.lock.onPublish = undefined;
    // Readers still see the published version; the unpublished delete marker is adopted by the next change.
    expect(await t.items()).toEqual(['a']);
    expect((await t.lifecycle.delete(DB, DB, { idempotencyKey: 'D' })).replayed).toBe(true);
    await expect(t.run('SELECT')).rejects.toBeInstanceOf(DatabaseNotFoundError);
    await expect(t.run('ADD b')).rejects.toBeInstanceOf(DatabaseNotFoundError);
    await t.lifecycle.restore(DB, { version: v1 }, {});
    expect(await t.items()).toEqual(['a']);
  });

  it('an unkeyed write after a lost delete publish answers 404, not a conflict forever', async () => {
    const t = setup();
    await t.writeLater('ADD a');
    t.lock.onPublish = lostPublish;
    await expect(t.lifecycle.delete(DB, DB, {})).rejects.toBeInstanceOf(WriteOutcomeUnknownError);
    t.lock.onPublish = undefined;
    await expect(t.run('ADD b')).rejects.toBeInstanceOf(DatabaseNotFoundError);
    await expect(t.run('SELECT')).rejects.toBeInstanceOf(DatabaseNotFoundError);
  });

  it('our upload landed, our lease ran out and another writer built on it: unknown, never "nothing applied"', async () => {
    const t = setup();
    await t.writeLater('ADD a');
    let first = true;
    t.store.onPut = async (store) => {
      if (!first) return store();
      first = false;
      await store(); // the first attempt lands; its reply is lost
      t.clock.advance(31_000); // our lease runs out while the SDK retries
      await t.run('ADD c'); // another writer adopts our version and builds on it
      // What the S3 adapter reports for a retried attempt's 412: not definite.
      throw new StorageUnavailableError('412 on the retried attempt');
    };
    await expect(t.run('ADD b')).rejects.toBeInstanceOf(WriteOutcomeUnknownError);
    t.store.onPut = undefined;
    expect(await t.items()).toEqual(['a', 'b', 'c']);
  });

  it('an unpublished version with our key but another request is kept, and our request is refused as a reused key', async () => {
    const t = setup();
    await t.writeLater('ADD a');
    t.lock.onPublish = async (publish, publication) => {
      if (publication.next) throw new StorageUnavailableError('crash before publish');
      return publish();
    };
    await expect(t.run('ADD x', { idempotencyKey: 'K' })).rejects.toBeInstanceOf(WriteOutcomeUnknownError);
    t.lock.onPublish = undefined;
    await expect(t.run('ADD y', { idempotencyKey: 'K' })).rejects.toBeInstanceOf(IdempotencyKeyReusedError);
    expect((await t.run('ADD x', { idempotencyKey: 'K' })).meta.replayed).toBe(true);
    expect(await t.items()).toEqual(['a', 'x']);
  });

  it('a keyed clone retried after its source moved on replays instead of refusing the key', async () => {
    const t = setup();
    await t.writeLater('ADD a');
    t.lock.onPublish = async (publish, publication) => {
      await publish();
      if (publication.next && !publication.keepLease) throw new StorageUnavailableError('reply lost');
    };
    const clone = await t.lifecycle.clone(DB, 'copy', undefined, { idempotencyKey: 'C' });
    t.lock.onPublish = undefined;
    await t.writeLater('ADD b');
    const retry = await t.lifecycle.clone(DB, 'copy', undefined, { idempotencyKey: 'C' });
    expect(retry).toMatchObject({ version: clone.version, replayed: true });
    expect(await t.items('copy')).toEqual(['a']);
  });

  it('a keyed request that only reads because of today\'s state is recorded, so its retry never applies later', async () => {
    const t = setup();
    await t.writeLater('ADD a');
    const first = await t.run('DROP zzz', { idempotencyKey: 'drop-zzz' });
    expect(first.meta.wrote).toBe(false);
    await t.run('ADD zzz');
    const retry = await t.run('DROP zzz', { idempotencyKey: 'drop-zzz' });
    expect(retry.meta).toMatchObject({ wrote: false, replayed: true });
    expect(await t.items()).toEqual(['a', 'zzz']);
  });

  it('a replay whose stored answer has expired is refused, never re-applied or a 500', async () => {
    const t = setup();
    const many = [...Array.from({ length: 200 }, (_, i) => `ADD item-${i}-${'q'.repeat(i % 7)}${i * 7919}`), 'SELECT'].join(';');
    await t.run(many, { idempotencyKey: 'big' });
    expect(t.store.blobs.size).toBe(1);
    t.store.blobs.clear(); // swept by the bucket's lifecycle rule
    await expect(t.run(many, { idempotencyKey: 'big' })).rejects.toBeInstanceOf(IdempotencyKeyReusedError);
  });
});
