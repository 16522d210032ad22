import { freshDatabaseEachTest } from '../helpers/sqljs-database';
import initSqlJs, { type Database, type SqlJsStatic } from 'sql.js';
import { runRead, runWrite } from '../../functions/adapters/sqljs/sql-runner';
import { BadRequestError, DatabaseNotFoundError, MigrationChecksumError, WriteConflictError } from '../../functions/core/errors';
import {
  applyMigrations,
  migrationChecksum,
  migrationProgram,
  planMigrations,
  type AppliedMigration,
  type MigrationFile,
  type SqlClient,
} from '../../functions/core/migrations';
import type { ExecutionLimits, Program, StatementResult } from '../../functions/core/ports';
import { loadMigrationFiles } from '../../scripts/migrate';

const LIMITS = { maxStatements: 100, maxResultBytes: 5_000_000, maxDatabaseBytes: 1024 * 1024 * 1024 };

/** Runs a program that only reads and returns its results. */
function runReadOnly(db: Database, program: Program, limits: ExecutionLimits): StatementResult[] {
  const outcome = runRead(db, program, limits);
  if (outcome.kind !== 'done') throw new Error(`statement ${outcome.statementIndex} writes`);
  return outcome.results;
}

const one: MigrationFile = { name: '0001_things.sql', sql: 'CREATE TABLE things (id INTEGER PRIMARY KEY, name TEXT);' };
const two: MigrationFile = { name: '0002_thing_index.sql', sql: 'CREATE INDEX things_by_name ON things (name);' };
const three: MigrationFile = { name: '0003_more.sql', sql: 'ALTER TABLE things ADD COLUMN size INTEGER;' };

function applied(file: MigrationFile): AppliedMigration {
  return { version: Number(file.name.slice(0, 4)), name: file.name, checksum: migrationChecksum(file.sql) };
}

describe('planMigrations', () => {
  it.each<[string, MigrationFile[], AppliedMigration[], string[]]>([
    ['a fresh database gets every file, in version order whatever the listing order', [three, one, two], [], ['0001_things.sql', '0002_thing_index.sql', '0003_more.sql']],
    ['only the files after the applied ones are pending', [one, two, three], [applied(one)], ['0002_thing_index.sql', '0003_more.sql']],
    ['re-running after everything is applied is a no-op', [one, two, three], [applied(one), applied(two), applied(three)], []],
    ['gaps in the numbering are fine', [one, three], [applied(one)], ['0003_more.sql']],
    ['a file with CRLF line endings matches its LF checksum', [{ ...one, sql: one.sql.replace(/\n/g, '\r\n') + '\r\n' }], [applied({ ...one, sql: one.sql + '\n' })], []],
  ])('%s', (_name, files, history, pending) => {
    expect(planMigrations(files, history).map((m) => m.name)).toEqual(pending);
  });

  it.each<[string, MigrationFile[], AppliedMigration[], new (...args: never[]) => Error, string]>([
    [
      'a file edited after it was applied',
      [{ ...one, sql: `${one.sql} -- edited` }, two],
      [applied(one)],
      MigrationChecksumError,
      'migration 0001_things.sql changed after it was applied',
    ],
    ['an applied migration whose file is gone', [two], [applied(one)], MigrationChecksumError, '0001_things.sql (version 1) is applied to the database but its file is missing'],
    ['an applied migration whose file was renamed', [{ ...one, name: '0001_renamed.sql' }], [applied(one)], MigrationChecksumError, 'was applied as 0001_things.sql but the file is now named 0001_renamed.sql'],
    ['a new file numbered below an applied one', [one, two, three], [applied(one), applied(three)], BadRequestError, 'migration 0002_thing_index.sql is pending but version 3 is already applied'],
    ['a file name without a 4-digit version', [{ ...one, name: '1_things.sql' }], [], BadRequestError, 'must be named like 0001_create_things.sql'],
    ["a file name with characters that could break the record's literal", [{ ...one, name: "0001_x'y.sql" }], [], BadRequestError, 'must be named like'],
    ['two files with the same version', [one, { ...two, name: '0001_other.sql' }], [], BadRequestError, 'share version 1'],
    ['version 0000', [{ ...one, name: '0000_zero.sql' }], [], BadRequestError, 'versions start at 0001'],
  ])('refuses %s', (_name, files, history, errorClass, message) => {
    expect(() => planMigrations(files, history)).toThrow(errorClass);
    expect(() => planMigrations(files, history)).toThrow(message);
  });
});

