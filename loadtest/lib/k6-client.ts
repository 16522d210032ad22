/**
 * What the four k6 scenarios share: settings from `__ENV`, the HTTP client with retries, the
 * custom metrics, thresholds and the end-of-test summary. The request mixes themselves are in
 * scenarios-data.ts, shared with the autocannon driver.
 */
import { check, sleep } from 'k6';
import exec from 'k6/execution';
import http from 'k6/http';
import type { Response } from 'k6/http';
import { Counter, Gauge, Rate, Trend } from 'k6/metrics';
import type { Options, Threshold } from 'k6/options';
import {
  accountingQuery,
  accountingVerdict,
  assertDatabaseName,
  classifyAnswer,
  DEFAULT_CONTENTION_DATABASE,
  DEFAULT_DATABASES,
  DEFAULT_READ_DATABASE,
  newRunId,
  nextRequest,
  parseStoredCounts,
  retryDelayMs,
  setupRequests,
  writeKey,
} from './scenarios-data.ts';
import type { Answer, Endpoint, MixContext, RequestSpec, ScenarioName, SqlBody, StoredCounts } from './scenarios-data.ts';

// ---- Settings -------------------------------------------------------------------------------

function requiredEnv(name: string, example: string): string {
  const value = (__ENV[name] ?? '').trim();
  if (value === '') throw new Error(`${name} is not set: pass it to k6, e.g. k6 run -e ${name}=${example} <script>`);
  return value;
}

export function envString(name: string, fallback: string): string {
  const value = (__ENV[name] ?? '').trim();
  return value === '' ? fallback : value;
}

export function envInt(name: string, fallback: number, min = 0): number {
  const raw = (__ENV[name] ?? '').trim();
  if (raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) throw new Error(`${name}="${raw}" must be an integer >= ${min}`);
  return value;
}

function loadSettings() {
  const baseUrl = requiredEnv('BASE_URL', 'https://abc123.execute-api.eu-west-1.amazonaws.com').replace(/\/+$/, '');
  if (!/^https?:\/\/[^/]+/.test(baseUrl)) throw new Error(`BASE_URL="${baseUrl}" must start with http:// or https://`);
  return {
    baseUrl,
    // Every scenario writes, if only its tables in setup(): this must be a write key.
    apiKey: requiredEnv('API_KEY', '<a write key>'),
    readDatabase: assertDatabaseName(envString('READ_DATABASE', DEFAULT_READ_DATABASE), 'READ_DATABASE'),
    contentionDatabase: assertDatabaseName(envString('CONTENTION_DATABASE', DEFAULT_CONTENTION_DATABASE), 'CONTENTION_DATABASE'),
    databases: envInt('DATABASES', DEFAULT_DATABASES, 1),
    maxAttempts: envInt('MAX_ATTEMPTS', 6, 1),
    requestTimeout: envString('REQUEST_TIMEOUT', '30s'),
  };
}

/** Read once per VU at init, so a missing BASE_URL or API_KEY stops k6 before any load. */
export const settings = loadSettings();

// ---- Metrics --------------------------------------------------------------------------------

/** Custom metrics; created at init as k6 requires, shared by every scenario. */
export const metrics = {
  /** 409 WRITE_CONFLICT and 503 LOCK_TIMEOUT / STORAGE_UNAVAILABLE answers, tagged with status. */
  retryable: new Counter('retryable_responses'),
  retryableRate: new Rate('retryable_rate'),
  /** Answers that are neither 2xx nor retryable, and transport errors. */
  unexpected: new Rate('unexpected_responses'),
  writeRetries: new Counter('write_retries'),
  writesAcknowledged: new Counter('writes_acknowledged'),
  /** Still 409/503 after MAX_ATTEMPTS: refused, so not applied. */
  writesAbandoned: new Counter('writes_abandoned'),
  /** No answer, or a 5xx other than 503: may or may not have been applied. */
  writesAmbiguous: new Counter('writes_ambiguous'),
  /** From the first attempt to the acknowledgement, retries and their waits included. */
  writeAckDuration: new Trend('write_ack_duration', true),
  storedCounter: new Gauge('stored_counter'),
  storedEvents: new Gauge('stored_events'),
  /**
   * The write audit as thresholds, so k6's exit code carries it (a threshold can only compare a
   * metric with a constant): +1 per acknowledged write, minus the stored counter at teardown.
   * Above 0: acknowledged writes that are not stored. Without a teardown read it stays above 0.
   */
  auditUnstored: new Counter('audit_unstored_acknowledged'),
  /** The stored counter at teardown, minus 1 per acknowledged or ambiguous write. Above 0: writes stored that nobody sent. */
  auditUnexplained: new Counter('audit_unexplained_stored'),
  /** 1 when the stored counter and events disagree (a batch applied in part). */
  auditPartial: new Counter('audit_partial_batches'),
};

