/**
 * Steady traffic, 95% reads and 5% writes on the same database: the reads of the viral mix
 * (`GET /flights`, `POST /sql` strong and eventual) while writers append events, so readers keep
 * meeting new versions and writers queue on the lock.
 *
 *   k6 run -e BASE_URL=https://... -e API_KEY=... [-e RATE=1000 -e DURATION=5m] loadtest/mixed-95-5.ts
 */
import type { Options } from 'k6/options';
import { constantArrival, envInt, iterate, prepare, summaryHandler, summaryTrendStats, thresholds } from './lib/k6-client.ts';
import type { SetupData } from './lib/k6-client.ts';

const RATE = envInt('RATE', 500, 1);
const P95_READ_MS = envInt('P95_READ_MS', 500, 1);

const SCENARIO = 'mixed_95_5';

export const options: Options = {
  scenarios: {
    [SCENARIO]: constantArrival(RATE),
  },
  thresholds: thresholds(
    SCENARIO,
    { flights: P95_READ_MS, sql_read: P95_READ_MS, sql_read_eventual: P95_READ_MS, sql_write: envInt('P95_WRITE_MS', 3000, 1) },
    {
      retryable_rate: ['rate<0.05'],
      writes_abandoned: ['count<1'],
    },
  ),
  summaryTrendStats,
};

export function setup(): SetupData {
  return prepare('mixed');
}

export default function (data: SetupData): void {
  iterate('mixed', data);
}

export const handleSummary = summaryHandler('mixed-95-5');
