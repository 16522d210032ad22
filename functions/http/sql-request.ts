import { z } from 'zod';
import { assertDatabaseName, DEFAULT_DATABASE } from '../core/database-name';
import type { SqlRequest } from '../core/database-service';
import { BadRequestError } from '../core/errors';
import type { BoundParams, Program } from '../core/ports';
import { decodeParams } from '../core/value-codec';
import { checkIdempotencyKey, pastVersionOf, unknownName } from './field-rules';
import type { RequestBody } from './request-body';

/**
 * Turns a `POST /sql` request (body, query string, Idempotency-Key header) into a SqlRequest and
 * the row shape to answer with, or a BadRequestError that names the field. Pure: no I/O, so it
 * is tested table-driven.
 */

export interface RequestLimits {
  maxStatements: number;
  maxParams: number;
  maxSqlLength: number;
}

/** `arrays` (the default): each row a list of cells in column order; `objects`: keyed by column name. */
export type RowShape = 'arrays' | 'objects';

export interface ParsedSqlRequest {
  request: SqlRequest;
  rows: RowShape;
}

const Params = z.union([z.array(z.unknown()), z.record(z.string(), z.unknown())]);
const STATEMENT_FIELDS = ['sql', 'params'] as const;

const Body = z
  .object({
    sql_statement: z.string().optional(),
    params: Params.optional(),
    statements: z.array(z.object({ sql: z.string(), params: Params.optional() }).strict()).optional(),
    database: z.string().optional(),
    consistency: z.enum(['strong', 'eventual']).optional(),
    version: z.string().optional(),
    as_of: z.string().optional(),
    rows: z.enum(['arrays', 'objects']).optional(),
    idempotency_key: z.string().optional(),
  })
  .strict();

const BODY_FIELDS = Object.keys(Body.shape);
/** What a raw-SQL body cannot carry comes from the query string; any body may use it. */
const QUERY_FIELDS = ['database', 'consistency', 'version', 'as_of', 'rows'] as const;
/** S3 version ids are short; this only keeps a garbage value from travelling far. */

export interface SqlHttpInput {
  body: RequestBody;
  query?: Record<string, string | undefined> | null;
  /** The Idempotency-Key header, if sent. */
  idempotencyKey?: string;
}

export function parseSqlHttpRequest(input: SqlHttpInput, limits: RequestLimits): ParsedSqlRequest {
  return parseSqlRequest(sqlFields(input), limits);
}

/** One object of fields from the body (JSON, form or SQL text), the query string and the header. */
export function sqlFields({ body, query, idempotencyKey }: SqlHttpInput): Record<string, unknown> {
  const fields = bodyFields(body);
  for (const [name, value] of Object.entries(query ?? {})) {
    if (value === undefined) continue;
    if (!(QUERY_FIELDS as readonly string[]).includes(name)) throw new BadRequestError(unknownName('query parameter', name, QUERY_FIELDS));
    if (name in fields && fields[name] !== value) throw new BadRequestError(`"${name}" is given in the query string and in the body, with different values`);
    fields[name] = value;
  }
  if (idempotencyKey !== undefined) {
    checkIdempotencyKey(idempotencyKey, 'the Idempotency-Key header');
    if ('idempotency_key' in fields && fields.idempotency_key !== idempotencyKey) {
      throw new BadRequestError('the Idempotency-Key header and "idempotency_key" in the body differ; send one of them, or the same key in both');
    }
    fields.idempotency_key = idempotencyKey;
  }
  return fields;
}

function bodyFields(body: RequestBody): Record<string, unknown> {
  if (body.kind === 'sql') return { sql_statement: body.sql };
  if (body.kind === 'file') throw new BadRequestError('a database file is not SQL: load it with POST /databases/{name}/import');
  if (body.kind === 'json') {
    if (typeof body.value !== 'object' || body.value === null || Array.isArray(body.value)) throw new BadRequestError('request body must be a JSON object');
    return { ...(body.value as Record<string, unknown>) };
  }
  const fields: Record<string, unknown> = {};
  for (const [name, value] of body.fields) {
    if (name in fields) throw new BadRequestError(`form field "${name}" is given more than once`);
    fields[name] = value;
  }
  return fields;
}

