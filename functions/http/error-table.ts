import { CloudliteError } from '../core/errors';
import type { Logger } from '../core/logger';
import { jsonResponse, type HttpResponse } from './responses';

/**
 * The one table from error codes to HTTP statuses. Messages of these errors are written for
 * callers; anything not in this table is an unexpected failure and becomes a generic 500 whose
 * details only go to the log.
 */
export const STATUS_BY_CODE: Readonly<Record<string, number>> = {
  BAD_REQUEST: 400,
  SQL_ERROR: 400,
  MIGRATION_CHECKSUM_MISMATCH: 400,
  VERSION_READ_ONLY: 400,
  INVALID_DATABASE_FILE: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  DATABASE_NOT_FOUND: 404,
  VERSION_NOT_FOUND: 404,
  WRITE_CONFLICT: 409,
  DATABASE_EXISTS: 409,
  PAYLOAD_TOO_LARGE: 413,
  RESULT_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RESOURCE_LIMIT: 422,
  IDEMPOTENCY_KEY_REUSED: 422,
  CORRUPT_DATABASE: 500,
  STORAGE_UNAVAILABLE: 503,
  WRITE_OUTCOME_UNKNOWN: 503,
  NOT_READY: 503,
  LOCK_TIMEOUT: 503,
  STATEMENT_TIMEOUT: 504,
};

export interface ErrorBody {
  error: { code: string; message: string; statement_index?: number };
}

export function errorResponse(error: unknown, logger: Logger, context: Record<string, unknown> = {}): HttpResponse {
  const status = error instanceof CloudliteError ? STATUS_BY_CODE[error.code] : undefined;
  if (!(error instanceof CloudliteError) || status === undefined) {
    logger.error('unexpected failure', { ...context, error: describeError(error) });
    return jsonResponse(500, { error: { code: 'INTERNAL', message: 'internal error; it has been logged' } } satisfies ErrorBody);
  }
  if (status >= 500) {
    // Retryable failures under load (lock busy, S3 throttling) are expected: warn, don't page.
    const expected = error.retryAfterSeconds !== undefined && !error.needsOperator;
    const log = expected ? logger.warn : logger.error;
    log.call(logger, 'request failed', { ...context, code: error.code, error: describeError(error) });
  }
  const body: ErrorBody = { error: { code: error.code, message: error.message } };
  if (error.statementIndex !== undefined) body.error.statement_index = error.statementIndex;
  const headers: Record<string, string> = {};
  if (error.retryAfterSeconds !== undefined) headers['retry-after'] = String(error.retryAfterSeconds);
  if (status === 401) headers['www-authenticate'] = 'Bearer realm="cloudlite"';
  return jsonResponse(status, body, headers);
}

function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? ` (cause: ${error.cause.name}: ${error.cause.message})` : '';
  return `${error.name}: ${error.message}${cause}\n${error.stack ?? ''}`;
}