// Retryable answers are outcomes the contract promises, not failures: keep them out of
// http_req_failed and count them in retryable_responses instead.
http.setResponseCallback(http.expectedStatuses({ min: 200, max: 299 }, 409, 503));

// ---- Requests -------------------------------------------------------------------------------

/** One request, recorded under its endpoint tag. Grouped by path so query strings don't each become a series. */
function send(spec: RequestSpec, endpointTag: string = spec.endpoint, idempotencyKey?: string): Response {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (spec.body) {
    headers['Content-Type'] = 'application/json';
    headers.Authorization = `Bearer ${settings.apiKey}`;
  }
  if (idempotencyKey !== undefined) headers['Idempotency-Key'] = idempotencyKey;
  return http.request(spec.method, `${settings.baseUrl}${spec.path}`, spec.body ? JSON.stringify(spec.body) : null, {
    headers,
    tags: { endpoint: endpointTag, name: `${spec.method} ${spec.path.split('?')[0]}` },
    timeout: settings.requestTimeout,
  });
}

let warnings = 0;

function record(spec: RequestSpec, res: Response): Answer {
  const answer = classifyAnswer(spec.endpoint, res.status, typeof res.body === 'string' ? res.body : null);
  const outcome = answer.outcome;
  const tags = { endpoint: spec.endpoint };
  metrics.unexpected.add(outcome === 'error', tags);
  metrics.retryableRate.add(outcome === 'retryable', tags);
  if (outcome === 'retryable') metrics.retryable.add(1, { ...tags, status: String(res.status) });
  check(res, { [`${spec.endpoint}: the API's answer, or retryable`]: () => outcome !== 'error' });
  // A few samples per VU say why requests fail without flooding the output.
  if (outcome === 'error' && warnings++ < 3) {
    const body = typeof res.body === 'string' ? res.body.slice(0, 200) : '';
    console.warn(`${spec.method} ${spec.path.split('?')[0]} (${spec.endpoint}) -> ${res.status} ${res.error} ${body}`);
  }
  return answer;
}

export function read(spec: RequestSpec): Response {
  const res = send(spec);
  record(spec, res);
  return res;
}

export type WriteResult = 'acknowledged' | 'abandoned' | 'ambiguous' | 'refused';

/**
 * Sends a write until it is acknowledged, refused, or unsettled after MAX_ATTEMPTS. Every attempt
 * carries the same Idempotency-Key, so a retry after an unknown outcome (no answer, a 5xx, 503
 * WRITE_OUTCOME_UNKNOWN) is answered with the first attempt's result or applied once, never twice.
 */
export function write(spec: RequestSpec): WriteResult {
  const started = Date.now();
  const key = writeKey(`vu${exec.vu.idInTest}`, exec.vu.iterationInScenario, Math.random, started);
  let unsure = false;
  for (let attempt = 0; ; attempt++) {
    const res = send(spec, spec.endpoint, key);
    const { outcome, ambiguous } = record(spec, res);
    if (outcome === 'ok') {
      metrics.writesAcknowledged.add(1);
      metrics.auditUnstored.add(1);
      metrics.auditUnexplained.add(-1);
      metrics.writeAckDuration.add(Date.now() - started);
      return 'acknowledged';
    }
    if (outcome === 'error' && !ambiguous) return unsure ? settleAmbiguous() : 'refused';
    unsure = unsure || ambiguous;
    if (attempt + 1 >= settings.maxAttempts) {
      if (unsure) return settleAmbiguous();
      metrics.writesAbandoned.add(1);
      return 'abandoned';
    }
    metrics.writeRetries.add(1);
    sleep(retryDelayMs(attempt, header(res, 'Retry-After'), Math.random, Date.now()) / 1000);
  }
}

/** A write whose every attempt failed after one of them may have landed. */
function settleAmbiguous(): WriteResult {
  metrics.writesAmbiguous.add(1);
  metrics.auditUnexplained.add(-1);
  return 'ambiguous';
}

