import initSqlJs from 'sql.js';

/** Timing helpers and the generated databases the bench runs on. */

export async function timed(run: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await run();
  return performance.now() - start;
}

export function timedSync(run: () => unknown): number {
  const start = performance.now();
  run();
  return performance.now() - start;
}

/** `times` samples of `run`, one after another, sorted ascending. */
export async function samples(times: number, run: (i: number) => Promise<unknown>): Promise<number[]> {
  const taken: number[] = [];
  for (let i = 0; i < times; i++) {
    const start = performance.now();
    await run(i);
    taken.push(performance.now() - start);
  }
  return taken.sort((a, b) => a - b);
}

export interface WarmUp {
  /** Runs per block; a block's median is what is compared. */
  block: number;
  /** Stop here even if the blocks are still getting faster (at least one block runs). */
  maxRuns: number;
}

/**
 * Runs `run` untimed until its cost has settled, and says how many runs that took. A fresh
 * process keeps getting faster for thousands of requests while V8 optimises the code they run
 * (with --no-opt, the service's strong read is flat from its first hundred runs, at twice its
 * settled cost), so a fixed warm-up measures how far the JIT has got. Settled: three blocks in
 * a row whose medians do not beat the fastest block so far by 2%.
 */
export async function warmUp(run: (i: number) => Promise<unknown>, { block, maxRuns }: WarmUp): Promise<number> {
  let best = Infinity;
  let blocksWithoutGain = 0;
  let runs = 0;
  do {
    const blockMedian = median(await samples(block, (i) => run(runs + i)));
    runs += block;
    if (blockMedian < best * 0.98) blocksWithoutGain = 0;
    else blocksWithoutGain++;
    best = Math.min(best, blockMedian);
  } while (blocksWithoutGain < 3 && runs + block <= maxRuns);
  return runs;
}

/** The q-quantile of ascending samples (nearest rank). */
export function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

export const median = (sorted: number[]) => quantile(sorted, 0.5);

export function ms(value: number): string {
  if (!Number.isFinite(value)) return '-';
  // Item 2's lookups take a few µs: in ms with two decimals they would all print as 0.00 ms.
  if (value === 0) return '0 ms';
  if (value < 0.1) return `${(value * 1000).toFixed(value >= 0.01 ? 1 : 2)} µs`;
  return value >= 100 ? `${value.toFixed(0)} ms` : `${value.toFixed(value >= 10 ? 1 : 2)} ms`;
}

export function ratio(value: number): string {
  return Number.isFinite(value) ? `${value >= 10 ? value.toFixed(0) : value.toFixed(2)}×` : '-';
}

export function mb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

export type SqlJs = Awaited<ReturnType<typeof initSqlJs>>;

/** Rows of ~1 KB in `items(id, category, price, payload)`, indexed on category: about `sizeMb` MB. */
export const ITEMS_SCHEMA =
  'CREATE TABLE items(id INTEGER PRIMARY KEY, category TEXT NOT NULL, price REAL NOT NULL, payload TEXT NOT NULL); CREATE INDEX items_category ON items(category)';

export function itemRow(i: number): [string, number, string] {
  return [`c${i % 100}`, (i * 7919) % 10_000 / 100, `${i}`.padEnd(1000, '.')];
}

export function rowsForMb(sizeMb: number): number {
  return Math.max(100, Math.round((sizeMb * 1e6) / 1100));
}

export function generateDatabase(SQL: SqlJs, sizeMb: number): Uint8Array {
  const db = new SQL.Database();
  db.run(ITEMS_SCHEMA);
  db.run('BEGIN');
  const insert = db.prepare('INSERT INTO items(category, price, payload) VALUES (?, ?, ?)');
  const rows = rowsForMb(sizeMb);
  for (let i = 0; i < rows; i++) insert.run(itemRow(i));
  insert.free();
  db.run('COMMIT');
  const bytes = db.export();
  db.close();
  return bytes;
}
