import type { Database, SqlJsStatic, Statement } from 'sql.js';
import {
  BadRequestError,
  CorruptDatabaseError,
  ResourceLimitError,
  ResultTooLargeError,
  SqlError,
  StatementNotAllowedError,
} from '../../core/errors';
import type { BoundParams, ExecutionLimits, Program, SqlValue, StatementResult } from '../../core/ports';
import { declaredParameters, leadingStatement } from './sql-lexer';
import { refusalReason } from './statement-policy';

/**
 * Runs programs on a sql.js database. Pure and synchronous: the worker thread calls it, and
 * unit tests call it directly.
 */

const SQLITE_MAGIC = 'SQLite format 3\u0000';
// SQLite's fixed message for SQLITE_READONLY; sql.js reports errors by message only.
const READONLY_MESSAGE = 'attempt to write a readonly database';
const CORRUPTION_MESSAGES = ['file is not a database', 'database disk image is malformed', 'malformed database schema'];
const MAINTENANCE = /^(VACUUM|ANALYZE|REINDEX|PRAGMA\s+(\w+\.)?optimize)\b/i;

/** Signals that a program run read-only tried to write. */
export class WritesDetected extends Error {
  override readonly name = 'WritesDetected';
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
    db?.close();
    throw translateEngineError(error);
  }
}

function verifyIntegrity(db: Database): void {
  const verdict = db.exec('PRAGMA quick_check')[0]?.values.map((row) => String(row[0]));
  if (!verdict || verdict.length !== 1 || verdict[0] !== 'ok') {
    throw new CorruptDatabaseError(`the stored database failed PRAGMA quick_check: ${(verdict ?? []).slice(0, 3).join('; ')}`);
  }
}

/** Per-connection settings; sql.js resets them whenever it reopens the file (export does). */
export function configureConnection(db: Database): void {
  db.run('PRAGMA foreign_keys = ON');
}

/** Runs the program without letting it write. Throws WritesDetected when it would. */
export function runReadOnly(db: Database, program: Program, limits: ExecutionLimits): StatementResult[] {
  db.run('PRAGMA query_only = ON');
  try {
    db.run('BEGIN');
    try {
      return runProgram(db, program, limits, false);
    } finally {
      rollbackQuietly(db);
    }
  } catch (error) {
    if (error instanceof Error && error.message === READONLY_MESSAGE) throw new WritesDetected();
    throw error;
  } finally {
    db.run('PRAGMA query_only = OFF');
  }
}

/** Runs the program in one transaction; rolls back and rethrows on any error. */
export function runReadWrite(
  db: Database,
  program: Program,
  limits: ExecutionLimits,
): { results: StatementResult[]; changed: boolean } {
  const before = fingerprint(db);
  db.run('BEGIN IMMEDIATE');
  let results: RunResult[];
  try {
    results = runProgram(db, program, limits, true);
    refuseTemporaryObjects(db);
    db.run('COMMIT');
  } catch (error) {
    rollbackQuietly(db);
    throw translateEngineError(error);
  }
  const after = fingerprint(db);
  const changed = after.totalChanges !== before.totalChanges || after.header !== before.header || results.some((r) => r.maintenance);
  return { results: results.map(stripMaintenance), changed };
}

/**
 * TEMP tables, views and triggers live on the connection, not in the file: they would survive
 * into later requests on the warm copy (and shadow or alter what they see) without ever being
 * stored. Refusing before COMMIT lets the rollback remove them.
 */
function refuseTemporaryObjects(db: Database): void {
  if (db.exec('SELECT 1 FROM temp.sqlite_master LIMIT 1').length > 0) {
    throw new StatementNotAllowedError('TEMP tables, views and triggers are not allowed: they would outlive the request without being stored');
  }
}

/**
 * What tells us a committed transaction changed the file. sql.js's in-memory file does not bump
 * the header's change counter, so: rows changed (total_changes), schema changed, or the
 * user-settable header fields changed, or a maintenance statement rewrote pages.
 */
