import * as errors from '../../functions/core/errors';
import { errorAnswer, STATUS_BY_CODE } from '../../functions/http/error-table';

describe('the error table', () => {
  it.each([
    [new errors.BadRequestError('bad'), 400, 'BAD_REQUEST'],
    [new errors.SqlError('no such table: x', { statementIndex: 2 }), 400, 'SQL_ERROR'],
    [new errors.UnauthorizedError('no key'), 401, 'UNAUTHORIZED'],
    [new errors.ForbiddenError('read key'), 403, 'FORBIDDEN'],
    [new errors.StatementNotAllowedError('ATTACH'), 403, 'STATEMENT_NOT_ALLOWED'],
    [new errors.DatabaseTooLargeError('grows past the limit'), 413, 'DATABASE_TOO_LARGE'],
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
  ])('%p answers %i %s with its message and the request id', (error, status, code) => {
    const { response } = errorAnswer(error, 'req-1');
    expect(response.statusCode).toBe(status);
    expect(JSON.parse(response.body).error).toEqual({ code, message: error.message, request_id: 'req-1', ...(error.statementIndex === undefined ? {} : { statement_index: error.statementIndex }) });
  });

  it('names the failing statement and tells retryable callers when to come back', () => {
    expect(JSON.parse(errorAnswer(new errors.SqlError('x', { statementIndex: 2 })).response.body).error.statement_index).toBe(2);
    expect(errorAnswer(new errors.LockTimeoutError('busy', 4)).response.headers['retry-after']).toBe('4');
    expect(errorAnswer(new errors.UnauthorizedError('no key')).response.headers['www-authenticate']).toMatch(/^Bearer/);
  });

  it('hides unexpected errors behind a generic 500 and keeps the details for the log', () => {
    const answer = errorAnswer(new TypeError('secret detail: password=hunter2'), 'req-2');
    expect(answer.response.statusCode).toBe(500);
    expect(answer.response.body).not.toContain('hunter2');
    expect(JSON.parse(answer.response.body).error).toMatchObject({ code: 'INTERNAL', request_id: 'req-2' });
    expect(answer).toMatchObject({ level: 'error', details: expect.stringContaining('hunter2') });
  });

  it('answers a known 5xx with its own message but keeps its cause for the log only', () => {
    const answer = errorAnswer(new errors.StorageUnavailableError('storage is busy; retry', { cause: new Error('SlowDown from bucket-internal-name') }));
    expect(answer.response.body).not.toContain('bucket-internal-name');
    expect(JSON.parse(answer.response.body).error.message).toBe('storage is busy; retry');
    expect(answer).toMatchObject({ level: 'warn', details: expect.stringContaining('bucket-internal-name') });
  });

  it('logs callers\' mistakes as info, operator problems as errors', () => {
    expect(errorAnswer(new errors.BadRequestError('bad')).level).toBe('info');
    expect(errorAnswer(new errors.NotReadyError('not migrated')).level).toBe('error');
    expect(errorAnswer(new errors.CorruptDatabaseError('bad file')).level).toBe('error');
  });

  it('maps every domain error code', () => {
    type Concrete = new (message: string, retryAfterSeconds?: never) => errors.CloudliteError;
    const codes = (Object.values(errors) as unknown[])
      .filter((E): E is Concrete => typeof E === 'function' && E.prototype instanceof errors.CloudliteError)
      .map((E) => new E('x').code);
    expect(codes.filter((code) => STATUS_BY_CODE[code] === undefined)).toEqual([]);
  });
});