/** Validates the fields of a request (as `sqlFields` gathers them, or a JSON body as sent). */
export function parseSqlRequest(fields: unknown, limits: RequestLimits): ParsedSqlRequest {
  if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) {
    throw new BadRequestError('request body must be a JSON object');
  }
  const parsed = Body.safeParse(fields);
  if (!parsed.success) throw new BadRequestError(describeIssue(parsed.error.issues[0]!));
  const input = parsed.data;

  const database = input.database ?? DEFAULT_DATABASE;
  assertDatabaseName(database);
  const request: SqlRequest = { database, program: toProgram(input, limits), consistency: input.consistency ?? 'strong' };
  const at = pastVersionOf(input.version, input.as_of, false);
  if (at) request.at = at;
  if (input.idempotency_key !== undefined) request.idempotencyKey = checkIdempotencyKey(input.idempotency_key, '"idempotency_key"');
  return { request, rows: input.rows ?? 'arrays' };
}

function toProgram(input: z.infer<typeof Body>, limits: RequestLimits): Program {
  if ((input.sql_statement === undefined) === (input.statements === undefined)) {
    throw new BadRequestError('send exactly one of "sql_statement" (a string) or "statements" (an array)');
  }
  if (input.sql_statement !== undefined) {
    checkSql(input.sql_statement, 'sql_statement', limits);
    return { kind: 'script', sql: input.sql_statement, params: toParams(input.params, 'params', limits) };
  }
  if (input.params !== undefined) throw new BadRequestError('"params" goes inside each entry of "statements"');
  const statements = input.statements!;
  if (statements.length === 0) throw new BadRequestError('"statements" must hold at least one statement');
  if (statements.length > limits.maxStatements) {
    throw new BadRequestError(`"statements" holds ${statements.length} statements; the limit is ${limits.maxStatements}`);
  }
  return {
    kind: 'batch',
    statements: statements.map((s, i) => {
      checkSql(s.sql, `statements[${i}].sql`, limits);
      return { sql: s.sql, params: toParams(s.params, `statements[${i}].params`, limits) };
    }),
  };
}

function checkSql(sql: string, field: string, limits: RequestLimits): void {
  if (sql.trim().length === 0) throw new BadRequestError(`"${field}" is empty`);
  if (sql.length > limits.maxSqlLength) throw new BadRequestError(`"${field}" is ${sql.length} characters; the limit is ${limits.maxSqlLength}`);
  // SQLite stops reading at a NUL: text after it would silently not run.
  if (sql.includes('\u0000')) throw new BadRequestError(`"${field}" contains a NUL character`);
}

function toParams(params: unknown, field: string, limits: RequestLimits): BoundParams | undefined {
  if (params === undefined) return undefined;
  const count = Array.isArray(params) ? params.length : Object.keys(params as object).length;
  if (count > limits.maxParams) throw new BadRequestError(`"${field}" holds ${count} parameters; the limit is ${limits.maxParams}`);
  return decodeParams(params, field);
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const path = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '');
  if (issue.code === 'unrecognized_keys') {
    const name = issue.keys[0]!;
    const known = path ? STATEMENT_FIELDS : BODY_FIELDS;
    return unknownName('field', path ? `${path}.${name}` : name, path ? known.map((k) => `${path}.${k}`) : known);
  }
  if (issue.code === 'invalid_value' && path === 'consistency') return '"consistency" must be "strong" or "eventual"';
  if (issue.code === 'invalid_value' && path === 'rows') return '"rows" must be "arrays" or "objects"';
  if (issue.code === 'invalid_type') return `"${path}" must be ${expected(issue.expected)}`;
  if (issue.code === 'invalid_union') return `"${path}" must be an array (positional) or an object (named)`;
  return `"${path}": ${issue.message}`;
}

function expected(type: string): string {
  return type === 'array' ? 'an array' : type === 'object' ? 'an object' : `a ${type}`;
}
