import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * `npm start` as a new user runs it: a child process on the embedded stack, migrated and seeded,
 * answering the printed curl line, and keeping its data across a restart.
 */
const ROOT = path.resolve(__dirname, '../..');

interface Running {
  child: ChildProcess;
  url: string;
  output: string;
}

function start(dataDir: string, port: number): Promise<Running> {
  const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: dataDir, PORT: String(port) };
  // The server must stand on its own: none of the test stack's endpoints or keys.
  for (const name of ['S3_ENDPOINT', 'DYNAMODB_ENDPOINT', 'S3_BUCKET', 'LOCK_TABLE', 'API_KEYS', 'FLIGHTS_PASSWORD']) delete env[name];
  const child = spawn(process.execPath, [path.join(ROOT, 'node_modules/tsx/dist/cli.mjs'), 'scripts/local-server.ts'], { cwd: ROOT, env });
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`npm start did not come up within 60 s:\n${output}`)), 60_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /cloudlite is running on (http:\/\/\S+)/.exec(output);
      // The banner ends with the /sql curl line; stdout may deliver it in a later chunk than 'Try:'.
      if (match && output.includes('sqlite_version()')) {
        clearTimeout(timer);
        resolve({ child, url: match[1]!, output });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`npm start exited with ${code}:\n${output}`)));
  });
}

async function stop(running: Running): Promise<void> {
  const exited = new Promise((resolve) => running.child.once('exit', resolve));
  running.child.kill('SIGTERM');
  await exited;
}

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
