import { z } from 'zod';
import { assertDatabaseName, DEFAULT_DATABASE } from '../core/database-name';
import type { SqlRequest } from '../core/database-service';
import { BadRequestError } from '../core/errors';
import type { BoundParams, Program } from '../core/ports';
import { decodeParams } from '../core/value-codec';

/**
 * Turns a parsed `POST /sql` body into a SqlRequest, or a BadRequestError that names the field.
 * Pure: no I/O, so it is tested table-driven.
 */

export interface RequestLimits {
  maxStatements: number;
  maxParams: number;
  maxSqlLength: number;
}

const Params = z.union([z.array(z.unknown()), z.record(z.string(), z.unknown())]);

const Body = z
  .object({
    sql_statement: z.string().optional(),
    params: Params.optional(),
    statements: z.array(z.object({ sql: z.string(), params: Params.optional() }).strict()).optional(),
    database: z.string().optional(),
    consistency: z.enum(['strong', 'eventual']).optional(),
  })
  .strict();

export function parseSqlRequest(body: unknown, limits: RequestLimits): SqlRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new BadRequestError('request body must be a JSON object');
  }
  const parsed = Body.safeParse(body);
  if (!parsed.success) throw new BadRequestError(describeIssue(parsed.error.issues[0]!));
  const input = parsed.data;

  const database = input.database ?? DEFAULT_DATABASE;
  assertDatabaseName(database);
  return { database, program: toProgram(input, limits), consistency: input.consistency ?? 'strong' };
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
    return `unknown field(s) ${issue.keys.map((k) => `"${path ? `${path}.` : ''}${k}"`).join(', ')}; allowed: sql_statement, params, statements, database, consistency`;
  }
  if (issue.code === 'invalid_value' && path === 'consistency') return '"consistency" must be "strong" or "eventual"';
  if (issue.code === 'invalid_type') return `"${path}" must be ${expected(issue.expected)}`;
  if (issue.code === 'invalid_union') return `"${path}" must be an array (positional) or an object (named)`;
  return `"${path}": ${issue.message}`;
}

function expected(type: string): string {
  return type === 'array' ? 'an array' : type === 'object' ? 'an object' : `a ${type}`;
}
