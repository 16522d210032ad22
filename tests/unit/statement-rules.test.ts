import { declaredParameters } from '../../functions/adapters/sqljs/statement-parameters';
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
  ])('%s has %i slots', (sql, slots, names) => {
    const declared = declaredParameters(sql);
    expect(declared.slots).toBe(slots);
    expect([...declared.names]).toEqual(names);
  });
});
