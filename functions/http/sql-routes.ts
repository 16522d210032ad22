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
    // Scope first, before any storage request: a key cannot even learn whether another
    // tenant's database exists. Whether the request writes is the service's to find out.
    principal.authorize('read', request.database);
    request.madeBy = { keyId: principal.keyId, requestId };
    request.onChanging = markChanging;
    const response = await service.execute(request, roleOn(principal, request.database));
    logFields.wrote = response.meta.wrote;
    return withinLambdaResponseLimit(response, rows);
  });
}

/** Lambda refuses a function response over 6 MB (the whole response, body JSON-encoded again). */
const LAMBDA_RESPONSE_LIMIT_BYTES = 6 * 1024 * 1024;

/**
 * The engine stops collecting rows at MAX_RESULT_BYTES; this catches what its estimate cannot
 * see (the response encoded once more by Lambda), so the caller gets 413, not a bare 502.
 */
function withinLambdaResponseLimit(response: SqlResponse, rows: RowShape): HttpResponse {
  const answer = jsonResponse(200, encodeSqlResponse(response, rows));
  if (fitsLambdaResponse(answer)) return answer;
  if (!response.meta.wrote) throw new ResultTooLargeError('the result is too large to return; select fewer rows or columns, or page with LIMIT');
  // The write is stored: say so. Its rows are what cannot travel, so they are left out.
  const withoutRows = { ...response, results: response.results.map((result) => ({ ...result, rows: [] })), meta: { ...response.meta, rows_omitted: true as const } };
  return jsonResponse(200, encodeSqlResponse(withoutRows, rows));
}

function fitsLambdaResponse(response: HttpResponse): boolean {
  // Encoding the body string again at most doubles it (a quote or backslash gains a backslash),
  // so only answers near the limit pay for measuring exactly.
  const bodyBytes = Buffer.byteLength(response.body);
  return 2 * bodyBytes + 4096 <= LAMBDA_RESPONSE_LIMIT_BYTES || Buffer.byteLength(JSON.stringify(response)) <= LAMBDA_RESPONSE_LIMIT_BYTES;
}

export function encodeSqlResponse(response: SqlResponse, rows: RowShape = 'arrays') {
  return {
    results: response.results.map((result) => {
      const keys = rows === 'objects' ? objectKeys(result.columns) : undefined;
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
  return columns.map((name) => {
    let key = name;
    for (let n = 1; used.has(key); n++) {
      key = `${name}:${n}`;
      if (reserved.has(key)) key = name; // a column's own name: try the next suffix
    }
    used.add(key);
    return key;
  });
}
