import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createClient, type Client, type Progress } from '../clients/typescript/src/index.ts';
import { resolveKey, resolveUrl, UsageError } from './api-client';
import { formatResult, OUTPUT_MODES, type OutputMode } from './cli-format';
import { defaultHistoryFile, describeError, ROWS_OMITTED, runShell } from './sql-shell';

/**
 * `cloudlite` (the project's bin, bin/cloudlite.cjs): SQL, an interactive shell and the database
 * lifecycle from the command line, all through the TypeScript client. URL and key come from
 * --url/--key, then CLOUDLITE_URL/CLOUDLITE_KEY, then the local stack (http://localhost:3000 and
 * the key `npm start` saved in .data/api-key).
 */

const USAGE = `usage: cloudlite <command> [options]

  sql "<SQL>" [--db NAME] [--file script.sql] [--json|--csv|--table]   run statements (one transaction)
  shell [--db NAME] [--json|--csv|--table]                              interactive SQL shell
  databases [--deleted] [--limit N] [--cursor C]                         list databases
  versions NAME [--limit N] [--before VERSION]                           a database's versions, newest first
  export NAME [--format sqlite|sql] [--version V] [--out FILE|-]          download the file or a SQL dump
  import NAME FILE                                                        replace the database with a SQLite file or SQL dump
  restore NAME (--version V | --as-of ISO-TIME)                           make a past state current (a new version)

  every command: [--url URL] [--key KEY]   (else CLOUDLITE_URL / CLOUDLITE_KEY, else the local stack)`;

const OPTIONS = {
  url: { type: 'string' },
  key: { type: 'string' },
  db: { type: 'string' },
  file: { type: 'string' },
  json: { type: 'boolean' },
  csv: { type: 'boolean' },
  table: { type: 'boolean' },
  deleted: { type: 'boolean' },
  limit: { type: 'string' },
  cursor: { type: 'string' },
  before: { type: 'string' },
  format: { type: 'string' },
  version: { type: 'string' },
  'as-of': { type: 'string' },
  out: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

/** Runs the CLI; resolves to the process exit code. */
export async function main(argv: string[]): Promise<number> {
  // Output piped into `head` may close early: that ends the output, not with a stack trace.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0);
    throw error;
  });
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (values.help || command === undefined || command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return command === undefined && !values.help ? 2 : 0;
  }
  try {
    const url = resolveUrl(values.url);
    const client = createClient({ url, key: resolveKey(values.key, url), database: values.db });
    await runCommand(client, command, rest, values);
    return 0;
  } catch (error) {
    if (error instanceof ScriptFailed) return 1;
    process.stderr.write(error instanceof UsageError ? `${error.message}\n${error.showUsage ? `\n${USAGE}\n` : ''}` : `${describeError(error)}\n`);
    return error instanceof UsageError ? 2 : 1;
  }
}

