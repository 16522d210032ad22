import { freshDatabaseEachTest } from '../helpers/sqljs-database';
import { compiledProgramFacts } from '../../functions/adapters/sqljs/compiled-program';
import { firstStatementWrites, runRead, runWrite } from '../../functions/adapters/sqljs/sql-runner';
import type { Program } from '../../functions/core/ports';

const LIMITS = { maxStatements: 100, maxResultBytes: 1_000_000, maxDatabaseBytes: 64 * 1024 * 1024 };
const SCHEMA = 'CREATE TABLE t(id INTEGER PRIMARY KEY, x UNIQUE); CREATE INDEX tx ON t(x); CREATE VIEW v AS SELECT 1 AS one';
const script = (sql: string): Program => ({ kind: 'script', sql });

const sqlite = freshDatabaseEachTest((db) => runWrite(db, script(SCHEMA), LIMITS));

/** The opcodes the classifier reads, as sql.js 1.16 compiles them (the facts the rule rests on). */
describe('EXPLAIN on sql.js', () => {
  const opcodes = (sql: string) =>
    sqlite.db
      .exec(`EXPLAIN ${sql}`)[0]!
      .values.filter((row) => ['Transaction', 'JournalMode', 'Vacuum', 'SqlExec'].includes(String(row[1])))
      .map((row) => (row[1] === 'Transaction' ? `Transaction ${row[2]} ${row[3]}` : String(row[1])));

  it.each([
    ['SELECT * FROM t', ['Transaction 0 0']],
    ['INSERT INTO t(x) VALUES (1)', ['Transaction 0 1']],
    ['CREATE TABLE IF NOT EXISTS t(y)', ['JournalMode', 'Transaction 0 0']],
    ['DROP TABLE IF EXISTS missing', ['JournalMode', 'Transaction 0 0', 'Transaction 1 0']],
    ['DROP TABLE IF EXISTS temp.missing', ['JournalMode', 'Transaction 1 0']],
    ['CREATE TEMP TABLE s(x)', ['Transaction 1 1']],
    ['PRAGMA user_version = 3', ['Transaction 0 1']],
    ['VACUUM', ['Vacuum']],
    ['SELECT 1', []],
  ])('%s compiles to %j', (sql, expected) => {
    expect(opcodes(sql)).toEqual(expected);
  });
});

