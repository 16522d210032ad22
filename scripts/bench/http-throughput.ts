import autocannon from 'autocannon';
import { createClient } from '../../clients/typescript/src/index.ts';
import type { LocalServer } from './local-server-process';

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
