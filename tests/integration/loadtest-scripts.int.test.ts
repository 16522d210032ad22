import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {
  accountingVerdict,
  nextRequest,
  retryDelayMs,
  SCENARIO_NAMES,
  setupRequests,
  type MixContext,
  type RequestSpec,
} from '../../loadtest/lib/scenarios-data';

/**
 * The k6 scripts can't run here (no k6 binary), so this checks what CI can: they type-check
 * against @types/k6, they bundle, and each bundle, imported by Node with the k6 modules replaced
 * by recording stubs, exports options with thresholds and runs setup, iterations, teardown and
 * handleSummary without throwing. The autocannon driver runs against a fake server on loopback.
 */

const ROOT = path.resolve(__dirname, '../..');
const SCRIPTS = readdirSync(path.join(ROOT, 'loadtest'))
  .filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'))
  .map((file) => file.slice(0, -'.ts'.length))
  .sort();
const BUNDLE_DIR = path.join(ROOT, '.build/loadtest');
const STUB_ENV = { BASE_URL: 'http://stub.invalid:9', API_KEY: 'stub-key', DATABASES: '3' };
const DATABASE_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;

interface Run {
  code: number | null;
  stdout: string;
  /** stdout and stderr together, for messages. */
  output: string;
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd: ROOT, env, timeout: 120_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      resolve({ code, stdout, output: `${stdout}${stderr}` });
    });
  });
}

// ---- k6 stubs ---------------------------------------------------------------------------------

/** Node module hooks that serve the k6 modules from stubs recording into globalThis.__k6. */
const HOOKS = `
const STUBS = {
  'k6': \`
    const k6 = globalThis.__k6;
    export function check(value, sets) {
      let all = true;
      for (const [name, fn] of Object.entries(sets)) { const ok = !!fn(value); k6.checks.push({ name, ok }); all = all && ok; }
      return all;
    }
    export function sleep(seconds) { k6.sleeps.push(seconds); }
    export function fail(message) { throw new Error(message); }
    export function group(name, fn) { return fn(); }
    export default { check, sleep, fail, group };\`,
  'k6/http': \`
    const k6 = globalThis.__k6;
    export function expectedStatuses(...statuses) { return { statuses }; }
    export function setResponseCallback(callback) { k6.responseCallback = callback; }
    export function request(method, url, body, params) { const req = { method, url, body, params }; k6.requests.push(req); return k6.respond(req); }
    export function get(url, params) { return request('GET', url, null, params); }
    export function post(url, body, params) { return request('POST', url, body, params); }
    export default { request, get, post, expectedStatuses, setResponseCallback };\`,
  'k6/metrics': \`
    const k6 = globalThis.__k6;
    class Metric {
      constructor(name, isTime) { this.name = name; k6.metrics[name] = { type: this.constructor.type, samples: [] }; }
      add(value, tags) { k6.metrics[this.name].samples.push({ value: Number(value), tags }); }
    }
    export class Counter extends Metric { static type = 'counter'; }
    export class Gauge extends Metric { static type = 'gauge'; }
    export class Rate extends Metric { static type = 'rate'; }
    export class Trend extends Metric { static type = 'trend'; }
    export default { Counter, Gauge, Rate, Trend };\`,
  'k6/execution': \`export default globalThis.__k6.exec;\`,
};
export async function resolve(specifier, context, next) {
  if (Object.hasOwn(STUBS, specifier)) return { url: 'data:text/javascript,' + encodeURIComponent(STUBS[specifier]), shortCircuit: true };
  return next(specifier, context);
}
`;

/**
 * Imports a bundle as k6 would (init with __ENV), then plays a short test: setup(), iterations
 * with the setup data after a JSON round trip, teardown(), handleSummary(). The fake API answers
 * the first load write 409 (to exercise the retry) and reports the counter the writes built.
 */
