/** Reading AWS SDK errors, shared by the adapters that translate them into domain errors. */

/** The HTTP status of an SDK error (a 304 or 404 may carry no error name, only the status). */
export function statusOf(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

/** How many times the SDK sent the request (its retries included). */
export function attemptsOf(error: unknown): number {
  return (error as { $metadata?: { attempts?: number } })?.$metadata?.attempts ?? 1;
}
