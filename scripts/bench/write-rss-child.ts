import { createClient } from '../../clients/typescript/src/index.ts';
import { createApp, createRoutes } from '../../functions/all-routes';
import { loadConfig } from '../../functions/config';
import { silentLogger } from '../../functions/core/logger';
import { startLocalApi } from '../../infra/local/api-gateway';

/**
 * Run by the bench in a fresh process: the peak RSS of one write to a database this process has
 * never loaded (download, open, exec, export, upload), above the process's baseline once its
 * engine is up. Prints one JSON line.
 */
async function main(): Promise<void> {
  const [database, key] = process.argv.slice(2) as [string, string];
  const app = createApp(loadConfig(), silentLogger);
  const api = await startLocalApi(createRoutes(app), { port: 0 });
  const client = createClient({ url: api.url, key, idempotencyKeys: false });
  // The engine's worker and WASM are part of the baseline, not of the write.
  await client.execute('CREATE TABLE IF NOT EXISTS warm(x)', undefined, { database: `${database}-rss-warm-up` });
  await new Promise((resolve) => setTimeout(resolve, 200));
  const baseline = process.memoryUsage.rss();
  let peak = baseline;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 5);
  await client.execute('UPDATE items SET price = price + 1 WHERE id = 7', undefined, { database });
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage.rss(), process.resourceUsage().maxRSS * 1024);
  await api.close();
  await app.close();
  console.log(JSON.stringify({ baselineBytes: baseline, peakAboveBaselineBytes: peak - baseline }));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
