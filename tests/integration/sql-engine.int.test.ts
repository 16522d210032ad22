import initSqlJs from 'sql.js';
import { SqlJsEngine } from '../../functions/adapters/sqljs/sqljs-engine';
import type { DatabaseSource, EngineRequest, Program, StoredVersion } from '../../functions/core/ports';

/** The worker-thread engine on its own: the warm copies it owns, stopping statements, shutting down. */
describe('the sql.js worker engine', () => {
  const options = { statementTimeoutMs: 30_000, sqliteHeapLimitBytes: 64 * 1024 * 1024, workerHeapLimitMb: 128, warmCacheBytes: 1024 * 1024 };
  const limits = { maxStatements: 10, maxResultBytes: 1_000_000, maxDatabaseBytes: 16 * 1024 * 1024 };
  const script = (sql: string): Program => ({ kind: 'script', sql });
  const runaway = script('WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r) SELECT count(*) FROM r');
  const onEmpty = (program: Program, database = 'engine'): EngineRequest => ({ database, source: { kind: 'empty' }, program, limits });

  let fileBytes: Uint8Array;
  beforeAll(async () => {
    const SQL = await initSqlJs();
    const db = new SQL.Database();
    db.run("CREATE TABLE t(x); INSERT INTO t VALUES ('stored')");
    fileBytes = db.export();
    db.close();
  });

  /** A stored version whose bytes are counted each time the engine asks for them. */
  function stored(version: StoredVersion, bytes = fileBytes): { source: DatabaseSource; fetches: () => number } {
    let fetches = 0;
    return {
      source: { kind: 'stored', version, fetch: async () => (fetches++, bytes.slice()) },
      fetches: () => fetches,
    };
  }

  it('fetches a version only when it does not hold it warm, and says which version it holds', async () => {
    const engine = new SqlJsEngine(options);
    try {
      const v1 = stored({ etag: '"e1"', versionId: 'v1' });
      expect(engine.warmVersion('warm')).toBeUndefined();
      await expect(engine.read({ database: 'warm', source: v1.source, program: script('SELECT x FROM t'), limits })).resolves.toMatchObject({
        kind: 'done',
        results: [{ rows: [['stored']] }],
      });
      await engine.read({ database: 'warm', source: v1.source, program: script('SELECT x FROM t'), limits });
      expect(v1.fetches()).toBe(1);
      expect(engine.warmVersion('warm')).toEqual({ etag: '"e1"', versionId: 'v1' });

      const v2 = stored({ etag: '"e2"', versionId: 'v2' });
      await engine.read({ database: 'warm', source: v2.source, program: script('SELECT 1'), limits });
      expect(v2.fetches()).toBe(1);
      expect(engine.warmVersion('warm')).toEqual({ etag: '"e2"', versionId: 'v2' });
    } finally {
      await engine.close();
    }
  });

  it('a committed write becomes the warm copy at its stored version; an abandoned one leaves nothing warm', async () => {
    const engine = new SqlJsEngine(options);
    try {
      const base = stored({ etag: '"base"' });
      const committed = await engine.write({ database: 'w', source: base.source, program: script("INSERT INTO t VALUES ('new')"), limits });
      if (!committed.changed) throw new Error('the insert changed nothing');
      expect(engine.warmVersion('w')).toBeUndefined(); // not served until stored
      engine.commitWrite(committed.writeId, { etag: '"next"', versionId: 'n' });
      expect(engine.warmVersion('w')).toEqual({ etag: '"next"', versionId: 'n' });
      const next = stored({ etag: '"next"', versionId: 'n' });
      await expect(engine.read({ database: 'w', source: next.source, program: script('SELECT count(*) FROM t'), limits })).resolves.toMatchObject({
        results: [{ rows: [[2n]] }],
      });
      expect(next.fetches()).toBe(0);

      const abandoned = await engine.write({ database: 'w', source: next.source, program: script("INSERT INTO t VALUES ('lost')"), limits });
      if (!abandoned.changed) throw new Error('the insert changed nothing');
      engine.abandonWrite(abandoned.writeId);
      expect(engine.warmVersion('w')).toBeUndefined();
    } finally {
      await engine.close();
    }
  });

  it('evicting a copy past the cache budget is reflected at once, so the next job fetches it again', async () => {
    const engine = new SqlJsEngine({ ...options, warmCacheBytes: fileBytes.byteLength });
    try {
      const first = stored({ etag: '"a"' });
      await engine.read({ database: 'first', source: first.source, program: script('SELECT 1'), limits });
      await engine.read({ database: 'second', source: stored({ etag: '"b"' }).source, program: script('SELECT 1'), limits });
      expect(engine.warmVersion('first')).toBeUndefined();
      expect(engine.warmVersion('second')).toEqual({ etag: '"b"' });
      await engine.read({ database: 'first', source: first.source, program: script('SELECT x FROM t'), limits });
      expect(first.fetches()).toBe(2);
    } finally {
      await engine.close();
    }
  });

  it('judges the first statement on the warm copy without running it, and only there', async () => {
    const engine = new SqlJsEngine(options);
    try {
      expect(await engine.firstStatementWrites('judge', script('CREATE TABLE t(x)'))).toBeUndefined(); // nothing warm
      const version = stored({ etag: '"j"' });
      await engine.read({ database: 'judge', source: version.source, program: script('SELECT 1'), limits });
      expect(await engine.firstStatementWrites('judge', script('SELECT x FROM t; DELETE FROM t'))).toBe(false);
      expect(await engine.firstStatementWrites('judge', script('CREATE TABLE IF NOT EXISTS t(x)'))).toBe(true);
      expect(await engine.firstStatementWrites('judge', script('DELETE FROM t'))).toBe(true);
      expect(await engine.firstStatementWrites('judge', script('SELECT * FROM missing'))).toBeUndefined();
      expect(await engine.firstStatementWrites('judge', script('PRAGMA writable_schema = 1'))).toBeUndefined();
      await expect(engine.read({ database: 'judge', source: version.source, program: script('SELECT count(*) FROM t'), limits })).resolves.toMatchObject({
        results: [{ rows: [[1n]] }],
      });
    } finally {
      await engine.close();
    }
  });

  // The worker briefly switches a process-wide V8 flag at start (sql-worker.ts, garbageCollector):
  // workers starting side by side must all come up, whichever of them switches it last.
  it('many engines started at once all answer', async () => {
    const engines = Array.from({ length: 12 }, () => new SqlJsEngine(options));
    try {
      const answers = await Promise.all(engines.map((engine) => engine.read(onEmpty(script('SELECT 1')))));
      expect(answers.map((answer) => answer.kind === 'done' && answer.results[0]!.rows)).toEqual(Array(12).fill([[1n]]));
    } finally {
      await Promise.all(engines.map((engine) => engine.close()));
    }
  });

  it('errors keep their domain class across the thread boundary', async () => {
    const engine = new SqlJsEngine(options);
    try {
      await expect(engine.read(onEmpty(script('ATTACH DATABASE ? AS x')))).rejects.toMatchObject({ code: 'STATEMENT_NOT_ALLOWED', statementIndex: 0 });
      await expect(engine.read(onEmpty(script('SELECT 1; SELECT * FROM nowhere')))).rejects.toMatchObject({ code: 'SQL_ERROR', statementIndex: 1 });
      const tooLarge = engine.write({ ...onEmpty(script('CREATE TABLE b(x); INSERT INTO b VALUES (zeroblob(100000))')), limits: { ...limits, maxDatabaseBytes: 50_000 } });
      await expect(tooLarge).rejects.toMatchObject({ code: 'DATABASE_TOO_LARGE' });
    } finally {
      await engine.close();
    }
  });

  it("a TEMP table larger than SQLite's heap limit answers RESOURCE_LIMIT (kept as a file, it would take memory no limit bounds)", async () => {
    const engine = new SqlJsEngine(options);
    try {
      const temp = script('CREATE TEMP TABLE b AS WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 200) SELECT zeroblob(1000000) AS z FROM c');
      await expect(engine.read(onEmpty(temp))).rejects.toMatchObject({ code: 'RESOURCE_LIMIT' });
      await expect(engine.read(onEmpty(script('SELECT 1')))).resolves.toMatchObject({ kind: 'done' });
    } finally {
      await engine.close();
    }
  });

  it('a write is stopped as the file grows past the size limit, not after: 200 MB of blobs against a 16 MB limit', async () => {
    const engine = new SqlJsEngine(options);
    try {
      const grows = script('CREATE TABLE b(z); INSERT INTO b WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 200) SELECT zeroblob(1000000) FROM c');
      // SQLite stopped it at the limit ("database or disk is full"), so no size past it was ever reached to report.
      await expect(engine.write(onEmpty(grows))).rejects.toMatchObject({
        code: 'DATABASE_TOO_LARGE',
        message: 'the write would grow the database past its size limit (MAX_DATABASE_MB); nothing was stored',
      });
      // A limit it meets is no obstacle.
      await expect(engine.write(onEmpty(script('CREATE TABLE b(z); INSERT INTO b VALUES (zeroblob(1000000))')))).resolves.toMatchObject({ changed: true });
    } finally {
      await engine.close();
    }
  });

  it('close() settles the statement still running and everything queued behind it, at once', async () => {
    const engine = new SqlJsEngine(options);
    const running = engine.read(onEmpty(runaway));
    const queued = engine.read(onEmpty(script('SELECT 1')));
    const settled = Promise.allSettled([running, queued]);
    await new Promise((resolve) => setTimeout(resolve, 500));
    await engine.close();
    const [first, second] = await settled;
    expect(first).toMatchObject({ status: 'rejected', reason: { code: 'STORAGE_UNAVAILABLE' } });
    expect(second).toMatchObject({ status: 'rejected', reason: { code: 'STORAGE_UNAVAILABLE' } });
  });

  // The clock starts when the worker takes the job, so the fresh worker's start (seconds on a busy
  // machine: tsx, WebAssembly) never counts against the next statement; 2 s is only the statement's.
  it('a timed-out statement fails alone: the next one runs on a fresh worker, which holds nothing warm', async () => {
    const engine = new SqlJsEngine({ ...options, statementTimeoutMs: 2_000 });
    try {
      const version = stored({ etag: '"t"' });
      await engine.read({ database: 'timed', source: version.source, program: script('SELECT 1'), limits });
      const stopped = engine.read({ database: 'timed', source: version.source, program: runaway, limits });
      const next = engine.read({ database: 'timed', source: version.source, program: script('SELECT 41 + 1'), limits });
      await expect(stopped).rejects.toMatchObject({ code: 'STATEMENT_TIMEOUT' });
      await expect(next).resolves.toMatchObject({ kind: 'done', results: [{ rows: [[42n]] }] });
      expect(version.fetches()).toBe(2);
    } finally {
      await engine.close();
    }
  });
});
