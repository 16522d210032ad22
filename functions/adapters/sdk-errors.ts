/** Reading AWS SDK errors, shared by the adapters that translate them into domain errors. */

/** The HTTP status of an SDK error (a 304 or 404 may carry no error name, only the status). */
export function statusOf(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

/** One line for the log. */
export function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
