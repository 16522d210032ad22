import type { ServiceEvent } from '../core/database-service';
import { StorageThrottledError } from '../core/errors';

/**
 * The counts the edge keeps (CloudWatch metrics in namespace `cloudlite`, infra/alarms.yml
 * alarms on two of them). Each is a count of requests or events, never a timing.
 */
export type MetricName =
  /** 503 WRITE_OUTCOME_UNKNOWN: a write that may or may not have landed. */
  | 'UnknownOutcomes'
  /** 409 WRITE_CONFLICT: the stored file changed under a writer, nothing applied. */
  | 'WriteConflicts'
  /** 503 LOCK_TIMEOUT: a writer waited its whole LOCK_WAIT_MS for the lease. */
  | 'LockTimeouts'
  /** DynamoDB or S3 refused for load: a request failed, or a read fell back to S3, because of it. */
  | 'Throttles'
  /** A strong read whose version record was unreadable read S3's latest object instead. */
  | 'ReadFallbacks'
  /** An answer replayed for a repeated Idempotency-Key (`meta.replayed`). */
  | 'Replays';

/**
 * What the edge needs to count, declared here by its consumer: the Powertools adapter writes
 * embedded metric format, `noMetrics` counts nothing (local server, tests), tests pass a fake.
 */
export interface RequestMetrics {
  count(name: MetricName): void;
  /** Sends what was counted since the last flush: once per request, after its log line. */
  flush(): void;
}

export const noMetrics: RequestMetrics = { count() {}, flush() {} };

const METRIC_BY_CODE: Readonly<Record<string, MetricName>> = {
  WRITE_OUTCOME_UNKNOWN: 'UnknownOutcomes',
  WRITE_CONFLICT: 'WriteConflicts',
  LOCK_TIMEOUT: 'LockTimeouts',
};

/**
 * What a failed request counts as: the metric of its answer's code, and a throttle when storage
 * refused for load anywhere in its causes (an upload throttled by S3 answers as an unknown
 * outcome, and is both).
 */
export function metricsOfFailure(code: string, error: unknown): MetricName[] {
  const names: MetricName[] = [];
  const byCode = METRIC_BY_CODE[code];
  if (byCode) names.push(byCode);
  if (causes(error).some((cause) => cause instanceof StorageThrottledError)) names.push('Throttles');
  return names;
}

/** What an event inside the service counts as. */
export function metricsOfEvent(event: ServiceEvent): MetricName[] {
  if (event.kind === 'replayed') return ['Replays'];
  return event.throttled ? ['ReadFallbacks', 'Throttles'] : ['ReadFallbacks'];
}

function causes(error: unknown): unknown[] {
  const chain: unknown[] = [];
  // Bounded: a cause chain that loops back on itself must not hang the request's last step.
  for (let current = error; current !== undefined && chain.length < 10; current = (current as { cause?: unknown })?.cause) {
    chain.push(current);
  }
  return chain;
}
