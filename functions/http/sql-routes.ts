import { version } from '../../package.json';
import type { App } from '../app';
import type { SqlResponse } from '../core/database-service';
import { encodeValue } from '../core/value-codec';
import { Authenticator } from './auth';
import { parseJsonBody } from './json-body';
import { httpHandler } from './middleware';
import { jsonResponse } from './responses';
import { parseSqlRequest } from './sql-request';

/** `POST /sql`: authenticate, parse, run through the database service, encode. */
export function createSqlHandler(app: App) {
  const auth = new Authenticator(app.config.apiKeys);
  return httpHandler(app.logger, async (event, logFields) => {
    const role = auth.authenticate(event.headers.authorization);
    const body = parseJsonBody(
      { body: event.body, isBase64Encoded: event.isBase64Encoded, contentType: event.headers['content-type'] },
      app.config.limits.maxBodyBytes,
    );
    const request = parseSqlRequest(body, app.config.limits);
    logFields.database = request.database;
    const response = await app.service.execute(request, role);
    logFields.wrote = response.meta.wrote;
    return jsonResponse(200, encodeSqlResponse(response));
  });
}

/** `GET /health`: no dependencies touched, so it answers even when S3 or DynamoDB do not. */
export function createHealthHandler(app: App) {
  return httpHandler(app.logger, async () => jsonResponse(200, { status: 'ok', service: 'cloudlite', version }));
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