async function runCommand(client: Client, command: string, args: string[], values: Values): Promise<void> {
  const mode = outputMode(values);
  switch (command) {
    case 'sql': {
      const sql = values.file !== undefined ? readInput(values.file).toString('utf8') : args.join(' ');
      if (sql.trim() === '') throw new UsageError('sql: give the statements as an argument or with --file');
      const answer = await client.query(sql);
      const printed = answer.results.map((result) => formatResult(result, mode)).filter((text) => text !== '');
      if (printed.length > 0) process.stdout.write(`${printed.join('\n')}\n`);
      if (answer.meta.rowsOmitted) process.stderr.write(`${ROWS_OMITTED}\n`);
      return;
    }
    case 'shell': {
      const { failures } = await runShell({ client, database: values.db, mode, input: process.stdin, output: process.stdout, errors: process.stderr, historyFile: defaultHistoryFile() });
      // A script piped in fails as `cloudlite sql` does; at a terminal, errors were seen as they came.
      if (failures > 0 && !process.stdin.isTTY) throw new ScriptFailed(`${failures} statement(s) failed`);
      return;
    }
    case 'databases': {
      const page = await client.listDatabases({ limit: pageSize(values.limit), cursor: values.cursor, deleted: values.deleted });
      // With --deleted, say which ones are (the API marks only those, with "deleted": true).
      const databases = values.deleted ? page.databases.map((database) => ({ ...database, deleted: database.deleted === true })) : page.databases;
      printRecords(databases, ['name', 'size_bytes', 'version', 'last_modified', ...(values.deleted ? ['deleted'] : [])], mode);
      return printNextPage(page.next_cursor, (cursor) => `npx cloudlite databases${sameTarget(values)}${values.deleted ? ' --deleted' : ''} --cursor ${cursor}`);
    }
    case 'versions': {
      const name = databaseName(args, values);
      const page = await client.versions(name, { limit: pageSize(values.limit), before: values.before });
      printRecords(page.versions, ['version', 'time', 'size_bytes', 'current', 'deleted'], mode);
      return printNextPage(page.next_before, (before) => `npx cloudlite versions ${name}${sameTarget(values)} --before ${before}`);
    }
    case 'export': {
      const name = databaseName(args, values);
      const format = values.format ?? 'sqlite';
      if (format !== 'sqlite' && format !== 'sql') throw new UsageError('export: --format is sqlite or sql');
      const bytes = await client.exportDatabase(name, { format, version: values.version, onProgress: progress(`export ${name}`) });
      const out = values.out ?? `${name}.${format === 'sql' ? 'sql' : 'sqlite'}`;
      if (out === '-') process.stdout.write(bytes);
      else writeFileSync(out, bytes);
      process.stderr.write(`export ${name}: ${formatBytes(bytes.byteLength)} written to ${out === '-' ? 'stdout' : out}\n`);
      return;
    }
    case 'import': {
      const name = databaseName(args, values);
      const file = args[1];
      if (file === undefined) throw new UsageError('import: give the SQLite file (or SQL dump) to upload');
      const bytes = readInput(file);
      // A database file says so in its first bytes; anything else is sent as a SQL dump.
      const format = bytes.subarray(0, 16).toString('latin1') === 'SQLite format 3\u0000' ? 'sqlite' : 'sql';
      const answer = await client.importDatabase(name, bytes, { format, onProgress: progress(`import ${name}`) });
      return printRecords([answer], Object.keys(answer), mode);
    }
    case 'restore': {
      const name = databaseName(args, values);
      const asOf = values['as-of'];
      if ((values.version === undefined) === (asOf === undefined)) throw new UsageError('restore: give exactly one of --version or --as-of');
      const answer = await client.restore(name, values.version !== undefined ? { version: values.version } : { asOf: asOf! });
      return printRecords([answer], ['version', 'restored_from', 'replaced'], mode);
    }
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

/** The rest of a script piped into the shell ran; the errors are on stderr already. */
class ScriptFailed extends Error {}

function readInput(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new UsageError(`cannot read ${file}: ${(error as Error).message}`, { usage: false });
  }
}

/** The options that make a repeated command ask the same server the same way (a key given on the command line is named, never printed). */
function sameTarget(values: Values): string {
  const mode = OUTPUT_MODES.find((output) => values[output]);
  return [
    values.url !== undefined ? ` --url ${values.url}` : '',
    values.key !== undefined ? ' --key <your key>' : '',
    values.limit !== undefined ? ` --limit ${values.limit}` : '',
    mode !== undefined ? ` --${mode}` : '',
  ].join('');
}

/** When a listing has more pages, says on stderr how to ask for the next (stdout stays the data). */
function printNextPage(next: unknown, command: (next: string) => string): void {
  if (typeof next === 'string' && next !== '') process.stderr.write(`more: ${command(next)}\n`);
}

function outputMode(values: Values): OutputMode {
  const chosen = OUTPUT_MODES.filter((mode) => values[mode]);
  if (chosen.length > 1) throw new UsageError('choose one of --table, --json, --csv');
  return chosen[0] ?? 'table';
}

function databaseName(args: string[], values: Values): string {
  const name = args[0] ?? values.db;
  if (name === undefined) throw new UsageError('give the database name');
  return name;
}

/** A page size: a whole number from 1. */
function pageSize(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^[0-9]+$/.test(value) || Number(value) < 1) throw new UsageError(`--limit must be a whole number from 1; got "${value}"`);
  return Number(value);
}

/** Prints records (lifecycle answers) through the same formats as query results. */
function printRecords(records: readonly Record<string, unknown>[], columns: string[], mode: OutputMode): void {
  if (mode === 'json') {
    // The API's own values (true stays true), in the columns shown.
    process.stdout.write(`${JSON.stringify(records.map((record) => Object.fromEntries(columns.map((column) => [column, record[column] ?? null]))))}\n`);
    return;
  }
  const rows = records.map((record) => columns.map((column) => {
    const value = record[column];
    return value === undefined || value === null ? null : typeof value === 'object' ? JSON.stringify(value) : typeof value === 'number' ? value : String(value);
  }));
  process.stdout.write(`${formatResult({ columns, rows, changes: 0, lastInsertRowid: null }, mode)}\n`);
}

/** Progress of a long transfer on stderr: rewritten in place on a terminal, silent otherwise. */
function progress(label: string): ((progress: Progress) => void) | undefined {
  if (!process.stderr.isTTY) return undefined;
  return ({ bytes, total }) => process.stderr.write(`\r${label}: ${formatBytes(bytes)}${total ? ` of ${formatBytes(total)}` : ''}   ${bytes === total ? '\n' : ''}`);
}

function formatBytes(bytes: number): string {
  return bytes < 1024 * 1024 ? `${(bytes / 1024).toFixed(1)} KB` : `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
