import autocannon from 'autocannon';
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { CloudliteError, createClient, type Client } from '../clients/typescript/src/index.ts';
import {
  accountingQuery,
  accountingVerdict,
  classifyStatus,
  DEFAULT_CONTENTION_DATABASE,
  DEFAULT_DATABASES,
  DEFAULT_READ_DATABASE,
  isAmbiguousWriteFailure,
  newRunId,
  nextRequest,
  parseStoredCounts,
  SCENARIO_NAMES,
  setupRequests,
  type Endpoint,
  type MixContext,
  type ScenarioName,
  type SqlBody,
} from '../loadtest/lib/scenarios-data';
import { resolveKey, resolveUrl } from './api-client';

/**
 * `npm run loadtest:local`: the k6 scenarios' request mixes (loadtest/lib/scenarios-data.ts)
 * driven by autocannon against a cloudlite on this machine, for a quick figure without k6.
 * Unlike the k6 scripts it does not retry: it counts each answer as it comes. Runs each
 * scenario for --duration seconds, then stops by itself.
 *
 *   npm run loadtest:local -- [--scenario viral|contention|mixed|many|all] [--duration 10]
 *     [--connections 50] [--url http://localhost:3000] [--key <write key>] [--databases 20]
 */

interface Args {
  url: string;
  key: string;
  scenarios: ScenarioName[];
  durationSeconds: number;
  connections: number;
  databases: number;
  timeoutSeconds: number;
}

interface Tally {
  ok: number;
  retryable: number;
  other: number;
  /** Count per status, and per error code for error answers: "200", "503 LOCK_TIMEOUT". */
  statuses: Map<string, number>;
}

export interface ScenarioReport {
  scenario: ScenarioName;
  seconds: number;
  responses: number;
  requestsPerSecond: number;
  latencyMs: { p50: number; p95: number; p99: number; max: number };
  ok: number;
  retryable: number;
  otherNon2xx: number;
  errors: number;
  timeouts: number;
  byEndpoint: Map<Endpoint, Tally>;
  accounting?: { ok: boolean; message: string };
}

const MAX_LATENCY_SAMPLES = 5_000_000;
const SETUP_ATTEMPTS = 6;

async function main(): Promise<void> {
  const args = parseCommandLine(process.argv.slice(2));
  await checkHealth(args);
  const reports: ScenarioReport[] = [];
  for (const scenario of args.scenarios) {
    const report = await runScenario(scenario, args);
    printReport(report);
    reports.push(report);
  }
  if (reports.length > 1) printTable(reports);
  if (reports.some((r) => r.accounting && !r.accounting.ok)) process.exitCode = 1;
}

function parseCommandLine(argv: string[]): Args {
  const { values } = parseArgs({
    args: argv,
    options: {
      url: { type: 'string' },
      key: { type: 'string' },
      scenario: { type: 'string', default: 'all' },
      duration: { type: 'string', default: '10' },
      connections: { type: 'string', default: '50' },
      databases: { type: 'string', default: String(DEFAULT_DATABASES) },
      timeout: { type: 'string', default: '10' },
    },
    strict: true,
  });
  const url = resolveUrl(values.url ?? process.env.BASE_URL).replace(/\/+$/, '');
  assertLoopback(url);
  const scenario = values.scenario;
  if (scenario !== 'all' && !SCENARIO_NAMES.includes(scenario as ScenarioName)) {
    throw new Error(`--scenario must be one of ${SCENARIO_NAMES.join(', ')} or all; got "${scenario}"`);
  }
  return {
    url,
    key: resolveKey(values.key, url),
    scenarios: scenario === 'all' ? [...SCENARIO_NAMES] : [scenario as ScenarioName],
    durationSeconds: positiveInt('--duration', values.duration, 3600),
    connections: positiveInt('--connections', values.connections, 10_000),
    databases: positiveInt('--databases', values.databases, 10_000),
    timeoutSeconds: positiveInt('--timeout', values.timeout, 600),
  };
}

function positiveInt(flag: string, raw: string, max: number): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > max) throw new Error(`${flag} must be a whole number from 1 to ${max}; got "${raw}"`);
  return value;
}

/** This driver is for the local stack: it refuses to aim a load at anything off this machine. */
function assertLoopback(url: string): void {
  let host: string;
  try {
    host = new URL(url).hostname;
  } catch {
    throw new Error(`--url "${url}" is not a URL`);
  }
  if (!(host === 'localhost' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host))) {
    throw new Error(`--url ${url} is not on this machine (localhost, 127.x.x.x or [::1]); use the k6 scripts in loadtest/ for a deployed stage`);
  }
}

