import initSqlJs, { type Database, type SqlJsStatic, type Statement } from 'sql.js';
import {
  BadRequestError,
  CorruptDatabaseError,
  DatabaseTooLargeError,
  ResourceLimitError,
  ResultTooLargeError,
  SqlError,
  StatementNotAllowedError,
} from '../../core/errors';
import { quoteIdentifier } from '../../core/sql-quoting';
import type { BoundParams, ExecutionLimits, Program, ReadOutcome, SqlValue, StatementResult } from '../../core/ports';
import { compiledProgramFacts, isStateDependent, type ProgramFacts } from './compiled-program';
import { leadingStatement, parameterTokens, type ParameterToken } from './sql-lexer';
import { refusalReason } from './statement-policy';
import { SQLITE_MAGIC } from './sqlite-files';

/**
 * Runs programs on a sql.js database. Pure and synchronous: the worker thread calls it, and
 * unit tests call it directly.
 */

const CORRUPTION_MESSAGES = ['file is not a database', 'database disk image is malformed', 'malformed database schema'];
const MAINTENANCE = /^(VACUUM|ANALYZE|REINDEX|PRAGMA\s+(\w+\.)?optimize)\b/i;
const EXPLAIN = /^EXPLAIN\b/i;

/**
 * sql.js for a worker thread, its SQLite capped at `heapLimitBytes`: hard_heap_limit is
 * process-wide in SQLite (one per thread here, each its own WASM instance) and caps every
 * allocation, so a zeroblob/randomblob/group_concat bomb fails with "out of memory" instead of
 * growing the heap.
 */
export async function startSqlJs(wasmPath: string, heapLimitBytes: number): Promise<SqlJsStatic> {
  const SQL = await initSqlJs({ locateFile: () => wasmPath });
  const scratch = new SQL.Database();
  scratch.run(`PRAGMA hard_heap_limit = ${Math.floor(heapLimitBytes)}`);
  scratch.close();
  return SQL;
}

export function openDatabase(SQL: SqlJsStatic, bytes?: Uint8Array): Database {
  if (bytes && bytes.byteLength > 0 && Buffer.from(bytes.subarray(0, 16)).toString('latin1') !== SQLITE_MAGIC) {
    throw new CorruptDatabaseError('the stored object is not a SQLite database');
  }
  let db: Database | undefined;
  try {
    db = bytes ? new SQL.Database(bytes) : new SQL.Database();
    if (bytes) verifyIntegrity(db);
    configureConnection(db);
    return db;
  } catch (error) {
    if (db) closeDatabase(db);
    throw translateEngineError(error);
  }
}

function verifyIntegrity(db: Database): void {
  const verdict = db.exec('PRAGMA quick_check')[0]?.values.map((row) => String(row[0]));
  if (!verdict || verdict.length !== 1 || verdict[0] !== 'ok') {
    throw new CorruptDatabaseError(`the stored database failed PRAGMA quick_check: ${(verdict ?? []).slice(0, 3).join('; ')}`);
  }
}

/**
 * Per-connection settings; sql.js resets them whenever it reopens the file (export does).
 *
 * This connection is its file's only user (a file in the worker's memory), so it holds its lock
 * for good: otherwise every transaction takes and drops file locks and re-reads the header to
 * see whether another process changed the file, which sql.js runs as emulated system calls,
 * about 8 µs a transaction (four times what an indexed lookup costs). An exclusive connection
 * would keep its rollback journal between transactions; truncating it at each commit gives
 * its memory back.
 *
 * TEMP tables, and the files sorts spill to, are kept in SQLite's own memory: as files they
 * would live in sql.js's file system, which no limit bounds (a read key's CREATE TEMP TABLE of
 * a GB took the process with it); in memory, SQLITE_HEAP_LIMIT_MB bounds them (RESOURCE_LIMIT).
 */
export function configureConnection(db: Database): void {
  db.run('PRAGMA foreign_keys = ON');
  db.run('PRAGMA locking_mode = EXCLUSIVE');
  db.run('PRAGMA journal_mode = TRUNCATE');
  db.run('PRAGMA temp_store = MEMORY');
  db.run(`PRAGMA cache_size = -${PAGE_CACHE_BYTES / 1024}`);
}

/**
 * The most SQLite's page cache of one connection holds (SQLite's default size, set so the
 * worker can count on it): warm copies keep theirs, all in the one SQLite heap of the worker.
 */
