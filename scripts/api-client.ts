import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { CloudliteError } from '../functions/core/errors';
import type { SqlClient } from '../functions/core/migrations';
import type { BoundParams, Program, StatementInput, StatementResult } from '../functions/core/ports';
import { decodeValue, encodeParam } from '../functions/core/value-codec';

/**
 * What the operator scripts (migrate, seed) share to talk to a running cloudlite over HTTP: the
 * target, its write key, and a SqlClient over `POST /sql`, so they go through the same locked
 * and fenced write path as every other client, locally or on a deployed stage.
 */

export const DEFAULT_URL = 'http://localhost:3000';

export interface ApiTarget {
  url: string;
  key: string;
}

/** An error answer of the API, rebuilt with its code so the core's checks (isMissingSchema) work on it. */
export class RemoteError extends CloudliteError {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/**
 * The write key, from (in order) `--key`, `API_KEY`, or the file `npm start` writes to its data
 * directory (`DATA_DIR`, default `.data`) holding just the key.
 */
export function resolveKey(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const fromFile = () => {
    const file = path.resolve(env.DATA_DIR ?? '.data', 'api-key');
    return existsSync(file) ? readFileSync(file, 'utf8').trim() || undefined : undefined;
  };
  const key = flag ?? env.API_KEY ?? fromFile();
  if (!key) throw new Error('no API key: pass --key <write key>, set API_KEY, or start the local stack (npm start saves one in .data/api-key)');
  return key;
}

/** POSTs JSON with the key as a bearer token; an error answer becomes a RemoteError. */
export async function postApi(target: ApiTarget, route: string, body: unknown, query = ''): Promise<unknown> {
  const response = await fetch(`${target.url.replace(/\/+$/, '')}${route}${query}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${target.key}` },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(120_000),
  });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  if (!response.ok) {
    const error = (parsed as { error?: { code?: string; message?: string } } | undefined)?.error;
    throw new RemoteError(error?.code ?? `HTTP_${response.status}`, error?.message ?? (text.slice(0, 200) || response.statusText), response.status);
  }
  return parsed;
}

/** The `POST /sql` body for a program. */
export function sqlBody(database: string, program: Program): Record<string, unknown> {
  if (program.kind === 'script') {
    return { database, consistency: 'strong', sql_statement: program.sql, ...(program.params ? { params: encodeParams(program.params) } : {}) };
  }
  return { database, consistency: 'strong', statements: program.statements.map(encodeStatement) };
}

function encodeStatement(statement: StatementInput): Record<string, unknown> {
  return statement.params ? { sql: statement.sql, params: encodeParams(statement.params) } : { sql: statement.sql };
}

function encodeParams(params: BoundParams): unknown {
  return Array.isArray(params) ? params.map(encodeParam) : Object.fromEntries(Object.entries(params).map(([name, value]) => [name, encodeParam(value)]));
}

/**
 * A SqlClient over `POST /sql`. Reads and writes are the same call: the server runs a program
 * read-only first and takes the write path only when SQLite says it writes.
 */
export function httpSqlClient(target: ApiTarget): SqlClient {
  const run = async (database: string, program: Program): Promise<StatementResult[]> => {
    const answer = (await postApi(target, '/sql', sqlBody(database, program))) as { results: { columns: string[]; rows: unknown[][]; changes: number; last_insert_rowid: number | null }[] };
    return answer.results.map((result) => ({
      columns: result.columns,
      rows: result.rows.map((row) => row.map(decodeValue)),
      changes: result.changes,
      lastInsertRowid: result.last_insert_rowid,
    }));
  };
  return { read: run, write: run };
}

/** Runs a script's main when the file is the entry point, turning a failure into one line and exit code 1. */
export function runCli(name: string, entry: NodeJS.Module, main: () => Promise<void>): void {
  if (require.main !== entry) return;
  main().catch((error: unknown) => {
    console.error(`${name} failed: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
    process.exit(1);
  });
}
