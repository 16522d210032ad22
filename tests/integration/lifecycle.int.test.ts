import { createHash } from 'node:crypto';
import initSqlJs from 'sql.js';
import { apiCaller, postJson, READ_KEY, startTestApi, testConfig, uniqueDatabase, WRITE_KEY, type TestApi } from '../helpers/test-app';

/**
 * The lifecycle end to end: real handlers behind the local API gateway, real SDK against the
 * local S3 (versioned) and DynamoDB. Each test uses its own databases.
 */
describe('database lifecycle over HTTP', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startTestApi();
  });
  afterAll(async () => {
    await api.close();
  });

  const call: ReturnType<typeof apiCaller> = (...args) => apiCaller(api.url)(...args);
  const sql = async (database: string, sql_statement: string, extra: Record<string, unknown> = {}) => postJson(api.url, { database, sql_statement, ...extra });
  const rows = async (database: string, extra: Record<string, unknown> = {}) => (await sql(database, 'SELECT n FROM t ORDER BY n', extra)).body.results?.[0]?.rows;
  const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  async function twoVersions(database: string) {
    const v1 = (await sql(database, 'CREATE TABLE t(n INTEGER); INSERT INTO t VALUES (1)')).body.meta.version;
    // S3 keeps whole seconds: the second version lands in a later second.
    await wait(1_100);
    const v2 = (await sql(database, 'INSERT INTO t VALUES (2)')).body.meta.version;
    return { v1, v2 };
  }

  it('restore then undo the restore', async () => {
    const db = uniqueDatabase('restore');
    const { v1, v2 } = await twoVersions(db);
    const restored = await call('POST', `/databases/${db}/restore`, { version: v1 });
    expect(restored.status).toBe(200);
    expect(restored.body).toMatchObject({ restored_from: v1, replaced: v2 });
    expect(await rows(db)).toEqual([[1]]);
    await call('POST', `/databases/${db}/restore`, { version: restored.body.replaced });
    expect(await rows(db)).toEqual([[1], [2]]);
  });

  it('after a restore and a read of the restored-from version, an eventual read names the current version', async () => {
    const db = uniqueDatabase('evversion');
    const { v1 } = await twoVersions(db);
    const restored = await call('POST', `/databases/${db}/restore`, { version: v1 });
    expect(restored.status).toBe(200);
    // The restore stored v1's bytes again (same ETag, new version id); reading v1 makes it the warm copy.
    expect((await sql(db, 'SELECT count(*) FROM t', { version: v1 })).body.meta.version).toBe(v1);

    const eventual = await sql(db, 'SELECT count(*) FROM t', { consistency: 'eventual' });
    expect(eventual.body.meta.version).toBe(restored.body.version);
    expect((await sql(db, 'SELECT count(*) FROM t')).body.meta.version).toBe(restored.body.version);
  });

  it('a query parameter a route does not take, or a deleted flag that is not true or false, is a 400 saying so', async () => {
    const db = uniqueDatabase('params');
    await sql(db, 'CREATE TABLE t(n INTEGER)');
    for (const [path, message] of [
      ['/databases?limt=5', 'unknown query parameter "limt"; did you mean "limit"?'],
      ['/databases?deleted=yes', 'deleted must be "true" or "false"'],
      [`/databases/${db}?verbose=1`, 'unknown query parameter "verbose"; this route takes none'],
      [`/databases/${db}/versions?befor=x`, 'unknown query parameter "befor"; did you mean "before"?'],
    ]) {
      const answer = await call('GET', path!, undefined, READ_KEY);
      expect([path, answer.status, answer.body.error.message]).toEqual([path, 400, message]);
    }
    expect((await call('GET', '/databases?deleted=false&limit=1', undefined, READ_KEY)).status).toBe(200);
  });

  it('as_of between two versions, exactly at one, and before the first', async () => {
    const db = uniqueDatabase('asof');
    await twoVersions(db);
    const versions = (await call('GET', `/databases/${db}/versions`, undefined, READ_KEY)).body.versions;
    const [second, first] = versions;
    expect(await rows(db, { as_of: first.time })).toEqual([[1]]);
    expect(await rows(db, { as_of: second.time })).toEqual([[1], [2]]);
    const before = await sql(db, 'SELECT 1', { as_of: new Date(Date.parse(first.time) - 5_000).toISOString() });
    expect(before.status).toBe(404);
    expect(before.body.error.code).toBe('VERSION_NOT_FOUND');
    const write = await sql(db, 'INSERT INTO t VALUES (3)', { version: first.version });
    expect(write.body.error.code).toBe('VERSION_READ_ONLY');
  });

  it('describes a database by counting its tables, and names its views without running them', async () => {
    const db = uniqueDatabase('describe');
    // Counting this view's rows would never end (the statement timeout would stop it, every time).
    await sql(db, 'CREATE TABLE t(n INTEGER); INSERT INTO t VALUES (1), (2); CREATE VIEW forever AS WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c) SELECT i FROM c WHERE i < 0');
    const described = await call('GET', `/databases/${db}`, undefined, READ_KEY);
    expect(described.status).toBe(200);
    expect(described.body).toMatchObject({ tables: [{ name: 't', rows: 2, rows_capped: false }], views: [{ name: 'forever' }] });
    expect(described.body.views[0]).toEqual({ name: 'forever' });
  });

  it('versions page on with before=<the last version>; a before naming no version is a 404, an empty one a 400', async () => {
    const db = uniqueDatabase('pages');
    const { v1, v2 } = await twoVersions(db);
    const firstPage = (await call('GET', `/databases/${db}/versions?limit=1`, undefined, READ_KEY)).body;
    expect(firstPage.versions.map((v: { version: string }) => v.version)).toEqual([v2]);
    const nextPage = (await call('GET', `/databases/${db}/versions?limit=1&before=${encodeURIComponent(v2)}`, undefined, READ_KEY)).body;
    expect(nextPage.versions.map((v: { version: string }) => v.version)).toEqual([v1]);

    const unknown = await call('GET', `/databases/${db}/versions?before=junk`, undefined, READ_KEY);
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('VERSION_NOT_FOUND');
    const empty = await call('GET', `/databases/${db}/versions?before=`, undefined, READ_KEY);
    expect(empty.status).toBe(400);
    expect(empty.body.error.message).toMatch(/^before must name a version id/);
    // A page size above the maximum is capped, not refused.
    expect((await call('GET', `/databases/${db}/versions?limit=1000000`, undefined, READ_KEY)).body.versions).toHaveLength(2);
  });

  it('export then re-import gives identical query results; the sql dump rebuilds a fresh database', async () => {
    const db = uniqueDatabase('export');
    await twoVersions(db);
    const file = await call('GET', `/databases/${db}/export?format=sqlite`, undefined, READ_KEY);
    expect(file.headers.get('content-type')).toBe('application/vnd.sqlite3');
    const copy = uniqueDatabase('imported');
    expect((await call('POST', `/databases/${copy}/import`, file.bytes, WRITE_KEY, 'application/vnd.sqlite3')).status).toBe(200);
    expect(await rows(copy)).toEqual(await rows(db));

    const dump = (await call('GET', `/databases/${db}/export?format=sql`, undefined, READ_KEY)).bytes;
    const rebuilt = uniqueDatabase('rebuilt');
    const replayed = await call('POST', `/databases/${rebuilt}/import`, dump, WRITE_KEY, 'application/sql');
    expect([replayed.status, replayed.body]).toEqual([200, expect.objectContaining({ replaced: null })]);
    expect(await rows(rebuilt)).toEqual(await rows(db));
  });

  it('a SQL dump holding a virtual table this engine lacks (its module quoted, as sqlite3 .dump writes it) is refused', async () => {
    const db = uniqueDatabase('fts5dump');
    const dump = [
      'CREATE TABLE t(n INTEGER); INSERT INTO t VALUES (1);',
      'PRAGMA writable_schema=ON;',
      `INSERT INTO sqlite_schema(type, name, tbl_name, rootpage, sql) VALUES ('table', 'v', 'v', 0, 'CREATE VIRTUAL TABLE v USING "fts5"(x)');`,
      'PRAGMA writable_schema=OFF;',
    ].join('\n');
    const imported = await call('POST', `/databases/${db}/import`, Buffer.from(dump), WRITE_KEY, 'application/sql');
    expect([imported.status, imported.body.error?.code]).toEqual([400, 'INVALID_DATABASE_FILE']);
    expect(imported.body.error.message).toMatch(/virtual table "v" uses module fts5/);
    expect((await sql(db, 'SELECT 1')).status).toBe(404);
  });

  it('a SQL dump that fails is refused with the reason, and the database is untouched', async () => {
    const db = uniqueDatabase('baddump');
    const { v2 } = await twoVersions(db);
    const refused = await call('POST', `/databases/${db}/import`, Buffer.from('BEGIN TRANSACTION;\nCREATE TABLE t(n INTEGER);\nINSERT INTO nope VALUES(1);\nCOMMIT;\n'), WRITE_KEY, 'application/sql');
    expect([refused.status, refused.body.error.code]).toEqual([400, 'INVALID_DATABASE_FILE']);
    expect(refused.body.error.message).toMatch(/SQL dump was refused and nothing was changed: its SQL failed: no such table: nope/);
    expect(await rows(db)).toEqual([[1], [2]]);
    expect((await versionsOf(db))[0]!.version).toBe(v2);
    // An empty body says what an import takes; the wrong one of the two types says which to use.
    const empty = await call('POST', `/databases/${db}/import`, new Uint8Array(), WRITE_KEY, 'application/sql');
    expect([empty.status, empty.body.error.message]).toEqual([400, expect.stringContaining('a SQL dump as "Content-Type: application/sql"')]);
    const file = (await call('GET', `/databases/${db}/export?format=sqlite`, undefined, READ_KEY)).bytes;
    const fileAsSql = await call('POST', `/databases/${db}/import`, file, WRITE_KEY, 'application/sql');
    expect([fileAsSql.status, fileAsSql.body.error.message]).toEqual([400, expect.stringContaining('a database file is sent as "Content-Type: application/vnd.sqlite3"')]);
    const sqlAsFile = await call('POST', `/databases/${db}/import`, Buffer.from('CREATE TABLE x(y);'), WRITE_KEY, 'application/vnd.sqlite3');
    expect([sqlAsFile.status, sqlAsFile.body.error.message]).toEqual([400, expect.stringContaining('a SQL dump is imported as one: Content-Type application/sql')]);
    expect(await rows(db)).toEqual([[1], [2]]);
  });

  it('a database holding a view whose table was dropped exports and imports again', async () => {
    const db = uniqueDatabase('dangling');
    await sql(db, 'CREATE TABLE t(n INTEGER); INSERT INTO t VALUES (1); CREATE TABLE gone(x); CREATE VIEW v AS SELECT x FROM gone; DROP TABLE gone');
    const file = await call('GET', `/databases/${db}/export?format=sqlite`, undefined, READ_KEY);
    const copy = uniqueDatabase('dangling-copy');
    expect((await call('POST', `/databases/${copy}/import`, file.bytes, WRITE_KEY, 'application/vnd.sqlite3')).status).toBe(200);
    expect(await rows(copy)).toEqual([[1]]);
    expect((await sql(copy, 'SELECT * FROM v')).body.error.code).toBe('SQL_ERROR');
  });

  it.each([
    ['not SQLite', () => new Uint8Array(Buffer.from('hello, not a database'))],
    ['truncated', (file: Uint8Array) => file.slice(0, 1000)],
    ['corrupt', (file: Uint8Array) => Object.assign(file.slice(), { 0: 0x00 })],
  ])('a %s upload is refused with the data untouched', async (_, damage) => {
    const db = uniqueDatabase('refuse');
    await twoVersions(db);
    const file = (await call('GET', `/databases/${db}/export`, undefined, READ_KEY)).bytes;
    const refused = await call('POST', `/databases/${db}/import`, damage(file), WRITE_KEY, 'application/vnd.sqlite3');
    expect(refused.status).toBe(400);
    expect(refused.body.error.code).toBe('INVALID_DATABASE_FILE');
    expect(await rows(db)).toEqual([[1], [2]]);
  });

  it('clone is independent afterwards, and refuses an existing target', async () => {
    const db = uniqueDatabase('source');
    const { v1 } = await twoVersions(db);
    const branch = uniqueDatabase('branch');
    expect((await call('POST', `/databases/${db}/clone`, { to: branch, version: v1 })).status).toBe(200);
    await sql(branch, 'INSERT INTO t VALUES (10)');
    expect(await rows(branch)).toEqual([[1], [10]]);
    expect(await rows(db)).toEqual([[1], [2]]);
    const again = await call('POST', `/databases/${db}/clone`, { to: branch });
    expect([again.status, again.body.error.code]).toEqual([409, 'DATABASE_EXISTS']);
  });

  it('delete then restore', async () => {
    const db = uniqueDatabase('delete');
    const { v2 } = await twoVersions(db);
    expect((await call('DELETE', `/databases/${db}`)).status).toBe(400);
    expect((await call('DELETE', `/databases/${db}?confirm=${db}`)).status).toBe(200);
    expect((await sql(db, 'SELECT 1')).status).toBe(404);
    const listed = (await call('GET', `/databases/${db}/versions`, undefined, READ_KEY)).body.versions;
    expect(listed[0]).toMatchObject({ deleted: true, current: true });
    const restored = await call('POST', `/databases/${db}/restore`, { version: v2 });
    expect(restored.body.replaced).toBeNull();
    expect(await rows(db)).toEqual([[1], [2]]);
  });

  /** Waits for the start of a second, then runs `steps`: S3 dates are whole seconds, so steps taken quickly share one. */
  const atStartOfSecond = async <T>(steps: () => Promise<T>): Promise<T> => {
    await wait(1_000 - (Date.now() % 1_000));
    return steps();
  };
  const versionsOf = async (db: string) => (await call('GET', `/databases/${db}/versions`, undefined, READ_KEY)).body.versions as { version: string; time: string; deleted: boolean }[];

  it('a delete in the same second as the write before it leaves that write in the history, restorable', async () => {
    // A busy machine may take the two steps across a second boundary: then try again (no tie, nothing shown).
    for (let attempt = 1; ; attempt++) {
      const db = uniqueDatabase('samesecond');
      const v1 = (await sql(db, 'CREATE TABLE t(n INTEGER); INSERT INTO t VALUES (1)')).body.meta.version;
      const v2 = await atStartOfSecond(async () => {
        const written = (await sql(db, 'INSERT INTO t VALUES (2)')).body.meta.version;
        expect((await call('DELETE', `/databases/${db}?confirm=${db}`)).status).toBe(200);
        return written;
      });
      const [marker, ...rest] = await versionsOf(db);
      if (marker!.time !== rest[0]?.time && attempt < 5) continue;
      expect(marker).toMatchObject({ deleted: true, time: rest[0]!.time });
      expect(rest.map((v) => v.version)).toEqual([v2, v1]);
      expect((await call('POST', `/databases/${db}/restore`, { version: v2 })).status).toBe(200);
      expect(await rows(db)).toEqual([[1], [2]]);
      return;
    }
  });

  it('as_of names a second: the newest version of that second answers', async () => {
    for (let attempt = 1; ; attempt++) {
      const db = uniqueDatabase('asofsecond');
      await sql(db, 'CREATE TABLE t(n INTEGER); INSERT INTO t VALUES (1)');
      await atStartOfSecond(async () => {
        await sql(db, 'INSERT INTO t VALUES (2)');
        await sql(db, 'INSERT INTO t VALUES (3)');
      });
      const [third, second] = await versionsOf(db);
      if (third!.time !== second!.time && attempt < 5) continue;
      expect(third!.time).toBe(second!.time);
      expect(await rows(db, { as_of: third!.time })).toEqual([[1], [2], [3]]);
      expect(await rows(db, { as_of: new Date(Date.parse(third!.time) + 999).toISOString() })).toEqual([[1], [2], [3]]);
      return;
    }
  });

  it('every write endpoint refuses a read key', async () => {
    const db = uniqueDatabase('roles');
    await twoVersions(db);
    for (const [method, path, body] of [
      ['POST', `/databases/${db}/restore`, { as_of: new Date().toISOString() }],
      ['POST', `/databases/${db}/clone`, { to: uniqueDatabase('x') }],
      ['POST', `/databases/${db}/import`, { upload: true }],
      ['DELETE', `/databases/${db}?confirm=${db}`, undefined],
    ] as const) {
      expect((await call(method, path, body, READ_KEY)).status).toBe(403);
    }
  });

  /** Uploads `bytes` as a large import does (a presigned POST); answers the staged key to import. */
  async function stageUpload(db: string, bytes: Uint8Array): Promise<string> {
    const staged = (await call('POST', `/databases/${db}/import`, { upload: true })).body;
    const form = new FormData();
    for (const [name, value] of Object.entries(staged.upload.fields as Record<string, string>)) form.append(name, value);
    form.append('file', new Blob([bytes]));
    expect((await fetch(staged.upload.url, { method: 'POST', body: form })).ok).toBe(true);
    return staged.staged;
  }

  it('presigned export and import round-trip a file (and its SQL dump) larger than the inline limit', async () => {
    const db = uniqueDatabase('large');
    await sql(db, 'CREATE TABLE t(n INTEGER, pad BLOB); INSERT INTO t WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 5000) SELECT i, randomblob(1000) FROM c');
    const exported = await call('GET', `/databases/${db}/export`, undefined, READ_KEY);
    expect(exported.body.url).toBeDefined();
    const file = new Uint8Array(await (await fetch(exported.body.url)).arrayBuffer());
    const copy = uniqueDatabase('large-copy');
    expect((await call('POST', `/databases/${copy}/import`, { staged: await stageUpload(copy, file) })).status).toBe(200);
    expect((await sql(copy, 'SELECT count(*) FROM t')).body.results[0].rows).toEqual([[5000]]);

    // The same database as a SQL dump, uploaded the same way and imported with format "sql".
    const dumped = await call('GET', `/databases/${db}/export?format=sql`, undefined, READ_KEY);
    const dump = new Uint8Array(await (await fetch(dumped.body.url)).arrayBuffer());
    const fromDump = uniqueDatabase('large-dump');
    expect((await call('POST', `/databases/${fromDump}/import`, { staged: await stageUpload(fromDump, dump), format: 'sql' })).status).toBe(200);
    expect((await sql(fromDump, 'SELECT count(*), sum(length(pad)) FROM t')).body.results[0].rows).toEqual([[5000, 5_000_000]]);
  });

  it('a staged import named by its sha256 is that file: a retry that staged it again replays, another upload is refused', async () => {
    const source = uniqueDatabase('sha-src');
    await sql(source, 'CREATE TABLE t(n INTEGER); INSERT INTO t VALUES (1)');
    const file = (await call('GET', `/databases/${source}/export`, undefined, READ_KEY)).bytes;
    const sha256 = createHash('sha256').update(file).digest('hex');
    const db = uniqueDatabase('sha-import');
    const first = await call('POST', `/databases/${db}/import`, { staged: await stageUpload(db, file), sha256 }, WRITE_KEY, 'application/json', 'sha-import-1');
    expect(first.status).toBe(200);
    const retry = await call('POST', `/databases/${db}/import`, { staged: await stageUpload(db, file), sha256 }, WRITE_KEY, 'application/json', 'sha-import-1');
    expect({ status: retry.status, version: retry.body.version, replayed: retry.body.replayed }).toEqual({ status: 200, version: first.body.version, replayed: true });

    const other = await call('POST', `/databases/${db}/import`, { staged: await stageUpload(db, new Uint8Array([...file, 0])), sha256 });
    expect([other.status, other.body.error.message]).toEqual([400, expect.stringContaining('is not the file whose sha256 the request names')]);
    expect((await call('GET', `/databases/${db}/versions`, undefined, READ_KEY)).body.versions).toHaveLength(1);
  });
});

