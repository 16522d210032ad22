import { build } from 'esbuild';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startLocalServer, type LocalServer } from '../../scripts/bench/local-server-process';

/**
 * The four k6 scenarios, run for real by k6 (v0.47, ../shared/tools/k6) for about ten seconds
 * each against `npm start` on loopback, with small bounded loads: the scripts users run against
 * AWS are proven here. Passes when k6 exits 0 (every threshold held) and the contention run's
 * write audit finds every acknowledged write stored exactly once.
 */

const ROOT = path.resolve(__dirname, '..', '..');
const K6 = path.resolve(ROOT, '..', 'shared', 'tools', 'k6');
const KEY = 'k6-test-write-key-0001';

/** Short, bounded runs: a few dozen requests per second on loopback. */
const RUNS: Record<string, Record<string, string>> = {
  'viral-read-spike': { PEAK_RPS: '40', WARMUP: '2s', RAMP: '3s', HOLD: '4s', COOLDOWN: '1s', MAX_VUS: '20' },
  'write-contention': { VUS: '4', DURATION: '10s' },
  'mixed-95-5': { RATE: '30', DURATION: '10s', MAX_VUS: '20' },
  'many-databases': { RATE: '30', DURATION: '10s', DATABASES: '5', MAX_VUS: '20' },
};

interface Summary {
  metrics: Record<string, { values: Record<string, number>; thresholds?: Record<string, { ok: boolean }> }>;
  audit?: { ok: boolean; message: string };
}

const suite = existsSync(K6) ? describe : describe.skip;
if (!existsSync(K6)) console.warn(`k6 scenarios skipped: no k6 binary at ${K6}`);

jest.setTimeout(300_000);

/** The scenarios as k6 v0.47 runs them: bundled, ES2017 (object spread and the like lowered). */
function bundleScenarios(outdir: string) {
  return build({
    entryPoints: Object.keys(RUNS).map((script) => path.join(ROOT, 'loadtest', `${script}.ts`)),
    bundle: true,
    outdir,
    format: 'esm',
    platform: 'neutral',
    target: 'es2017',
    external: ['k6', 'k6/*'],
    logLevel: 'error',
  });
}

suite('the k6 scenarios, run by k6 against npm start', () => {
  let workDir: string;
  let server: LocalServer;

  beforeAll(async () => {
    workDir = await mkdtemp(path.join(os.tmpdir(), 'cloudlite-k6-'));
    await bundleScenarios(workDir);
    server = await startLocalServer(KEY);
  }, 120_000);

  afterAll(async () => {
    await server?.close();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  test('the loadtest directory holds exactly the scenarios this test runs', () => {
    const scripts = readdirSync(path.join(ROOT, 'loadtest')).filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'));
    expect(scripts.map((file) => file.slice(0, -'.ts'.length)).sort()).toEqual(Object.keys(RUNS).sort());
  });

  test.each(Object.keys(RUNS))('%s holds every threshold', async (script) => {
    const { code, output, summary } = await runK6(script);

    const failed = Object.entries(summary.metrics).flatMap(([metric, { thresholds }]) =>
      Object.entries(thresholds ?? {})
        .filter(([, result]) => !result.ok)
        .map(([expression]) => `${metric} ${expression}`),
    );
    expect([script, failed]).toEqual([script, []]);
    expect([script, code, code === 0 ? '' : output.slice(-2000)]).toEqual([script, 0, '']);
    expect(summary.metrics.http_reqs!.values.count).toBeGreaterThan(50);
  });

  test('write-contention: every acknowledged write is stored exactly once, and no write was abandoned', async () => {
    const { summary } = await runK6('write-contention');

    expect(summary.audit).toEqual({ ok: true, message: expect.stringContaining('every acknowledged write is stored exactly once') });
    expect(summary.metrics.writes_acknowledged!.values.count).toBeGreaterThan(10);
    expect(summary.metrics.writes_abandoned?.values.count ?? 0).toBe(0);
  });

  /** Each scenario runs once; its tests share the outcome. */
  const runs = new Map<string, Promise<{ code: number; output: string; summary: Summary }>>();
  function runK6(script: string) {
    if (!runs.has(script)) runs.set(script, runOnce(script));
    return runs.get(script)!;
  }

  async function runOnce(script: string): Promise<{ code: number; output: string; summary: Summary }> {
    const summaryDir = await mkdtemp(path.join(workDir, `${script}-`));
    const env = { BASE_URL: server.url, API_KEY: KEY, SUMMARY_DIR: summaryDir, ...RUNS[script] };
    const args = ['run', '--quiet', '--no-usage-report', ...Object.entries(env).flatMap(([name, value]) => ['-e', `${name}=${value}`]), path.join(workDir, `${script}.js`)];
    const { code, output } = await new Promise<{ code: number; output: string }>((resolve) => {
      execFile(K6, args, { cwd: workDir, timeout: 120_000, maxBuffer: 16 << 20, env: { PATH: process.env.PATH, HOME: workDir } }, (error, stdout, stderr) => {
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, output: `${stdout}${stderr}` });
      });
    });
    const summary = JSON.parse(await readFile(path.join(summaryDir, `${script}.json`), 'utf8')) as Summary;
    return { code, output, summary };
  }
});