const HARNESS = `
import { register } from 'node:module';
import { pathToFileURL } from 'node:url';
const [bundle, iterations] = process.argv.slice(2);
let counter = 0;
let conflictServed = false;
const k6 = globalThis.__k6 = {
  requests: [], checks: [], sleeps: [], metrics: {},
  exec: { vu: { idInTest: 1, iterationInScenario: 0 }, scenario: { name: 'stub' }, test: { abort(m) { throw new Error(m); } } },
  respond(req) {
    const endpoint = req.params?.tags?.endpoint;
    const json = (status, body, headers = {}) => ({ status, body: JSON.stringify(body), headers: { 'Content-Type': 'application/json', ...headers }, error: '', error_code: 0 });
    if (req.method === 'GET') return json(200, { data: [], page: 1, total_pages: 0, total_items: 0 });
    if (endpoint === 'sql_write' && !conflictServed) { conflictServed = true; return json(409, { error: { code: 'WRITE_CONFLICT', message: 'retry' } }, { 'Retry-After': '0' }); }
    if (String(req.body).includes('UPDATE loadtest_counters')) counter++;
    if (String(req.body).includes('AS counter')) return json(200, { results: [{ columns: ['counter', 'events'], rows: [[counter, counter]] }] });
    return json(200, { results: [{ columns: [], rows: [], changes: 1, last_insert_rowid: 1 }], meta: {} });
  },
};
globalThis.__ENV = JSON.parse(process.env.K6_STUB_ENV);
register('./hooks.mjs', import.meta.url);
const script = await import(pathToFileURL(bundle).href);
const out = { exports: Object.keys(script).sort(), options: script.options };
if (Number(iterations) > 0) {
  const data = JSON.parse(JSON.stringify(script.setup ? script.setup() : null));
  for (let i = 0; i < Number(iterations); i++) { k6.exec.vu.iterationInScenario = i; script.default(data); }
  script.teardown?.(data);
  const metrics = {};
  for (const [name, { type, samples }] of Object.entries(k6.metrics)) {
    const values = samples.map((s) => s.value);
    const sum = values.reduce((a, b) => a + b, 0);
    metrics[name] = { type, values: type === 'counter' ? { count: sum, rate: sum } : type === 'gauge' ? { value: values.at(-1) ?? 0 }
      : type === 'rate' ? { rate: values.length ? sum / values.length : 0 } : { med: 1, 'p(95)': 2, 'p(99)': 3, max: 4 } };
  }
  metrics.http_reqs = { type: 'counter', values: { count: k6.requests.length, rate: k6.requests.length } };
  metrics.http_req_failed = { type: 'rate', values: { rate: 0 }, thresholds: { 'rate<0.01': { ok: true } } };
  Object.assign(out, {
    requests: k6.requests.map(({ method, url, body, params }) => ({ method, url, body, headers: params?.headers ?? {}, tags: params?.tags ?? {} })),
    sleeps: k6.sleeps,
    metrics,
    summary: script.handleSummary?.({ metrics, state: { testRunDurationMs: 1000 } }),
  });
}
console.log(JSON.stringify(out));
`;

interface Played {
  exports: string[];
  options: { scenarios?: Record<string, { executor: string }>; thresholds?: Record<string, unknown[]> };
  requests: { method: string; url: string; body: string | null; headers: Record<string, string>; tags: Record<string, string> }[];
  sleeps: number[];
  metrics: Record<string, { type: string; values: Record<string, number> }>;
  summary?: Record<string, string>;
}

