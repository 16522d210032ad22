import { freshDatabaseEachTest } from '../helpers/sqljs-database';
import { runRead, runWrite } from '../../functions/adapters/sqljs/sql-runner';
import { BadRequestError, StatementNotAllowedError } from '../../functions/core/errors';
import type { BoundParams, Program, StatementResult } from '../../functions/core/ports';
import { decodeParams } from '../../functions/core/value-codec';

/**
 * POST /sql as a SQL user sees it: parameters named the way SQLite's own
 * tokenizer names them, exact integers that keep a parameter's meaning, what a statement on a
 * virtual table reports, and TEMP state that must not outlive its request.
 */

const LIMITS = { maxStatements: 100, maxResultBytes: 1_000_000, maxDatabaseBytes: 64 * 1024 * 1024 };
const script = (sql: string, params?: BoundParams): Program => ({ kind: 'script', sql, params });

const sqlite = freshDatabaseEachTest();

function read(program: Program): StatementResult[] {
  const outcome = runRead(sqlite.db, program, LIMITS);
  if (outcome.kind !== 'done') throw new Error(`statement ${outcome.statementIndex} writes`);
  return outcome.results;
}

describe('parameter names are the ones SQLite declares (never a silent NULL)', () => {
  // SQLite's tokenizer: a name continues over identifier characters, `$` included, and for every
  // prefix (`:`, `@`, `$`, `#`) over TCL's `::` and a `(...)` suffix. `:a$b` is ONE parameter.
  it('":a$b" is one parameter: {"a$b": 5} binds it', () => {
    expect(read(script('SELECT :a$b', { a$b: 5 }))[0]!.rows).toEqual([[5n]]);
  });

  it('":a$b" is not two parameters: {"a": 1, "b": 2} is refused instead of answering NULL', () => {
    expect(() => read(script('SELECT :a$b AS v', { a: 1, b: 2 }))).toThrow(BadRequestError);
  });

  it('":x::y" is one parameter: {"x": 7, "y": 8} is refused instead of answering NULL', () => {
    expect(() => read(script('SELECT :x::y AS v', { x: 7, y: 8 }))).toThrow(BadRequestError);
  });

  it('"@x(1)" is one parameter: {"x": 7} is refused instead of answering NULL', () => {
    expect(() => read(script('SELECT @x(1) AS v', { x: 7 }))).toThrow(BadRequestError);
  });

  it('"#a" is a parameter too: without params it is refused instead of answering NULL', () => {
    expect(() => read(script('SELECT #a AS v'))).toThrow(BadRequestError);
  });

  it('an INSERT never stores NULL for a parameter the request did not bind', () => {
    runWrite(sqlite.db, script('CREATE TABLE t(v)'), LIMITS);
    expect(() => runWrite(sqlite.db, script('INSERT INTO t VALUES (:user$id)', { user: 1, id: 2 }), LIMITS)).toThrow(BadRequestError);
    expect(sqlite.db.exec('SELECT count(*) FROM t')[0]!.values).toEqual([[0]]);
  });
});

describe('{"integer": "…"} binds a value, like any parameter', () => {
  beforeEach(() => {
    runWrite(sqlite.db, script("CREATE TABLE t(a, b); INSERT INTO t VALUES (1, 'z'), (2, 'y'), (3, 'x')"), LIMITS);
  });

  it('ORDER BY ? sorts the same whether 2 arrives as a number or as {"integer": "2"} (a literal 2 is a column number)', () => {
    const asNumber = read(script('SELECT a, b FROM t ORDER BY ?', decodeParams([2], 'params')))[0]!.rows;
    const asInteger = read(script('SELECT a, b FROM t ORDER BY ?', decodeParams([{ integer: '2' }], 'params')))[0]!.rows;
    expect(asInteger).toEqual(asNumber);
  });

  it('GROUP BY ? with {"integer": "1"} groups by that value, not by the first column', () => {
    expect(read(script('SELECT count(*) FROM t GROUP BY ?', decodeParams([{ integer: '1' }], 'params')))[0]!.rows).toEqual([[3n]]);
  });
});

describe('a statement on a virtual table (FTS4) reports its own rows', () => {
  beforeEach(() => {
    runWrite(sqlite.db, script('CREATE VIRTUAL TABLE f USING fts4(x)'), LIMITS);
  });
  const last = (sql: string) => runWrite(sqlite.db, script(sql), LIMITS).results.at(-1)!;

  it('one row inserted is changes 1 (the module\'s shadow tables are not the statement\'s rows)', () => {
    expect(last("INSERT INTO f(rowid, x) VALUES (7, 'hello world')").changes).toBe(1);
  });

  it('one row deleted is changes 1, and a DELETE inserted no rowid', () => {
    last("INSERT INTO f(rowid, x) VALUES (7, 'hello world')");
    const deleted = last('DELETE FROM f WHERE rowid = 7');
    expect(deleted.changes).toBe(1);
    expect(deleted.lastInsertRowid).toBeNull();
  });

  it('an INSERT reports the rowid it inserted, also when the connection had last inserted that rowid elsewhere', () => {
    runWrite(sqlite.db, script('CREATE TABLE t(id INTEGER PRIMARY KEY); INSERT INTO t VALUES (7)'), LIMITS);
    // A warm copy keeps its connection between requests; a cold one would answer 7.
    expect(last("INSERT INTO f(rowid, x) VALUES (7, 'b')").lastInsertRowid).toBe(7n);
  });
});

describe('TEMP state is gone after the request', () => {
  it('PRAGMA temp.user_version set by a write is not seen by the next request on the same copy', () => {
    runWrite(sqlite.db, script('CREATE TABLE t(x)'), LIMITS);
    try {
      runWrite(sqlite.db, script('PRAGMA temp.user_version = 9; INSERT INTO t VALUES (1)'), LIMITS);
    } catch (error) {
      expect(error).toBeInstanceOf(StatementNotAllowedError); // refusing it is a fix too
    }
    // A cold copy (another container) answers 0: so must this warm one.
    expect(read(script('PRAGMA temp.user_version'))[0]!.rows).toEqual([[0n]]);
  });
});
