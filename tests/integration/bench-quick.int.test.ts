import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { BenchReport } from '../../scripts/bench';

/**
 * `npm run bench -- --quick` end to end, as its own process with its own local stack, so the
 * bench cannot rot. Timings are printed by the bench and never asserted here; the requests each
 * operation costs are counted by SDK middleware and are asserted.
 */

const ROOT = path.resolve(__dirname, '..', '..');
jest.setTimeout(300_000);

let report: BenchReport;
let workDir: string;

beforeAll(async () => {
  workDir = await mkdtemp(path.join(os.tmpdir(), 'cloudlite-bench-test-'));
  const jsonFile = path.join(workDir, 'bench.json');
  await promisify(execFile)(path.join(ROOT, 'node_modules', '.bin', 'tsx'), ['scripts/bench.ts', '--quick', '--json', jsonFile], {
    cwd: ROOT,
    timeout: 280_000,
    maxBuffer: 4 << 20,
  });
  report = JSON.parse(await readFile(jsonFile, 'utf8')) as BenchReport;
}, 300_000);

afterAll(async () => {
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

const cost = (operation: string) => {
  const found = report.costs.find((entry) => entry.operation === operation);
  if (!found) throw new Error(`the bench measured no "${operation}"; it measured ${report.costs.map((entry) => entry.operation).join(', ')}`);
  return found;
};

describe('npm run bench -- --quick', () => {
  test('produces a row for each of the seven items of the table', () => {
    expect([...new Set(report.rows.map((row) => row.item))].sort()).toEqual(['1', '2', '3', '4', '5', '6', '7']);
  });

  test('a warm strong read costs one DynamoDB GetItem and no S3 request', () => {
    expect(cost('strong read (warm)').requests).toEqual({ 'DynamoDB GetItem': 1 });
  });

  test('an eventual read within its window costs no request at all', () => {
    expect(cost('eventual read (within its window)').requests).toEqual({});
  });

  test('a warm write costs one S3 PUT and two DynamoDB updates (take the lease, publish and release)', () => {
    expect(cost('single write (warm)').requests).toEqual({ 'S3 PUT': 1, 'DynamoDB UpdateItem': 2 });
  });

  test('a batch of 100 statements costs the same as a single write', () => {
    expect(cost('batch of 100 statements (warm)').requests).toEqual({ 'S3 PUT': 1, 'DynamoDB UpdateItem': 2 });
  });

  test('a write that changes nothing uploads nothing', () => {
    expect(cost('no-op write (warm)').requests).toEqual({ 'DynamoDB UpdateItem': 2 });
  });

  test('a strong read with no warm copy costs one GetItem and one S3 GET (issue 9 §1), its prefetch included', () => {
    expect(cost('strong read (cold: no warm copy)').requests).toEqual({ 'DynamoDB GetItem': 1, 'S3 GET': 1 });
  });

  test('a strong read on a stale copy costs one GetItem and one S3 GET of the recorded version (issue 9 §1)', () => {
    expect(cost('strong read (stale copy: another container wrote)').requests).toEqual({ 'DynamoDB GetItem': 1, 'S3 GET': 1 });
  });

  test('the S3 bytes item 4 reports are S3 bytes: none for an operation that made no S3 request', () => {
    const withoutS3 = report.costs.filter((entry) => entry.s3 === 0);
    expect(withoutS3.map((entry) => entry.operation)).toContain('strong read (warm)');
    for (const entry of withoutS3) {
      const row = report.rows.find((candidate) => candidate.item === '4' && candidate.measure.startsWith(`${entry.operation}:`));
      const claimed = /S3 bytes up \/ down (\d+) \/ (\d+)/.exec(row?.measure ?? '');
      if (claimed) expect(`${entry.operation}: ${claimed[1]} / ${claimed[2]}`).toBe(`${entry.operation}: 0 / 0`);
    }
  });

  test('the cold-start product answered its strong read', () => {
    expect(report.rows.find((row) => row.item === '6' && row.measure.startsWith('cold start'))?.measure).toContain('status 200');
  });
});