describe('k6 load scripts', () => {
  let harnessDir: string;
  // Bundled once up front, so every test below plays the bundles of the scripts as they are now.
  let bundled: Run;
  beforeAll(async () => {
    harnessDir = mkdtempSync(path.join(os.tmpdir(), 'k6-stub-'));
    writeFileSync(path.join(harnessDir, 'hooks.mjs'), HOOKS);
    writeFileSync(path.join(harnessDir, 'harness.mjs'), HARNESS);
    rmSync(BUNDLE_DIR, { recursive: true, force: true });
    bundled = await run('npm', ['run', '--silent', 'loadtest:bundle']);
  }, 120_000);
  afterAll(() => rmSync(harnessDir, { recursive: true, force: true }));

  const play = async (script: string, iterations: number, env: Record<string, string> = STUB_ENV): Promise<Run> =>
    run(process.execPath, [path.join(harnessDir, 'harness.mjs'), path.join(BUNDLE_DIR, `${script}.js`), String(iterations)], {
      ...process.env,
      K6_STUB_ENV: JSON.stringify(env),
    });

  it('has the four scenarios', () => {
    expect(SCRIPTS).toEqual(['many-databases', 'mixed-95-5', 'viral-read-spike', 'write-contention']);
  });

  it('type-check with @types/k6 alone', async () => {
    const result = await run('npm', ['run', '--silent', 'loadtest:typecheck']);
    expect(result).toEqual({ code: 0, stdout: '', output: '' });
  }, 120_000);

  it('bundle into one ESM file per scenario with k6 modules left external', () => {
    expect(bundled).toEqual({ code: 0, stdout: '', output: '' });
    for (const script of SCRIPTS) expect(existsSync(path.join(BUNDLE_DIR, `${script}.js`))).toBe(true);
  });

  it.each(SCRIPTS)('%s exports options with thresholds and plays setup, iterations, teardown and summary', async (script) => {
    const result = await play(script, 60);
    expect(result).toMatchObject({ code: 0 });
    const played = JSON.parse(result.stdout) as Played;

    expect(played.exports).toEqual(expect.arrayContaining(['default', 'handleSummary', 'options', 'setup']));
    const scenarioNames = Object.keys(played.options.scenarios ?? {});
    expect(scenarioNames).toHaveLength(1);
    const thresholds = played.options.thresholds ?? {};
    expect(Object.keys(thresholds)).toEqual(
      expect.arrayContaining(['http_req_failed', 'unexpected_responses', 'retryable_rate', `http_req_duration{scenario:${scenarioNames[0]}}`]),
    );
    const endpointLatency = Object.keys(thresholds).filter((name) => name.startsWith('http_req_duration{endpoint:'));
    expect(endpointLatency.length).toBeGreaterThan(0);
    for (const name of endpointLatency) expect(thresholds[name]).toEqual([expect.stringMatching(/^p\(95\)<\d+$/)]);

    // Every request goes to BASE_URL; every SQL body names a valid database and carries the key.
    expect(played.requests.length).toBeGreaterThan(60);
    for (const request of played.requests) {
      expect(request.url.startsWith(`${STUB_ENV.BASE_URL}/`)).toBe(true);
      if (request.method === 'POST') {
        expect(request.headers.Authorization).toBe('Bearer stub-key');
        expect(JSON.parse(request.body!).database).toMatch(DATABASE_NAME);
      }
    }
    // Load requests are tagged with the endpoints the thresholds name.
    const tagged = new Set(played.requests.map((r) => r.tags.endpoint));
    for (const name of endpointLatency) expect(tagged).toContain(/\{endpoint:(\w+)\}/.exec(name)![1]);
    expect(played.summary?.stdout).toContain(script);
  }, 60_000);

  it('write-contention retries a 409 and its summary audits the stored counter against acknowledged writes', async () => {
    const played = JSON.parse((await play('write-contention', 10)).stdout) as Played;
    // Every write carries an Idempotency-Key, the retry of the refused first write the same one.
    const keys = played.requests.filter((r) => r.tags.endpoint === 'sql_write').map((r) => r.headers['Idempotency-Key']);
    expect(keys).toHaveLength(11);
    for (const key of keys) expect(key).toMatch(/^[\x21-\x7e]{1,128}$/);
    expect(keys[1]).toBe(keys[0]);
    expect(new Set(keys).size).toBe(10);
    expect(played.metrics.retryable_responses?.values.count).toBe(1);
    expect(played.metrics.write_retries?.values.count).toBe(1);
    expect(played.metrics.writes_acknowledged?.values.count).toBe(10);
    expect(played.metrics.stored_counter?.values.value).toBe(10);
    expect(played.summary?.stdout).toContain('ok   write accounting: every acknowledged write is stored exactly once');
  }, 60_000);

  it('a script without BASE_URL stops at init and says which variable is missing', async () => {
    const result = await play('viral-read-spike', 0, { API_KEY: 'stub-key' });
    expect(result.code).not.toBe(0);
    expect(result.output).toContain('BASE_URL is not set');
  }, 60_000);
});