export const PAGE_CACHE_BYTES = 2000 * 1024;

/**
 * The file may not grow past `maxBytes` while a statement runs, not only at its end: it lives in
 * memory, and a statement that writes a GB would take the process before the check (SQLite
 * answers "database or disk is full" at the limit instead). A file already past the limit may
 * still be written without growing.
 */
export function limitFileSize(db: Database, maxBytes: number): void {
  const [pageSize, pageCount] = db.exec('SELECT (SELECT page_size FROM pragma_page_size), (SELECT page_count FROM pragma_page_count)')[0]!.values[0]!.map(Number) as [number, number];
  db.run(`PRAGMA max_page_count = ${Math.max(pageCount, Math.floor(maxBytes / pageSize), 1)}`);
}

/**
 * Closes a connection configureConnection set up. sql.js deletes the database file on close but
 * not a journal beside it, and a truncated journal stays as an empty file: about 0.5 KB of the
 * worker's memory for good, per copy closed after a write. Back in normal locking (released at
 * the next access), switching the journal to DELETE removes it first.
 */
export function closeDatabase(db: Database): void {
  try {
    db.run('PRAGMA locking_mode = NORMAL');
    db.exec('SELECT count(*) FROM sqlite_master');
    db.run('PRAGMA journal_mode = DELETE');
  } catch {
    // A connection that cannot run these leaves an empty file behind; it is closed all the same.
  } finally {
    db.close();
  }
}

/**
 * Runs the program as a read, deciding statement by statement from each compiled program
 * whether it writes (a later statement may use a table an earlier one created). At the first
 * statement that writes, stops before running it; nothing the earlier ones did is kept.
 */
export function runRead(db: Database, program: Program, limits: ExecutionLimits): ReadOutcome {
  db.run('BEGIN');
  try {
    let stateDependent = false;
    const run = runStatements(db, program, limits, (compiled) => {
      stateDependent ||= isStateDependent(compiled.head, compiled.facts);
      return !compiled.facts.writes;
    });
    if (run.stoppedAt !== undefined) return { kind: 'writes', statementIndex: run.stoppedAt };
    return { kind: 'done', results: run.executed.map(({ result }) => result), stateDependent };
  } finally {
    // The rollback also takes every TEMP object the request made.
    rollbackQuietly(db);
    dropTemporaryObjects(db);
  }
}

/** Runs the program in one transaction; rolls back and rethrows on any error. */
export function runWrite(db: Database, program: Program, limits: ExecutionLimits): { results: StatementResult[]; changed: boolean } {
  const before = fingerprint(db);
  limitFileSize(db, limits.maxDatabaseBytes);
  db.run('BEGIN IMMEDIATE');
  let executed: Executed[];
  let after: Fingerprint;
  try {
    executed = runStatements(db, program, limits, () => true).executed;
    dropTemporaryObjects(db);
    after = fingerprint(db);
    refuseGrowthPastLimit(before.fileBytes, after.fileBytes, limits.maxDatabaseBytes);
    db.run('COMMIT');
  } catch (error) {
    rollbackQuietly(db);
    throw translateEngineError(error);
  }
  const storedChange = executed.some(({ facts, totalChanges, maintenance }) => facts.writes && (totalChanges > 0 || maintenance));
  return { results: executed.map(({ result }) => result), changed: storedChange || after.header !== before.header };
}

/**
 * Whether the program's first statement writes, judged on its compiled program without running
 * it; undefined when that cannot be told (refused, or it fails to prepare).
 */
export function firstStatementWrites(db: Database, program: Program): boolean | undefined {
  const sql = program.kind === 'script' ? program.sql : program.statements[0]?.sql;
  const head = leadingStatement(sql ?? '');
  if (head === '' || refusalReason(head) !== undefined) return undefined;
  try {
    // prepare() compiles only the first statement of the text.
    const statement = db.prepare(sql!);
    try {
      if (refusalReason(statement.getNormalizedSQL()) !== undefined) return undefined;
      return factsOf(db, head, statement.getSQL()).writes;
    } finally {
      statement.free();
    }
  } catch {
    return undefined;
  }
}

/** A statement SQLite prepared, with its parameters and what its program does. */
interface CompiledStatement {
  statement: Statement;
  params?: BoundParams;
  index: number;
  /** Its leading text, comments dropped. */
  head: string;
  facts: ProgramFacts;
}

