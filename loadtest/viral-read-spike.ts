/**
 * A post goes viral: read traffic climbs from an ordinary level to PEAK_RPS (default 2000
 * requests per second) and holds there. Half the requests are public `GET /flights` searches,
 * half `POST /sql` reads of a seeded flights table, a third of them with eventual consistency.
 *
 *   k6 run -e BASE_URL=https://... -e API_KEY=... [-e PEAK_RPS=5000 -e RAMP=2m -e HOLD=5m] loadtest/viral-read-spike.ts
 */
import type { Options } from 'k6/options';
import { envInt, envString, iterate, prepare, summaryHandler, summaryTrendStats, thresholds } from './lib/k6-client.ts';
import type { SetupData } from './lib/k6-client.ts';

const PEAK_RPS = envInt('PEAK_RPS', 2000, 1);
const BASELINE_RPS = Math.max(1, Math.round(PEAK_RPS / 10));
const P95_READ_MS = envInt('P95_READ_MS', 500, 1);

const SCENARIO = 'viral_read_spike';

export const options: Options = {
  scenarios: {
    [SCENARIO]: {
      executor: 'ramping-arrival-rate',
      startRate: BASELINE_RPS,
      timeUnit: '1s',
      // Arrival rate, not VUs, is what rises: a slow answer must not slow the arrivals down.
      preAllocatedVUs: Math.max(10, Math.round(PEAK_RPS / 10)),
      maxVUs: envInt('MAX_VUS', Math.max(50, Math.round(PEAK_RPS / 2)), 1),
      stages: [
        { target: BASELINE_RPS, duration: envString('WARMUP', '30s') },
        { target: PEAK_RPS, duration: envString('RAMP', '1m') },
        { target: PEAK_RPS, duration: envString('HOLD', '2m') },
        { target: 0, duration: envString('COOLDOWN', '30s') },
      ],
    },
  },
  thresholds: thresholds(
    SCENARIO,
    { flights: P95_READ_MS, sql_read: P95_READ_MS, sql_read_eventual: P95_READ_MS },
    {
      // A service that is falling over gets no more traffic from us.
      http_req_failed: [`rate<${envString('MAX_FAILED_RATE', '0.01')}`, { threshold: 'rate<0.2', abortOnFail: true, delayAbortEval: '20s' }],
      retryable_rate: ['rate<0.01'],
    },
  ),
  summaryTrendStats,
};

export function setup(): SetupData {
  return prepare('viral');
}

export default function (data: SetupData): void {
  iterate('viral', data);
}

export const handleSummary = summaryHandler('viral-read-spike');
