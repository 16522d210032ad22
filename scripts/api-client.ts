import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { CloudliteError as ClientError, createClient, encodeParams, type Client } from '../clients/typescript/src/index.ts';
import { CloudliteError } from '../functions/core/errors';
import type { SqlClient } from '../functions/core/migrations';
import type { Program, StatementInput } from '../functions/core/ports';

/**
 * What the operator scripts (migrate, seed, the CLI) share to talk to a running cloudlite over
 * HTTP: the target and its key, and the TypeScript client (clients/typescript) for every
 * request, so they retry, time out and send idempotency keys the way any other client does.
 */

export const DEFAULT_URL = 'http://localhost:3000';

/** Where `npm start` keeps its data and what it tells the other scripts: DATA_DIR, else `.data` at the repository's root (wherever a script runs from). */
export function dataDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.DATA_DIR ? path.resolve(env.DATA_DIR) : path.resolve(__dirname, '..', '.data');
}

/** What a running `npm start` wrote about itself, for the CLI, migrate, seed and keys to find it. */
export interface LocalStackInfo {
  url: string;
  dynamoDbEndpoint: string;
  keyTable: string;
}

export const LOCAL_STACK_FILE = 'local-stack.json';

export function localStackInfo(env: NodeJS.ProcessEnv = process.env): LocalStackInfo | undefined {
  const file = path.join(dataDir(env), LOCAL_STACK_FILE);
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as LocalStackInfo;
  } catch (error) {
    throw new UsageError(`${file} is not what npm start writes (${(error as Error).message}); delete it, or start the local stack again`, { usage: false });
  }
}

/** A mistake in how a script was called: its message (and the usage, unless it would not help), exit code 2. */
export class UsageError extends Error {
  readonly showUsage: boolean;

  constructor(message: string, { usage = true }: { usage?: boolean } = {}) {
    super(message);
    this.showUsage = usage;
  }
}

export interface ApiTarget {
  url: string;
  key: string;
}

/** An error answer of the API, rebuilt as a core error with its code so the core's checks (isMissingSchema) work on it. */
export class RemoteError extends CloudliteError {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number | undefined,
    readonly requestId?: string,
  ) {
    super(message);
  }
}

/**
 * The key, from (in order) `--key`, `CLOUDLITE_KEY`, `API_KEY`, or, for a URL on this machine,
 * the file `npm start` writes to its data directory (`DATA_DIR`, default `.data`) holding just
 * the key: the local stack's key is never sent anywhere else.
 */
export function resolveKey(flag: string | undefined, url: string, env: NodeJS.ProcessEnv = process.env): string {
  const fromFile = () => {
    const file = path.join(dataDir(env), 'api-key');
    return isLocal(url) && existsSync(file) ? readFileSync(file, 'utf8').trim() || undefined : undefined;
  };
  // An empty variable counts as unset, as in a shell's ${VAR:-default}.
  const key = flag ?? (env.CLOUDLITE_KEY || env.API_KEY || fromFile());
  if (!key) {
    const local = `or start the local stack (npm start saves one in ${path.join(dataDir(env), 'api-key')})`;
    throw new UsageError(`no API key${isLocal(url) ? '' : ` for ${url}`}: pass --key <key>, set CLOUDLITE_KEY${isLocal(url) ? `, ${local}` : ''}`, { usage: false });
  }
  return key;
}

function isLocal(url: string): boolean {
  return ['localhost', '127.0.0.1', '[::1]'].includes(parsedUrl(url)?.hostname ?? '');
}

/** The URL from `--url`, `CLOUDLITE_URL`, the running local stack's (whatever its PORT), or the default; an http(s) URL or a usage error. */
export function resolveUrl(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const url = flag ?? (env.CLOUDLITE_URL || localStackInfo(env)?.url || DEFAULT_URL);
  if (!isHttpUrl(url)) throw new UsageError(`the URL must be http(s), such as https://abc.execute-api.eu-west-1.amazonaws.com; got "${url}"`, { usage: false });
  return url;
}

function isHttpUrl(url: string): boolean {
  return ['http:', 'https:'].includes(parsedUrl(url)?.protocol ?? '');
}

function parsedUrl(url: string): URL | undefined {
  return URL.canParse(url) ? new URL(url) : undefined;
}

/** Long operations (a migration, a seed batch) get two minutes per attempt instead of thirty seconds. */
export function apiClient(target: ApiTarget, database?: string): Client {
  return createClient({ url: target.url, key: target.key, database, timeoutMs: 120_000 });
}

/** Runs a client call, turning its errors into RemoteError (a core error) at this boundary. */
export async function remote<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof ClientError) throw new RemoteError(error.code, error.message, error.status, error.requestId);
    throw error;
  }
}

/** POSTs a JSON body (already in wire format, e.g. from sqlBody) to a route with an idempotency key. */
export async function postApi(target: ApiTarget, route: string, body: unknown): Promise<unknown> {
  return remote(() => apiClient(target).request('POST', route, { json: body }));
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

/**
 * A SqlClient over `POST /sql`. Reads and writes are the same call: the server runs a program
 * read-only first and takes the write path only when SQLite says it writes; `write` declares it
 * so the client retries only what is safe.
 */
export function httpSqlClient(target: ApiTarget): SqlClient {
  const client = apiClient(target);
  const run = (read: boolean) => async (database: string, program: Program) => {
    const options = { database, consistency: 'strong' as const };
    const answer = await remote(() =>
      program.kind === 'batch'
        ? client.batch(program.statements, options)
        : read
          ? client.query(program.sql, program.params, options)
          : client.execute(program.sql, program.params, options),
    );
    return answer.results;
  };
  return { read: run(true), write: run(false) };
}

/** Runs a script's main when the file is the entry point: a usage error is its message and exit code 2, a failure one line and exit code 1. */
export function runCli(name: string, entry: NodeJS.Module, main: () => Promise<void>): void {
  if (require.main !== entry) return;
  main().catch((error: unknown) => {
    if (error instanceof UsageError || String((error as { code?: unknown }).code).startsWith('ERR_PARSE_ARGS_')) {
      console.error((error as Error).message);
      process.exit(2);
    }
    console.error(`${name} failed: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
    process.exit(1);
  });
}
