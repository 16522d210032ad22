import initSqlJs, { type SqlJsStatic } from 'sql.js';
import { buildFromScript, dumpFile, inspectFile } from '../../functions/adapters/sqljs/file-inspection';
import { quoteLiteral } from '../../functions/core/sql-quoting';
import { databaseFile as fileOf } from '../helpers/sqljs-database';

/**
 * What the file inspector's thread runs, called directly (tests/integration/lifecycle.int.test.ts
 * drives the thread itself: its time limit, and the service answering meanwhile).
 */
let SQL: SqlJsStatic;
const inspector = {
  inspect: async (bytes: Uint8Array) => inspectFile(SQL, bytes),
  dump: async (bytes: Uint8Array, maxBytes = 64 * 1024 * 1024) => Buffer.from(dumpFile(SQL, { bytes }, maxBytes)).toString('utf8'),
  build: async (script: string | Uint8Array, maxBytes = 64 * 1024 * 1024) => buildFromScript(SQL, { bytes: typeof script === 'string' ? Buffer.from(script) : script }, maxBytes),
};

beforeAll(async () => {
  SQL = await initSqlJs();
});

const databaseFile = (script: string) => fileOf(SQL, script);

const SHOP = `
  CREATE TABLE items(id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT, price REAL, big INTEGER, data BLOB);
  INSERT INTO items(name, price, big, data) VALUES ('it''s', 0.1, 9223372036854775807, x'00ff10'), (NULL, 1e308, -9223372036854775808, NULL);
  INSERT INTO items(name, price) VALUES ('inf', 9e999);
  CREATE INDEX items_name ON items(name);
  CREATE VIEW cheap AS SELECT name FROM items WHERE price < 1;
  CREATE TABLE log(at TEXT);
  CREATE TRIGGER items_log AFTER INSERT ON items BEGIN INSERT INTO log VALUES ('insert'); END;
  PRAGMA user_version = 7;
`;

function query(bytes: Uint8Array, sql: string): unknown[][] {
  const db = new SQL.Database(bytes);
  try {
    return db.exec(sql)[0]?.values ?? [];
  } finally {
    db.close();
  }
}

describe('the database file inspector', () => {
  it('accepts a valid file as it is', async () => {
    const file = databaseFile(SHOP);
    const inspection = await inspector.inspect(file);
    expect(inspection).toMatchObject({ kind: 'valid', convertedFromWal: false, tables: 3 });
  });

  it.each([
    ['a file that is not SQLite', () => new Uint8Array(Buffer.from('PK\u0003\u0004 not a database at all, but long enough to have a header'.repeat(3))), /not a SQLite database/],
    ['a truncated file', () => databaseFile(SHOP).slice(0, 4096 + 100), /truncated/],
    ['an empty file', () => new Uint8Array(), /not a SQLite database/],
  ])('refuses %s', async (_, file, reason) => {
    expect(await inspector.inspect(file())).toEqual({ kind: 'refused', reason: expect.stringMatching(reason) });
  });

  it('refuses a file whose pages are corrupt', async () => {
    const file = databaseFile(
      'CREATE TABLE t(x TEXT); INSERT INTO t WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200) SELECT hex(randomblob(100)) FROM n;',
    );
    // Scribble over the middle of the second page (a b-tree page of table t).
    const pageSize = (file[16]! << 8) | file[17]!;
    file.fill(0x5a, pageSize + 8, pageSize + 200);
    expect(await inspector.inspect(file)).toMatchObject({ kind: 'refused' });
  });

  it('converts a WAL-mode header and says so', async () => {
    const file = databaseFile(SHOP);
    file[18] = 2;
    file[19] = 2;
    const inspection = await inspector.inspect(file);
    expect(inspection).toMatchObject({ kind: 'valid', convertedFromWal: true });
    if (inspection.kind !== 'valid') throw new Error('unreachable');
    expect([inspection.bytes[18], inspection.bytes[19]]).toEqual([1, 1]);
    expect(query(inspection.bytes, 'SELECT count(*) FROM items')).toEqual([[3]]);
  });

  it.each([
    ['a trigger calling load_extension', `CREATE TABLE t(x); CREATE TRIGGER evil AFTER INSERT ON t BEGIN SELECT load_extension('/tmp/x.so'); END;`, /load_extension/],
    ['a view calling fts3_tokenizer', `CREATE VIEW evil AS SELECT fts3_tokenizer('simple');`, /fts3_tokenizer/],
  ])('refuses a schema with %s', async (_, script, reason) => {
    expect(await inspector.inspect(databaseFile(script))).toEqual({ kind: 'refused', reason: expect.stringMatching(reason) });
  });

  it('keeps a view whose table was dropped, as SQLite does (POST /sql can make one)', async () => {
    const file = databaseFile('CREATE TABLE t(x); CREATE TABLE kept(y); CREATE VIEW v AS SELECT x FROM t; DROP TABLE t;');
    expect(await inspector.inspect(file)).toMatchObject({ kind: 'valid', tables: 1 });
  });

  it.each(['fts5', 'rtree'])('refuses a virtual table of module %s, which this engine cannot query, and accepts FTS4', async (module) => {
    // sql.js cannot create these tables either: write the schema row by hand, as another SQLite would.
    const db = new SQL.Database();
    db.run("CREATE VIRTUAL TABLE docs USING fts4(body); INSERT INTO docs VALUES ('hello')");
    const withFts4 = db.export();
    db.run('CREATE TABLE stand_in(x); PRAGMA writable_schema = ON');
    db.run(`UPDATE sqlite_schema SET sql = 'CREATE VIRTUAL TABLE other USING ${module}(a, b, c)', name = 'other', tbl_name = 'other' WHERE name = 'stand_in'`);
    const withOther = db.export();
    db.close();
    expect(await inspector.inspect(withFts4)).toMatchObject({ kind: 'valid' });
    expect(await inspector.inspect(withOther)).toEqual({ kind: 'refused', reason: expect.stringContaining(`uses module ${module}; only fts3, fts4 are served`) });
  });
});

