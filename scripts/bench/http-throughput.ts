import autocannon from 'autocannon';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createClient } from '../../clients/typescript/src/index.ts';

/** `npm start` in a child process (its own local stack and data directory), on a free port. */
export interface LocalServer {
  url: string;
  key: string;
  close(): Promise<void>;
}

const ROOT = path.resolve(__dirname, '..', '..');

export async function startLocalServer(key: string): Promise<LocalServer> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'cloudlite-bench-server-'));
  const child: ChildProcess = spawn(path.join(ROOT, 'node_modules', '.bin', 'tsx'), ['scripts/local-server.ts'], {
    cwd: ROOT,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, API_KEYS: `write:${key}`, LOG_LEVEL: 'ERROR' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`npm start did not come up in 60 s:\n${out}`)), 60_000);
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      // The banner's last line: by then migrations and the seed have run.
      const running = /cloudlite is running on (http:\/\/\S+)/.exec(out);
      if (running && out.includes('Try:')) {
        clearTimeout(timer);
        resolve(running[1]!);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`npm start exited with ${code}:\n${out}`)));
  });
  return {
    url,
    key,
    close: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface ThroughputReport {
  route: string;
  requestsPerSecond: number;
  p99Ms: number;
  non2xx: number;
}

/** autocannon on three routes of a running server, one after another. */
export async function httpThroughput(server: LocalServer, seconds: number, connections: number): Promise<ThroughputReport[]> {
  const client = createClient({ url: server.url, key: server.key, idempotencyKeys: false });
  const database = 'bench-http';
  await client.execute('CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT, price REAL)', undefined, { database });
  await client.execute("INSERT INTO items(name, price) WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000) SELECT 'item-' || i, i * 0.5 FROM n", undefined, { database });
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${server.key}` };
  const read = (consistency: 'strong' | 'eventual') =>
    JSON.stringify({ database, consistency, sql_statement: 'SELECT id, name, price FROM items WHERE id = ?', params: [500] });
  const routes = [
    { route: 'POST /sql strong read', method: 'POST' as const, path: '/sql', headers, body: read('strong') },
    { route: 'POST /sql eventual read', method: 'POST' as const, path: '/sql', headers, body: read('eventual') },
    { route: 'GET /flights', method: 'GET' as const, path: '/flights?origin=Delhi&sort_by=date&limit=10', headers: {}, body: undefined },
  ];
  const reports: ThroughputReport[] = [];
  for (const { route, path: routePath, ...request } of routes) {
    const result = await autocannon({ url: `${server.url}${routePath}`, connections, duration: seconds, ...request });
    reports.push({ route, requestsPerSecond: result.requests.average, p99Ms: result.latency.p99, non2xx: result.non2xx + result.errors });
  }
  return reports;
}
