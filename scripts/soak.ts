import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { CloudliteError, createClient } from '../clients/typescript/src/index.ts';
import { createApp, createRoutes } from '../functions/all-routes';
import { loadConfig } from '../functions/config';
import { startLocalApi } from '../infra/local/api-gateway';
import { startLocalStack } from '../infra/local/stack';

/**
 * `npm run soak`: a mixed read/write load on a fresh local stack in this process, then checks
 * - no 5xx other than the documented retryable ones (503 LOCK_TIMEOUT / STORAGE_UNAVAILABLE),
 * - every acknowledged write present exactly once, and nothing that was never sent,
 * - strong reads never miss a write acknowledged before they were sent,
 * - the process's memory flat after warm-up: the JavaScript heap measured after a full GC (run
 *   with --expose-gc, as `npm run soak` does) must not grow; RSS is reported alongside, and only
 *   fails the run on large growth, since WebAssembly memory never shrinks and RSS includes
 *   the local S3 and DynamoDB servers running in this process.
 * Writers never retry a row blindly: after a retryable failure they move on to a new row and
 * remember the failed one as "unacknowledged" (allowed to be present at most once).
 */

export interface SoakOptions {
  durationMs: number;
  writers: number;
  readers: number;
  databases: number;
  log?: (line: string) => void;
}

export interface SoakReport {
  durationMs: number;
  requests: number;
  throughputPerSecond: number;
  statuses: Record<string, number>;
  acknowledgedWrites: number;
  unacknowledgedWrites: number;
  problems: string[];
  memory: {
    warmRssMb: number;
    finalRssMb: number;
    peakRssMb: number;
    rssGrowthMb: number;
    /** JavaScript heap after a full GC; undefined without --expose-gc. */
    warmHeapMb?: number;
    finalHeapMb?: number;
    heapGrowthMb?: number;
  };
  passed: boolean;
}

const WRITE_KEY = 'soak-write-key-0001';
const RETRYABLE = new Set([409, 503]);