describe('the SQL dump', () => {
  it('replayed into a fresh database gives identical rows, schema and user_version', async () => {
    const file = databaseFile(SHOP);
    const dump = await inspector.dump(file);
    const rebuilt = databaseFile(dump);
    const exact = "SELECT id, quote(name), printf('%!.17g', price), quote(big), quote(data), typeof(price) FROM items ORDER BY id";
    expect(query(rebuilt, exact)).toEqual(query(file, exact));
    expect(query(rebuilt, 'SELECT type, name, sql FROM sqlite_schema ORDER BY name')).toEqual(query(file, 'SELECT type, name, sql FROM sqlite_schema ORDER BY name'));
    expect(query(rebuilt, 'PRAGMA user_version')).toEqual([[7]]);
    expect(query(rebuilt, 'SELECT * FROM sqlite_sequence')).toEqual(query(file, 'SELECT * FROM sqlite_sequence'));
    // The trigger came back and works: it was created after the rows, so the dump fired it never.
    expect(query(rebuilt, 'SELECT count(*) FROM log')).toEqual([[0]]);
  });

  it('keeps a text whole past a NUL byte inside it', async () => {
    const file = databaseFile("CREATE TABLE notes(body TEXT); INSERT INTO notes VALUES ('it''s' || char(10) || 'new' || char(0) || 'line'), ('plain');");
    const rebuilt = databaseFile(await inspector.dump(file));
    const exact = 'SELECT typeof(body), hex(CAST(body AS BLOB)) FROM notes ORDER BY rowid';
    expect(query(rebuilt, exact)).toEqual(query(file, exact));
    expect(query(rebuilt, exact)[0]).toEqual(['text', Buffer.from("it's\nnew\0line").toString('hex').toUpperCase()]);
  });

  it('stops with RESULT_TOO_LARGE past its size limit, the text held so far included', async () => {
    const file = databaseFile("CREATE TABLE t(x TEXT); INSERT INTO t WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 3000) SELECT printf('%0500d', i) FROM c;");
    const size = Buffer.byteLength(await inspector.dump(file));
    await expect(inspector.dump(file, size - 1)).rejects.toMatchObject({ code: 'RESULT_TOO_LARGE', message: expect.stringContaining('format=sqlite') });
    expect(Buffer.byteLength(await inspector.dump(file, size))).toBe(size);
  });

  it('writes a table of 150 000 rows (too many for one array of lines)', async () => {
    const file = databaseFile('CREATE TABLE n(i INTEGER PRIMARY KEY); INSERT INTO n WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 150000) SELECT i FROM c;');
    const rebuilt = databaseFile(await inspector.dump(file));
    expect(query(rebuilt, 'SELECT count(*), sum(i) FROM n')).toEqual([[150_000, (150_000 * 150_001) / 2]]);
  });
});

