import initSqlJs from 'sql.js';
import { SqlJsEngine } from '../../functions/adapters/sqljs/sqljs-engine';
import type { DatabaseSource, Program } from '../../functions/core/ports';

/**
 * Eviction counts each warm copy as its page cache (PAGE_CACHE_BYTES) against half of SQLite's
 * heap. A connection also holds its parsed schema in that heap, for as long as it stays open,
 * and a tenant chooses how large that is (found by review).
 */
describe("warm copies' schemas and SQLite's heap limit", () => {
  const limits = { maxStatements: 10, maxResultBytes: 1_000_000, maxDatabaseBytes: 64 * 1024 * 1024 };
  const script = (sql: string): Program => ({ kind: 'script', sql });

  /** A database of `tables` empty tables of 100 columns each, with an index on each. */
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

    // Assert: each read runs as it does alone (today the 7th and 8th get RESOURCE_LIMIT).
    expect(answers).toEqual(Array(8).fill('done'));
  });
});