interface Executed {
  result: StatementResult;
  facts: ProgramFacts;
  /** Rows changed by the statement and its triggers (total_changes). */
  totalChanges: number;
  maintenance: boolean;
}

/**
 * Prepares and runs the program's statements in order. `mayRun` sees each compiled statement
 * before it runs; when it answers false, the run stops there and reports that statement's index.
 */
function runStatements(
  db: Database,
  program: Program,
  limits: ExecutionLimits,
  mayRun: (compiled: CompiledStatement) => boolean,
): { executed: Executed[]; stoppedAt?: number } {
  const budget = { resultBytes: 0 };
  const executed: Executed[] = [];
  const probe = db.prepare('SELECT total_changes(), last_insert_rowid(), changes()');
  let index = 0;
  try {
    for (const compiled of compileStatements(db, program, limits)) {
      index = compiled.index;
      try {
        if (!mayRun(compiled)) return { executed, stoppedAt: compiled.index };
        executed.push(execute(db, compiled, limits, budget, probe));
      } finally {
        compiled.statement.free();
      }
    }
  } catch (error) {
    throw translateEngineError(error, index);
  } finally {
    probe.free();
  }
  if (executed.length === 0) throw new BadRequestError('the request holds no SQL statement');
  return { executed };
}

/**
 * Yields each statement prepared and classified; the consumer frees it. Every iterator is ended
 * however the request ends (its last statement not reached, an error, a read stopping at a
 * write): sql.js keeps a copy of the SQL text in its WebAssembly memory until then, memory that
 * never shrinks and that no limit counts, so a text left behind is a leak per request.
 */
function* compileStatements(db: Database, program: Program, limits: ExecutionLimits): Generator<CompiledStatement> {
  if (program.kind === 'script') {
    const iterator = db.iterateStatements(program.sql);
    try {
      for (let index = 0, head = leadingStatement(program.sql); head !== ''; index++, head = leadingStatement(iterator.getRemainingSQL())) {
        if (index >= limits.maxStatements) throw new BadRequestError(`too many statements: at most ${limits.maxStatements} per request`);
        refuseBeforePreparing(head, index);
        const next = prepareNext(iterator, index);
        if (next.done) return;
        if (index === 0 && program.params !== undefined && leadingStatement(iterator.getRemainingSQL()) !== '') {
          throw new BadRequestError('"params" needs a single statement, and this script holds several: send them as "statements", each with its own "params"');
        }
        yield compile(db, next.value, program.params, index, head);
      }
    } finally {
      endIteration(iterator);
    }
    return;
  }
  for (const [index, input] of program.statements.entries()) {
    const head = leadingStatement(input.sql);
    if (head === '') throw new BadRequestError(`statements[${index}].sql holds no SQL statement`, { statementIndex: index });
    refuseBeforePreparing(head, index);
    const iterator = db.iterateStatements(input.sql);
    try {
      const first = prepareNext(iterator, index);
      if (first.done) throw new BadRequestError(`statements[${index}].sql holds no SQL statement`, { statementIndex: index });
      if (leadingStatement(iterator.getRemainingSQL()) !== '') {
        throw new BadRequestError(`statements[${index}].sql holds more than one statement`, { statementIndex: index });
      }
      yield compile(db, first.value, input.params, index, head);
    } finally {
      endIteration(iterator);
    }
  }
}

/**
 * Frees the iterator's copy of the SQL text, and the statement it last prepared (once more if its
 * consumer did: freeing a freed statement is a no-op). sql.js has `return()`; its types omit it.
 */
function endIteration(iterator: ReturnType<Database['iterateStatements']>): void {
  (iterator as unknown as { return(): unknown }).return();
}

/** SQLite prepares the next statement; its errors name the statement they came from. */
function prepareNext(iterator: ReturnType<Database['iterateStatements']>, index: number): IteratorResult<Statement> {
  try {
    return iterator.next();
  } catch (error) {
    throw translateEngineError(error, index);
  }
}

function compile(db: Database, statement: Statement, params: BoundParams | undefined, index: number, head: string): CompiledStatement {
  try {
    // Checked again on SQLite's own reading of the statement, in case the lexer was fooled.
    refuseBeforePreparing(statement.getNormalizedSQL(), index);
    return { statement, params, index, head, facts: factsOf(db, head, statement.getSQL()) };
  } catch (error) {
    statement.free();
    throw translateEngineError(error, index);
  }
}

