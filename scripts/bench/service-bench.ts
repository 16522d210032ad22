import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { createClient, type Client } from '../../clients/typescript/src/index.ts';
import { createDynamoDbClient, createS3Client } from '../../functions/adapters/aws-clients';
import { createApp, createRoutes, type App } from '../../functions/all-routes';
import type { Config } from '../../functions/config';
import { silentLogger } from '../../functions/core/logger';
import { startLocalApi } from '../../infra/local/api-gateway';
import { countRequests, type RequestCounter, type RequestTally } from './request-counter';
import { generateDatabase, median, quantile, samples, timed, timedSync, warmUp, type SqlJs, type WarmUp } from './measure';

/** The service as production builds it, behind the local API, with its SDK requests counted. */
export interface BenchService {
  app: App;
  client: Client;
  counter: RequestCounter;
  close(): Promise<void>;
}

export async function startBenchService(config: Config, key: string): Promise<BenchService> {
  const s3Client = createS3Client(config);
  const dynamoDbClient = createDynamoDbClient(config);
  const counter = countRequests(s3Client, dynamoDbClient);
  const app = createApp(config, silentLogger, { s3Client, dynamoDbClient });
  const api = await startLocalApi(createRoutes(app), { port: 0 });
  // No idempotency keys unless a measure asks for one: a keyed write costs more (it is reported apart).
  const client = createClient({ url: api.url, key, idempotencyKeys: false, retries: 8, retryBaseDelayMs: 20 });
  return {
    app,
    client,
    counter,
    close: async () => {
      await api.close();
      await app.close();
    },
  };
}

// ---- 4. Requests and bytes per operation ----------------------------------------------------

export interface OperationCost {
  operation: string;
  tally: RequestTally;
  s3: number;
  dynamoDb: number;
}

/**
 * Each operation on a warm copy (after one warm-up), counted alone; then strong reads in a second
 * container (`another`): with no warm copy (its GetItem and the latest object fetched alongside),
 * and on a copy another container's write made stale (its GetItem and that version's GET).
 */
export async function requestCosts(service: BenchService, database: string, another: () => Promise<BenchService>): Promise<OperationCost[]> {
  const { client } = service;
  const costs: OperationCost[] = [];
  const measureOn = async ({ counter }: BenchService, operation: string, run: () => Promise<unknown>) => {
    counter.reset();
    await run();
    const tally = counter.tally();
    costs.push({ operation, tally: structuredClone(tally), s3: counter.count('S3'), dynamoDb: counter.count('DynamoDB') });
  };
  const measure = (operation: string, run: () => Promise<unknown>) => measureOn(service, operation, run);
  const options = { database };
  await measure('create (first write of a new database)', () => client.execute('CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)', undefined, options));
  await client.execute('INSERT INTO t(v) VALUES (?)', ['warm-up'], options);
  await measure('single write (warm)', () => client.execute('INSERT INTO t(v) VALUES (?)', ['one'], options));
  const hundred = Array.from({ length: 100 }, (_, i) => ({ sql: 'INSERT INTO t(v) VALUES (?)', params: [`batch-${i}`] }));
  await measure('batch of 100 statements (warm)', () => client.batch(hundred, options));
  await measure('no-op write (warm)', () => client.execute('DELETE FROM t WHERE id = -1', undefined, options));
  await measure('single write with an Idempotency-Key (warm)', () => client.execute('INSERT INTO t(v) VALUES (?)', ['keyed'], { ...options, idempotencyKey: `bench-${Date.now()}` }));
  await client.query('SELECT count(*) FROM t', undefined, options);
  await measure('strong read (warm)', () => client.query('SELECT count(*) FROM t', undefined, options));
  await measure('eventual read (within its window)', () => client.query('SELECT count(*) FROM t', undefined, { ...options, consistency: 'eventual' }));
  const second = await another();
  try {
    await measureOn(second, 'strong read (cold: no warm copy)', () => second.client.query('SELECT count(*) FROM t', undefined, options));
    await client.execute('INSERT INTO t(v) VALUES (?)', ['from the first container'], options);
    await measureOn(second, 'strong read (stale copy: another container wrote)', () => second.client.query('SELECT count(*) FROM t', undefined, options));
  } finally {
    await second.close();
  }
  return costs;
}

// ---- 3. Database size, and 1. warm read against download-per-request --------------------------