export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const log = options.log ?? (() => undefined);
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'cloudlite-soak-'));
  const stack = await startLocalStack({ dataDir });
  // Credentials come from the SDK's usual chain; the local servers accept the local ones.
  process.env.AWS_ACCESS_KEY_ID ??= stack.env.AWS_ACCESS_KEY_ID;
  process.env.AWS_SECRET_ACCESS_KEY ??= stack.env.AWS_SECRET_ACCESS_KEY;
  const app = createApp(loadConfig({ ...process.env, ...stack.env, API_KEYS: `write:${WRITE_KEY}`, LOG_LEVEL: 'ERROR' }));
  const api = await startLocalApi(createRoutes(app), { port: 0 });

  const statuses: Record<string, number> = {};
  const problems: string[] = [];
  const acked = new Map<string, Set<string>>();
  const unacked = new Map<string, Set<string>>();
  const databases = Array.from({ length: options.databases }, (_, i) => `soak-${i}`);
  let requests = 0;

  // The soak counts every answer itself and never retries a row: no client retries, no keys.
  const client = createClient({ url: api.url, key: WRITE_KEY, retries: 0, idempotencyKeys: false });
  async function call(body: unknown): Promise<{ status: number; json: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
    requests += 1;
    try {
      const json = await client.request('POST', '/sql', { json: body });
      statuses[200] = (statuses[200] ?? 0) + 1;
      return { status: 200, json };
    } catch (error) {
      if (!(error instanceof CloudliteError) || error.status === undefined) {
        statuses.network = (statuses.network ?? 0) + 1;
        problems.push(`network error: ${String(error)}`);
        return { status: 0, json: undefined };
      }
      const json = { error: { code: error.code, message: error.message } };
      statuses[error.status] = (statuses[error.status] ?? 0) + 1;
      if (error.status >= 500 && !RETRYABLE.has(error.status)) problems.push(`${error.status} ${JSON.stringify(json)}`);
      return { status: error.status, json };
    }
  }

  for (const database of databases) {
    const created = await call({ database, sql_statement: 'CREATE TABLE IF NOT EXISTS events(writer INTEGER NOT NULL, seq INTEGER NOT NULL)' });
    if (created.status !== 200) throw new Error(`could not create ${database}: ${JSON.stringify(created.json)}`);
    acked.set(database, new Set());
    unacked.set(database, new Set());
  }

  const memory: number[] = [];
  const heap: number[] = [];
  const collect = (globalThis as { gc?: () => void }).gc;
  const sampler = setInterval(() => {
    memory.push(process.memoryUsage().rss);
    if (collect) {
      collect();
      heap.push(process.memoryUsage().heapUsed);
    }
  }, 1_000);
  const deadline = Date.now() + options.durationMs;

  async function writer(id: number): Promise<void> {
    for (let seq = 0; Date.now() < deadline; seq++) {
      const database = databases[(id + seq) % databases.length]!;
      const row = `${id}:${seq}`;
      const answer = await call({ database, sql_statement: 'INSERT INTO events(writer, seq) VALUES (?, ?)', params: [id, seq] });
      if (answer.status === 200) acked.get(database)!.add(row);
      else {
        unacked.get(database)!.add(row);
        if (!RETRYABLE.has(answer.status)) problems.push(`write ${row} answered ${answer.status} ${JSON.stringify(answer.json)}`);
        else await new Promise((resolve) => setTimeout(resolve, 50 + Math.random() * 200));
      }
    }
  }

  async function reader(id: number): Promise<void> {
    for (let n = 0; Date.now() < deadline; n++) {
      const database = databases[(id + n) % databases.length]!;
      const strong = n % 2 === 0;
      const ackedBefore = acked.get(database)!.size;
      const answer = await call({ database, sql_statement: 'SELECT count(*) FROM events', consistency: strong ? 'strong' : 'eventual' });
      if (answer.status !== 200) {
        if (!RETRYABLE.has(answer.status)) problems.push(`read answered ${answer.status} ${JSON.stringify(answer.json)}`);
        continue;
      }
      const count = Number(answer.json.results[0].rows[0][0]);
      if (strong && count < ackedBefore) problems.push(`strong read of ${database} saw ${count} rows after ${ackedBefore} acknowledged writes`);
    }
  }

  const progress = setInterval(() => log(`… ${requests} requests, ${Math.round(process.memoryUsage().rss / 1e6)} MB RSS`), 30_000);
  const started = Date.now();
  await Promise.all([
    ...Array.from({ length: options.writers }, (_, i) => writer(i)),
    ...Array.from({ length: options.readers }, (_, i) => reader(i)),
  ]);
  const elapsed = Date.now() - started;
  clearInterval(sampler);
  clearInterval(progress);

  for (const database of databases) {
    const stored = await call({ database, sql_statement: 'SELECT writer, seq, count(*) FROM events GROUP BY writer, seq' });
    const seen = new Map<string, number>(stored.json.results[0].rows.map((r: number[]) => [`${r[0]}:${r[1]}`, r[2]]));
    for (const row of acked.get(database)!) {
      if (seen.get(row) !== 1) problems.push(`${database}: acknowledged write ${row} present ${seen.get(row) ?? 0} times`);
    }
    for (const [row, times] of seen) {
      if (acked.get(database)!.has(row)) continue;
      if (!unacked.get(database)!.has(row)) problems.push(`${database}: row ${row} was never written by the soak`);
      else if (times > 1) problems.push(`${database}: unacknowledged write ${row} present ${times} times`);
    }
  }

  // Memory: compare the first samples after warm-up (the first fifth) with the last ones.
  const settled = (samples: number[]) => {
    const warmIndex = Math.floor(samples.length / 5);
    const window = Math.max(1, Math.floor(samples.length / 10));
    const average = (values: number[]) => values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);
    return { warm: average(samples.slice(warmIndex, warmIndex + window)), final: average(samples.slice(-window)) };
  };
  const rss = settled(memory);
  const rssGrowthMb = (rss.final - rss.warm) / 1e6;
  const allowedRssGrowthMb = Math.max(128, (rss.warm / 1e6) * 0.5);
  if (rssGrowthMb > allowedRssGrowthMb) problems.push(`RSS grew ${rssGrowthMb.toFixed(0)} MB after warm-up (allowed ${allowedRssGrowthMb.toFixed(0)} MB)`);
  const heapAfterGc = heap.length > 0 ? settled(heap) : undefined;
  const heapGrowthMb = heapAfterGc ? (heapAfterGc.final - heapAfterGc.warm) / 1e6 : undefined;
  if (heapGrowthMb !== undefined && heapGrowthMb > 16) problems.push(`the heap after GC grew ${heapGrowthMb.toFixed(1)} MB after warm-up (allowed 16 MB)`);

  await api.close();
  await app.close();
  await stack.close();
  rmSync(dataDir, { recursive: true, force: true });

  const count = (set: Map<string, Set<string>>) => [...set.values()].reduce((n, s) => n + s.size, 0);
  return {
    durationMs: elapsed,
    requests,
    throughputPerSecond: Math.round((requests / elapsed) * 1000),
    statuses,
    acknowledgedWrites: count(acked),
    unacknowledgedWrites: count(unacked),
    problems: problems.slice(0, 50),
    memory: {
      warmRssMb: Math.round(rss.warm / 1e6),
      finalRssMb: Math.round(rss.final / 1e6),
      peakRssMb: Math.round(Math.max(...memory) / 1e6),
      rssGrowthMb: Math.round(rssGrowthMb),
      warmHeapMb: heapAfterGc && Math.round(heapAfterGc.warm / 1e6),
      finalHeapMb: heapAfterGc && Math.round(heapAfterGc.final / 1e6),
      heapGrowthMb: heapGrowthMb === undefined ? undefined : Math.round(heapGrowthMb * 10) / 10,
    },
    passed: problems.length === 0,
  };
}

if (require.main === module) {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string', default: process.env.SOAK_SECONDS ?? '300' },
      writers: { type: 'string', default: '8' },
      readers: { type: 'string', default: '24' },
      databases: { type: 'string', default: '3' },
    },
  });
  const options: SoakOptions = {
    durationMs: Number(values.duration) * 1000,
    writers: Number(values.writers),
    readers: Number(values.readers),
    databases: Number(values.databases),
    log: (line) => console.log(line),
  };
  console.log(`soak: ${values.duration} s, ${options.writers} writers and ${options.readers} readers over ${options.databases} databases`);
  runSoak(options)
    .then((report) => {
      console.log(JSON.stringify(report, null, 2));
      console.log(report.passed ? 'soak passed' : 'soak FAILED');
      process.exit(report.passed ? 0 : 1);
    })
    .catch((error) => {
      console.error('soak could not run:', error);
      process.exit(1);
    });
}
