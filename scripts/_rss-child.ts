import { readFileSync, writeFileSync } from 'node:fs';
import { createClient } from '../clients/typescript/src/index.ts';
import { createApp, createRoutes } from '../functions/all-routes';
import { loadConfig } from '../functions/config';
import { silentLogger } from '../functions/core/logger';
import { startLocalApi } from '../infra/local/api-gateway';
async function main(): Promise<void> {
  const [database, key, mode] = process.argv.slice(2) as [string, string, string];
  const app = createApp(loadConfig(), silentLogger);
  const api = await startLocalApi(createRoutes(app), { port: 0 });
  const client = createClient({ url: api.url, key, idempotencyKeys: false });
  await client.execute('CREATE TABLE IF NOT EXISTS warm(x)', undefined, { database: `${database}-rss-warm-up-${Date.now()}` });
  if (mode === 'twin') await client.execute('UPDATE items SET price = price + 1 WHERE id = 7', undefined, { database: `${database}twin` });
  await new Promise((resolve) => setTimeout(resolve, 200));
  (globalThis as any).gc?.();
  const baselineBytes = process.memoryUsage.rss();
  writeFileSync('/proc/self/clear_refs', '5');
  await client.execute('UPDATE items SET price = price + 1 WHERE id = 7', undefined, { database });
  const kib = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'))!;
  const peak = Number(kib[1]) * 1024;
  await api.close();
  await app.close();
  console.log(JSON.stringify({ mode, baseMb: (baselineBytes / 1e6).toFixed(1), peakAboveMb: ((peak - baselineBytes) / 1e6).toFixed(1) }));
  process.exit(0);
}
main();