/** EXPLAIN cannot explain an EXPLAIN, which never runs what it explains anyway. */
function factsOf(db: Database, head: string, sql: string): ProgramFacts {
  if (EXPLAIN.test(head)) return { writes: false, targetsTemp: false, insertsRowid: false, mayUpdateInstead: false, changesAreDirect: false };
  return compiledProgramFacts(db, sql);
}

/** SQLite applies some PRAGMAs while preparing: refuse on the text, before it gets the chance. */
function refuseBeforePreparing(head: string, index: number): void {
  const refusal = refusalReason(head);
  if (refusal) throw new StatementNotAllowedError(refusal, { statementIndex: index });
}

function execute(
  db: Database,
  compiled: CompiledStatement,
  limits: ExecutionLimits,
  budget: { resultBytes: number },
  probe: Statement,
): Executed {
  const { index } = compiled;
  const columns = compiled.statement.getColumnNames();
  const statement = bindParameters(db, compiled.statement, compiled.params, index);
  // The answer carries the column names beside the rows: a tenant chooses them too.
  const charge = (bytes: number) => {
    budget.resultBytes += bytes;
    if (budget.resultBytes > limits.maxResultBytes) {
      throw new ResultTooLargeError(`the result passes ${limits.maxResultBytes} bytes; select fewer rows or columns, or page with LIMIT`, { statementIndex: index });
    }
  };
  try {
    charge(estimateJsonBytes(columns));
    const before = readProbe(probe);
    const rows: SqlValue[][] = [];
    while (statement.step()) {
      const row = readRow(statement);
      charge(estimateJsonBytes(row));
      rows.push(row);
    }
    const after = readProbe(probe);
    const totalChanges = Number(after.totalChanges - before.totalChanges);
    const changes = compiled.facts.changesAreDirect ? Number(after.directChanges) : totalChanges;
    return {
      result: { columns, rows, changes, lastInsertRowid: insertedRowid(compiled.facts, before, after) },
      facts: compiled.facts,
      totalChanges,
      maintenance: MAINTENANCE.test(compiled.head),
    };
  } finally {
    if (statement !== compiled.statement) statement.free();
  }
}

interface Probe {
  totalChanges: bigint;
  lastInsertRowid: bigint;
  /** Rows the last INSERT, UPDATE or DELETE changed itself, without its triggers. */
  directChanges: bigint;
}

/**
 * The rowid the statement inserted, or null. last_insert_rowid() alone cannot tell: it stays the
 * same when the statement inserts the rowid it already held (INSERT OR REPLACE of an existing
 * id, a rowid a rolled-back request had used). So: the statement's own program inserts rows
 * that set it, and it changed rows itself. An upsert may have updated instead of inserting;
 * for it, only a changed last_insert_rowid proves an insert.
 */
function insertedRowid(facts: ProgramFacts, before: Probe, after: Probe): bigint | null {
  // A virtual table's own writes to its shadow tables move last_insert_rowid too (an FTS4 DELETE).
  if (!facts.insertsRowid) return null;
  if (after.lastInsertRowid !== before.lastInsertRowid) return after.lastInsertRowid;
  if (!facts.mayUpdateInstead && after.directChanges > 0n) return after.lastInsertRowid;
  return null;
}

/** Reads the current row with INTEGERs as bigint, exact (sql.js 1.16; its typings predate the option). */
function readRow(statement: Statement): SqlValue[] {
  const get = statement.get as (params: null, config: { useBigInt: boolean }) => SqlValue[];
  return get.call(statement, null, { useBigInt: true });
}

function readProbe(probe: Statement): Probe {
  probe.step();
  const [totalChanges, lastInsertRowid, directChanges] = readRow(probe) as [bigint, bigint, bigint];
  probe.reset();
  return { totalChanges, lastInsertRowid, directChanges };
}

/**
 * Checks the parameters against the statement and binds them. sql.js binds a JavaScript number
 * as INTEGER only within 32 bits (REAL beyond) and a bigint as TEXT; an integer it cannot bind
 * exactly is written into the statement as a decimal literal instead, which SQLite reads as the
 * exact INTEGER (a literal, like a bound value, has no affinity). Returns the statement to run:
 * the one given, or a rewritten one (the caller frees both).
 */
