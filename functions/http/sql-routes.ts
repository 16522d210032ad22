import type { Config } from '../config';
import type { SqlResponse } from '../core/database-service';
import { ResultTooLargeError } from '../core/errors';
import type { Logger } from '../core/logger';
import type { SqlValue } from '../core/ports';
import { encodeValue } from '../core/value-codec';
import { createAuthenticator, type AuthConfig } from '../auth-composition';
import { roleOn } from '../core/principal';
import { corsPolicy } from './cors';
import type { RequestMetrics } from './metrics';
import { httpHandler } from './middleware';
import { jsonResponse, type HttpResponse } from './responses';
import type { SqlService } from './service';
import { parseSqlHttpRequest, type RowShape } from './sql-request';

export interface SqlRouteDeps {
  config: AuthConfig & Pick<Config, 'limits' | 'corsAllowedOrigins'>;
  logger: Logger;
  metrics?: RequestMetrics;
  service: SqlService;
}

/** `POST /sql`: authenticate, parse, run through the database service, encode. */
export function createSqlHandler({ config, logger, metrics, service }: SqlRouteDeps) {
  const auth = createAuthenticator(config, logger);
  const options = { cors: corsPolicy('POST', '/sql', config.corsAllowedOrigins), body: { maxBytes: config.limits.maxBodyBytes, rawSql: true }, metrics };
  return httpHandler(logger, options, async (event, { body, logFields, requestId, markChanging }) => {
    const principal = await auth.authenticate(event.headers.authorization);
    logFields.keyId = principal.keyId;
    const { request, rows } = parseSqlHttpRequest({ body, query: event.queryStringParameters, idempotencyKey: event.headers['idempotency-key'] }, config.limits);
    logFields.database = request.database;
    if (request.idempotencyKey !== undefined) logFields.idempotencyKey = request.idempotencyKey;
    // Scope first, before any storage request: a key cannot even learn whether another
    // tenant's database exists. Whether the request writes is the service's to find out.
    principal.authorize('read', request.database);
    request.madeBy = { keyId: principal.keyId, requestId };
    request.onChanging = markChanging;
    const response = await service.execute(request, roleOn(principal, request.database));
    // A replay stored nothing: its line says so, and names the version it reflects.
    logFields.wrote = response.meta.wrote && !response.meta.replayed;
    logFields.version = response.meta.version;
    logFields.timings = response.meta.timings;
    if (response.meta.replayed) logFields.replayed = true;
    return withinLambdaResponseLimit(response, rows, config.limits.maxResultBytes);
  });
}

/** Lambda refuses a function response over 6 MB (the whole response, body JSON-encoded again). */
const LAMBDA_RESPONSE_LIMIT_BYTES = 6 * 1024 * 1024;

/**
 * The engine stops collecting rows at MAX_RESULT_BYTES; this catches what its count cannot see,
 * so the caller gets 413, not a bare 502 or a function out of memory: the keys rows as objects
 * repeat in every row (counted before any object is built: a long column name over many rows
 * would otherwise make gigabytes), and the response encoded once more by Lambda.
 */
function withinLambdaResponseLimit(response: SqlResponse, rows: RowShape, maxResultBytes: number): HttpResponse {
  // Each result's object keys, when rows are objects.
  const keys = rows === 'objects' ? response.results.map((result) => objectKeys(result.columns)) : undefined;
  const tooLarge = () => {
    if (!response.meta.wrote) throw new ResultTooLargeError('the result is too large to return; select fewer rows or columns, or page with LIMIT');
    // The write is stored: say so. Its rows are what cannot travel, so they are left out.
    const withoutRows = { ...response, results: response.results.map((result) => ({ ...result, rows: [] })), meta: { ...response.meta, rows_omitted: true as const } };
    return jsonResponse(200, encodeSqlResponse(withoutRows, keys));
  };
  if (keys && repeatedKeyBytes(response, keys) > maxResultBytes) return tooLarge();
  const answer = jsonResponse(200, encodeSqlResponse(response, keys));
  return fitsLambdaResponse(answer) ? answer : tooLarge();
}

/** What rows as objects add to the answer: each result's keys, once per row. */
function repeatedKeyBytes(response: SqlResponse, keys: string[][]): number {
  return response.results.reduce((total, result, i) => {
    const perRow = keys[i]!.reduce((bytes, key) => bytes + Buffer.byteLength(JSON.stringify(key)) + 1, 0);
    return total + perRow * result.rows.length;
  }, 0);
}

function fitsLambdaResponse(response: HttpResponse): boolean {
  // Encoding the body string again at most doubles it (a quote or backslash gains a backslash),
  // so only answers near the limit pay for measuring exactly.
  const bodyBytes = Buffer.byteLength(response.body);
  return 2 * bodyBytes + 4096 <= LAMBDA_RESPONSE_LIMIT_BYTES || Buffer.byteLength(JSON.stringify(response)) <= LAMBDA_RESPONSE_LIMIT_BYTES;
}

/** The answer's JSON: rows as arrays, or as objects under each result's `objectKeys`. */
function encodeSqlResponse(response: SqlResponse, objectKeysOf: string[][] | undefined) {
  return {
    results: response.results.map((result, index) => {
      const keys = objectKeysOf?.[index];
      const encodeRow = (row: SqlValue[]) => (keys ? Object.fromEntries(row.map((cell, i) => [keys[i]!, encodeValue(cell)])) : row.map(encodeValue));
      return {
        columns: result.columns,
        rows: result.rows.map(encodeRow),
        changes: result.changes,
        last_insert_rowid: result.lastInsertRowid === null ? null : encodeValue(result.lastInsertRowid),
      };
    }),
    meta: response.meta,
  };
}

/**
 * Object keys for the columns of a result: each column's own name, except that a name seen
 * before in the same result gets the first free suffix `:1`, `:2`, ... (`SELECT a.id, b.id`
 * gives `id` and `id:1`). A suffix is never one of the result's own column names, so no cell
 * is ever lost, and the same columns always get the same keys.
 */
export function objectKeys(columns: readonly string[]): string[] {
  const reserved = new Set(columns);
  const used = new Set<string>();
  // The suffix to try first for each name: every one below it is taken, so a thousand columns
  // of one name cost a thousand tries, not half a million.
  const nextSuffix = new Map<string, number>();
  return columns.map((name) => {
    let key = name;
    let n = nextSuffix.get(name) ?? 1;
    while (used.has(key)) {
      key = `${name}:${n}`;
      if (reserved.has(key)) key = name; // a column's own name: try the next suffix
      n++;
    }
    if (key !== name) nextSuffix.set(name, n);
    used.add(key);
    return key;
  });
}