function fingerprint(db: Database): { totalChanges: number; header: string } {
  const row = db.exec(
    'SELECT total_changes(), (SELECT schema_version FROM pragma_schema_version), (SELECT user_version FROM pragma_user_version), (SELECT application_id FROM pragma_application_id)',
  )[0]?.values[0];
  return { totalChanges: Number(row?.[0] ?? 0), header: JSON.stringify(row?.slice(1)) };
}

function rollbackQuietly(db: Database): void {
  try {
    db.run('ROLLBACK');
  } catch {
    // SQLite already rolled back on its own (out of memory, full): nothing is left to undo.
  }
}

type RunResult = StatementResult & { maintenance?: boolean };

function stripMaintenance({ maintenance: _maintenance, ...result }: RunResult): StatementResult {
  return result;
}

function runProgram(db: Database, program: Program, limits: ExecutionLimits, trackChanges: boolean): RunResult[] {
  const budget = { resultBytes: 0 };
  const results: RunResult[] = [];
  const probe = trackChanges ? db.prepare('SELECT total_changes(), last_insert_rowid()') : undefined;
  try {
    if (program.kind === 'script') {
      const iterator = db.iterateStatements(program.sql);
      for (let head = leadingStatement(program.sql); head !== ''; head = leadingStatement(iterator.getRemainingSQL())) {
        const index = results.length;
        if (index >= limits.maxStatements) throw new BadRequestError(`too many statements: at most ${limits.maxStatements} per request`);
        if (index > 0 && program.params !== undefined) {
          throw new BadRequestError('"params" apply to a single statement; send several statements as "statements"');
        }
        refuseBeforePreparing(head, index);
        const next = iterator.next();
        if (next.done) break;
        results.push(runStatement(next.value, program.params, index, limits, budget, probe));
      }
    } else {
      program.statements.forEach((input, index) => {
        const head = leadingStatement(input.sql);
        if (head === '') throw new BadRequestError(`statements[${index}].sql holds no SQL statement`, { statementIndex: index });
        refuseBeforePreparing(head, index);
        const iterator = db.iterateStatements(input.sql);
        const first = iterator.next();
        if (first.done) throw new BadRequestError(`statements[${index}].sql holds no SQL statement`, { statementIndex: index });
        results.push(runStatement(first.value, input.params, index, limits, budget, probe));
        if (leadingStatement(iterator.getRemainingSQL()) !== '') {
          throw new BadRequestError(`statements[${index}].sql holds more than one statement`, { statementIndex: index });
        }
      });
    }
  } catch (error) {
    throw translateEngineError(error, results.length);
  } finally {
    probe?.free();
  }
  if (results.length === 0) throw new BadRequestError('the request holds no SQL statement');
  return results;
}

/** SQLite applies some PRAGMAs while preparing: refuse on the text, before it gets the chance. */
function refuseBeforePreparing(head: string, index: number): void {
  const refusal = refusalReason(head);
  if (refusal) throw new StatementNotAllowedError(refusal, { statementIndex: index });
}

function runStatement(
  statement: Statement,
  params: BoundParams | undefined,
  index: number,
  limits: ExecutionLimits,
  budget: { resultBytes: number },
  probe: Statement | undefined,
): RunResult {
  try {
    // Checked again on SQLite's own reading of the statement, in case the lexer was fooled.
    const normalized = statement.getNormalizedSQL();
    refuseBeforePreparing(normalized, index);
    bindChecked(statement, params, index);
    const before = probe ? readProbe(probe) : undefined;
    const columns = statement.getColumnNames();
    const rows: SqlValue[][] = [];
    while (statement.step()) {
      const row = readRow(statement);
      budget.resultBytes += estimateJsonBytes(row);
      if (budget.resultBytes > limits.maxResultBytes) {
        throw new ResultTooLargeError(`the result passes ${limits.maxResultBytes} bytes; select fewer rows or columns, or page with LIMIT`, {
          statementIndex: index,
        });
      }
      rows.push(row);
    }
    const after = probe ? readProbe(probe) : undefined;
    const changes = before && after ? after.totalChanges - before.totalChanges : 0;
    const lastInsertRowid = before && after && after.lastInsertRowid !== before.lastInsertRowid ? after.lastInsertRowid : null;
    return { columns, rows, changes, lastInsertRowid, maintenance: MAINTENANCE.test(normalized) };
  } catch (error) {
    throw translateEngineError(error, index);
  } finally {
    statement.free();
  }
}