function bindParameters(db: Database, statement: Statement, given: BoundParams | undefined, index: number): Statement {
  const sql = statement.getSQL();
  const params = given === undefined ? undefined : boundAsNumbers(given);
  const tokens = parameterTokens(sql);
  const slots = tokens.reduce((highest, token) => Math.max(highest, token.slot), 0);
  const names = new Set(tokens.flatMap((token) => (token.name ? [token.name] : [])));
  if (params === undefined) {
    if (slots > 0) throw new BadRequestError(`statement ${index} has ${slots} parameter(s) but no params were given`, { statementIndex: index });
    return statement;
  }
  let bound: BoundParams;
  let valueOf: (token: ParameterToken) => SqlValue;
  if (Array.isArray(params)) {
    if (params.length !== slots) {
      throw new BadRequestError(`statement ${index} has ${slots} parameter(s) but ${params.length} were given`, { statementIndex: index });
    }
    bound = params;
    valueOf = (token) => params[token.slot - 1]!;
  } else {
    if (slots !== names.size) {
      throw new BadRequestError(`statement ${index} has positional parameters: send "params" as an array`, { statementIndex: index });
    }
    const resolved = resolveNames(params, names, index);
    bound = resolved;
    valueOf = (token) => resolved[token.name!]!;
  }
  if (!tokens.some((token) => needsLiteral(valueOf(token)))) {
    statement.bind(bound as never);
    return statement;
  }
  const rewritten = db.prepare(withIntegerLiterals(sql, tokens, valueOf));
  const bindings: Record<string, SqlValue> = {};
  for (const token of tokens) {
    if (!needsLiteral(valueOf(token))) bindings[token.name ?? `?${token.slot}`] = valueOf(token);
  }
  rewritten.bind(bindings as never);
  return rewritten;
}

/**
 * Exact integers that sql.js binds exactly as numbers (within 32 bits) are bound as numbers: a
 * literal is not always what a bound value is (`ORDER BY 2` names a column, `ORDER BY ?` does not).
 */
function boundAsNumbers(params: BoundParams): BoundParams {
  const small = (value: SqlValue): SqlValue => (typeof value === 'bigint' && value >= -(2n ** 31n) && value < 2n ** 31n ? Number(value) : value);
  return Array.isArray(params) ? params.map(small) : Object.fromEntries(Object.entries(params).map(([name, value]) => [name, small(value)]));
}

/** An integer sql.js would not bind as an exact INTEGER. */
function needsLiteral(value: SqlValue): value is bigint | number {
  return typeof value === 'bigint' || (typeof value === 'number' && Number.isSafeInteger(value) && (value | 0) !== value);
}

/**
 * The statement with each inexactly-bindable integer written as a parenthesized decimal literal.
 * Every other bare `?` becomes `?N` with the slot it had, so no parameter changes its number.
 */
function withIntegerLiterals(sql: string, tokens: ParameterToken[], valueOf: (token: ParameterToken) => SqlValue): string {
  let text = '';
  let from = 0;
  for (const token of tokens) {
    const value = valueOf(token);
    const replacement = needsLiteral(value) ? `(${value.toString()})` : token.anonymous ? `?${token.slot}` : undefined;
    if (replacement === undefined) continue;
    text += sql.slice(from, token.start) + replacement;
    from = token.end;
  }
  return text + sql.slice(from);
}

