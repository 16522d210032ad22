import { endsWithCompleteStatement, formatResult } from '../../scripts/cli-format';

describe('the shell knows when a statement is complete', () => {
  it.each([
    ['SELECT 1;', true],
    ['SELECT 1', false],
    ['SELECT 1; -- done', true],
    ['SELECT 1; /* done */', true],
    ['SELECT 1; SELECT', false],
    ["SELECT ';'", false],
    ["SELECT 'it''s';", true],
    ["SELECT 'it'';", false],
    ['SELECT "a;b" FROM t;', true],
    ['SELECT [a;b', false],
    ['SELECT 1 /* ; */', false],
    ['SELECT 1 /* ;', false],
    ['-- only a comment;', false],
    ['CREATE TRIGGER tr AFTER INSERT ON t BEGIN INSERT INTO log VALUES (1);', false],
    ['CREATE TEMP TRIGGER tr AFTER INSERT ON t BEGIN INSERT INTO log VALUES (1); END;', true],
    ['CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1; END; SELECT 2;', true],
    // A CASE expression's END before a body statement's ';' does not end the trigger (sqlite3 waits for the trigger's own END).
    ["CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE t SET y = CASE WHEN new.x > 0 THEN 'pos' ELSE 'neg' END;", false],
    ["CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE t SET y = CASE WHEN new.x > 0 THEN 'pos' ELSE 'neg' END; DELETE FROM q;", false],
    ["CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE t SET y = CASE new.x WHEN 1 THEN 'a' END; DELETE FROM q; END;", true],
    // A column named end (a keyword SQLite lets stand unquoted as a name) is no END of the body: a ')' comes between it and the ';' (sqlite3_complete waits too).
    ['CREATE TRIGGER tr AFTER INSERT ON t BEGIN INSERT INTO log VALUES (new.end);', false],
  ])('%j -> %s', (sql, complete) => {
    expect(endsWithCompleteStatement(sql)).toBe(complete);
  });
});

describe('results print in three modes', () => {
  const result = { columns: ['id', 'id', 'note'], rows: [[1, 9223372036854775807n, 'a,"b"']], changes: 0, lastInsertRowid: null };

  it('json keys a repeated column like the client does, and keeps 64-bit integers exact', () => {
    expect(formatResult(result, 'json')).toBe('[{"id":1,"id:1":"9223372036854775807","note":"a,\\"b\\""}]');
  });

  it('csv quotes fields with commas and quotes', () => {
    expect(formatResult(result, 'csv')).toBe('id,id,note\r\n1,9223372036854775807,"a,""b"""');
  });

  it('a statement without columns prints its change count in table mode only', () => {
    const write = { columns: [], rows: [], changes: 3, lastInsertRowid: null };
    expect([formatResult(write, 'table'), formatResult(write, 'json'), formatResult(write, 'csv')]).toEqual(['(3 rows changed)', '', '']);
  });
});

describe('values from the database cannot drive the terminal (review)', () => {
  // A value (or a column name: a view's, an imported file's) holding ESC sequences reached the
  // terminal raw through the table output of `cloudlite sql` and the shell: `\x1b]0;...\x07`
  // retitles the window, `\x1b[2J` clears it, OSC 52 writes the clipboard on some terminals, and a
  // bare `\r` overprints a cell's start so the table shows a value it does not hold. The sqlite3
  // shell (3.50+) shows such characters escaped.
  const hostile = {
    columns: ['id', 'note\x1b[8m'],
    rows: [
      [1, '\x1b]0;pwned\x07'],
      [2, 'safe\rEVIL'],
      [3, '\x1b[2J\x9b31m'],
    ],
    changes: 0,
    lastInsertRowid: null,
  };

  it('the table shows control characters escaped, never raw', () => {
    const printed = formatResult(hostile, 'table');
    expect(printed).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f\x80-\x9f]/);
    // and the cells still say something: the printable rest of each value is there
    expect(printed).toContain('pwned');
    expect(printed).toContain('EVIL');
  });
});

describe('csv keeps NULL apart from the text NULL (review)', () => {
  // `--csv` is for other programs: a NULL printed as the four letters NULL (as the table shows
  // it) comes back from a spreadsheet or `sqlite3 .import` as the text 'NULL'. The sqlite3 shell
  // writes NULL as an empty field in csv mode.
  it('a NULL is an empty field; the text NULL stays NULL', () => {
    const result = { columns: ['missing', 'word'], rows: [[null, 'NULL']], changes: 0, lastInsertRowid: null };
    expect(formatResult(result, 'csv')).toBe('missing,word\r\n,NULL');
  });
});

describe('csv keeps NULL apart from the empty text (review, diff-edge)', () => {
  // docs/cli.md: `--csv` writes "NULL as an empty field (as `sqlite3` writes it)". sqlite3 does
  // that AND quotes an empty text (`sqlite3 -csv "SELECT NULL, ''"` prints `,""`), so the two stay
  // apart. Here both print as an empty field: a reader of the csv cannot tell '' from NULL any
  // more (before this round it could: NULL printed as NULL).
  it("an empty text is a quoted empty field, as sqlite3 writes it", () => {
    const result = { columns: ['missing', 'empty'], rows: [[null, '']], changes: 0, lastInsertRowid: null };
    expect(formatResult(result, 'csv')).toBe('missing,empty\r\n,""');
  });
});
