import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { MigrationChecksumError } from '../../functions/core/errors';
import { applyMigrations, migrationChecksum, readAppliedMigrations, serviceSqlClient, type MigrationFile } from '../../functions/core/migrations';
import { httpSqlClient, RemoteError } from '../../scripts/api-client';
import { applyMigrationsInProcess, loadMigrationFiles } from '../../scripts/migrate';
import { postJson, READ_KEY, startTestApi, testConfig, uniqueDatabase, WRITE_KEY, type TestApi } from '../helpers/test-app';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '..', '..');

const FILES: MigrationFile[] = [
  { name: '0001_things.sql', sql: 'CREATE TABLE things (id INTEGER PRIMARY KEY, name TEXT NOT NULL);\nINSERT INTO things (name) VALUES (\'first\');' },
  { name: '0002_thing_sizes.sql', sql: 'ALTER TABLE things ADD COLUMN size INTEGER;\n-- a trailing comment' },
];

describe('migrations against the local stack', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startTestApi();
  });
  afterAll(async () => {
    await api.close();
  });

  const tables = async (database: string) =>
    (await postJson(api.url, { database, sql_statement: "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name" }, READ_KEY)).body.results[0].rows.flat();

  it('applies migrations/ in-process to a database that does not exist yet, recording each with its checksum', async () => {
    const database = uniqueDatabase('migrate');
    const report = await applyMigrationsInProcess(api.app, database);
    expect(report.applied.map((m) => m.name)).toEqual(loadMigrationFiles().map((f) => f.name));
    expect(await tables(database)).toEqual(['flights', 'schema_migrations']);
    const history = await readAppliedMigrations(serviceSqlClient(api.app.service), database);
    expect(history).toEqual(loadMigrationFiles().map((f, i) => ({ version: i + 1, name: f.name, checksum: migrationChecksum(f.sql) })));
  });

  it('re-running is a no-op that does not even write a new version', async () => {
    const database = uniqueDatabase('migrate');
    const client = serviceSqlClient(api.app.service);
    await applyMigrations(client, database, FILES);
    const before = (await postJson(api.url, { database, sql_statement: 'SELECT 1' }, READ_KEY)).body.meta.version;
    expect(await applyMigrations(client, database, FILES)).toEqual({ applied: [], alreadyApplied: 2 });
    expect((await postJson(api.url, { database, sql_statement: 'SELECT 1' }, READ_KEY)).body.meta.version).toBe(before);
  });

  it('a file changed after it was applied stops the run with MigrationChecksumError', async () => {
    const database = uniqueDatabase('migrate');
    const client = serviceSqlClient(api.app.service);
    await applyMigrations(client, database, FILES.slice(0, 1));
    const edited = [{ ...FILES[0]!, sql: FILES[0]!.sql.replace('first', 'changed') }, FILES[1]!];
    await expect(applyMigrations(client, database, edited)).rejects.toThrow(MigrationChecksumError);
    await expect(applyMigrations(client, database, edited)).rejects.toThrow('0001_things.sql changed after it was applied');
    expect((await readAppliedMigrations(client, database)).map((m) => m.version)).toEqual([1]);
  });

  it('a failing migration leaves no trace: no table, no record, the earlier ones kept', async () => {
    const database = uniqueDatabase('migrate');
    const client = serviceSqlClient(api.app.service);
    const broken = { name: '0002_broken.sql', sql: 'CREATE TABLE half_done (x);\nINSERT INTO nowhere VALUES (1);' };
    await expect(applyMigrations(client, database, [FILES[0]!, broken])).rejects.toThrow('no such table: nowhere');
    expect(await tables(database)).toEqual(['schema_migrations', 'things']);
    expect((await readAppliedMigrations(client, database)).map((m) => m.name)).toEqual(['0001_things.sql']);
  });

  it('two migrators racing (two containers) apply each migration exactly once, and both succeed', async () => {
    const database = uniqueDatabase('migrate-race');
    const other = await startTestApi(testConfig());
    try {
      const reports = await Promise.all([
        applyMigrations(serviceSqlClient(api.app.service), database, FILES),
        applyMigrations(serviceSqlClient(other.app.service), database, FILES),
      ]);
      expect(reports.flatMap((r) => r.applied.map((m) => m.version)).sort()).toEqual([1, 2]);
      const rows = await postJson(api.url, { database, sql_statement: 'SELECT (SELECT count(*) FROM schema_migrations), (SELECT count(*) FROM things)' }, READ_KEY);
      expect(rows.body.results[0].rows).toEqual([[2, 1]]);
    } finally {
      await other.close();
    }
  });

  describe('over POST /sql (the migrate script)', () => {
    it('applies, then re-runs as a no-op, with a write key', async () => {
      const database = uniqueDatabase('migrate-http');
      const client = httpSqlClient({ url: api.url, key: WRITE_KEY });
      expect((await applyMigrations(client, database, FILES)).applied.map((m) => m.version)).toEqual([1, 2]);
      expect(await applyMigrations(client, database, FILES)).toEqual({ applied: [], alreadyApplied: 2 });
      expect(await tables(database)).toEqual(['schema_migrations', 'things']);
    });

    it('detects checksum drift the same way', async () => {
      const database = uniqueDatabase('migrate-http');
      const client = httpSqlClient({ url: api.url, key: WRITE_KEY });
      await applyMigrations(client, database, FILES);
      await expect(applyMigrations(client, database, [FILES[0]!, { ...FILES[1]!, sql: 'SELECT 1;' }])).rejects.toThrow(MigrationChecksumError);
    });

    it('a read key cannot migrate: 403 FORBIDDEN, nothing created', async () => {
      const database = uniqueDatabase('migrate-http');
      const attempt = applyMigrations(httpSqlClient({ url: api.url, key: READ_KEY }), database, FILES);
      await expect(attempt).rejects.toThrow(RemoteError);
      await expect(attempt).rejects.toMatchObject({ code: 'FORBIDDEN', status: 403 });
      expect((await postJson(api.url, { database, sql_statement: 'SELECT 1' }, READ_KEY)).body.error.code).toBe('DATABASE_NOT_FOUND');
    });

    it('npm run migrate prints what it applied, then that the database is up to date', async () => {
      const database = uniqueDatabase('migrate-cli');
      const cli = (args: string[]) =>
        run(path.join(ROOT, 'node_modules', '.bin', 'tsx'), ['scripts/migrate.ts', ...args], { cwd: ROOT, env: { ...process.env, API_KEY: WRITE_KEY } });
      const first = await cli(['--database', database, '--url', api.url]);
      const files = loadMigrationFiles();
      expect(first.stdout).toContain(`${database}: applied ${files.length} migration(s)`);
      expect(first.stdout).toContain('0001_flights.sql  sha256 ');
      const second = await cli(['--database', database, '--url', api.url, '--key', WRITE_KEY]);
      expect(second.stdout.trim()).toBe(`${database}: up to date (${files.length} migration(s) already applied)`);
      await expect(cli(['--url', api.url])).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining("usage: npm run migrate -- (--database <name> | --databases '<glob>')") });
    });

    it('npm run migrate --databases applies to every database the pattern matches, listed through GET /databases, each reported', async () => {
      const tenant = uniqueDatabase('tenant');
      const matching = [`${tenant}-a`, `${tenant}-b`];
      for (const database of [...matching, `${tenant}x-other`]) {
        expect((await postJson(api.url, { database, sql_statement: 'CREATE TABLE seed(x)' })).status).toBe(200);
      }
      const cli = (args: string[]) =>
        run(path.join(ROOT, 'node_modules', '.bin', 'tsx'), ['scripts/migrate.ts', ...args], { cwd: ROOT, env: { ...process.env, API_KEY: WRITE_KEY } });
      const { stdout } = await cli(['--databases', `${tenant}-*`, '--url', api.url]);
      const files = loadMigrationFiles();
      for (const database of matching) expect(stdout).toContain(`${database}: applied ${files.length} migration(s)`);
      expect(stdout).not.toContain(`${tenant}x-other`);
      const untouched = await postJson(api.url, { database: `${tenant}x-other`, sql_statement: "SELECT count(*) FROM sqlite_master WHERE name = 'schema_migrations'" });
      expect(untouched.body.results[0].rows).toEqual([[0]]);
    });
  });
});
