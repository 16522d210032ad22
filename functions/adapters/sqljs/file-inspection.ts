import type { Database, SqlJsStatic, Statement } from 'sql.js';
import { ResultTooLargeError } from '../../core/errors';
import type { Inspection } from '../../core/ports';
import { quoteIdentifier, quoteLiteral } from '../../core/sql-quoting';
import { leadingStatement } from './sql-lexer';
import { fileAccessRefusal, refusalReason } from './statement-policy';
import { SQLITE_MAGIC } from './sqlite-files';

/**
 * What the file inspector's worker runs (file-inspector-worker.ts): judging a database file from
 * outside (an import) and writing a SQL dump (an export). Synchronous and pure over a sql.js
 * instance, so unit tests call it directly.
 *
 * An imported file is never trusted. Refused: anything whose 100-byte header is not SQLite's, a
 * file shorter than its header says (truncated), one failing PRAGMA integrity_check, and a
 * schema holding what the statement policy refuses or functions that reach outside SQLite
 * (e.g. a trigger calling load_extension or fts3_tokenizer), a virtual table of a module this
 * engine does not have (it has FTS3 and FTS4: a file with FTS5 or R*Tree tables could be stored
 * but never queried). A view that does not compile (its table was dropped) is kept as SQLite
 * keeps it, failing when queried: POST /sql can make one, so an export must import again. A
 * WAL-mode file (header bytes 18/19 = 2) is converted to rollback-journal mode by setting them
 * to 1: the upload is one file without its -wal, so its last checkpoint is all it holds either
 * way, and the answer says so.
 */

