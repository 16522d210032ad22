import { PutObjectCommand } from '@aws-sdk/client-s3';
import { parseArgs } from 'node:util';
import initSqlJs from 'sql.js';
import { createS3Client } from '../functions/adapters/aws-clients';
import { createApp, createRoutes } from '../functions/app';
import { loadConfig } from '../functions/config';
import { startLocalApi } from '../infra/local/api-gateway';
import { startLocalStack } from '../infra/local/stack';

/**
 * `npm run bench`: latency of the read and write paths on the local stack, for databases of
 * several sizes. Each database is generated with sql.js and stored in the bucket, then driven
 * through HTTP like a client would. Figures are for this machine and the local servers: they
 * show how costs scale with size, not what S3 in a region will do.
 */
const KEY = 'bench-write-key-0001';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { sizes: { type: 'string', default: '1,10,100' }, reads: { type: 'string', default: '200' }, writes: { type: 'string', default: '20' } } });
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const stack = await startLocalStack();
  process.env.AWS_ACCESS_KEY_ID ??= stack.env.AWS_ACCESS_KEY_ID;
  process.env.AWS_SECRET_ACCESS_KEY ??= stack.env.AWS_SECRET_ACCESS_KEY;
  const config = loadConfig({ ...process.env, ...stack.env, API_KEYS: `write:${KEY}`, LOG_LEVEL: 'ERROR', STATEMENT_TIMEOUT_MS: '30000', LOCK_LEASE_MS: '60000', S3_REQUEST_TIMEOUT_MS: '60000' });
  const s3 = createS3Client(config);
  const SQL = await initSqlJs();
  const rows: string[][] = [];

  for (const sizeMb of values.sizes.split(',').map(Number)) {
    const database = `bench-${sizeMb}mb`;
    const bytes = generate(SQL, sizeMb);
    await s3.send(new PutObjectCommand({ Bucket: config.bucket, Key: `${config.keyPrefix}${database}.sqlite`, Body: bytes }));

    // A fresh app per size: its first request is a cold load (download, open, quick_check).
    const app = createApp(config);
    const api = await startLocalApi(createRoutes(app), { port: 0 });
    const call = (body: object) => post(api.url, { database, ...body });
    const point = { sql_statement: 'SELECT payload FROM items WHERE id = ?', params: [42] };

    const cold = await timed(() => call(point));
    const strong = await repeat(Number(values.reads), () => call(point));
    const eventual = await repeat(Number(values.reads), () => call({ ...point, consistency: 'eventual' }));
    const writes = await repeat(Number(values.writes), () => call({ sql_statement: "UPDATE items SET payload = 'x' WHERE id = 1" }));
    rows.push([`${sizeMb} MB (${(bytes.byteLength / 1e6).toFixed(1)} MB file)`, ms(cold), summary(strong), summary(eventual), summary(writes), `${Math.round(process.memoryUsage().rss / 1e6)} MB`]);
    await api.close();
    await app.close();
  }
  await stack.close();

  const header = ['database', 'cold first read', 'strong read p50 / p95', 'eventual read p50 / p95', 'write p50 / p95', 'process RSS after'];
  console.log(`| ${header.join(' | ')} |\n|${header.map(() => '---').join('|')}|`);
  for (const row of rows) console.log(`| ${row.join(' | ')} |`);
}

/** A table of ~1 KB rows with an index, close to `sizeMb` megabytes. */
function generate(SQL: Awaited<ReturnType<typeof initSqlJs>>, sizeMb: number): Uint8Array {
  const db = new SQL.Database();
  db.run('CREATE TABLE items(id INTEGER PRIMARY KEY, category TEXT, payload TEXT); CREATE INDEX items_category ON items(category)');
  db.run('BEGIN');
  const insert = db.prepare('INSERT INTO items(category, payload) VALUES (?, ?)');
  const rows = Math.round((sizeMb * 1e6) / 1100);
  for (let i = 0; i < rows; i++) insert.run([`c${i % 100}`, `${i}`.padEnd(1000, '.')]);
  insert.free();
  db.run('COMMIT');
  const bytes = db.export();
  db.close();
  return bytes;
}

async function post(url: string, body: object): Promise<void> {
  const response = await fetch(`${url}/sql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` }, body: JSON.stringify(body) });
  if (response.status !== 200) throw new Error(`bench request failed: ${response.status} ${await response.text()}`);
  await response.arrayBuffer();
}

async function timed(run: () => Promise<void>): Promise<number> {
  const start = performance.now();
  await run();
  return performance.now() - start;
}

async function repeat(times: number, run: () => Promise<void>): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < times; i++) samples.push(await timed(run));
  return samples.sort((a, b) => a - b);
}

function summary(sorted: number[]): string {
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
  return `${ms(at(0.5))} / ${ms(at(0.95))}`;
}

function ms(value: number): string {
  return `${value.toFixed(1)} ms`;
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