describe('a database built from a SQL dump (an import of format=sql)', () => {
  it('is the database the dump was made from: rows, schema, sequence and user_version', async () => {
    const file = databaseFile(SHOP);
    const built = await inspector.build(await inspector.dump(file));
    if (built.kind !== 'valid') throw new Error(`refused: ${built.reason}`);
    const exact = "SELECT id, quote(name), printf('%!.17g', price), quote(big), quote(data) FROM items ORDER BY id";
    expect(query(built.bytes, exact)).toEqual(query(file, exact));
    expect(query(built.bytes, 'SELECT type, name, sql FROM sqlite_schema ORDER BY name')).toEqual(query(file, 'SELECT type, name, sql FROM sqlite_schema ORDER BY name'));
    expect(query(built.bytes, 'PRAGMA user_version')).toEqual([[7]]);
    expect(built.tables).toBe(3); // items, log, sqlite_sequence
  });

  it('keeps FTS4 tables as they were, their index included, also one whose rows cannot be read back (contentless)', async () => {
    const file = databaseFile(`
      CREATE VIRTUAL TABLE docs USING fts4(title, body);
      INSERT INTO docs(docid, title, body) VALUES (3, 'hello', 'a world of text'), (9, 'other', 'nothing here');
      CREATE VIRTUAL TABLE terms USING fts4(content='', body);
      INSERT INTO terms(docid, body) VALUES (7, 'hello world');
    `);
    const built = await inspector.build(await inspector.dump(file));
    if (built.kind !== 'valid') throw new Error(`refused: ${built.reason}`);
    const searches = ["SELECT docid, title FROM docs WHERE docs MATCH 'world'", "SELECT docid FROM terms WHERE terms MATCH 'hello'"];
    expect(searches.map((search) => query(built.bytes, search))).toEqual([[[3, 'hello']], [[7]]]);
    // The shadow tables hold all there is of an FTS table: they came back row for row.
    const shadowTables = (bytes: Uint8Array) =>
      query(bytes, "SELECT name FROM sqlite_schema WHERE type = 'table' AND sql NOT LIKE 'CREATE VIRTUAL%' ORDER BY name").map(([name]) => [name, query(bytes, `SELECT * FROM "${name}" ORDER BY 1`)]);
    expect(shadowTables(built.bytes)).toEqual(shadowTables(file));
    expect(shadowTables(file).length).toBeGreaterThan(5);
  });

  it("runs sqlite3's own .dump: foreign keys off while children come before their parents", async () => {
    const dump = [
      'PRAGMA foreign_keys=OFF;',
      'BEGIN TRANSACTION;',
      'CREATE TABLE child(id INTEGER PRIMARY KEY, parent INTEGER NOT NULL REFERENCES parent(id));',
      'INSERT INTO child VALUES(1,10);',
      'CREATE TABLE parent(id INTEGER PRIMARY KEY);',
      'INSERT INTO parent VALUES(10);',
      'COMMIT;',
    ].join('\n');
    const built = await inspector.build(dump);
    expect(built.kind).toBe('valid');
    expect(query((built as { bytes: Uint8Array }).bytes, 'SELECT parent FROM child')).toEqual([[10]]);
  });

  it.each([
    ['SQL that fails', 'CREATE TABLE t(x); INSERT INTO nope VALUES (1);', /its SQL failed: no such table: nope/],
    ['a transaction never committed', 'BEGIN; CREATE TABLE t(x); INSERT INTO t VALUES (1);', /leaves a transaction open/],
    ['text that is not UTF-8', Buffer.from([0x43, 0x52, 0xff, 0xfe]), /neither a SQLite database file nor UTF-8 SQL text/],
    ['a NUL byte, which would cut the SQL short', "CREATE TABLE t(x);\0 INSERT INTO t VALUES ('lost');", /NUL character/],
    ['a schema the service refuses', "CREATE TABLE t(x); CREATE TRIGGER t_ai AFTER INSERT ON t BEGIN SELECT load_extension('x'); END;", /calls load_extension\(\)/],
  ])('refuses %s, saying why', async (_name, script, reason) => {
    const built = await inspector.build(script);
    expect(built).toEqual({ kind: 'refused', reason: expect.stringMatching(reason) });
  });

  it('stops a dump as its database grows past the limit, before it is made in full, whatever page size or page limit it sets', async () => {
    // 40 MB of zeroblobs from a short script: growing it in memory first would take what the limit protects.
    const grows = 'CREATE TABLE t(b BLOB); WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 40) INSERT INTO t SELECT zeroblob(1000000) FROM c;';
    const exported: number[] = [];
    const exportFile = SQL.Database.prototype.export;
    const spy = jest.spyOn(SQL.Database.prototype, 'export').mockImplementation(function (this: InstanceType<SqlJsStatic['Database']>) {
      const bytes = exportFile.call(this);
      exported.push(bytes.byteLength);
      return bytes;
    });
    try {
      for (const script of [grows, `PRAGMA page_size = 65536; ${grows}`, `PRAGMA max_page_count = 1000000000; ${grows}`]) {
        expect(await inspector.build(script, 1024 * 1024)).toEqual({ kind: 'refused', reason: 'the database it makes would be larger than 1048576 bytes, the most a database may hold' });
      }
    } finally {
      spy.mockRestore();
    }
    expect(exported).toEqual([]);
    expect((await inspector.build(grows, 64 * 1024 * 1024)).kind).toBe('valid');
  });

  it.each([
    ['attaches another database', "ATTACH ':memory:' AS side; CREATE TABLE side.b(z); CREATE TABLE t(x);", 'ATTACH is not allowed'],
    ['writes a copy with VACUUM INTO', "CREATE TABLE t(x); VACUUM INTO '/copy-one.db';", 'VACUUM INTO is not allowed'],
    ['hides VACUUM INTO behind a comment', "CREATE TABLE t(x); /* tidy */ VACUUM main INTO '/copy-two.db';", 'VACUUM INTO is not allowed'],
  ])('refuses a dump that %s, before it runs: such a file would grow outside every limit', async (_name, script, reason) => {
    expect(await inspector.build(script)).toEqual({ kind: 'refused', reason: expect.stringContaining(`its SQL holds a statement a dump never needs: ${reason}`) });
  });

  it.each([
    ['VACUUM INTO with its file name written right after INTO', "CREATE TABLE t(x); VACUUM INTO'/copy-three.db';", 'VACUUM INTO is not allowed'],
    ['VACUUM INTO with no space between its words', "CREATE TABLE t(x); VACUUM\"main\"INTO'/copy-four.db';", 'VACUUM INTO is not allowed'],
    ['ATTACH with its file name written right after ATTACH', "ATTACH':memory:'AS side; CREATE TABLE side.b(z); CREATE TABLE t(x);", 'ATTACH is not allowed'],
  ])('refuses a dump that runs %s (SQLite needs no space before a string literal)', async (_name, script, reason) => {
    expect(await inspector.build(script)).toEqual({ kind: 'refused', reason: expect.stringContaining(`its SQL holds a statement a dump never needs: ${reason}`) });
  });

  it('keeps TEMP to itself: a page limit the script sets on it neither holds nor passes for the size limit', async () => {
    const script = 'CREATE TABLE t(x); PRAGMA temp.max_page_count = 2; CREATE TEMP TABLE scratch(b BLOB); INSERT INTO scratch VALUES (zeroblob(100000)); INSERT INTO t VALUES (1);';
    const built = await inspector.build(script);
    expect(built).toMatchObject({ kind: 'valid', tables: 1 });
    expect(query((built as { bytes: Uint8Array }).bytes, 'SELECT x FROM t')).toEqual([[1]]);
  });

  it.each([
    ['its module quoted', 'v', 'CREATE VIRTUAL TABLE v USING "fts5"(x)', /virtual table "v" uses module fts5/],
    ['a comment before its module', 'v', 'CREATE VIRTUAL TABLE v USING/**/rtree(id, a, b)', /virtual table "v" uses module rtree/],
    ['a name that fools the text check', 'v USING fts4', 'CREATE VIRTUAL TABLE "v USING fts4" USING fts5(x)', /table "v USING fts4" cannot be read by this engine: no such module: fts5/],
  ])('refuses a virtual table this engine cannot read, written into sqlite_schema with %s', async (_label, name, create, reason) => {
    // sqlite3's own .dump writes virtual tables this way (writable_schema): stored, the table could never be queried, dropped or dumped.
    const script = `CREATE TABLE t(x); PRAGMA writable_schema=ON; INSERT INTO sqlite_schema(type, name, tbl_name, rootpage, sql) VALUES ('table', ${quoteLiteral(name)}, ${quoteLiteral(name)}, 0, ${quoteLiteral(create)}); PRAGMA writable_schema=OFF;`;
    expect(await inspector.build(script)).toEqual({ kind: 'refused', reason: expect.stringMatching(reason) });
  });

  it.each([
    ['a comment before its parenthesis', "CREATE TABLE t(x); CREATE TRIGGER t_ai AFTER INSERT ON t BEGIN SELECT load_extension/**/('x'); END;"],
    ['its name quoted', 'CREATE TABLE t(x); CREATE VIEW v AS SELECT "writefile"(\'/tmp/x\', x) FROM t;'],
  ])('refuses a schema calling a refused function with %s (files and dumps alike)', async (_name, script) => {
    expect(await inspector.build(script)).toEqual({ kind: 'refused', reason: expect.stringMatching(/calls (load_extension|writefile)\(\)/) });
    expect(await inspector.inspect(databaseFile(script))).toEqual({ kind: 'refused', reason: expect.stringMatching(/calls (load_extension|writefile)\(\)/) });
  });
});
