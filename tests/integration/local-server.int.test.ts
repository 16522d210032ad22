import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { start, stop, type Running } from '../helpers/npm-start';

/**
 * `npm start` as a new user runs it: a child process on the embedded stack, migrated and seeded,
 * answering the printed curl line, and keeping its data across a restart.
 */
describe('npm start', () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'cloudlite-start-'));
  const port = 20000 + Math.floor(Math.random() * 20000);
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('serves migrated, seeded flights and the printed curl line, and keeps its data across a restart', async () => {
    const first = await start(dataDir, port);
    let second: Running | undefined;
    try {
      const key = readFileSync(path.join(dataDir, 'api-key'), 'utf8').trim();
      expect(first.output).toContain(`Authorization: Bearer ${key}`);

      const flights = (await (await fetch(`${first.url}/flights?limit=5`)).json()) as { data: unknown[]; total_items: number };
      expect(flights.data).toHaveLength(5);
      expect(flights.total_items).toBeGreaterThan(0);

      const sql = (body: unknown) =>
        fetch(`${first.url}/sql`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      expect((await sql({ database: 'notes', sql_statement: "CREATE TABLE notes(t TEXT); INSERT INTO notes VALUES ('kept')" })).status).toBe(200);
      await stop(first);

      second = await start(dataDir, port);
      expect(second.output).toContain('up to date');
      expect(second.output).not.toContain('seeded');
      const read = await fetch(`${second.url}/sql`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ database: 'notes', sql_statement: 'SELECT t FROM notes' }),
      });
      expect(((await read.json()) as { results: { rows: unknown[][] }[] }).results[0]!.rows).toEqual([['kept']]);
    } finally {
      if (first.child.exitCode === null) await stop(first);
      if (second) await stop(second);
    }
  }, 120_000);

  it('restarted with API_KEYS, leaves no generated key behind for the CLI to send (it was refused as "invalid API key")', async () => {
    const data = mkdtempSync(path.join(os.tmpdir(), 'cloudlite-start-keys-'));
    const first = await start(data, port + 1);
    await stop(first);
    // README: "set API_KEYS to choose your own"; the key of the first run is no longer valid.
    const second = await start(data, port + 1, { API_KEYS: 'write:operator-chosen-key' });
    try {
      const cli = promisify(execFile)(process.execPath, [path.join(__dirname, '../../bin/cloudlite.cjs'), 'sql', 'SELECT 1'], {
        env: { ...process.env, DATA_DIR: data, CLOUDLITE_URL: second.url, CLOUDLITE_KEY: '', API_KEY: '' },
      }).then(() => ({ code: 0, stderr: '' }), (error: { code: number; stderr: string }) => ({ code: error.code, stderr: error.stderr }));
      // No key to be found is a usage error naming what to do, not a stale key sent and refused.
      expect(await cli).toEqual({ code: 2, stderr: expect.stringContaining('no API key') });
    } finally {
      await stop(second);
      rmSync(data, { recursive: true, force: true });
    }
  }, 120_000);
});
