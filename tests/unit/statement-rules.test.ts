import { declaredParameters, leadingStatement, parameterTokens } from '../../functions/adapters/sqljs/sql-lexer';
import { refusalReason } from '../../functions/adapters/sqljs/statement-policy';

describe('the statement policy (on SQLite-normalized SQL)', () => {
  it.each([
    ['SELECT?;', undefined],
    ['WITH x AS(SELECT?)DELETE FROM t;', undefined],
    ['PRAGMA table_info(?);', undefined],
    ['PRAGMA main.user_version=?;', undefined],
    ['PRAGMA page_count;', undefined],
    ['VACUUM;', undefined],
    ['ATTACH?AS x;', /ATTACH is not allowed/],
    ['DETACH x;', /DETACH is not allowed/],
    ['VACUUM INTO?;', /VACUUM INTO/],
    ['BEGIN IMMEDIATE;', /BEGIN is not allowed/],
    ['SAVEPOINT a;', /SAVEPOINT/],
    ['PRAGMA writable_schema=?;', /writable_schema is not allowed/],
    ['PRAGMA journal_mode=?;', /journal_mode is not allowed/],
    ['PRAGMA query_only=?;', /query_only is not allowed/],
    ['PRAGMA hard_heap_limit=?;', /hard_heap_limit is not allowed/],
    ['PRAGMA page_size=?;', /may be read but not set/],
    ['PRAGMA schema_version(?);', /may be read but not set/],
    ['EXPLAIN PRAGMA writable_schema = 1', /writable_schema is not allowed/],
    ['explain query plan pragma query_only=0', /query_only is not allowed/],
    ['EXPLAIN SELECT 1', undefined],
    ["VACUUM main INTO '/x.db'", /VACUUM INTO/],
    ['PRAGMA main . user_version = 5', undefined],
    ['PRAGMA "writable_schema" = 1', /not allowed/],
    ['', /could not be inspected/],
  ])('%s -> %p', (normalized, expected) => {
    const reason = refusalReason(normalized);
    if (expected === undefined) expect(reason).toBeUndefined();
    else expect(reason).toMatch(expected);
  });
});

describe('declaredParameters', () => {
  it.each([
    ['SELECT 1', 0, []],
    ['SELECT ?, ?', 2, []],
    ['SELECT ?3, ?', 4, []],
    ['SELECT :a, @b, $c, :a', 3, [':a', '@b', '$c']],
    ["SELECT '?', \"?\", `?`, [?] -- ?\n, /* :x */ ?", 1, []],
    ["SELECT 'it''s :not', :yes", 1, [':yes']],
    ["SELECT x'00', ?", 1, []],
    ['SELECT a$b, ?', 1, []],
    ['SELECT ?5, :a, ?', 7, [':a']],
    // As SQLite's tokenizer reads names ("$a::b(c d)" is an unrecognized token there: white space ends it).
    ['SELECT $a::b(c), $a', 2, ['$a::b(c)', '$a']],
    ['SELECT :a$b, @x(1), :x::y, #t', 4, [':a$b', '@x(1)', ':x::y', '#t']],
  ])('%s has %i slots', (sql, slots, names) => {
    const declared = declaredParameters(sql);
    expect(declared.slots).toBe(slots);
    expect([...declared.names]).toEqual(names);
  });
});

describe('parameterTokens', () => {
  it('numbers each parameter the way SQLite does, with its place in the text', () => {
    const sql = 'SELECT ?, :a, ?9, ?, :a, @b';
    expect(parameterTokens(sql).map((t) => [sql.slice(t.start, t.end), t.slot, t.anonymous])).toEqual([
      ['?', 1, true],
      [':a', 2, false],
      ['?9', 9, false],
      ['?', 10, true],
      [':a', 2, false],
      ['@b', 11, false],
    ]);
  });
});

describe('leadingStatement', () => {
  it.each([
    ['SELECT 1; SELECT 2', 'SELECT 1'],
    ['  /* a; comment */ -- another; one\n PRAGMA   writable_schema = 1; SELECT 1', 'PRAGMA writable_schema = 1'],
    ["SELECT ';' AS x; DROP TABLE t", "SELECT ';' AS x"],
    [';;  ; -- only a comment', ''],
    ['', ''],
  ])('%j leads with %j', (sql, head) => {
    expect(leadingStatement(sql)).toBe(head);
  });
});