describe('a file whose checks never end', () => {
  let api: TestApi;
  beforeAll(async () => {
    // The checks stop at FILE_CHECK_TIMEOUT_MS: short here, so the test waits one second.
    api = await startTestApi(testConfig({ fileCheckTimeoutMs: 1_000 }));
  });
  afterAll(async () => {
    await api.close();
  });

  /** A valid file whose CHECK constraint makes PRAGMA integrity_check compute for minutes. */
  async function slowToCheck(): Promise<Uint8Array> {
    const SQL = await initSqlJs();
    const db = new SQL.Database();
    db.run('CREATE TABLE t(x INTEGER); INSERT INTO t WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 2000) SELECT 1000000 FROM c;');
    // Written into the schema as another SQLite could have: a constraint checked only from now on.
    db.run('PRAGMA writable_schema = ON');
    db.run("UPDATE sqlite_schema SET sql = 'CREATE TABLE t(x INTEGER CHECK (length(replace(replace(hex(zeroblob(x)), ''0'', ''00''), ''0'', ''00'')) > 0))' WHERE name = 't'");
    const file = db.export();
    db.close();
    return file;
  }

  it('is stopped at its time limit with 504, stores nothing, and the service answers meanwhile', async () => {
    const db = uniqueDatabase('slowcheck');
    const settled: string[] = [];
    const importing = fetch(`${api.url}/databases/${db}/import`, {
      method: 'POST',
      headers: { authorization: `Bearer ${WRITE_KEY}`, 'content-type': 'application/vnd.sqlite3' },
      body: await slowToCheck(),
    }).then(async (response) => {
      settled.push('import');
      return { status: response.status, body: (await response.json()) as { error: { code: string; message: string } } };
    });
    const health = await fetch(`${api.url}/health`);
    settled.push('health');
    const read = await postJson(api.url, { database: uniqueDatabase('bystander'), sql_statement: 'SELECT 1' });
    settled.push('read');

    const imported = await importing;

    expect(health.status).toBe(200);
    expect(read.status).toBe(404); // answered: that database does not exist
    expect(settled).toEqual(['health', 'read', 'import']);
    expect(imported.status).toBe(504);
    expect(imported.body.error).toMatchObject({ code: 'STATEMENT_TIMEOUT', message: expect.stringMatching(/^checking the file took longer than 1000 ms/) });
    expect((await postJson(api.url, { database: db, sql_statement: 'SELECT count(*) FROM t' })).body.error.code).toBe('DATABASE_NOT_FOUND');
  });
});