describe('which statements write, decided from the compiled program', () => {
  // [statement, setup run before it (in the same request), writes, state-dependent when it reads]
  it.each<[string, string, boolean, boolean]>([
    ['SELECT * FROM t', '', false, false],
    ['WITH c AS (SELECT 1) SELECT * FROM c', '', false, false],
    ['EXPLAIN DELETE FROM t', '', false, false],
    ['PRAGMA table_info(t)', '', false, false],
    ['PRAGMA user_version', '', false, false],
    ['INSERT INTO t(x) VALUES (1)', '', true, false],
    ['DELETE FROM t WHERE 0', '', true, false],
    ['WITH c AS (SELECT 1) DELETE FROM t', '', true, false],
    ['UPDATE t SET x = x WHERE 0', '', true, false],
    ['REPLACE INTO t(id, x) VALUES (1, 1)', '', true, false],
    ['CREATE TABLE u(x)', '', true, false],
    ['CREATE TABLE IF NOT EXISTS t(x)', '', true, false],
    ['CREATE INDEX IF NOT EXISTS tx ON t(x)', '', true, false],
    ['CREATE VIEW IF NOT EXISTS v AS SELECT 2', '', true, false],
    ['DROP TABLE IF EXISTS missing', '', true, false],
    ['DROP VIEW IF EXISTS missing', '', true, false],
    ['ALTER TABLE t ADD COLUMN y', '', true, false],
    ['PRAGMA user_version = 3', '', true, false],
    ['PRAGMA application_id = 3', '', true, false],
    ['ANALYZE', '', true, false],
    ['REINDEX', '', true, false],
    ['VACUUM', '', true, false],
    ['CREATE TEMP TABLE s(x)', '', false, false],
    ['CREATE TEMP VIEW sv AS SELECT * FROM t', '', false, false],
    ['CREATE TEMP TRIGGER st AFTER INSERT ON t BEGIN SELECT 1; END', '', false, false],
    ['DROP TABLE IF EXISTS temp.missing', '', false, false],
    ['INSERT INTO s SELECT x FROM t', 'CREATE TEMP TABLE s(x);', false, false],
    ['INSERT INTO t(x) SELECT x FROM s', 'CREATE TEMP TABLE s(x);', true, false],
    ['CREATE TEMP TABLE IF NOT EXISTS s(x)', 'CREATE TEMP TABLE s(x);', false, false],
    ['PRAGMA defer_foreign_keys = 1', '', false, true],
  ])('%s (after %j): writes=%p, state-dependent=%p', (statement, setup, writes, stateDependent) => {
    const setupCount = setup === '' ? 0 : setup.split(';').filter((s) => s.trim() !== '').length;
    const outcome = runRead(sqlite.db, script(`${setup}${statement}`), LIMITS);
    if (writes) {
      expect(outcome).toEqual({ kind: 'writes', statementIndex: setupCount });
    } else {
      expect(outcome).toMatchObject({ kind: 'done', stateDependent });
    }
  });

  it('REINDEX with no index to rebuild reads on this copy, but says that on another it could write', () => {
    const bare = new sqlite.SQL.Database();
    try {
      expect(runRead(bare, script('REINDEX'), LIMITS)).toMatchObject({ kind: 'done', stateDependent: true });
    } finally {
      bare.close();
    }
  });

  it('PRAGMA optimize writes when it would run ANALYZE (SqlExec), and otherwise reads state-dependently', () => {
    runWrite(sqlite.db, script('WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 2000) INSERT INTO t(x) SELECT n FROM r'), LIMITS);
    runRead(sqlite.db, script('SELECT * FROM t WHERE x = 3'), LIMITS);
    expect(compiledProgramFacts(sqlite.db, 'PRAGMA optimize').writes).toBe(true);
    const fresh = new sqlite.SQL.Database();
    try {
      expect(runRead(fresh, script('PRAGMA optimize'), LIMITS)).toMatchObject({ kind: 'done', stateDependent: true });
    } finally {
      fresh.close();
    }
  });

  it('classifies each statement on what the earlier ones made, and keeps nothing they did', () => {
    const outcome = runRead(sqlite.db, script('CREATE TEMP TABLE s(x); INSERT INTO s VALUES (1); SELECT * FROM s; INSERT INTO t(x) SELECT x FROM s'), LIMITS);
    expect(outcome).toEqual({ kind: 'writes', statementIndex: 3 });
    expect(sqlite.db.exec('SELECT count(*) FROM t')[0]!.values).toEqual([[0]]);
    expect(sqlite.db.exec('SELECT count(*) FROM temp.sqlite_master')[0]!.values).toEqual([[0]]);
  });

  it('judges only the first statement, without running it', () => {
    expect(firstStatementWrites(sqlite.db, script('INSERT INTO t(x) VALUES (1); SELECT 1'))).toBe(true);
    expect(firstStatementWrites(sqlite.db, script('SELECT 1; INSERT INTO t(x) VALUES (1)'))).toBe(false);
    expect(firstStatementWrites(sqlite.db, { kind: 'batch', statements: [{ sql: 'CREATE TABLE IF NOT EXISTS t(x)' }] })).toBe(true);
    expect(firstStatementWrites(sqlite.db, script('SELEC 1'))).toBeUndefined();
    expect(firstStatementWrites(sqlite.db, script('ATTACH ? AS x'))).toBeUndefined();
    expect(sqlite.db.exec('SELECT count(*) FROM t')[0]!.values).toEqual([[0]]);
  });
});
