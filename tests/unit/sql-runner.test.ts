import { freshDatabaseEachTest } from '../helpers/sqljs-database';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { closeDatabase, openDatabase, runRead, runWrite } from '../../functions/adapters/sqljs/sql-runner';
import { rebuildError, serializeError } from '../../functions/adapters/sqljs/worker-protocol';
import * as errors from '../../functions/core/errors';
import type { BoundParams, Program, StatementResult } from '../../functions/core/ports';
import { decodeParams } from '../../functions/core/value-codec';

const LIMITS = { maxStatements: 100, maxResultBytes: 1_000_000, maxDatabaseBytes: 64 * 1024 * 1024 };
const script = (sql: string, params?: BoundParams): Program => ({ kind: 'script', sql, params });

const sqlite = freshDatabaseEachTest();

function read(program: Program): StatementResult[] {
  const outcome = runRead(sqlite.db, program, LIMITS);
  if (outcome.kind !== 'done') throw new Error(`statement ${outcome.statementIndex} writes`);
  return outcome.results;
}

describe('parameters bind exactly', () => {
  it.each([
    [7, 'integer', 1n],
    [3_000_000_000, 'integer', 428_571_428n],
    [-3_000_000_000, 'integer', -428_571_428n],
    [Number.MAX_SAFE_INTEGER, 'integer', 1_286_742_750_677_284n],
    [2.5, 'real', 0.35714285714285715],
  ])('the JSON number %p binds as %s (so ? / 7 is %p)', (json, type, quotient) => {
    const [result] = read(script('SELECT typeof(?1), ?1 / 7', decodeParams([json], 'params')));
    expect(result!.rows).toEqual([[type, quotient]]);
  });

  it.each(['9223372036854775807', '-9223372036854775808', '9007199254740993'])('{"integer": "%s"} binds as that exact INTEGER', (decimal) => {
    const [result] = read(script('SELECT typeof(?), ?, ? = CAST(? AS INTEGER)', decodeParams([{ integer: decimal }, { integer: decimal }, { integer: decimal }, decimal], 'params')));
    expect(result!.rows).toEqual([['integer', BigInt(decimal), 1n]]);
  });

  it('every other parameter keeps its slot and the columns keep their names', () => {
    const [result] = read(script('SELECT ?, ?, ?3, ?', [1, 3_000_000_000n, 'three', 4]));
    expect(result!.columns).toEqual(['?', '?', '?3', '?']);
    expect(result!.rows).toEqual([[1n, 3_000_000_000n, 'three', 4n]]);
    const [named] = read(script('SELECT :big, @small, :big + 1, $t', { big: 9_000_000_000, small: 2, $t: 'tail' }));
    expect(named!.rows).toEqual([[9_000_000_000n, 2n, 9_000_000_001n, 'tail']]);
  });

  it('"params" on a script of several statements is refused before anything runs', () => {
    expect(() => runWrite(sqlite.db, script('CREATE TABLE a(x); SELECT ?', [1]), LIMITS)).toThrow(/"params" needs a single statement/);
    expect(sqlite.db.exec("SELECT count(*) FROM sqlite_master WHERE name = 'a'")[0]!.values).toEqual([[0]]);
  });
});

