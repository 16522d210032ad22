import * as errors from '../../functions/core/errors';
import { silentLogger } from '../../functions/core/logger';
import { errorResponse, STATUS_BY_CODE } from '../../functions/http/error-table';

describe('the error table', () => {
  it.each([
    [new errors.BadRequestError('bad'), 400, 'BAD_REQUEST'],
    [new errors.SqlError('no such table: x', { statementIndex: 2 }), 400, 'SQL_ERROR'],
    [new errors.UnauthorizedError('no key'), 401, 'UNAUTHORIZED'],
    [new errors.ForbiddenError('read key'), 403, 'FORBIDDEN'],
    [new errors.StatementNotAllowedError('ATTACH'), 403, 'FORBIDDEN'],
    [new errors.DatabaseNotFoundError('x'), 404, 'DATABASE_NOT_FOUND'],
    [new errors.DatabaseNotFoundError('x', true), 404, 'DATABASE_NOT_FOUND'],
    [new errors.VersionReadOnlyError('past'), 400, 'VERSION_READ_ONLY'],
    [new errors.InvalidDatabaseFileError('not sqlite'), 400, 'INVALID_DATABASE_FILE'],
    [new errors.VersionNotFoundError('gone'), 404, 'VERSION_NOT_FOUND'],
    [new errors.WriteConflictError('raced'), 409, 'WRITE_CONFLICT'],
    [new errors.DatabaseExistsError('taken'), 409, 'DATABASE_EXISTS'],
    [new errors.PayloadTooLargeError('big'), 413, 'PAYLOAD_TOO_LARGE'],
    [new errors.ResultTooLargeError('big'), 413, 'RESULT_TOO_LARGE'],
    [new errors.UnsupportedMediaTypeError('xml'), 415, 'UNSUPPORTED_MEDIA_TYPE'],
    [new errors.ResourceLimitError('memory'), 422, 'RESOURCE_LIMIT'],
    [new errors.CorruptDatabaseError('bad file'), 500, 'CORRUPT_DATABASE'],
    [new errors.StorageUnavailableError('s3 down'), 503, 'STORAGE_UNAVAILABLE'],
    [new errors.NotReadyError('not migrated'), 503, 'NOT_READY'],
    [new errors.LockTimeoutError('busy', 4), 503, 'LOCK_TIMEOUT'],
    [new errors.StatementTimeoutError('slow'), 504, 'STATEMENT_TIMEOUT'],
  ])('%p answers %i %s', (error, status, code) => {
    const response = errorResponse(error, silentLogger);
    expect(response.statusCode).toBe(status);
    expect(JSON.parse(response.body).error).toMatchObject({ code, message: error.message });
  });

  it('names the failing statement and tells retryable callers when to come back', () => {
    expect(JSON.parse(errorResponse(new errors.SqlError('x', { statementIndex: 2 }), silentLogger).body).error.statement_index).toBe(2);
    expect(errorResponse(new errors.LockTimeoutError('busy', 4), silentLogger).headers['retry-after']).toBe('4');
    expect(errorResponse(new errors.UnauthorizedError('no key'), silentLogger).headers['www-authenticate']).toMatch(/^Bearer/);
  });

  it('hides unexpected errors behind a generic 500 and logs the details', () => {
    const logged: unknown[] = [];
    const response = errorResponse(new TypeError('secret detail: password=hunter2'), { ...silentLogger, error: (_m, fields) => logged.push(fields) });
    expect(response.statusCode).toBe(500);
    expect(response.body).not.toContain('hunter2');
    expect(JSON.parse(response.body).error.code).toBe('INTERNAL');
    expect(JSON.stringify(logged)).toContain('hunter2');
  });

  it('maps every domain error code', () => {
    type Concrete = new (message: string, retryAfterSeconds?: never) => errors.CloudliteError;
    const codes = (Object.values(errors) as unknown[])
      .filter((E): E is Concrete => typeof E === 'function' && E.prototype instanceof errors.CloudliteError)
      .map((E) => new E('x').code);
    expect(codes.filter((code) => STATUS_BY_CODE[code] === undefined)).toEqual([]);
  });
});