/** Matches each given name (with or without its prefix) to exactly one declared parameter. */
function resolveNames(params: Record<string, SqlValue>, declared: Set<string>, index: number): Record<string, SqlValue> {
  const bound: Record<string, SqlValue> = {};
  for (const [given, value] of Object.entries(params)) {
    const prefixed = /^[:@$#]/.test(given);
    const matches = (prefixed ? [given] : [`:${given}`, `@${given}`, `$${given}`, `#${given}`]).filter((name) => declared.has(name));
    if (matches.length === 0) throw new BadRequestError(`statement ${index} has no parameter named ${given}`, { statementIndex: index });
    for (const name of matches) {
      if (name in bound) throw new BadRequestError(`statement ${index}: parameter ${name} is given twice`, { statementIndex: index });
      bound[name] = value;
    }
  }
  const missing = [...declared].filter((name) => !(name in bound));
  if (missing.length > 0) throw new BadRequestError(`statement ${index} is missing parameter(s) ${missing.join(', ')}`, { statementIndex: index });
  return bound;
}

/**
 * TEMP tables, views and triggers live on the connection, not in the file: left there, they
 * would survive into later requests on the warm copy (and shadow what those see) without ever
 * being stored. A write drops them before COMMIT; a read's rollback already took them, and
 * this finds nothing.
 */
function dropTemporaryObjects(db: Database): void {
  const objects = db.exec("SELECT type, name FROM temp.sqlite_master WHERE type IN ('trigger', 'view', 'table') ORDER BY type = 'table', type = 'view'")[0];
  for (const [type, name] of objects?.values ?? []) {
    db.run(`DROP ${String(type).toUpperCase()} IF EXISTS temp.${quoteIdentifier(String(name))}`);
  }
}

interface Fingerprint {
  header: string;
  fileBytes: number;
}

/**
 * What tells us a transaction changed the file besides rows: the schema and the user-settable
 * header fields (sql.js's in-memory file does not bump the header's change counter). And the
 * file's size, which the database size limit bounds.
 */
function fingerprint(db: Database): Fingerprint {
  const row = db.exec(
    'SELECT (SELECT schema_version FROM pragma_schema_version), (SELECT user_version FROM pragma_user_version), (SELECT application_id FROM pragma_application_id), (SELECT page_count FROM pragma_page_count) * (SELECT page_size FROM pragma_page_size)',
  )[0]?.values[0];
  return { header: JSON.stringify(row?.slice(0, 3)), fileBytes: Number(row?.[3] ?? 0) };
}

/** A write may not grow the file past the limit (one that does not grow it may still clean up). */
function refuseGrowthPastLimit(beforeBytes: number, afterBytes: number, maxBytes: number): void {
  if (afterBytes > maxBytes && afterBytes > beforeBytes) {
    throw new DatabaseTooLargeError(
      `the write would grow the database to ${afterBytes} bytes, past the limit of ${maxBytes} bytes (MAX_DATABASE_MB); nothing was stored`,
    );
  }
}

function rollbackQuietly(db: Database): void {
  try {
    db.run('ROLLBACK');
  } catch {
    // SQLite already rolled back on its own (out of memory, full): nothing is left to undo.
  }
}

/** The row's size as JSON in the response (strings measured exactly: UTF-8 and escapes). */
function estimateJsonBytes(row: SqlValue[]): number {
  let bytes = 2;
  for (const value of row) {
    if (value === null) bytes += 5;
    else if (typeof value === 'string') bytes += jsonStringBytes(value) + 1;
    else if (value instanceof Uint8Array) bytes += Math.ceil(value.byteLength / 3) * 4 + 14;
    else bytes += 24;
  }
  return bytes;
}

/**
 * The UTF-8 bytes of `text` as a JSON string, counted without making that string: a value of
 * tens of MB of control characters would become six times as many as JSON (\u0001), enough to
 * take the worker's heap, and every tenant's warm copy with it, before MAX_RESULT_BYTES refused it.
 */
function jsonStringBytes(text: string): number {
  let bytes = Buffer.byteLength(text) + 2;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === 0x22 || code === 0x5c || code === 0x08 || code === 0x09 || code === 0x0a || code === 0x0c || code === 0x0d) bytes += 1;
    else if (code < 0x20) bytes += 5;
  }
  return bytes;
}

/** Turns sql.js's plain Errors into domain errors; domain errors pass through. */
export function translateEngineError(error: unknown, statementIndex?: number): Error {
  if (!(error instanceof Error) || error.constructor !== Error) return error as Error;
  const message = error.message;
  if (message === 'out of memory' || /too big|string or blob too big/i.test(message)) {
    return new ResourceLimitError(`the statement needs more memory than the engine allows (${message})`, { statementIndex });
  }
  if (CORRUPTION_MESSAGES.some((m) => message.includes(m))) return new CorruptDatabaseError(`the stored database is corrupt: ${message}`);
  // The page limit limitFileSize sets (temp is in memory: only the file can be full).
  if (message === 'database or disk is full') {
    return new DatabaseTooLargeError('the write would grow the database past its size limit (MAX_DATABASE_MB); nothing was stored');
  }
  return new SqlError(message, { statementIndex });
}