describe('the connection a stored file is opened with', () => {
  it('holds its lock and truncates its journal at each commit, and still rolls a failed write back', () => {
    const source = new sqlite.SQL.Database();
    source.run('CREATE TABLE t(x); INSERT INTO t VALUES (1)');
    const db = openDatabase(sqlite.SQL, source.export());
    source.close();
    try {
      expect(db.exec('PRAGMA locking_mode')[0]!.values).toEqual([['exclusive']]);
      expect(db.exec('PRAGMA journal_mode')[0]!.values).toEqual([['truncate']]);
      expect(() => runWrite(db, script('INSERT INTO t VALUES (2); INSERT INTO missing VALUES (3)'), LIMITS)).toThrow(/no such table: missing/);
      expect(runWrite(db, script('INSERT INTO t VALUES (4)'), LIMITS).changed).toBe(true);
      const outcome = runRead(db, script('SELECT x FROM t ORDER BY x'), LIMITS);
      expect(outcome.kind === 'done' && outcome.results[0]!.rows).toEqual([[1n], [4n]]);
    } finally {
      closeDatabase(db);
    }
  });

  // sql.js deletes a closed database's file but not its journal: under journal_mode TRUNCATE an
  // empty one would stay behind, about 0.5 KB of memory per copy the worker ever closed.
  it('closing copies that were written leaves nothing of them behind', () => {
    setFlagsFromString('--expose-gc');
    const collectGarbage = runInNewContext('gc') as () => void;
    setFlagsFromString('--no-expose-gc');
    const written = () => {
      const db = openDatabase(sqlite.SQL);
      runWrite(db, script('CREATE TABLE t(x); INSERT INTO t VALUES (1)'), LIMITS);
      return db;
    };
    closeDatabase(written()); // sql.js's own first-use allocations are not what is measured
    collectGarbage();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 8000; i++) closeDatabase(written());
    collectGarbage();
    // A journal left per copy would be about 4 MB here.
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(1_500_000);
  });
});

describe('last_insert_rowid', () => {
  beforeEach(() => {
    runWrite(sqlite.db, script('CREATE TABLE t(id INTEGER PRIMARY KEY, x UNIQUE); CREATE TABLE log(m)'), LIMITS);
  });
  const rowidOf = (sql: string) => runWrite(sqlite.db, script(sql), LIMITS).results.at(-1)!.lastInsertRowid;

  it('is reported when INSERT OR REPLACE rewrites the row the connection last inserted', () => {
    expect(rowidOf("INSERT INTO t VALUES (5, 'a')")).toBe(5n);
    expect(rowidOf("INSERT OR REPLACE INTO t VALUES (5, 'b')")).toBe(5n);
  });

  it('is reported for a rowid that a rolled-back request had used', () => {
    expect(() => runWrite(sqlite.db, script("INSERT INTO t VALUES (9, 'x'); INSERT INTO nowhere VALUES (1)"), LIMITS)).toThrow('no such table');
    expect(rowidOf("INSERT INTO t VALUES (9, 'x')")).toBe(9n);
  });

  it('is null when no row was inserted: ignored, updated by an upsert, or not an INSERT', () => {
    rowidOf("INSERT INTO t VALUES (1, 'a')");
    expect(rowidOf("INSERT OR IGNORE INTO t VALUES (1, 'a')")).toBeNull();
    expect(rowidOf("INSERT INTO t VALUES (1, 'z') ON CONFLICT(id) DO UPDATE SET x = 'u'")).toBeNull();
    expect(rowidOf("UPDATE t SET x = 'v'")).toBeNull();
    expect(rowidOf("INSERT INTO t VALUES (2, 'w') ON CONFLICT(id) DO UPDATE SET x = 'u'")).toBe(2n);
  });
});

describe('TEMP objects', () => {
  it('work within a write and are gone after it, which stores only what it did to main', () => {
    const { results, changed } = runWrite(
      sqlite.db,
      script('CREATE TABLE t(x); CREATE TEMP TABLE stage(x); INSERT INTO stage VALUES (1), (2); INSERT INTO t SELECT x * 10 FROM stage; SELECT x FROM t'),
      LIMITS,
    );
    expect(changed).toBe(true);
    expect(results.at(-1)!.rows).toEqual([[10n], [20n]]);
    expect(sqlite.db.exec('SELECT count(*) FROM temp.sqlite_master')[0]!.values).toEqual([[0]]);
  });

  it('a write that changes only TEMP changes nothing stored', () => {
    runWrite(sqlite.db, script('CREATE TABLE t(x)'), LIMITS);
    expect(runWrite(sqlite.db, script('CREATE TEMP TABLE s(x); INSERT INTO s VALUES (1); DELETE FROM t WHERE 0'), LIMITS).changed).toBe(false);
  });

  it('work within a read and are gone after it', () => {
    expect(read(script("CREATE TEMP VIEW greeting AS SELECT 'hi' AS g; SELECT g FROM greeting")).at(-1)!.rows).toEqual([['hi']]);
    expect(() => read(script('SELECT g FROM greeting'))).toThrow('no such table: greeting');
  });
});