const HEADER_BYTES = 100;
// Also quoted ("writefile"), or with a comment before its parenthesis: SQLite reads both as calls.
const REFUSED_FUNCTIONS = /(?:^|[^\w$])["'`[]?(load_extension|fts3_tokenizer|readfile|writefile|edit|sqlite_dbpage|zipfile|fts5_source_id)["'`\]]?(?:\s|\/\*[\s\S]*?\*\/|--[^\n]*\n)*\(/i;
// The module of a virtual table, also quoted or after a comment.
const VIRTUAL_TABLE_MODULE = /^\s*CREATE\s+VIRTUAL\s+TABLE\s+.*?\bUSING(?:\s|\/\*[\s\S]*?\*\/|--[^\n]*\n)*["'`[]?(\w+)/is;
const ALLOWED_MODULES = new Set(['fts3', 'fts4']);

/** The cheap part of an inspection, run before any worker starts: most files that are no database fail here. */
export function checkHeader(bytes: Uint8Array): { kind: 'ok'; convertedFromWal: boolean } | Extract<Inspection, { kind: 'refused' }> {
  if (bytes.byteLength < HEADER_BYTES || Buffer.from(bytes.subarray(0, 16)).toString('latin1') !== SQLITE_MAGIC) {
    return refused('it is not a SQLite database file (the header does not start with "SQLite format 3"); a SQL dump is imported as one: Content-Type application/sql, or "format": "sql" with a staged upload');
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const rawPageSize = view.getUint16(16);
  const pageSize = rawPageSize === 1 ? 65536 : rawPageSize;
  if (pageSize < 512 || (pageSize & (pageSize - 1)) !== 0) return refused(`its header names an invalid page size (${rawPageSize})`);
  const write = bytes[18]!;
  const read = bytes[19]!;
  if (![1, 2].includes(write) || ![1, 2].includes(read)) return refused(`its header names an unknown file format (${write}/${read})`);
  // The page count in the header is valid only when the version-valid-for number matches the change counter.
  const pageCount = view.getUint32(92) === view.getUint32(24) ? view.getUint32(28) : 0;
  if (bytes.byteLength % pageSize !== 0 || (pageCount > 0 && bytes.byteLength < pageCount * pageSize)) {
    return refused(`it is truncated: ${bytes.byteLength} bytes, but its header says ${pageCount} pages of ${pageSize} bytes`);
  }
  return { kind: 'ok', convertedFromWal: write === 2 || read === 2 };
}

export function inspectFile(SQL: SqlJsStatic, bytes: Uint8Array): Inspection {
  const header = checkHeader(bytes);
  if (header.kind === 'refused') return header;
  const file = header.convertedFromWal ? walToRollback(bytes) : bytes;
  let db: Database | undefined;
  try {
    db = new SQL.Database(file);
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

/**
 * A database made by running a SQL script on an empty one, judged as an uploaded file is. The
 * script runs as sqlite3 runs a dump: its own PRAGMAs and BEGIN/COMMIT, foreign keys off unless
 * it turns them on, statement by statement, rows that statements answer computed and dropped.
 * What it may do is bounded by this thread (time, memory), by a page limit that keeps the
 * database it makes within `maxBytes` while it grows (set again after every statement that
 * could lift it), and by the checks of the file it makes.
 *
 * `script.bytes` is taken.
 */
export function buildFromScript(SQL: SqlJsStatic, script: { bytes?: Uint8Array }, maxBytes: number): Inspection {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(script.bytes);
  } catch {
    return refused('it is neither a SQLite database file nor UTF-8 SQL text');
  }
  script.bytes = undefined;
  // sqlite3_prepare reads SQL up to a NUL byte: the rest would be silently ignored.
  if (text.includes('\0')) return refused('its SQL holds a NUL character (a dump writes a text holding one as CAST(X\'..\' AS TEXT))');
  const db = new SQL.Database();
  let bytes: Uint8Array;
  try {
    try {
      confine(db, maxBytes);
      for (const statement of db.iterateStatements(text)) {
        // Prepared, not run yet: a statement that would make a file of its own never runs. Judged
        // on its text and on SQLite's own reading of it (literals as `?`: `VACUUM INTO'x'` needs no space).
        const normalized = statement.getNormalizedSQL();
        const fileAccess = fileAccessRefusal(leadingStatement(statement.getSQL())) ?? fileAccessRefusal(normalized);
        if (fileAccess) return refused(`its SQL holds a statement a dump never needs: ${fileAccess}`);
        while (statement.step());
        // Only a PRAGMA (or VACUUM, which applies a page size) can move the bounds confine sets.
        if (LIFTS_BOUNDS.test(normalized)) confine(db, maxBytes);
      }
    } catch (error) {
      const message = (error as Error).message;
      // Only the file can be full: TEMP is in memory without a page limit (confine).
      if (message === 'database or disk is full') return refused(`the database it makes would be larger than ${maxBytes} bytes, the most a database may hold`);
      return refused(`its SQL failed: ${message}`);
    }
    // A script that opens a transaction and never commits makes nothing, in sqlite3 as here.
    try {
      db.exec('BEGIN; ROLLBACK;');
    } catch {
      return refused('its SQL leaves a transaction open (a BEGIN without its COMMIT)');
    }
    bytes = db.export();
  } finally {
    db.close();
  }
  return inspectFile(SQL, bytes);
}

const LIFTS_BOUNDS = /\b(?:PRAGMA|VACUUM)\b/i;

/**
 * What a script may grow, set again after each of its PRAGMAs and VACUUMs (so none can lift it
 * for the next statement): the file, to `maxBytes` (SQLite answers "database or disk is full"
 * rather than grow it further); TEMP, kept in SQLite's memory, bounded by the thread's SQLite
 * heap limit, not a page limit of the script's choosing. (ATTACH and VACUUM INTO, the other ways
 * to make a file here, are refused.)
 */
function confine(db: Database, maxBytes: number): void {
  const pageSize = Number(rows(db, 'PRAGMA page_size')[0]![0]);
  db.exec(`PRAGMA main.max_page_count = ${Math.max(1, Math.floor(maxBytes / pageSize))}; PRAGMA temp_store = MEMORY; PRAGMA temp.max_page_count = 4294967294;`);
}

function refused(reason: string): Extract<Inspection, { kind: 'refused' }> {
  return { kind: 'refused', reason };
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
    const module = VIRTUAL_TABLE_MODULE.exec(sql)?.[1]?.toLowerCase();
    if (module !== undefined && !ALLOWED_MODULES.has(module)) return `its virtual table "${name}" uses module ${module}; only ${[...ALLOWED_MODULES].join(', ')} are served`;
    // Whatever its text looks like, a table this engine cannot read could never be queried,
    // dropped or dumped here (writable_schema writes any text into sqlite_schema): one row is
    // read. A virtual table is connected to its module, not scanned: some answer only a search
    // (a contentless FTS4 table refuses a scan).
    if (type === 'table') {
      let firstRow: Statement | undefined;
      try {
        firstRow = db.prepare(`SELECT 1 FROM ${quoteIdentifier(name)} LIMIT 1`);
        if (module === undefined) firstRow.step();
      } catch (error) {
        return `its table "${name}" cannot be read by this engine: ${(error as Error).message}`;
      } finally {
        firstRow?.free();
      }
    }
  }
  return undefined;
}

/**
 * A dump that rebuilds the database exactly, as UTF-8 SQL text: tables with their rows (integers
 * of any size, reals with 17 significant digits, text, blobs as X'..'), sqlite_sequence, then
 * indexes, triggers and views in creation order, and user_version. A virtual table is written as
 * `sqlite3 .dump` writes it: its schema row, put in place with writable_schema, and its shadow
 * tables as ordinary tables with their rows. So its index comes back as it was, even one whose
 * rows cannot be read back through the table (a contentless FTS4 table answers only MATCH).
 * Rows are read one at a time and the text is kept in pieces of about a MB, so a table of any
 * length fits (one string or one array of lines per table would not). A dump that would grow
 * past `maxBytes` stops with RESULT_TOO_LARGE: the text and the open database are all in memory
 * at once, and the database file itself can always be exported.
 *
 * `file.bytes` is taken: released once sql.js holds its own copy, so the file is in memory once.
 */
export function dumpFile(SQL: SqlJsStatic, file: { bytes?: Uint8Array }, maxBytes: number): Uint8Array {
  const db = new SQL.Database(file.bytes);
  file.bytes = undefined;
  try {
    const out = new DumpWriter(maxBytes);
    // A text written as its bytes (CAST(X'..' AS TEXT), below) reads back in the database's
    // encoding, so a UTF-16 database's dump makes a UTF-16 database.
    const encoding = String(rows(db, 'PRAGMA encoding')[0]![0]);
    if (encoding !== 'UTF-8') out.line(`PRAGMA encoding=${quoteLiteral(encoding)};`);
    out.line('PRAGMA foreign_keys=OFF;');
    out.line('BEGIN TRANSACTION;');
    const schema = rows(db, "SELECT type, name, sql FROM sqlite_schema WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY rowid") as [string, string, string][];
    let writableSchema = false;
    for (const [type, name, sql] of schema) {
      if (type !== 'table') continue;
      if (VIRTUAL_TABLE_MODULE.test(sql)) {
        if (!writableSchema) out.line('PRAGMA writable_schema=ON;');
        writableSchema = true;
        out.line(`INSERT INTO sqlite_schema(type,name,tbl_name,rootpage,sql) VALUES('table',${quoteLiteral(name)},${quoteLiteral(name)},0,${quoteLiteral(sql)});`);
        continue;
      }
      out.line(`${sql};`);
      writeInserts(db, name, encoding, out);
    }
    if (writableSchema) out.line('PRAGMA writable_schema=OFF;');
    if (rows(db, "SELECT 1 FROM sqlite_schema WHERE name = 'sqlite_sequence'").length > 0) {
      out.line('DELETE FROM sqlite_sequence;');
      writeInserts(db, 'sqlite_sequence', encoding, out);
    }
    for (const [type, , sql] of schema) if (type !== 'table') out.line(`${sql};`);
    out.line(`PRAGMA user_version=${Number(rows(db, 'PRAGMA user_version')[0]![0])};`);
    out.line('COMMIT;');
    return out.finish();
  } finally {
    db.close();
  }
}

function writeInserts(db: Database, table: string, encoding: string, out: DumpWriter): void {
  const columns = rows(db, `SELECT name FROM pragma_table_xinfo(${quoteLiteral(table)}) WHERE hidden IN (0, 1)`).map((r) => quoteIdentifier(String(r[0])));
  if (columns.length === 0) return;
  // Literals come from SQLite itself, so every value reads back exactly as stored. quote() ends
  // a text at its first NUL character, so a text holding one is written as its bytes, cast back.
  const literal = (column: string) =>
    `CASE WHEN typeof(${column}) = 'real' THEN (CASE WHEN ${column} = 9e999 THEN '9e999' WHEN ${column} = -9e999 THEN '-9e999' ELSE printf('%!.17g', ${column}) END)` +
    ` WHEN typeof(${column}) = 'text' AND instr(${column}, char(0)) > 0 THEN 'CAST(X''' || hex(CAST(${column} AS BLOB)) || ''' AS TEXT)'` +
    ` ELSE quote(${column}) END`;
  const prefix = `INSERT INTO ${quoteIdentifier(table)}(${columns.join(',')}) VALUES(`;
  const statement = db.prepare(`SELECT ${columns.map(literal).join(" || ',' || ")} FROM ${quoteIdentifier(table)}`) as Statement & { getBlob(column: number): Uint8Array };
  try {
    while (statement.step()) {
      let values = String(statement.get()[0]);
      // sql.js decodes a text that is not valid UTF-8 (POST /sql can store one) with U+FFFD in
      // place of its bytes: such a row is read again as the bytes SQLite holds (in a UTF-8 database).
      if (values.includes('\uFFFD') && encoding === 'UTF-8') values = literalsText(statement.getBlob(0));
      out.line(`${prefix}${values});`);
    }
  } finally {
    statement.free();
  }
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
const QUOTE = 0x27;

/**
 * A row's literals (UTF-8 bytes) as dump text: as they are when they are valid UTF-8; otherwise
 * each quoted text that is not is written as its bytes, `CAST(X'..' AS TEXT)`, so the dump stays
 * UTF-8 and the text reads back byte for byte. Only texts are quoted in the literals SQLite
 * writes (a blob's X'..' holds hex digits, always valid), and a quote inside one is doubled.
 */
function literalsText(bytes: Uint8Array): string {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    let text = '';
    let at = 0;
    while (at < bytes.length) {
      const open = bytes.indexOf(QUOTE, at);
      if (open < 0) return text + strictUtf8.decode(bytes.subarray(at));
      text += strictUtf8.decode(bytes.subarray(at, open));
      const content: number[] = [];
      let close = open + 1;
      for (; close < bytes.length; close++) {
        if (bytes[close] === QUOTE && bytes[close + 1] === QUOTE) close++;
        else if (bytes[close] === QUOTE) break;
        content.push(bytes[close]!);
      }
      const quoted = bytes.subarray(open, close + 1);
      try {
        text += strictUtf8.decode(quoted);
      } catch {
        text += `CAST(X'${Buffer.from(content).toString('hex').toUpperCase()}' AS TEXT)`;
      }
      at = close + 1;
    }
    return text;
  }
}

/** Collects the dump's lines in UTF-8 pieces of about a MB, joined once at the end. */
class DumpWriter {
  private static readonly PIECE_CHARS = 1 << 20;
  private readonly pieces: Buffer[] = [];
  private lines: string[] = [];
  private chars = 0;
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  line(text: string): void {
    this.lines.push(text);
    this.chars += text.length + 1;
    // A character is at least one byte of UTF-8: past the limit in characters is past it in bytes.
    if (this.bytes + this.chars > this.maxBytes) this.flush();
    if (this.chars >= DumpWriter.PIECE_CHARS) this.flush();
  }

  /** In a buffer of its own, so the worker can hand it over without a copy. */
  finish(): Uint8Array {
    this.flush();
    const text = new Uint8Array(this.pieces.reduce((total, piece) => total + piece.byteLength, 0));
    let at = 0;
    for (const piece of this.pieces) {
      text.set(piece, at);
      at += piece.byteLength;
    }
    return text;
  }

  private flush(): void {
    if (this.lines.length === 0) return;
    const piece = Buffer.from(`${this.lines.join('\n')}\n`, 'utf8');
    this.bytes += piece.byteLength;
    if (this.bytes > this.maxBytes) {
      throw new ResultTooLargeError(`the SQL dump would be larger than ${this.maxBytes} bytes; export the database file instead (format=sqlite)`);
    }
    this.pieces.push(piece);
    this.lines = [];
    this.chars = 0;
  }
}

function rows(db: Database, sql: string): unknown[][] {
  return db.exec(sql)[0]?.values ?? [];
}
