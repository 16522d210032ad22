import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { App } from '../functions/all-routes';
import { applyMigrations, serviceSqlClient, type MigrationFile, type MigrationReport } from '../functions/core/migrations';
import { isDatabasePattern, matchesDatabase } from '../functions/core/principal';
import { apiClient, httpSqlClient, remote, resolveKey, resolveUrl, runCli, UsageError, type ApiTarget } from './api-client';

/**
 * `npm run migrate -- --database <name> [--url http://localhost:3000] [--key <write key>]`
 * `npm run migrate -- --databases 'acme-*' [--url ...] [--key ...]`
 *
 * Applies the pending files of migrations/ to one database, or to every database a pattern
 * matches (listed through `GET /databases`, reported one by one), through `POST /sql` of a
 * running cloudlite (local or deployed), each in its own write request. Safe to re-run; refuses to go
 * on when an applied file has changed. `npm start` applies them in-process instead
 * (`applyMigrationsInProcess`).
 */

export const MIGRATIONS_DIR = path.resolve(__dirname, '..', 'migrations');

/** Every `*.sql` file of the directory; the planner checks their names and orders them. */
export function loadMigrationFiles(dir: string = MIGRATIONS_DIR): MigrationFile[] {
  return readdirSync(dir)
    .filter((name) => name.endsWith('.sql'))
    .sort()
    .map((name) => ({ name, sql: readFileSync(path.join(dir, name), 'utf8') }));
}

/** Applies the migrations straight through the app's database service (local server start-up, tests). */
export function applyMigrationsInProcess(app: App, database: string, files: MigrationFile[] = loadMigrationFiles()): Promise<MigrationReport> {
  return applyMigrations(serviceSqlClient(app.service), database, files);
}

export function describeReport(database: string, report: MigrationReport): string {
  if (report.applied.length === 0) return `${database}: up to date (${report.alreadyApplied} migration(s) already applied)`;
  return [`${database}: applied ${report.applied.length} migration(s)`, ...report.applied.map((m) => `  ${m.name}  sha256 ${m.checksum}`)].join('\n');
}

/**
 * Migrates every listed database the pattern matches, one after another, and reports each; a
 * failure is reported and the others still run. Resolves to whether all of them succeeded.
 */
export async function migrateMatching(
  listDatabases: () => Promise<string[]>,
  migrate: (database: string) => Promise<MigrationReport>,
  pattern: string,
  report: (line: string) => void,
): Promise<boolean> {
  // A pattern no name can match (capitals, `?`) is a typo, not "nothing to migrate".
  if (!isDatabasePattern(pattern)) throw new UsageError(`--databases "${pattern}" can match no database: use lower-case letters, digits, "_", "-" and "*"`, { usage: false });
  const databases = (await listDatabases()).filter((name) => matchesDatabase(pattern, name)).sort();
  if (databases.length === 0) report(`no database matches ${pattern}`);
  let allApplied = true;
  for (const database of databases) {
    try {
      report(describeReport(database, await migrate(database)));
    } catch (error) {
      allApplied = false;
      report(`${database}: FAILED ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
    }
  }
  return allApplied;
}

/** Every database name `GET /databases` lists to this key (only those in its scope), page by page. */
export async function listDatabasesOverHttp(target: ApiTarget): Promise<string[]> {
  const client = apiClient(target);
  const names: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await remote(() => client.listDatabases({ limit: 100, cursor }));
    names.push(...page.databases.map((database) => database.name));
    cursor = typeof page.next_cursor === 'string' ? page.next_cursor : undefined;
  } while (cursor);
  return names;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { database: { type: 'string' }, databases: { type: 'string' }, url: { type: 'string' }, key: { type: 'string' } },
    strict: true,
  });
  if (!values.database === !values.databases) {
    throw new UsageError("usage: npm run migrate -- (--database <name> | --databases '<glob>') [--url http://localhost:3000] [--key <write key>]");
  }
  const url = resolveUrl(values.url);
  const target = { url, key: resolveKey(values.key, url) };
  const client = httpSqlClient(target);
  const files = loadMigrationFiles();
  if (values.database) {
    console.log(describeReport(values.database, await applyMigrations(client, values.database, files)));
    return;
  }
  const allApplied = await migrateMatching(() => listDatabasesOverHttp(target), (database) => applyMigrations(client, database, files), values.databases!, console.log);
  if (!allApplied) throw new Error('some databases were not migrated (see above)');
}

runCli('migrate', module, main);
