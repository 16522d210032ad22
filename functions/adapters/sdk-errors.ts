import { StorageThrottledError, StorageUnavailableError } from '../core/errors';

/** Reading AWS SDK errors, shared by the adapters that translate them into domain errors. */

/** The HTTP status of an SDK error (a 304 or 404 may carry no error name, only the status). */
export function statusOf(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

/** How many times the SDK sent the request (its retries included). */
export function attemptsOf(error: unknown): number {
  return (error as { $metadata?: { attempts?: number } })?.$metadata?.attempts ?? 1;
}

const DYNAMODB_THROTTLED = new Set(['ProvisionedThroughputExceededException', 'ThrottlingException', 'RequestLimitExceeded']);

/** A failed DynamoDB request as the domain sees it: refused for load (counted as a throttle) or unavailable. */
export function dynamoDbFailure(message: string, error: unknown): StorageUnavailableError {
  if (error instanceof Error && DYNAMODB_THROTTLED.has(error.name)) return new StorageThrottledError(message, { cause: error });
  return new StorageUnavailableError(message, { cause: error });
}