/**
 * The scenarios' verdicts (k6's exit code, which CI and users go by; the audit)
 * against APIs that misbehave in ways the scenarios exist to catch. Each fake is a few lines of
 * `node:http` on loopback; k6 is the real one.
 */
suite('the k6 scenarios fail a service that answers wrongly', () => {
  let workDir: string;

  beforeAll(async () => {
    workDir = await mkdtemp(path.join(os.tmpdir(), 'cloudlite-k6-fakes-'));
    await bundleScenarios(workDir);
  }, 120_000);

  afterAll(async () => {
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  type Handler = (req: { url: string; body: string; headers: http.IncomingHttpHeaders }) => { status: number; body: string; headers?: Record<string, string> };

  async function withFake<T>(handler: Handler, use: (url: string) => Promise<T>): Promise<T> {
    const server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        const answer = handler({ url: req.url ?? '/', body, headers: req.headers });
        res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
        res.end(answer.body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      return await use(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }

  async function k6(script: string, env: Record<string, string>): Promise<{ code: number; output: string; summary?: Summary }> {
    const summaryDir = await mkdtemp(path.join(workDir, `${script}-`));
    const all = { API_KEY: KEY, SUMMARY_DIR: summaryDir, ...env };
    const args = ['run', '--quiet', '--no-usage-report', ...Object.entries(all).flatMap(([name, value]) => ['-e', `${name}=${value}`]), path.join(workDir, `${script}.js`)];
    const { code, output } = await new Promise<{ code: number; output: string }>((resolve) => {
      execFile(K6, args, { cwd: workDir, timeout: 120_000, maxBuffer: 16 << 20, env: { PATH: process.env.PATH, HOME: workDir } }, (error, stdout, stderr) => {
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, output: `${stdout}${stderr}` });
      });
    });
    const file = path.join(summaryDir, `${script}.json`);
    const summary = existsSync(file) ? (JSON.parse(await readFile(file, 'utf8')) as Summary) : undefined;
    return { code, output, summary };
  }

  const json = (status: number, body: unknown, headers?: Record<string, string>) => ({ status, body: JSON.stringify(body), headers });

  test('write-contention exits non-zero when the acknowledged writes are not in the stored counter', async () => {
    // Acknowledges every write and stores none of them: every write is a lost update.
    const losesEveryWrite: Handler = ({ body }) =>
      body.includes('AS counter')
        ? json(200, { results: [{ columns: ['counter', 'events'], rows: [[0, 0]] }], meta: { version: 'v1' } })
        : json(200, { results: [{ columns: [], rows: [], changes: 1 }], meta: { version: 'v1' } });

    const run = await withFake(losesEveryWrite, (url) => k6('write-contention', { BASE_URL: url, VUS: '2', DURATION: '2s' }));

    expect(run.summary?.audit).toEqual({ ok: false, message: expect.stringContaining('acknowledged write(s) lost') });
    expect(run.code).not.toBe(0);
  });

  test.each([
    ['viral-read-spike', { PEAK_RPS: '20', WARMUP: '1s', RAMP: '1s', HOLD: '1s', COOLDOWN: '1s' }],
    ['mixed-95-5', { RATE: '20', DURATION: '2s' }],
    ['many-databases', { RATE: '20', DURATION: '2s', DATABASES: '2' }],
  ])('%s exits non-zero against a server answering 200 with a page that is not the API', async (script, env) => {
    // A wrong BASE_URL (a website, a CDN with an SPA fallback) answers 200 to every path.
    const notTheApi: Handler = () => ({ status: 200, body: '<!doctype html><title>Welcome</title>', headers: { 'content-type': 'text/html' } });

    const run = await withFake(notTheApi, (url) => k6(script, { BASE_URL: url, ...env }));

    expect([script, run.code]).not.toEqual([script, 0]);
  });

  test('a write answered 503 WRITE_OUTCOME_UNKNOWN and never settled is counted ambiguous, not abandoned', async () => {
    // Each write's first attempt is stored but answered WRITE_OUTCOME_UNKNOWN; its retries meet a busy lock.
    const seen = new Set<string>();
    let stored = 0;
    const unknownThenBusy: Handler = ({ body, headers }) => {
      if (body.includes('AS counter')) return json(200, { results: [{ columns: ['counter', 'events'], rows: [[stored, stored]] }], meta: { version: 'v1' } });
      if (!body.includes('UPDATE loadtest_counters')) return json(200, { results: [{ columns: [], rows: [], changes: 0 }], meta: { version: 'v1' } });
      const key = String(headers['idempotency-key']);
      if (!seen.has(key)) {
        seen.add(key);
        stored++;
        return json(503, { error: { code: 'WRITE_OUTCOME_UNKNOWN', message: 'the write may have been stored', write_id: key } });
      }
      return json(503, { error: { code: 'LOCK_TIMEOUT', message: 'busy' } }, { 'Retry-After': '0' });
    };

    const run = await withFake(unknownThenBusy, (url) => k6('write-contention', { BASE_URL: url, VUS: '1', DURATION: '2s', MAX_ATTEMPTS: '2' }));

    expect(stored).toBeGreaterThan(0);
    expect(run.summary?.metrics.writes_ambiguous?.values.count ?? 0).toBe(stored);
    expect(run.summary?.metrics.writes_abandoned?.values.count ?? 0).toBe(0);
    expect(run.summary?.audit?.message).not.toContain('nobody sent');
  });
});
