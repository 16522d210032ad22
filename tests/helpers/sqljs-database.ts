import initSqlJs, { type Database, type SqlJsStatic } from 'sql.js';

/**
 * A fresh in-memory sql.js database for each test of the describe block (or file) that calls
 * this, closed after it; `setUp` runs on each new database (a schema, say).
 */
export function freshDatabaseEachTest(setUp: (db: Database) => void = () => undefined): { readonly db: Database; readonly SQL: SqlJsStatic } {
  let SQL: SqlJsStatic;
  let db: Database;
  beforeAll(async () => {
    SQL = await initSqlJs();
  });
  beforeEach(() => {
    db = new SQL.Database();
    setUp(db);
  });
  afterEach(() => db.close());
  return {
    get db() {
      return db;
    },
    get SQL() {
      return SQL;
    },
  };
}

/** The bytes of a database file made by running `script` on a fresh database. */
export function databaseFile(SQL: SqlJsStatic, script: string): Uint8Array {
  const db = new SQL.Database();
  db.run(script);
  const bytes = db.export();
  db.close();
  return bytes;
}
