import initSqlJs, { type SqlJsStatic } from 'sql.js';
import { SqlJsFileInspector } from '../../functions/adapters/sqljs/database-file-inspector';
import { ResultTooLargeError } from '../../functions/core/errors';
import { databaseFile as fileOf } from '../helpers/sqljs-database';

/**
 * The file inspector's own thread (file-inspector-worker.ts) with the real sql.js: what the
 * inspection hands back, and what a dump too large for its limits answers. What it checks is in
 * tests/unit/database-file-inspector.test.ts; its time limit over HTTP in lifecycle.int.test.ts.
 */
let SQL: SqlJsStatic;
beforeAll(async () => {
  SQL = await initSqlJs();
});

const databaseFile = (script: string) => fileOf(SQL, script);

const limits = { timeoutMs: 30_000, heapLimitMb: 256, sqliteHeapLimitBytes: 64 * 1024 * 1024, maxDumpBytes: 64 * 1024 * 1024 };

it('hands back the file it checked, converted from WAL mode, and a dump of it', async () => {
  const inspector = new SqlJsFileInspector(limits);
  const file = databaseFile("CREATE TABLE t(x TEXT); INSERT INTO t VALUES ('kept');");
  file[18] = 2;
  file[19] = 2;

  const inspection = await inspector.inspect(file.slice());
  if (inspection.kind !== 'valid') throw new Error(`refused: ${inspection.reason}`);
  const dump = Buffer.from(await inspector.dump(inspection.bytes.slice())).toString('utf8');

  expect(inspection).toMatchObject({ convertedFromWal: true, tables: 1 });
  expect([inspection.bytes[18], inspection.bytes[19]]).toEqual([1, 1]);
  expect(dump).toContain("INSERT INTO \"t\"(\"x\") VALUES('kept');");
});

it('answers RESULT_TOO_LARGE for a dump that needs more memory than SQLite may use', async () => {
  // A 6 MB blob is 12 MB of hex: more than an 8 MB heap limit lets SQLite build.
  const inspector = new SqlJsFileInspector({ ...limits, sqliteHeapLimitBytes: 8 * 1024 * 1024 });
  const file = databaseFile('CREATE TABLE t(b BLOB); INSERT INTO t VALUES (randomblob(6000000));');

  await expect(inspector.dump(file)).rejects.toThrow(ResultTooLargeError);
});

it('answers RESULT_TOO_LARGE for a dump past its size limit, from the thread that writes it', async () => {
  const inspector = new SqlJsFileInspector({ ...limits, maxDumpBytes: 1024 });
  const file = databaseFile("CREATE TABLE t(x TEXT); INSERT INTO t WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 100) SELECT printf('%050d', i) FROM c;");

  await expect(inspector.dump(file)).rejects.toThrow(ResultTooLargeError);
});

it("runs a dump's SELECTs without keeping their rows, as sqlite3 runs a dump: for what it stores", async () => {
  // Kept, a million small rows would exhaust a 64 MB V8 heap (and blobs escape that limit).
  const inspector = new SqlJsFileInspector({ ...limits, heapLimitMb: 64 });
  const script = "CREATE TABLE t(x); WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 1000000) SELECT i, 'a row nobody reads' FROM c;";
  expect(await inspector.build(Buffer.from(script), 64 * 1024 * 1024)).toMatchObject({ kind: 'valid', tables: 1 });
});

it("keeps a dump's TEMP tables in SQLite's memory, where its heap limit stops them (as files they would escape every limit)", async () => {
  const inspector = new SqlJsFileInspector(limits);
  const script = 'CREATE TABLE t(x); CREATE TEMP TABLE big AS WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 200) SELECT zeroblob(1000000) AS z FROM c;';
  expect(await inspector.build(Buffer.from(script), 64 * 1024 * 1024)).toEqual({ kind: 'refused', reason: 'its SQL failed: out of memory' });
});
