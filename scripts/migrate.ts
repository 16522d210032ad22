import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { App } from '../functions/app';
import { applyMigrations, serviceSqlClient, type MigrationFile, type MigrationReport } from '../functions/core/migrations';
import { DEFAULT_URL, httpSqlClient, resolveKey, runCli } from './api-client';

/**
 * `npm run migrate -- --database <name> [--url http://localhost:3000] [--key <write key>]`
 *
 * Applies the pending files of migrations/ to one database through `POST /sql` of a running
 * cloudlite (local or deployed), each in its own write request. Safe to re-run; refuses to go
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

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { database: { type: 'string' }, url: { type: 'string' }, key: { type: 'string' } },
    strict: true,
  });
  if (!values.database) throw new Error('usage: npm run migrate -- --database <name> [--url http://localhost:3000] [--key <write key>]');
  const client = httpSqlClient({ url: values.url ?? DEFAULT_URL, key: resolveKey(values.key) });
  const report = await applyMigrations(client, values.database, loadMigrationFiles());
  console.log(describeReport(values.database, report));
}

runCli('migrate', module, main);
