import { readFileSync, writeFileSync } from 'node:fs';
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
  const peak = startPeakTracking();
  await client.execute('UPDATE items SET price = price + 1 WHERE id = 7', undefined, { database });
  const { baselineBytes, peakBytes } = peak.stop();
  await api.close();
  await app.close();
  console.log(JSON.stringify({ baselineBytes, peakAboveBaselineBytes: peakBytes - baselineBytes }));
}

/**
 * The kernel's own high-water mark (VmHWM), reset to the current RSS just before the write
 * (Linux: writing 5 to clear_refs), so the peak is exact and belongs to the write alone. Where
 * that is unavailable, RSS sampled every 5 ms, which can miss a short peak.
 */
function startPeakTracking(): { stop(): { baselineBytes: number; peakBytes: number } } {
  (globalThis as { gc?: () => void }).gc?.();
  const baselineBytes = process.memoryUsage.rss();
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return { stop: () => ({ baselineBytes, peakBytes: highWaterMark() }) };
  } catch {
    let peakBytes = baselineBytes;
    const sampler = setInterval(() => (peakBytes = Math.max(peakBytes, process.memoryUsage.rss())), 5);
    return {
      stop: () => {
        clearInterval(sampler);
        return { baselineBytes, peakBytes: Math.max(peakBytes, process.memoryUsage.rss()) };
      },
    };
  }
}

function highWaterMark(): number {
  const kib = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
  if (!kib) throw new Error('no VmHWM in /proc/self/status');
  return Number(kib[1]) * 1024;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
