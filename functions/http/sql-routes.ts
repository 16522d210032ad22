import { version } from '../../package.json';
import type { App } from '../app';
import type { SqlResponse } from '../core/database-service';
import { encodeValue } from '../core/value-codec';
import { createAuthenticator } from '../auth-composition';
import { roleOn } from '../core/principal';
import { parseJsonBody } from './json-body';
import { httpHandler } from './middleware';
import { ResultTooLargeError } from '../core/errors';
import { jsonResponse, type HttpResponse } from './responses';
import { parseSqlRequest } from './sql-request';

/** `POST /sql`: authenticate, parse, run through the database service, encode. */
export function createSqlHandler(app: App) {
  const auth = createAuthenticator(app.config, app.logger);
  return httpHandler(app.logger, async (event, logFields) => {
    const principal = await auth.authenticate(event.headers.authorization);
    logFields.keyId = principal.keyId;
    const body = parseJsonBody(
      { body: event.body, isBase64Encoded: event.isBase64Encoded, contentType: event.headers['content-type'] },
      app.config.limits.maxBodyBytes,
    );
    const request = parseSqlRequest(body, app.config.limits);
    logFields.database = request.database;
    // Scope first, before any S3 request; whether the request writes is known only after the
    // service ran it read-only, so the role on this database goes along for that check.
    principal.authorize('read', request.database);
    const response = await app.service.execute(request, roleOn(principal, request.database));
    logFields.wrote = response.meta.wrote;
    return withinLambdaResponseLimit(jsonResponse(200, encodeSqlResponse(response)), response.meta.wrote);
  });
}

/** `GET /health`: no dependencies touched, so it answers even when S3 or DynamoDB do not. */
export function createHealthHandler(app: App) {
  return httpHandler(app.logger, async () => jsonResponse(200, { status: 'ok', service: 'cloudlite', version }));
}

/** Lambda refuses a function response over 6 MB (the whole response, body JSON-encoded again). */
const LAMBDA_RESPONSE_LIMIT_BYTES = 6 * 1024 * 1024;

/**
 * The engine stops collecting rows at MAX_RESULT_BYTES; this catches what its estimate cannot
 * see (the response encoded once more by Lambda), so the caller gets 413, not a bare 502.
 */
function withinLambdaResponseLimit(response: HttpResponse, wrote: boolean): HttpResponse {
  // Encoding the body string again at most doubles it (a quote or backslash gains a backslash),
  // so only answers near the limit pay for measuring exactly.
  const bodyBytes = Buffer.byteLength(response.body);
  if (2 * bodyBytes + 4096 <= LAMBDA_RESPONSE_LIMIT_BYTES) return response;
  if (Buffer.byteLength(JSON.stringify(response)) <= LAMBDA_RESPONSE_LIMIT_BYTES) return response;
  throw new ResultTooLargeError(
    wrote
      ? 'the write was stored, but its result is too large to return; read it back with a smaller query'
      : 'the result is too large to return; select fewer rows or columns, or page with LIMIT',
  );
}

export function encodeSqlResponse(response: SqlResponse) {
  return {
    results: response.results.map((result) => ({
      columns: result.columns,
      rows: result.rows.map((row) => row.map(encodeValue)),
      changes: result.changes,
      last_insert_rowid: result.lastInsertRowid === null ? null : encodeValue(result.lastInsertRowid),
    })),
    meta: response.meta,
  };
}