function header(res: Response, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const key of Object.keys(res.headers)) if (key.toLowerCase() === wanted) return res.headers[key];
  return undefined;
}

// ---- Lifecycle ------------------------------------------------------------------------------

export interface SetupData {
  ctx: MixContext;
}

/** setup(): the scenario's tables and seed rows, retried like any write; stops the test if they fail. */
export function prepare(scenario: ScenarioName): SetupData {
  const { readDatabase, contentionDatabase, databases } = settings;
  const ctx: MixContext = { readDatabase, contentionDatabase, databases, runId: newRunId(Math.random, Date.now()) };
  for (const body of setupRequests(scenario, ctx)) setupWrite(body);
  return { ctx };
}

function setupWrite(body: SqlBody): void {
  const spec: RequestSpec = { endpoint: 'sql_write', method: 'POST', path: '/sql', body };
  const key = writeKey('setup', 0, Math.random, Date.now());
  for (let attempt = 0; ; attempt++) {
    const res = send(spec, 'setup', key);
    const { outcome } = classifyAnswer(spec.endpoint, res.status, typeof res.body === 'string' ? res.body : null);
    if (outcome === 'ok') return;
    if (outcome === 'error' || attempt + 1 >= settings.maxAttempts) {
      throw new Error(`setup write to "${body.database}" failed: ${res.status} ${res.error} ${String(res.body).slice(0, 300)}`);
    }
    sleep(retryDelayMs(attempt, header(res, 'Retry-After'), Math.random, Date.now()) / 1000);
  }
}

/** The default function of every scenario: the next request of its mix, writes retried. */
export function iterate(scenario: ScenarioName, data: SetupData): void {
  const spec = nextRequest(scenario, data.ctx, { writer: `vu${exec.vu.idInTest}`, seq: exec.vu.iterationInScenario }, Math.random);
  if (spec.endpoint === 'sql_write') write(spec);
  else read(spec);
}

/** teardown() of the contention run: what the database holds, for the summary to audit. */
export function recordStoredCounts(data: SetupData): StoredCounts {
  const res = send({ endpoint: 'sql_read', method: 'POST', path: '/sql', body: accountingQuery(data.ctx) }, 'teardown');
  if (res.status !== 200) throw new Error(`accounting read failed: ${res.status} ${res.error} ${String(res.body).slice(0, 300)}`);
  const counts = parseStoredCounts(JSON.parse(String(res.body)));
  metrics.storedCounter.add(counts.counter);
  metrics.storedEvents.add(counts.events);
  metrics.auditUnstored.add(-counts.counter);
  metrics.auditUnexplained.add(counts.counter);
  metrics.auditPartial.add(counts.counter === counts.events ? 0 : 1);
  return counts;
}

// ---- Thresholds -----------------------------------------------------------------------------

/** Thresholds every scenario has: few hard failures, p95 per endpoint tag and for the scenario as a whole. */
export function thresholds(
  scenario: string,
  p95Ms: Partial<Record<Endpoint, number>>,
  extra: Record<string, Threshold[]> = {},
): Record<string, Threshold[]> {
  const result: Record<string, Threshold[]> = {
    http_req_failed: [`rate<${envString('MAX_FAILED_RATE', '0.01')}`],
    unexpected_responses: ['rate<0.01'],
    [`http_req_duration{scenario:${scenario}}`]: [`p(95)<${Math.max(...Object.values(p95Ms))}`],
  };
  for (const [endpoint, ms] of Object.entries(p95Ms)) result[`http_req_duration{endpoint:${endpoint}}`] = [`p(95)<${ms}`];
  return { ...result, ...extra };
}

/** A steady `rate` requests per second for DURATION (default 2m), with VUs sized to the rate. */
export function constantArrival(rate: number) {
  return {
    executor: 'constant-arrival-rate' as const,
    rate,
    timeUnit: '1s',
    duration: envString('DURATION', '2m'),
    preAllocatedVUs: Math.max(10, Math.round(rate / 5)),
    maxVUs: envInt('MAX_VUS', Math.max(50, rate), 1),
  };
}

export const summaryTrendStats: NonNullable<Options['summaryTrendStats']> = ['avg', 'min', 'med', 'p(95)', 'p(99)', 'max'];