describe('scenario request mixes', () => {
  const ctx: MixContext = { readDatabase: 'lt-reads', contentionDatabase: 'lt-contention', databases: 7, runId: 'run-1' };
  const seeded = (seed: number) => () => {
    seed = (seed * 16807) % 2147483647;
    return seed / 2147483647;
  };
  const draw = (scenario: (typeof SCENARIO_NAMES)[number], n: number): RequestSpec[] => {
    const random = seeded(42);
    return Array.from({ length: n }, (_, seq) => nextRequest(scenario, ctx, { writer: 'w', seq }, random));
  };

  it('mixed sends 95% reads and 5% writes', () => {
    const writes = draw('mixed', 20_000).filter((r) => r.endpoint === 'sql_write').length;
    expect(writes / 20_000).toBeGreaterThan(0.045);
    expect(writes / 20_000).toBeLessThan(0.055);
  });

  it('many-databases touches every database lt-db-0 .. lt-db-(n-1) and only those', () => {
    const databases = new Set(draw('many', 2_000).map((r) => r.body!.database));
    expect([...databases].sort()).toEqual(Array.from({ length: 7 }, (_, i) => `lt-db-${i}`).sort());
    expect(setupRequests('many', ctx).map((b) => b.database)).toEqual(Array.from({ length: 7 }, (_, i) => `lt-db-${i}`));
  });

  it('viral reads never write and contention only writes', () => {
    expect(draw('viral', 2_000).some((r) => r.endpoint === 'sql_write')).toBe(false);
    expect(draw('contention', 100).every((r) => r.endpoint === 'sql_write' && r.body!.database === 'lt-contention')).toBe(true);
  });

  it('the write accounting tells a lost update and a partial batch from a clean run', () => {
    expect(accountingVerdict({ counter: 10, events: 10, acknowledged: 10, ambiguous: 0 }).ok).toBe(true);
    expect(accountingVerdict({ counter: 12, events: 12, acknowledged: 10, ambiguous: 2 }).ok).toBe(true);
    expect(accountingVerdict({ counter: 9, events: 9, acknowledged: 10, ambiguous: 5 }).message).toContain('1 acknowledged write(s) lost');
    expect(accountingVerdict({ counter: 10, events: 9, acknowledged: 10, ambiguous: 0 }).message).toContain('applied in part');
    expect(accountingVerdict({ counter: 13, events: 13, acknowledged: 10, ambiguous: 2 }).ok).toBe(false);
  });

  it('a retry waits at least the Retry-After the server asked for, in seconds or as a date', () => {
    const now = Date.parse('2025-01-01T00:00:00Z');
    expect(retryDelayMs(0, '2', () => 0.5, now)).toBe(2000);
    expect(retryDelayMs(0, new Date(now + 3000).toUTCString(), () => 0.5, now)).toBe(3000);
    expect(retryDelayMs(3, undefined, () => 1, now)).toBe(800);
    expect(retryDelayMs(20, undefined, () => 1, now)).toBe(5000);
  });
});

describe('npm run loadtest:local', () => {
  /** A fake cloudlite on loopback: counts writes, answers every 4th contention write 409. */
  function fakeApi() {
    let counter = 0;
    let writes = 0;
    const server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        const reply = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
          res.writeHead(status, { 'content-type': 'application/json', ...headers });
          res.end(JSON.stringify(payload));
        };
        if (req.url === '/health') return reply(200, { ok: true });
        if (req.url?.startsWith('/flights')) return reply(200, { data: [], page: 1, total_pages: 0, total_items: 0 });
        if (req.headers.authorization !== 'Bearer fake-key') return reply(401, { error: { code: 'UNAUTHORIZED', message: 'no' } });
        if (body.includes('UPDATE loadtest_counters') && ++writes % 4 === 0) return reply(409, { error: { code: 'WRITE_CONFLICT', message: 'retry' } });
        if (body.includes('UPDATE loadtest_counters')) counter++;
        if (body.includes('AS counter')) return reply(200, { results: [{ columns: ['counter', 'events'], rows: [[counter, counter]] }] });
        return reply(200, { results: [{ columns: [], rows: [], changes: 0, last_insert_rowid: null }], meta: {} });
      });
    });
    return new Promise<{ url: string; close(): Promise<void> }>((resolve) =>
      server.listen(0, '127.0.0.1', () =>
        resolve({
          url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
          close: () => new Promise<void>((done) => server.close(() => done())),
        }),
      ),
    );
  }

  it('runs the four scenarios for the given duration and reports throughput, latency and outcomes', async () => {
    const api = await fakeApi();
    try {
      const result = await run(process.execPath, [
        path.join(ROOT, 'node_modules/tsx/dist/cli.mjs'),
        'scripts/loadtest-local.ts',
        ...['--url', api.url, '--key', 'fake-key', '--duration', '1', '--connections', '4', '--databases', '3'],
      ]);
      expect(result.code).toBe(0);
      for (const scenario of SCENARIO_NAMES) expect(result.output).toMatch(new RegExp(`== ${scenario}: \\d+ responses`));
      expect(result.output).toMatch(/throughput\s+\d+\.\d req\/s/);
      expect(result.output).toMatch(/latency\s+p50 [\d.]+ ms\s+p95 [\d.]+ ms\s+p99 [\d.]+ ms/);
      expect(result.output).toMatch(/retryable 409\/503 [1-9]\d*/);
      expect(result.output).toContain('accounting  ok: every acknowledged write is stored exactly once');
    } finally {
      await api.close();
    }
  }, 60_000);

  it('refuses a target that is not on this machine', async () => {
    const result = await run(process.execPath, [path.join(ROOT, 'node_modules/tsx/dist/cli.mjs'), 'scripts/loadtest-local.ts', '--url', 'http://192.0.2.1:3000', '--key', 'k']);
    expect(result.code).toBe(1);
    expect(result.output).toContain('is not on this machine');
  }, 30_000);
});
