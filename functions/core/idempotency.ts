import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { BoundParams, Program, SqlValue, StatementResult, StoredAnswer } from './ports';
import { encodeParam, type JsonValue } from './value-codec';

/**
 * Idempotency keys: a client-chosen key makes a retried write safe. The key's record commits in
 * the same conditional update that publishes the write's version, so "recorded" and "applied"
 * can never disagree. Records are kept at least this long (then DynamoDB's TTL sweeps them).
 */
export const IDEMPOTENCY_RETENTION_MS = 25 * 60 * 60 * 1000;

/**
 * What a write means, independent of how it was sent: the database, then each statement with its
 * parameters in the value codec's JSON form. A JSON body and the same raw SQL match.
 */
export function fingerprintOf(database: string, operation: Program | { kind: string; [field: string]: unknown }): string {
  const canonical = 'sql' in operation || 'statements' in operation ? canonicalProgram(operation as Program) : operation;
  return createHash('sha256').update(JSON.stringify([database, canonical])).digest('hex');
}

function canonicalProgram(program: Program): unknown {
  const statements = program.kind === 'script' ? [{ sql: program.sql, params: program.params }] : program.statements;
  return { kind: 'sql', statements: statements.map((s) => [s.sql, canonicalParams(s.params)]) };
}

function canonicalParams(params: BoundParams | undefined): JsonValue {
  if (params === undefined) return null;
  if (Array.isArray(params)) return params.map(encodeParam);
  return Object.fromEntries(Object.entries(params).sort(([a], [b]) => (a < b ? -1 : 1)).map(([name, value]) => [name, encodeParam(value)]));
}

/** Answers up to this size travel inline (in the record and in the S3 object's metadata). */
export const INLINE_ANSWER_LIMIT = 1500;

/** Results as the compact text kept for a replay: gzip of their exact JSON form, base64. */
export function encodeAnswer(results: StatementResult[]): string {
  const json = JSON.stringify(results.map((r) => ({ ...r, rows: r.rows.map((row) => row.map(storedCell)), lastInsertRowid: storedCell(r.lastInsertRowid) })));
  return gzipSync(json).toString('base64');
}

export function decodeAnswer(encoded: string): StatementResult[] {
  const parsed = JSON.parse(gunzipSync(Buffer.from(encoded, 'base64')).toString('utf8')) as (Omit<StatementResult, 'rows' | 'lastInsertRowid'> & {
    rows: StoredCell[][];
    lastInsertRowid: StoredCell;
  })[];
  return parsed.map((r) => ({ ...r, rows: r.rows.map((row) => row.map(cellOf)), lastInsertRowid: cellOf(r.lastInsertRowid) as number | bigint | null }));
}

/** A value in JSON without losing its type: 64-bit integers, blobs and ±Infinity are tagged. */
type StoredCell = null | number | string | { i: string } | { b: string } | { r: string };

function storedCell(value: SqlValue): StoredCell {
  if (typeof value === 'bigint') return { i: value.toString() };
  if (value instanceof Uint8Array) return { b: Buffer.from(value).toString('base64') };
  if (typeof value === 'number' && !Number.isFinite(value)) return { r: String(value) };
  return value;
}

function cellOf(stored: StoredCell): SqlValue {
  if (stored === null || typeof stored !== 'object') return stored;
  if ('i' in stored) return BigInt(stored.i);
  if ('b' in stored) return new Uint8Array(Buffer.from(stored.b, 'base64'));
  return Number(stored.r);
}

export function isInline(answer: StoredAnswer): answer is { inline: string } {
  return 'inline' in answer;
}
