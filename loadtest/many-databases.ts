/**
 * Traffic spread over DATABASES databases (lt-db-0 .. lt-db-19 by default), 90% reads and 10%
 * writes: many small databases each with its own lock, cache entry and object, as in a
 * database-per-tenant deployment. setup() creates every database first, so no read meets 404.
 *
 *   k6 run -e BASE_URL=https://... -e API_KEY=... [-e DATABASES=200 -e RATE=500] loadtest/many-databases.ts
 */
import type { Options } from 'k6/options';
import { constantArrival, envInt, iterate, prepare, summaryHandler, summaryTrendStats, thresholds } from './lib/k6-client.ts';
import type { SetupData } from './lib/k6-client.ts';

const RATE = envInt('RATE', 300, 1);
const P95_READ_MS = envInt('P95_READ_MS', 800, 1);

const SCENARIO = 'many_databases';

export const options: Options = {
  scenarios: {
    [SCENARIO]: constantArrival(RATE),
  },
  thresholds: thresholds(
    SCENARIO,
    { sql_read: P95_READ_MS, sql_read_eventual: P95_READ_MS, sql_write: envInt('P95_WRITE_MS', 3000, 1) },
    {
      retryable_rate: ['rate<0.05'],
      writes_abandoned: ['count<1'],
    },
  ),
  summaryTrendStats,
  // One write per database before the load starts.
  setupTimeout: '5m',
};

export function setup(): SetupData {
  return prepare('many');
}

export default function (data: SetupData): void {
  iterate('many', data);
}

export const handleSummary = summaryHandler('many-databases');