describe('migrationProgram on the real SQL runner', () => {
  const sqlite = freshDatabaseEachTest();

  const history = () => runReadOnly(sqlite.db, { kind: 'script', sql: 'SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version' }, LIMITS)[0]!.rows;
  const tables = () => sqlite.db.exec("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")[0]?.values.flat() ?? [];

  it('runs the file and records version, name, checksum and time in one transaction', () => {
    const [planned] = planMigrations([one], []);
    runWrite(sqlite.db, migrationProgram(planned!), LIMITS);
    expect(tables()).toEqual(['schema_migrations', 'things']);
    const [row] = history();
    expect(row!.slice(0, 3)).toEqual([1n, '0001_things.sql', migrationChecksum(one.sql)]);
    expect(String(row![3])).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  });

  it('a file ending in a comment without a final semicolon still runs and is recorded', () => {
    const file = { name: '0001_loose.sql', sql: 'CREATE TABLE a (x)\n-- trailing comment, no newline' };
    runWrite(sqlite.db, migrationProgram(planMigrations([file], [])[0]!), LIMITS);
    expect(tables()).toEqual(['a', 'schema_migrations']);
  });

  it('a file ending inside an unclosed block comment is still recorded', () => {
    const file = { name: '0001_open.sql', sql: 'CREATE TABLE things (x INTEGER);\n/* TODO: add an index later' };
    runWrite(sqlite.db, migrationProgram(planMigrations([file], [])[0]!), LIMITS);
    expect(tables()).toEqual(['schema_migrations', 'things']);
    expect(history().map((row) => row[1])).toEqual(['0001_open.sql']);
  });

  it('a failing statement rolls back the whole migration, record included', () => {
    const broken = { name: '0001_broken.sql', sql: 'CREATE TABLE good (x);\nINSERT INTO missing VALUES (1);' };
    expect(() => runWrite(sqlite.db, migrationProgram(planMigrations([broken], [])[0]!), LIMITS)).toThrow('no such table: missing');
    expect(tables()).toEqual([]);
  });

  it('a second application of the same version fails on the primary key and changes nothing', () => {
    const idempotentDdl = { name: '0001_things.sql', sql: 'CREATE TABLE IF NOT EXISTS things (id INTEGER PRIMARY KEY);' };
    const program = migrationProgram(planMigrations([idempotentDdl], [])[0]!);
    runWrite(sqlite.db, program, LIMITS);
    expect(() => runWrite(sqlite.db, program, LIMITS)).toThrow('UNIQUE constraint failed: schema_migrations.version');
    expect(history()).toHaveLength(1);
  });

  it('migrations/0001_flights.sql applies on its own', () => {
    runWrite(sqlite.db, migrationProgram(planMigrations(loadMigrationFiles(), [])[0]!), LIMITS);
    expect(tables()).toEqual(['flights', 'schema_migrations']);
  });
});

/** A SqlClient over one sql.js database, with a hook to run something just before a write. */
function fakeClient(SQL: SqlJsStatic, beforeWrite?: (db: Database) => void): SqlClient & { db?: Database; writes: number } {
  const client = {
    db: undefined as Database | undefined,
    writes: 0,
    read: async (_database: string, program: Program) => {
      if (!client.db) throw new DatabaseNotFoundError('db');
      return runReadOnly(client.db, program, LIMITS);
    },
    write: async (_database: string, program: Program) => {
      client.db ??= new SQL.Database();
      beforeWrite?.(client.db);
      client.writes += 1;
      return runWrite(client.db, program, LIMITS).results;
    },
  };
  return client;
}

describe('applyMigrations', () => {
  let SQL: SqlJsStatic;
  beforeAll(async () => {
    SQL = await initSqlJs();
  });

  it('a database that does not exist yet counts as nothing applied', async () => {
    const client = fakeClient(SQL);
    const report = await applyMigrations(client, 'db', [one, two]);
    expect(report).toEqual({ applied: [applied(one), applied(two)], alreadyApplied: 0 });
    expect(client.writes).toBe(2);
  });

  it('a database without schema_migrations counts as nothing applied', async () => {
    const client = fakeClient(SQL);
    client.db = new SQL.Database();
    await expect(applyMigrations(client, 'db', [one])).resolves.toEqual({ applied: [applied(one)], alreadyApplied: 0 });
  });

  it('re-running applies nothing and sends no write', async () => {
    const client = fakeClient(SQL);
    await applyMigrations(client, 'db', [one, two]);
    const report = await applyMigrations(client, 'db', [one, two]);
    expect(report).toEqual({ applied: [], alreadyApplied: 2 });
    expect(client.writes).toBe(2);
  });

  it('a migration another migrator applied first is skipped, not reported as a failure', async () => {
    // The other migrator commits 0001 between our plan and our write.
    let raced = false;
    const client = fakeClient(SQL, (db) => {
      if (raced) return;
      raced = true;
      runWrite(db, migrationProgram(planMigrations([one], [])[0]!), LIMITS);
    });
    const report = await applyMigrations(client, 'db', [one, two]);
    expect(report).toEqual({ applied: [applied(two)], alreadyApplied: 1 });
  });

  it("a migration's own failure is thrown, and nothing after it runs", async () => {
    const client = fakeClient(SQL);
    const broken = { name: '0002_broken.sql', sql: 'SELECT * FROM nowhere;' };
    await expect(applyMigrations(client, 'db', [one, broken, three])).rejects.toThrow('no such table: nowhere');
    expect(client.writes).toBe(2);
    const recorded = runReadOnly(client.db!, { kind: 'script', sql: 'SELECT name FROM schema_migrations' }, LIMITS)[0]!.rows.flat();
    expect(recorded).toEqual(['0001_things.sql']);
  });

  it('a retryable write failure that applied nothing is thrown', async () => {
    const client: SqlClient = {
      read: async () => {
        throw new DatabaseNotFoundError('db');
      },
      write: async () => {
        throw new WriteConflictError('another writer');
      },
    };
    await expect(applyMigrations(client, 'db', [one])).rejects.toThrow(WriteConflictError);
  });

  it('a checksum drift stops before any write', async () => {
    const client = fakeClient(SQL);
    await applyMigrations(client, 'db', [one]);
    await expect(applyMigrations(client, 'db', [{ ...one, sql: 'CREATE TABLE things (id INTEGER PRIMARY KEY);' }, two])).rejects.toThrow(MigrationChecksumError);
    expect(client.writes).toBe(1);
  });
});