async function checkHealth(args: Args): Promise<void> {
  const client = createClient({ url: args.url, key: args.key, retries: 0, timeoutMs: 5000 });
  await client.request('GET', '/health').catch((error: unknown) => {
    if (error instanceof CloudliteError && error.status !== undefined) throw new Error(`${args.url}/health answered ${error.status}; is cloudlite running there?`);
    throw new Error(`no cloudlite answers at ${args.url} (${String(error)}); start one with \`npm start\``);
  });
}

async function runScenario(scenario: ScenarioName, args: Args): Promise<ScenarioReport> {
  const ctx: MixContext = {
    readDatabase: DEFAULT_READ_DATABASE,
    contentionDatabase: DEFAULT_CONTENTION_DATABASE,
    databases: args.databases,
    runId: newRunId(Math.random, Date.now()),
  };
  process.stderr.write(`${scenario}: setting up ${describeSetup(scenario, ctx)}...\n`);
  for (const body of setupRequests(scenario, ctx)) await setupWrite(args, body);

  process.stderr.write(`${scenario}: ${args.connections} connections for ${args.durationSeconds} s\n`);
  const byEndpoint = new Map<Endpoint, Tally>();
  const latencies: number[] = [];
  let seq = 0;
  const writer = `autocannon-${process.pid}`;
  const jsonHeaders = { 'content-type': 'application/json', authorization: `Bearer ${args.key}` };

  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: args.url,
        connections: args.connections,
        duration: args.durationSeconds,
        timeout: args.timeoutSeconds,
        requests: [
          {
            // One connection has one request in flight (no pipelining), so the context carries
            // the endpoint of the request from setupRequest to its onResponse.
            setupRequest: (request, context) => {
              const spec = nextRequest(scenario, ctx, { writer, seq: seq++ }, Math.random);
              (context as { endpoint?: Endpoint }).endpoint = spec.endpoint;
              return spec.body
                ? { ...request, method: spec.method, path: spec.path, headers: jsonHeaders, body: JSON.stringify(spec.body) }
                : { ...request, method: spec.method, path: spec.path, headers: {}, body: undefined };
            },
            onResponse: (status, body, context) => {
              const endpoint = (context as { endpoint?: Endpoint }).endpoint;
              if (endpoint) count(byEndpoint, endpoint, status, body);
            },
          },
        ],
      },
      (error: unknown, done: autocannon.Result) => {
        clearTimeout(safety);
        process.off('SIGINT', onInterrupt);
        if (error) reject(error instanceof Error ? error : new Error(String(error)));
        else resolve(done);
      },
    );
    instance.on('response', (_client, _status, _bytes, responseTime) => {
      if (latencies.length < MAX_LATENCY_SAMPLES) latencies.push(responseTime);
    });
    // autocannon stops at --duration; this is the belt to its braces.
    const safety = setTimeout(() => instance.stop(), (args.durationSeconds + args.timeoutSeconds + 5) * 1000);
    const onInterrupt = () => instance.stop();
    process.once('SIGINT', onInterrupt);
  });

  const report = summarize(scenario, result, byEndpoint, latencies);
  if (scenario === 'contention') report.accounting = await audit(args, ctx, report);
  return report;
}

function describeSetup(scenario: ScenarioName, ctx: MixContext): string {
  if (scenario === 'many') return `${ctx.databases} databases lt-db-0 .. lt-db-${ctx.databases - 1}`;
  return scenario === 'contention' ? ctx.contentionDatabase : ctx.readDatabase;
}

function count(byEndpoint: Map<Endpoint, Tally>, endpoint: Endpoint, status: number, body: string): void {
  let tally = byEndpoint.get(endpoint);
  if (!tally) byEndpoint.set(endpoint, (tally = { ok: 0, retryable: 0, other: 0, statuses: new Map() }));
  const outcome = classifyStatus(status);
  if (outcome === 'ok') tally.ok++;
  else if (outcome === 'retryable') tally.retryable++;
  else tally.other++;
  const key = outcome === 'ok' ? String(status) : `${status} ${errorCode(body)}`.trimEnd();
  tally.statuses.set(key, (tally.statuses.get(key) ?? 0) + 1);
}

function errorCode(body: string): string {
  try {
    return String((JSON.parse(body) as { error?: { code?: unknown } }).error?.code ?? '');
  } catch {
    return '';
  }
}

function summarize(scenario: ScenarioName, result: autocannon.Result, byEndpoint: Map<Endpoint, Tally>, latencies: number[]): ScenarioReport {
  const sorted = Float64Array.from(latencies).sort();
  const at = (q: number) => (sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!);
  const tallies = [...byEndpoint.values()];
  const sum = (pick: (t: Tally) => number) => tallies.reduce((total, t) => total + pick(t), 0);
  const seconds = result.duration;
  return {
    scenario,
    seconds,
    responses: sorted.length,
    requestsPerSecond: seconds > 0 ? sorted.length / seconds : 0,
    latencyMs: { p50: at(0.5), p95: at(0.95), p99: at(0.99), max: sorted.length ? sorted[sorted.length - 1]! : NaN },
    ok: sum((t) => t.ok),
    retryable: sum((t) => t.retryable),
    otherNon2xx: sum((t) => t.other),
    errors: result.errors - result.timeouts,
    timeouts: result.timeouts,
    byEndpoint,
  };
}

