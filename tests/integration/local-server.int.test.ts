import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
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
});
