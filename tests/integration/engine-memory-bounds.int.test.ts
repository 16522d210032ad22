import initSqlJs from 'sql.js';
import { SqlJsEngine } from '../../functions/adapters/sqljs/sqljs-engine';
import type { DatabaseSource, Program } from '../../functions/core/ports';

/**
 * What the worker keeps between requests must stay within the budgets that are meant to bound
 * it, whatever many tenants' databases pass through one container (found by review).
 */
describe("the engine's memory across many tenants' databases", () => {
  const limits = { maxStatements: 10, maxResultBytes: 1_000_000, maxDatabaseBytes: 64 * 1024 * 1024 };
  const script = (sql: string): Program => ({ kind: 'script', sql });

  /** The bytes of a database of `rows` rows of 1000-byte blobs. */
  async function fileOf(rows: number): Promise<Uint8Array> {
    const SQL = await initSqlJs();
    const db = new SQL.Database();
    db.run(`CREATE TABLE t(x); WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < ${rows}) INSERT INTO t SELECT randomblob(1000) FROM r`);
    const bytes = db.export();
    db.close();
    return bytes;
  }

  /** A database of `tables` empty tables of 100 columns each, with a CHECK on each column and an index on each table. */
  async function wideSchema(tables: number): Promise<Uint8Array> {
    const SQL = await initSqlJs();
    const db = new SQL.Database();
    const columns = Array.from({ length: 100 }, (_, c) => `column_with_a_long_name_${c} TEXT CHECK (length(column_with_a_long_name_${c}) < 1000)`).join(', ');
    for (let t = 0; t < tables; t++) db.run(`CREATE TABLE t${t}(${columns}); CREATE INDEX i${t} ON t${t}(column_with_a_long_name_0, column_with_a_long_name_1)`);
    const bytes = db.export();
    db.close();
    return bytes;
  }

  function stored(name: string, bytes: Uint8Array): DatabaseSource {
    return { kind: 'stored', version: { etag: `"${name}"`, versionId: name }, fetch: async () => bytes.slice() };
  }

  it("warm copies within WARM_CACHE_MB do not use up SQLite's heap limit: a tenant's read after many others' still runs", async () => {
    // SQLite's heap limit at 32 MB (256 deployed), the warm cache far above what the databases
    // take (20 files of 3 MB = 60 MB of 256 MB). Each warm copy keeps its connection's page
    // cache (up to 2 MB at SQLite's default cache_size) inside that one process-wide heap limit,
    // which no eviction counts: at 256 MB, about 120 tenants' databases of 2 MB or more.
    const engine = new SqlJsEngine({ statementTimeoutMs: 30_000, sqliteHeapLimitBytes: 32 * 1024 * 1024, workerHeapLimitMb: 128, warmCacheBytes: 256 * 1024 * 1024 });
    try {
      const file = await fileOf(3000);
      for (let tenant = 0; tenant < 20; tenant++) {
        const database = `tenant${tenant}`;
        await expect(
          engine.read({ database, source: stored(database, file), program: script('SELECT count(*), sum(length(x)) FROM t'), limits }),
        ).resolves.toMatchObject({ kind: 'done', results: [{ rows: [[3000n, 3_000_000n]] }] });
      }
      // A small database, a trivial query.
      const small = await fileOf(1);
      await expect(engine.read({ database: 'small', source: stored('small', small), program: script('SELECT count(*) FROM t'), limits })).resolves.toMatchObject({
        results: [{ rows: [[1n]] }],
      });
    } finally {
      await engine.close();
    }
  });

  it("a value far past MAX_RESULT_BYTES answers RESULT_TOO_LARGE without taking the worker (and every tenant's warm copy) with it", async () => {
    // The worker's V8 heap at 64 MB (256 deployed), one computed value of 12 MB against a 1 MB
    // result limit. The runner copies the whole value into JavaScript, then measures it with
    // JSON.stringify: a control character becomes six characters (\u0001), so 72 MB more. The
    // worker dies out of memory; deployed, a 40 MB value of 'x' does the same, and peaks the
    // process's RSS about 800 MB above its baseline at 90 MB.
    const engine = new SqlJsEngine({ statementTimeoutMs: 30_000, sqliteHeapLimitBytes: 64 * 1024 * 1024, workerHeapLimitMb: 64, warmCacheBytes: 256 * 1024 * 1024 });
    try {
      const other = stored('other', await fileOf(1));
      await engine.read({ database: 'other', source: other, program: script('SELECT count(*) FROM t'), limits });
      expect(engine.warmVersion('other')).toBeDefined();
      await expect(engine.read({ database: 'bomb', source: { kind: 'empty' }, program: script("SELECT printf('%.*c', 12000000, char(1))"), limits })).rejects.toMatchObject({
        name: 'ResultTooLargeError',
      });
      // Another tenant's warm copy is still there: the worker survived.
      expect(engine.warmVersion('other')).toBeDefined();
    } finally {
      await engine.close();
    }
  });

  it("tenants' warm copies within the copy budget leave SQLite memory for the next tenant's read of a database that alone reads fine", async () => {
    // Arrange: SQLite's heap at 32 MB, so eviction keeps up to 8 copies (32 MB / 2 / 2 MB);
    // each tenant's file is small (far within the 256 MB warm cache), its schema wide.
    const options = { statementTimeoutMs: 60_000, sqliteHeapLimitBytes: 32 * 1024 * 1024, workerHeapLimitMb: 256, warmCacheBytes: 256 * 1024 * 1024 };
    const file = await wideSchema(80);
    const query = (engine: SqlJsEngine, database: string) => engine.read({ database, source: stored(database, file), program: script('SELECT count(*) FROM t0'), limits });
    const alone = new SqlJsEngine(options);
    try {
      await expect(query(alone, 'tenant0')).resolves.toMatchObject({ results: [{ rows: [[0n]] }] });
    } finally {
      await alone.close();
    }

    // Act: eight tenants, one after another, on one engine.
    const engine = new SqlJsEngine(options);
    const answers: string[] = [];
    try {
      for (let tenant = 0; tenant < 8; tenant++) {
        answers.push(await query(engine, `tenant${tenant}`).then((outcome) => outcome.kind, (error: Error) => error.name));
      }
    } finally {
      await engine.close();
    }

    // Assert: each read runs as it does alone (their schemas, not counted, took SQLite's heap: the 7th and 8th got RESOURCE_LIMIT).
    expect(answers).toEqual(Array(8).fill('done'));
  });
});
