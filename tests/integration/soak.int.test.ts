import { runSoak } from '../../scripts/soak';

describe('the soak checker', () => {
  it('a short mixed load ends with every acknowledged write present exactly once and no unexpected 5xx', async () => {
    const report = await runSoak({ durationMs: 6_000, writers: 4, readers: 8, databases: 2 });
    expect(report.problems).toEqual([]);
    expect(report.acknowledgedWrites).toBeGreaterThan(10);
    expect(report.statuses['200']).toBeGreaterThan(report.acknowledgedWrites);
    expect(report.passed).toBe(true);
  }, 60_000);
});