/** Reads the current row with INTEGERs as bigint, exact (sql.js 1.16; its typings predate the option). */
function readRow(statement: Statement): SqlValue[] {
  const get = statement.get as (params: null, config: { useBigInt: boolean }) => SqlValue[];
  return get.call(statement, null, { useBigInt: true });
}

function readProbe(probe: Statement): { totalChanges: number; lastInsertRowid: number | bigint } {
  probe.step();
  const [totalChanges, lastInsertRowid] = readRow(probe) as [bigint, bigint];
  probe.reset();
  const rowid = lastInsertRowid >= BigInt(Number.MIN_SAFE_INTEGER) && lastInsertRowid <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(lastInsertRowid) : lastInsertRowid;
  return { totalChanges: Number(totalChanges), lastInsertRowid: rowid };
}

function bindChecked(statement: Statement, params: BoundParams | undefined, index: number): void {
  const declared = declaredParameters(statement.getSQL());
  if (params === undefined) {
    if (declared.slots > 0) throw new BadRequestError(`statement ${index} has ${declared.slots} parameter(s) but no params were given`, { statementIndex: index });
    return;
  }
  if (Array.isArray(params)) {
    if (params.length !== declared.slots) {
      throw new BadRequestError(`statement ${index} has ${declared.slots} parameter(s) but ${params.length} were given`, { statementIndex: index });
    }
    statement.bind(params as never);
    return;
  }
  if (declared.slots !== declared.names.size) {
    throw new BadRequestError(`statement ${index} has positional parameters: send "params" as an array`, { statementIndex: index });
  }
  statement.bind(resolveNames(params, declared.names, index) as never);
}

/** Matches each given name (with or without its prefix) to exactly one declared parameter. */
function resolveNames(params: Record<string, SqlValue>, declared: Set<string>, index: number): Record<string, SqlValue> {
  const bound: Record<string, SqlValue> = {};
  for (const [given, value] of Object.entries(params)) {
    const prefixed = /^[:@$]/.test(given);
    const matches = (prefixed ? [given] : [`:${given}`, `@${given}`, `$${given}`]).filter((name) => declared.has(name));
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

/** The row's size as JSON in the response (strings measured exactly: UTF-8 and escapes). */
function estimateJsonBytes(row: SqlValue[]): number {
  let bytes = 2;
  for (const value of row) {
    if (value === null) bytes += 5;
    else if (typeof value === 'string') bytes += Buffer.byteLength(JSON.stringify(value)) + 1;
    else if (value instanceof Uint8Array) bytes += Math.ceil(value.byteLength / 3) * 4 + 14;
    else bytes += 24;
  }
  return bytes;
}

/** Turns sql.js's plain Errors into domain errors; domain errors pass through. */
export function translateEngineError(error: unknown, statementIndex?: number): Error {
  if (!(error instanceof Error) || error.constructor !== Error) return error as Error;
  const message = error.message;
  if (message === READONLY_MESSAGE) return error; // the read path decides what that means
  if (message === 'out of memory' || /too big|string or blob too big/i.test(message)) {
    return new ResourceLimitError(`the statement needs more memory than the engine allows (${message})`, { statementIndex });
  }
  if (CORRUPTION_MESSAGES.some((m) => message.includes(m))) return new CorruptDatabaseError(`the stored database is corrupt: ${message}`);
  return new SqlError(message, { statementIndex });
}
