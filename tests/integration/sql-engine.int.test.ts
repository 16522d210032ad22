import { SqlJsEngine } from '../../functions/adapters/sqljs/sqljs-engine';

/** The worker-thread engine on its own: stopping statements and shutting down. */
describe('the sql.js worker engine', () => {
  const options = { statementTimeoutMs: 30_000, sqliteHeapLimitBytes: 64 * 1024 * 1024, workerHeapLimitMb: 128, warmCacheBytes: 1024 * 1024 };
  const runaway = {
    database: 'engine',
    source: { kind: 'empty' as const },
    program: { kind: 'script' as const, sql: 'WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r) SELECT count(*) FROM r' },
    limits: { maxStatements: 10, maxResultBytes: 1_000_000 },
  };

  it('close() settles the statement still running and everything queued behind it, at once', async () => {
    const engine = new SqlJsEngine(options);
    const running = engine.read(runaway);
    const queued = engine.read({ ...runaway, program: { kind: 'script', sql: 'SELECT 1' } });
    const settled = Promise.allSettled([running, queued]);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const started = Date.now();
    await engine.close();
    const [first, second] = await settled;
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(first).toMatchObject({ status: 'rejected', reason: { code: 'STORAGE_UNAVAILABLE' } });
    expect(second).toMatchObject({ status: 'rejected', reason: { code: 'STORAGE_UNAVAILABLE' } });
  });

  it('a timed-out statement fails alone: the next one runs on a fresh worker', async () => {
    const engine = new SqlJsEngine({ ...options, statementTimeoutMs: 300 });
    try {
      const stopped = engine.read(runaway);
      const next = engine.read({ ...runaway, program: { kind: 'script', sql: 'SELECT 41 + 1' } });
      await expect(stopped).rejects.toMatchObject({ code: 'STATEMENT_TIMEOUT' });
      await expect(next).resolves.toMatchObject({ kind: 'done', results: [{ rows: [[42n]] }] });
    } finally {
      await engine.close();
    }
  });
});
