import type { Database, SqlJsStatic } from 'sql.js';
import type { DatabaseFileInspector, Inspection } from '../../core/ports';
import { refusalReason } from './statement-policy';
import { SQLITE_MAGIC, wasmPath } from './sqlite-files';

/**
 * Judges database files from outside (imports) and writes SQL dumps (exports), with its own
 * sql.js instance on the calling thread: both run once per request on a copy that is never
 * served, so they need none of the engine's warm cache or worker isolation.
 *
 * An imported file is never trusted. Refused: anything whose 100-byte header is not SQLite's, a
 * file shorter than its header says (truncated), one failing PRAGMA integrity_check, and a
 * schema holding what the statement policy refuses or functions that reach outside SQLite
 * (e.g. a trigger calling load_extension or fts3_tokenizer), a virtual table of a module
 * other than FTS and R*Tree, or a view that does not compile. A WAL-mode file (header bytes
 * 18/19 = 2) is converted to rollback-journal mode by setting them to 1: the upload is one file
 * without its -wal, so its last checkpoint is all it holds either way, and the answer says so.
 */

const HEADER_BYTES = 100;
const REFUSED_FUNCTIONS = /\b(load_extension|fts3_tokenizer|readfile|writefile|edit|sqlite_dbpage|zipfile|fts5_source_id)\s*\(/i;
const ALLOWED_MODULES = new Set(['fts3', 'fts4', 'fts5', 'rtree', 'rtree_i32']);

export class SqlJsFileInspector implements DatabaseFileInspector {
  private sql?: Promise<SqlJsStatic>;

  async inspect(bytes: Uint8Array): Promise<Inspection> {
    const header = checkHeader(bytes);
    if (header.kind === 'refused') return header;
    const file = header.convertedFromWal ? walToRollback(bytes) : bytes;
    let db: Database | undefined;
    try {
      db = new (await this.engine()).Database(file);
      const verdict = db.exec('PRAGMA integrity_check')[0]?.values.map((row) => String(row[0])) ?? [];
      if (verdict.length !== 1 || verdict[0] !== 'ok') return refused(`it fails PRAGMA integrity_check: ${verdict.slice(0, 3).join('; ')}`);
      const schemaRefusal = refuseSchema(db);
      if (schemaRefusal) return refused(schemaRefusal);
      const tables = Number(db.exec("SELECT count(*) FROM sqlite_schema WHERE type = 'table'")[0]!.values[0]![0]);
      return { kind: 'valid', bytes: file, convertedFromWal: header.convertedFromWal, tables };
    } catch (error) {
      return refused(`SQLite cannot open it: ${(error as Error).message}`);
    } finally {
      db?.close();
    }
  }

  async dump(bytes: Uint8Array): Promise<string> {
    const db = new (await this.engine()).Database(bytes);
    try {
      return dumpDatabase(db);
    } finally {
      db.close();
    }
  }

  private engine(): Promise<SqlJsStatic> {
    // Loaded on first use: only imports and dumps need sql.js on this thread.
    this.sql ??= import('sql.js').then(({ default: initSqlJs }) => initSqlJs({ locateFile: () => wasmPath() }));
    return this.sql;
  }
}

function refused(reason: string): Inspection {
  return { kind: 'refused', reason };
}

/** The fixed 100-byte header: magic, page size, journal mode bytes, and the size the file claims. */
function checkHeader(bytes: Uint8Array): { kind: 'ok'; convertedFromWal: boolean } | Extract<Inspection, { kind: 'refused' }> {
  if (bytes.byteLength < HEADER_BYTES || Buffer.from(bytes.subarray(0, 16)).toString('latin1') !== SQLITE_MAGIC) {
    return { kind: 'refused', reason: 'it is not a SQLite database file (the header does not start with "SQLite format 3")' };
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const rawPageSize = view.getUint16(16);
  const pageSize = rawPageSize === 1 ? 65536 : rawPageSize;
  if (pageSize < 512 || (pageSize & (pageSize - 1)) !== 0) return { kind: 'refused', reason: `its header names an invalid page size (${rawPageSize})` };
  const write = bytes[18]!;
  const read = bytes[19]!;
  if (![1, 2].includes(write) || ![1, 2].includes(read)) return { kind: 'refused', reason: `its header names an unknown file format (${write}/${read})` };
  // The page count in the header is valid only when the version-valid-for number matches the change counter.
  const pageCount = view.getUint32(92) === view.getUint32(24) ? view.getUint32(28) : 0;
  if (bytes.byteLength % pageSize !== 0 || (pageCount > 0 && bytes.byteLength < pageCount * pageSize)) {
    return { kind: 'refused', reason: `it is truncated: ${bytes.byteLength} bytes, but its header says ${pageCount} pages of ${pageSize} bytes` };
  }
  return { kind: 'ok', convertedFromWal: write === 2 || read === 2 };
}

function walToRollback(bytes: Uint8Array): Uint8Array {
  const copy = bytes.slice();
  copy[18] = 1;
  copy[19] = 1;
  return copy;
}

function refuseSchema(db: Database): string | undefined {
  const objects = rows(db, 'SELECT type, name, sql FROM sqlite_schema WHERE sql IS NOT NULL');
  for (const [type, name, sql] of objects as [string, string, string][]) {
    const policy = refusalReason(sql);
    if (policy) return `its ${type} "${name}" holds a statement this service refuses: ${policy}`;
    const call = REFUSED_FUNCTIONS.exec(sql);
    if (call) return `its ${type} "${name}" calls ${call[1]}(), which this service refuses`;
    const module = /^\s*CREATE\s+VIRTUAL\s+TABLE\s+.*?\bUSING\s+(\w+)/is.exec(sql)?.[1]?.toLowerCase();
    if (module !== undefined && !ALLOWED_MODULES.has(module)) return `its virtual table "${name}" uses module ${module}; only ${[...ALLOWED_MODULES].join(', ')} are served`;
    if (type === 'view') {
      try {
        db.exec(`SELECT * FROM ${quoteIdentifier(name)} LIMIT 0`);
      } catch (error) {
        return `its view "${name}" does not compile here: ${(error as Error).message}`;
      }
    }
  }
  return undefined;
}

/**
 * A dump that rebuilds the database exactly: tables with their rows (integers of any size,
 * reals with 17 significant digits, text, blobs as X'..'), sqlite_sequence, then indexes,
 * triggers and views in creation order, and user_version. Virtual tables' shadow tables are
 * left out: creating the virtual table creates them, and its rows are inserted through it.
 */
function dumpDatabase(db: Database): string {
  const out = ['PRAGMA foreign_keys=OFF;', 'BEGIN TRANSACTION;'];
  const shadow = new Set(rows(db, "SELECT name FROM pragma_table_list WHERE schema = 'main' AND type = 'shadow'").map((r) => String(r[0])));
  const schema = rows(db, "SELECT type, name, sql FROM sqlite_schema WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY rowid") as [string, string, string][];
  for (const [type, name, sql] of schema) {
    if (type !== 'table' || shadow.has(name)) continue;
    out.push(`${sql};`);
    out.push(...insertsOf(db, name));
  }
  if (rows(db, "SELECT 1 FROM sqlite_schema WHERE name = 'sqlite_sequence'").length > 0) {
    out.push('DELETE FROM sqlite_sequence;', ...insertsOf(db, 'sqlite_sequence'));
  }
  for (const [type, , sql] of schema) if (type !== 'table') out.push(`${sql};`);
  out.push(`PRAGMA user_version=${Number(rows(db, 'PRAGMA user_version')[0]![0])};`, 'COMMIT;');
  return `${out.join('\n')}\n`;
}

function insertsOf(db: Database, table: string): string[] {
  const columns = rows(db, `SELECT name FROM pragma_table_xinfo(${quoteLiteral(table)}) WHERE hidden IN (0, 1)`).map((r) => quoteIdentifier(String(r[0])));
  if (columns.length === 0) return [];
  // Literals come from SQLite itself, so every value reads back exactly as stored.
  const literal = (column: string) =>
    `CASE WHEN typeof(${column}) = 'real' THEN (CASE WHEN ${column} = 9e999 THEN '9e999' WHEN ${column} = -9e999 THEN '-9e999' ELSE printf('%!.17g', ${column}) END) ELSE quote(${column}) END`;
  const values = rows(db, `SELECT ${columns.map(literal).join(" || ',' || ")} FROM ${quoteIdentifier(table)}`);
  return values.map(([row]) => `INSERT INTO ${quoteIdentifier(table)}(${columns.join(',')}) VALUES(${String(row)});`);
}

function rows(db: Database, sql: string): unknown[][] {
  return db.exec(sql)[0]?.values ?? [];
}

function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

function quoteLiteral(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