// ---- Summary --------------------------------------------------------------------------------

/** The parts of k6's end-of-test data that the summary reads. */
export interface SummaryData {
  metrics: Record<
    string,
    { type: 'counter' | 'gauge' | 'rate' | 'trend'; values: Record<string, number>; thresholds?: Record<string, { ok: boolean }> }
  >;
  state: { testRunDurationMs: number };
}

/**
 * handleSummary(): a short text report on stdout, and the raw data as JSON under SUMMARY_DIR
 * when set. `audit` adds a verdict line, such as the contention run's write accounting.
 */
export function summaryHandler(script: string, audit?: (data: SummaryData) => { ok: boolean; message: string } | undefined) {
  return (data: SummaryData): Record<string, string> => {
    const lines = [``, `${script}: ${describeRun(data)}`, ...describeThresholds(data), ...describeMetrics(data)];
    const verdict = audit?.(data);
    if (verdict) lines.push(`  ${verdict.ok ? 'ok  ' : 'FAIL'} ${verdict.message}`);
    const out: Record<string, string> = { stdout: `${lines.join('\n')}\n` };
    const dir = envString('SUMMARY_DIR', '');
    if (dir !== '') out[`${dir.replace(/\/+$/, '')}/${script}.json`] = JSON.stringify({ ...data, audit: verdict }, null, 2);
    return out;
  };
}

/** Thresholds that fail the run when the write audit fails (see metrics.auditUnstored). */
export const writeAuditThresholds: Record<string, Threshold[]> = {
  audit_unstored_acknowledged: ['count<=0'],
  audit_unexplained_stored: ['count<=0'],
  audit_partial_batches: ['count<1'],
};

/** The contention run's audit: acknowledged writes against what the database holds. */
export function writeAccounting(data: SummaryData): { ok: boolean; message: string } | undefined {
  const value = (metric: string, key: string) => data.metrics[metric]?.values[key];
  const counter = value('stored_counter', 'value');
  const events = value('stored_events', 'value');
  if (counter === undefined || events === undefined) return { ok: false, message: 'write accounting: teardown did not read the stored counts' };
  const verdict = accountingVerdict({
    counter,
    events,
    acknowledged: value('writes_acknowledged', 'count') ?? 0,
    ambiguous: value('writes_ambiguous', 'count') ?? 0,
  });
  return { ok: verdict.ok, message: `write accounting: ${verdict.message}` };
}

function describeRun(data: SummaryData): string {
  const reqs = data.metrics.http_reqs?.values;
  const seconds = data.state.testRunDurationMs / 1000;
  return `${reqs?.count ?? 0} requests, ${(reqs?.rate ?? 0).toFixed(1)}/s over ${seconds.toFixed(1)} s`;
}

function describeThresholds(data: SummaryData): string[] {
  const lines: string[] = [];
  for (const name of Object.keys(data.metrics).sort()) {
    for (const [expression, result] of Object.entries(data.metrics[name]?.thresholds ?? {})) {
      lines.push(`  ${result.ok ? 'ok  ' : 'FAIL'} ${name} ${expression}  (${describeValues(data.metrics[name]!)})`);
    }
  }
  return lines;
}

const REPORTED = [
  'retryable_responses',
  'write_retries',
  'writes_acknowledged',
  'writes_abandoned',
  'writes_ambiguous',
  'write_ack_duration',
  'stored_counter',
  'stored_events',
];

function describeMetrics(data: SummaryData): string[] {
  return REPORTED.filter((name) => data.metrics[name] && !data.metrics[name]!.thresholds).map(
    (name) => `       ${name}  (${describeValues(data.metrics[name]!)})`,
  );
}

function describeValues(metric: SummaryData['metrics'][string]): string {
  const v = metric.values;
  switch (metric.type) {
    case 'trend':
      return `p50=${ms(v.med)} p95=${ms(v['p(95)'])} p99=${ms(v['p(99)'])} max=${ms(v.max)}`;
    case 'rate':
      return `${((v.rate ?? 0) * 100).toFixed(2)}%`;
    case 'counter':
      return `${v.count ?? 0}, ${(v.rate ?? 0).toFixed(1)}/s`;
    case 'gauge':
      return `${v.value ?? 0}`;
  }
}

function ms(value: number | undefined): string {
  return value === undefined ? '-' : `${value.toFixed(1)}ms`;
}
