/**
 * Domain errors: every failure the service can explain to a caller has a class here with a
 * stable `code`. The HTTP layer maps codes to statuses in one table (`http/error-table.ts`);
 * adapters translate SDK and engine failures into these at the boundary.
 */
export interface ErrorOptions {
  cause?: unknown;
  statementIndex?: number;
}

export abstract class CloudliteError extends Error {
  abstract readonly code: string;
  /** Seconds a client should wait before retrying, for retryable failures. */
  readonly retryAfterSeconds?: number;
  /** Which statement of the request failed, when one did. */
  readonly statementIndex?: number;
  /** A retryable failure that still needs someone to act (logged as an error, not a warning). */
  readonly needsOperator: boolean = false;

  constructor(message: string, options?: ErrorOptions) {
    super(message, { cause: options?.cause });
    this.name = new.target.name;
    this.statementIndex = options?.statementIndex;
  }
}

export class BadRequestError extends CloudliteError {
  readonly code = 'BAD_REQUEST';
}

export class UnsupportedMediaTypeError extends CloudliteError {
  readonly code = 'UNSUPPORTED_MEDIA_TYPE';
}

export class PayloadTooLargeError extends CloudliteError {
  readonly code = 'PAYLOAD_TOO_LARGE';
}

export class UnauthorizedError extends CloudliteError {
  readonly code = 'UNAUTHORIZED';
}

export class ForbiddenError extends CloudliteError {
  readonly code = 'FORBIDDEN';
}

/** SQLite refused a statement: its own message is safe and useful to show. */
export class SqlError extends CloudliteError {
  readonly code = 'SQL_ERROR';
}

/** A statement the policy refuses (ATTACH, transaction control, unsafe pragmas), whatever the key may do. */
export class StatementNotAllowedError extends CloudliteError {
  readonly code = 'STATEMENT_NOT_ALLOWED';
}

export class DatabaseNotFoundError extends CloudliteError {
  readonly code = 'DATABASE_NOT_FOUND';
  constructor(
    readonly database: string,
    readonly deleted = false,
  ) {
    super(
      deleted
        ? `database "${database}" was deleted; restore it (POST /databases/${database}/restore) to use it again`
        : `database "${database}" does not exist; a write creates it`,
    );
  }
}

/** A request for a past version (`version` / `as_of`) tried to write. */
export class VersionReadOnlyError extends CloudliteError {
  readonly code = 'VERSION_READ_ONLY';
}

/** No committed version matches the `version` or `as_of` asked for. */
export class VersionNotFoundError extends CloudliteError {
  readonly code = 'VERSION_NOT_FOUND';
}

/** A clone's target already exists. */
export class DatabaseExistsError extends CloudliteError {
  readonly code = 'DATABASE_EXISTS';
}

/** An uploaded file is not a database this service will serve; nothing was changed. */
export class InvalidDatabaseFileError extends CloudliteError {
  readonly code = 'INVALID_DATABASE_FILE';
}

/** The stored file changed under a writer (or its lease ran out): nothing was applied. */
export class WriteConflictError extends CloudliteError {
  readonly code = 'WRITE_CONFLICT';
  override readonly retryAfterSeconds = 1;
}

export class LockTimeoutError extends CloudliteError {
  readonly code = 'LOCK_TIMEOUT';
  constructor(
    message: string,
    override readonly retryAfterSeconds: number,
  ) {
    super(message);
  }
}

/** S3 or DynamoDB failed or throttled; the request had no effect and may be retried. */
export class StorageUnavailableError extends CloudliteError {
  readonly code = 'STORAGE_UNAVAILABLE';
  override readonly retryAfterSeconds = 1;
}

/** The store refused for load (DynamoDB throttling, S3 SlowDown): a read may take another path. */
export class StorageThrottledError extends StorageUnavailableError {}

/**
 * S3 no longer holds a version it was asked for (404 NoSuchVersion): the bucket's noncurrent-version
 * rule expired it. Answered as unavailable; the write path recovers from it when a newer object exists.
 */
export class VersionGoneError extends StorageUnavailableError {}

/**
 * A write's bytes may have been stored but it could not be published or confirmed: it may still
 * become current (the next writer adopts an unpublished version). Never "not applied": a retry
 * with the same Idempotency-Key settles it.
 */
export class WriteOutcomeUnknownError extends CloudliteError {
  readonly code = 'WRITE_OUTCOME_UNKNOWN';
  override readonly retryAfterSeconds = 1;
  /** Its alarm pages an operator (infra/alarms.yml): logged as an error, kept at LOG_LEVEL=ERROR. */
  override readonly needsOperator = true;
  /**
   * @param writeId the id the write is stamped with in S3; undefined when the function's time
   * ran out while a request that changes data was still running (which write, if any, is not known).
   */
  constructor(
    readonly writeId: string | undefined,
    options?: ErrorOptions,
  ) {
    super(
      `${writeId === undefined ? 'the function ran out of time before this request finished, so the outcome of its change is unknown' : `the outcome of write ${writeId} is unknown`}: it may have been applied; retry with the same Idempotency-Key to settle it, or read before writing again`,
      options,
    );
  }
}

/** The function's time ran out before a request that changes nothing finished. */
export class RequestTimeoutError extends CloudliteError {
  readonly code = 'REQUEST_TIMEOUT';
}

/** The same Idempotency-Key came with a different request. */
export class IdempotencyKeyReusedError extends CloudliteError {
  readonly code = 'IDEMPOTENCY_KEY_REUSED';
}

/** The deployment is not ready to serve this (e.g. migrations not applied): an operator's fault. */
export class NotReadyError extends CloudliteError {
  readonly code = 'NOT_READY';
  override readonly retryAfterSeconds = 30;
  override readonly needsOperator = true;
}

/**
 * A secret the function needs (API keys, the flights password) could not be read at run time
 * and no earlier value is known: nothing can be authenticated until it can.
 */
export class SecretUnavailableError extends CloudliteError {
  readonly code = 'SERVICE_UNAVAILABLE';
  override readonly retryAfterSeconds = 5;
  override readonly needsOperator = true;
}

export class StatementTimeoutError extends CloudliteError {
  readonly code = 'STATEMENT_TIMEOUT';
}

export class ResultTooLargeError extends CloudliteError {
  readonly code = 'RESULT_TOO_LARGE';
}

/** A write would grow the database past MAX_DATABASE_MB, beyond what a function can load again: nothing was stored. */
export class DatabaseTooLargeError extends CloudliteError {
  readonly code = 'DATABASE_TOO_LARGE';
}

/** A statement hit the engine's memory cap. */
export class ResourceLimitError extends CloudliteError {
  readonly code = 'RESOURCE_LIMIT';
}

export class CorruptDatabaseError extends CloudliteError {
  readonly code = 'CORRUPT_DATABASE';
}

/** Two definitions of the same migration disagree; applying more would hide the drift. */
export class MigrationChecksumError extends CloudliteError {
  readonly code = 'MIGRATION_CHECKSUM_MISMATCH';
}