export interface SizeReport {
  sizeMb: number;
  fileBytes: number;
  warmReadMs: number;
  /** Untimed reads it took before warmReadMs's reads (see warmUp). */
  warmUpReads: number;
  coldLoadMs: number;
  writeMs: number;
  /** The service's own phase timings of a warm write (median): lease, fetch, exec+export, upload (store_ms: the PUT alone). */
  writePhases: { lock_ms: number; load_ms: number; exec_ms: number; store_ms: number };
  /** Median of each write's time outside those phases: classifying, publishing (the release), HTTP. */
  writeRestMs: number;
  /** The same write's steps done directly with sql.js and the S3 client (median). */
  components: { loadMs: number; execMs: number; exportMs: number; uploadMs: number };
  peakWriteRssBytes?: number;
  /** Present for the database the download-per-request comparison ran on. */
  downloadComparison?: DownloadComparison;
}

export interface SizePlan {
  /** Untimed reads before the timed ones, until their cost settles: "warm" means a container that has served a while. */
  readWarmUp: WarmUp;
  /** The same for download-per-request, so both sides of item 1 are compared settled. */
  downloadWarmUp: WarmUp;
  reads: number;
  writes: number;
  componentRuns: number;
  downloadRuns: number;
  measureRss: boolean;
}

const POINT_QUERY = 'SELECT id, category, price FROM items WHERE id = ?';
/** The point query's id for the i-th read: spread over the first rows, which every size has. */
const pointId = (i: number) => 1 + ((i * 7919) % 900);

export async function sizeReport(
  SQL: SqlJs,
  config: Config,
  key: string,
  sizeMb: number,
  plan: SizePlan & { compareDownload: boolean; rssEnv: Record<string, string> },
): Promise<SizeReport> {
  const database = `bench-${sizeMb}mb-${Date.now().toString(36)}`;
  const bytes = generateDatabase(SQL, sizeMb);
  const s3 = createS3Client(config);
  const objectKey = `${config.keyPrefix}${database}.sqlite`;
  await s3.send(new PutObjectCommand({ Bucket: config.bucket, Key: objectKey, Body: bytes }));

  // A first write publishes the version record; the reads below then take the record's path.
  const first = await startBenchService(config, key);
  await first.client.execute('UPDATE items SET price = price + 1 WHERE id = 1', undefined, { database });
  await first.close();

  const service = await startBenchService(config, key);
  try {
    const { client } = service;
    const options = { database };
    const coldLoadMs = await timed(() => client.query(POINT_QUERY, [42], options));
    const read = (i: number) => client.query(POINT_QUERY, [pointId(i)], options);
    const warmUpReads = await warmUp(read, plan.readWarmUp);
    const reads = await samples(plan.reads, read);
    const phases: SizeReport['writePhases'][] = [];
    const rest: number[] = [];
    const writes = await samples(plan.writes, async (i) => {
      const start = performance.now();
      const answer = await client.request<{ meta: { timings: SizeReport['writePhases'] } }>('POST', '/sql', {
        json: { database, sql_statement: 'UPDATE items SET price = price + 1 WHERE id = ?', params: [1 + i] },
      });
      const t = answer.meta.timings;
      phases.push(t);
      rest.push(performance.now() - start - (t.lock_ms + t.load_ms + t.exec_ms + t.store_ms));
    });
    const phase = (name: keyof SizeReport['writePhases']) => median(phases.map((p) => p[name]).sort((a, b) => a - b));
    const report: SizeReport = {
      sizeMb,
      fileBytes: bytes.byteLength,
      warmReadMs: median(reads),
      warmUpReads,
      coldLoadMs,
      writeMs: median(writes),
      writePhases: { lock_ms: phase('lock_ms'), load_ms: phase('load_ms'), exec_ms: phase('exec_ms'), store_ms: phase('store_ms') },
      writeRestMs: median(rest.sort((a, b) => a - b)),
      components: await writeComponents(SQL, s3, config.bucket, `bench-scratch/${database}.sqlite`, bytes, plan.componentRuns),
    };
    if (plan.compareDownload) report.downloadComparison = await compareWithDownload(SQL, service, s3, { bucket: config.bucket, objectKey, database }, plan);
    if (plan.measureRss) report.peakWriteRssBytes = await peakWriteRss(database, key, plan.rssEnv);
    return report;
  } finally {
    await service.close();
  }
}

/** Item 1's two sides in this process, without HTTP (bench.ts adds what the HTTP layer costs to judge the target). */
export interface DownloadComparison {
  /** The service's strong read on its warm copy: the version record's GetItem, then the engine. */
  warmStrongReadMs: number;
  /** What a service without a warm copy does per request: download, open, query, close. */
  downloadPerRequestMs: number;
  /** Untimed runs each side took to settle (see warmUp). */
  warmUpReads: number;
  warmUpDownloads: number;
}