/**
 * After the contention run: the stored counter against the acknowledged writes. Writes cut off
 * when autocannon stopped (at most one per connection) and those that failed without an answer
 * may have landed, so they count as ambiguous.
 */
async function audit(args: Args, ctx: MixContext, report: ScenarioReport): Promise<{ ok: boolean; message: string }> {
  const writes = report.byEndpoint.get('sql_write');
  const unknownAnswers = [...(writes?.statuses ?? [])]
    .filter(([key]) => isAmbiguousWriteFailure(Number.parseInt(key, 10)))
    .reduce((n, [, c]) => n + c, 0);
  let answer: unknown;
  try {
    answer = await apiClient(args).request('POST', '/sql', { json: accountingQuery(ctx), read: true, idempotencyKey: false });
  } catch (error) {
    return { ok: false, message: `accounting read failed: ${describeError(error)}` };
  }
  const stored = parseStoredCounts(answer);
  return accountingVerdict({
    ...stored,
    acknowledged: writes?.ok ?? 0,
    ambiguous: unknownAnswers + report.errors + report.timeouts + args.connections,
  });
}

/** Setup writes are retried by the client with one Idempotency-Key, so a retry never applies twice. */
async function setupWrite(args: Args, body: SqlBody): Promise<void> {
  await apiClient(args, SETUP_ATTEMPTS - 1)
    .request('POST', '/sql', { json: body, idempotencyKey: `loadtest-setup-${randomUUID()}` })
    .catch((error: unknown) => {
      throw new Error(`setup write to "${body.database}" failed: ${describeError(error)}`);
    });
}

function apiClient(args: Args, retries = 0): Client {
  return createClient({ url: args.url, key: args.key, retries, timeoutMs: 60_000 });
}

function describeError(error: unknown): string {
  return error instanceof CloudliteError ? `${error.status ?? 'no answer'} ${error.code} ${error.message}`.slice(0, 300) : String(error);
}

// ---- Output ---------------------------------------------------------------------------------

function printReport(r: ScenarioReport): void {
  const ms = (value: number) => (Number.isNaN(value) ? '-' : `${value.toFixed(1)} ms`);
  const lines = [
    `\n== ${r.scenario}: ${r.responses} responses in ${r.seconds.toFixed(1)} s`,
    `  throughput  ${r.requestsPerSecond.toFixed(1)} req/s`,
    `  latency     p50 ${ms(r.latencyMs.p50)}   p95 ${ms(r.latencyMs.p95)}   p99 ${ms(r.latencyMs.p99)}   max ${ms(r.latencyMs.max)}`,
    `  answers     2xx ${r.ok}   retryable 409/503 ${r.retryable}   other non-2xx ${r.otherNon2xx}   errors ${r.errors}   timeouts ${r.timeouts}`,
  ];
  for (const [endpoint, tally] of [...r.byEndpoint].sort(([a], [b]) => a.localeCompare(b))) {
    const statuses = [...tally.statuses].sort(([a], [b]) => a.localeCompare(b)).map(([key, n]) => `${key}: ${n}`).join(', ');
    lines.push(`  ${endpoint.padEnd(18)} 2xx ${tally.ok}   retryable ${tally.retryable}   other ${tally.other}   (${statuses})`);
  }
  if (r.accounting) lines.push(`  accounting  ${r.accounting.ok ? 'ok' : 'FAILED'}: ${r.accounting.message}`);
  console.log(lines.join('\n'));
}

function printTable(reports: ScenarioReport[]): void {
  const rows = reports.map((r) => [
    r.scenario,
    r.requestsPerSecond.toFixed(0),
    r.latencyMs.p50.toFixed(1),
    r.latencyMs.p95.toFixed(1),
    r.latencyMs.p99.toFixed(1),
    String(r.ok),
    String(r.retryable),
    String(r.otherNon2xx),
    String(r.errors + r.timeouts),
  ]);
  const header = ['scenario', 'req/s', 'p50 ms', 'p95 ms', 'p99 ms', '2xx', '409/503', 'other', 'err/timeout'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const format = (row: string[]) => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ');
  console.log(`\n${format(header)}\n${rows.map(format).join('\n')}`);
}

main().catch((error: unknown) => {
  console.error(`loadtest:local: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