describe('the database size limit', () => {
  it('refuses a write that grows the file past it, keeping the copy as it was', () => {
    runWrite(sqlite.db, script('CREATE TABLE b(x)'), LIMITS);
    const small = { ...LIMITS, maxDatabaseBytes: 64 * 1024 };
    expect(() => runWrite(sqlite.db, script('INSERT INTO b VALUES (zeroblob(100000))'), small)).toThrow(errors.DatabaseTooLargeError);
    expect(sqlite.db.exec('SELECT count(*) FROM b')[0]!.values).toEqual([[0]]);
    expect(runWrite(sqlite.db, script('INSERT INTO b VALUES (zeroblob(1000))'), small).changed).toBe(true);
  });
});

describe('errors crossing the worker boundary', () => {
  type DomainErrorClass = new (message: string, options?: errors.ErrorOptions) => errors.CloudliteError;
  const domainClasses = (Object.entries(errors) as [string, unknown][]).filter(
    (entry): entry is [string, DomainErrorClass] => typeof entry[1] === 'function' && entry[1].prototype instanceof errors.CloudliteError,
  );

  it('covers every domain error class', () => {
    expect(domainClasses.map(([name]) => name)).toEqual(expect.arrayContaining(['StatementNotAllowedError', 'DatabaseTooLargeError', 'SqlError']));
  });

  // Classes built from (message, options) are the ones the engine throws; the others still keep their class and message.
  it.each(domainClasses)('%s is rebuilt as itself, with its message and statement', (_name, ErrorClass) => {
    const original = new ErrorClass('what went wrong', { statementIndex: 3 });
    const rebuilt = rebuildError(JSON.parse(JSON.stringify(serializeError(original))));
    expect(rebuilt).toBeInstanceOf(ErrorClass);
    expect(rebuilt).toMatchObject({ code: original.code, message: original.message, statementIndex: original.statementIndex });
  });

  it('anything else stays an unexpected error', () => {
    const rebuilt = rebuildError(serializeError(new TypeError('boom')));
    expect(rebuilt).not.toBeInstanceOf(errors.CloudliteError);
    expect(rebuilt.message).toContain('TypeError: boom');
  });
});

describe('parameter names are the ones SQLite declares (never a silent NULL)', () => {
  // SQLite's tokenizer: a name continues over identifier characters, `$` included, and for every
  // prefix (`:`, `@`, `$`, `#`) over TCL's `::` and a `(...)` suffix. `:a$b` is ONE parameter.
  it('":a$b" is one parameter: {"a$b": 5} binds it', () => {
    expect(read(script('SELECT :a$b', { a$b: 5 }))[0]!.rows).toEqual([[5n]]);
  });

  it('":a$b" is not two parameters: {"a": 1, "b": 2} is refused instead of answering NULL', () => {
    expect(() => read(script('SELECT :a$b AS v', { a: 1, b: 2 }))).toThrow(errors.BadRequestError);
  });

  it('":x::y" is one parameter: {"x": 7, "y": 8} is refused instead of answering NULL', () => {
    expect(() => read(script('SELECT :x::y AS v', { x: 7, y: 8 }))).toThrow(errors.BadRequestError);
  });

  it('"@x(1)" is one parameter: {"x": 7} is refused instead of answering NULL', () => {
    expect(() => read(script('SELECT @x(1) AS v', { x: 7 }))).toThrow(errors.BadRequestError);
  });

  it('"#a" is a parameter too: without params it is refused instead of answering NULL', () => {
    expect(() => read(script('SELECT #a AS v'))).toThrow(errors.BadRequestError);
  });

  it('an INSERT never stores NULL for a parameter the request did not bind', () => {
    runWrite(sqlite.db, script('CREATE TABLE t(v)'), LIMITS);
    expect(() => runWrite(sqlite.db, script('INSERT INTO t VALUES (:user$id)', { user: 1, id: 2 }), LIMITS)).toThrow(errors.BadRequestError);
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
      expect(error).toBeInstanceOf(errors.StatementNotAllowedError); // refusing it is a fix too
    }
    // A cold copy (another container) answers 0: so must this warm one.
    expect(read(script('PRAGMA temp.user_version'))[0]!.rows).toEqual([[0n]]);
  });
});
