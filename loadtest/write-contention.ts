/**
 * Many writers, one database: every iteration increments this run's counter and appends an
 * event in one atomic batch. The lease lock serializes them, so 409 WRITE_CONFLICT and 503
 * LOCK_TIMEOUT are expected; they are retried with backoff that honours Retry-After and counted
 * apart from errors. At the end the summary checks the stored counter and events against the
 * acknowledged writes: an acknowledged write that is missing is a lost update.
 *
 *   k6 run -e BASE_URL=https://... -e API_KEY=... [-e VUS=100 -e DURATION=2m] loadtest/write-contention.ts
 */
import type { Options } from 'k6/options';
import {
  envInt,
  envString,
  iterate,
  prepare,
  recordStoredCounts,
  summaryHandler,
  summaryTrendStats,
  thresholds,
  writeAccounting,
  writeAuditThresholds,
} from './lib/k6-client.ts';
import type { SetupData } from './lib/k6-client.ts';

const SCENARIO = 'write_contention';

export const options: Options = {
  scenarios: {
    [SCENARIO]: {
      executor: 'constant-vus',
      vus: envInt('VUS', 50, 1),
      duration: envString('DURATION', '1m'),
      // Let writes in flight finish, so the audit has few writes of unknown outcome.
      gracefulStop: '60s',
    },
  },
  thresholds: thresholds(
    SCENARIO,
    { sql_write: envInt('P95_WRITE_MS', 5000, 1) },
    {
      // Contention is the point: retryable answers may be common, but most attempts must land.
      retryable_rate: ['rate<0.5'],
      writes_abandoned: ['count<1'],
      write_ack_duration: [`p(95)<${envInt('P95_ACK_MS', 15000, 1)}`],
      // The audit: every acknowledged write stored once, nothing stored beyond what was sent.
      ...writeAuditThresholds,
    },
  ),
  summaryTrendStats,
  teardownTimeout: '60s',
};

export function setup(): SetupData {
  return prepare('contention');
}

export default function (data: SetupData): void {
  iterate('contention', data);
}

export function teardown(data: SetupData): void {
  recordStoredCounts(data);
}

export const handleSummary = summaryHandler('write-contention', writeAccounting);