async function compareWithDownload(
  SQL: SqlJs,
  service: BenchService,
  s3: S3Client,
  target: { bucket: string; objectKey: string; database: string },
  plan: SizePlan,
): Promise<DownloadComparison> {
  const read = (i: number) =>
    service.app.service.execute({ database: target.database, program: { kind: 'script', sql: POINT_QUERY, params: [pointId(i)] }, consistency: 'strong' }, 'read');
  const warmUpReads = await warmUp(read, plan.readWarmUp);
  const warm = await samples(plan.reads, read);
  const download = (i: number) => downloadOnce(SQL, s3, target, i);
  const warmUpDownloads = await warmUp(download, plan.downloadWarmUp);
  return { warmStrongReadMs: median(warm), downloadPerRequestMs: median(await samples(plan.downloadRuns, download)), warmUpReads, warmUpDownloads };
}

/** What a service without a warm copy does per request: download, open, query the point's row, close. */
async function downloadOnce(SQL: SqlJs, s3: S3Client, { bucket, objectKey }: { bucket: string; objectKey: string }, i: number): Promise<void> {
  const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: objectKey }));
  const db = new SQL.Database(await object.Body!.transformToByteArray());
  const statement = db.prepare(POINT_QUERY);
  statement.bind([pointId(i)]);
  while (statement.step()) statement.get();
  statement.free();
  db.close();
}

async function writeComponents(SQL: SqlJs, s3: S3Client, bucket: string, scratchKey: string, bytes: Uint8Array, runs: number): Promise<SizeReport['components']> {
  const taken = { loadMs: [] as number[], execMs: [] as number[], exportMs: [] as number[], uploadMs: [] as number[] };
  for (let run = 0; run < runs; run++) {
    let db!: InstanceType<SqlJs['Database']>;
    taken.loadMs.push(timedSync(() => (db = new SQL.Database(bytes))));
    taken.execMs.push(timedSync(() => db.run('UPDATE items SET price = price + 1 WHERE id = ?', [1 + run])));
    let exported!: Uint8Array;
    taken.exportMs.push(timedSync(() => (exported = db.export())));
    db.close();
    taken.uploadMs.push(await timed(() => s3.send(new PutObjectCommand({ Bucket: bucket, Key: scratchKey, Body: exported }))));
  }
  const mid = (values: number[]) => median(values.sort((a, b) => a - b));
  return { loadMs: mid(taken.loadMs), execMs: mid(taken.execMs), exportMs: mid(taken.exportMs), uploadMs: mid(taken.uploadMs) };
}

/** Peak RSS of one cold write, in a fresh process, above that process's warmed-up baseline. */
async function peakWriteRss(database: string, key: string, env: Record<string, string>): Promise<number> {
  const tsx = path.resolve(__dirname, '..', '..', 'node_modules', '.bin', 'tsx');
  // --expose-gc: the child collects garbage before it takes its baseline.
  const { stdout } = await promisify(execFile)(tsx, ['--expose-gc', path.join(__dirname, 'write-rss-child.ts'), database, key], {
    env: { ...process.env, ...env },
    timeout: 300_000,
    maxBuffer: 1 << 20,
  });
  const { peakAboveBaselineBytes } = JSON.parse(stdout.trim().split('\n').pop()!) as { peakAboveBaselineBytes: number };
  return peakAboveBaselineBytes;
}

// ---- 5. Writers ----------------------------------------------------------------------------

export interface WritersReport {
  label: string;
  writers: number;
  commits: number;
  commitsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** commits/s against 1 / single-write latency (one database) or writers / latency (separate ones). */
  ofIdeal: number;
}

export async function writersReport(service: BenchService, writers: number, separate: boolean, seconds: number, serialLatencyMs: number): Promise<WritersReport> {
  const run = Date.now().toString(36);
  const databaseOf = (writer: number) => (separate ? `bench-w-${run}-${writer}` : `bench-w-${run}`);
  for (const database of new Set(Array.from({ length: writers }, (_, w) => databaseOf(w)))) {
    await service.client.execute('CREATE TABLE w(id INTEGER PRIMARY KEY, writer INTEGER, n INTEGER)', undefined, { database });
  }
  const latencies: number[] = [];
  const deadline = performance.now() + seconds * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: writers }, async (_, writer) => {
      for (let n = 0; performance.now() < deadline; n++) {
        latencies.push(await timed(() => service.client.execute('INSERT INTO w(writer, n) VALUES (?, ?)', [writer, n], { database: databaseOf(writer) })));
      }
    }),
  );
  const elapsedSeconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const commitsPerSecond = latencies.length / elapsedSeconds;
  const ideal = (separate ? writers : 1) * (1000 / serialLatencyMs);
  return {
    label: separate ? `${writers} writers, ${writers} databases` : `${writers} writer${writers === 1 ? '' : 's'}, one database`,
    writers,
    commits: latencies.length,
    commitsPerSecond,
    p50Ms: median(latencies),
    p99Ms: quantile(latencies, 0.99),
    ofIdeal: commitsPerSecond / ideal,
  };
}

