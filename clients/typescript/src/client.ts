import { decodeRowid, decodeRows, encodeParams, type BigIntColumns, type Params, type SqlValue } from './codec.ts';
import { CloudliteError } from './errors.ts';
import { decodeJson, exchange, type Answer, type Exchange, type FetchLike, type Progress, type RetryEvent, type TransportOptions } from './transport.ts';

export interface ClientOptions {
  /** The API's base URL, e.g. `http://localhost:3000` or the deployed stage's URL. */
  url: string;
  /** A `read` or `write` key, sent as `Authorization: Bearer <key>`. */
  key: string;
  /** The database every call uses unless it names another; the server's default is `main`. */
  database?: string;
  /** Per attempt, in ms (default 30000: API Gateway gives up after 29 s anyway): until the answer starts, then between chunks of its body. */
  timeoutMs?: number;
  /** Retries after the first attempt, for failures retry.ts allows (default 3). */
  retries?: number;
  /** First backoff step in ms (default 100); doubles per retry, with full jitter. */
  retryBaseDelayMs?: number;
  /** Longest wait between attempts in ms (default 20000); a longer `Retry-After` fails at once. */
  retryMaxDelayMs?: number;
  /** Send an `Idempotency-Key` with every POST /sql and every lifecycle write (default true). */
  idempotencyKeys?: boolean;
  /** A fetch implementation (default: the global one). */
  fetch?: FetchLike;
  /** Called before each retry, e.g. to log it. */
  onRetry?: (event: RetryEvent) => void;
}

export type Consistency = 'strong' | 'eventual';
export type Row = Record<string, SqlValue>;

export interface CallOptions {
  /** Aborts the call, including its retries and waits. */
  signal?: AbortSignal;
  timeoutMs?: number;
  /** This call's idempotency key (a key of your own lets you retry after a crash), or `false` for none. */
  idempotencyKey?: string | false;
}

export interface SqlOptions extends CallOptions {
  database?: string;
  consistency?: Consistency;
  /** Read a past state: an S3 version id from `meta.version` or `versions()`. */
  version?: string;
  /** Read the newest state at or before this ISO-8601 time. */
  asOf?: string;
  /** `'arrays'` (default, as the server sends) or `'objects'` keyed by column name. */
  rows?: 'arrays' | 'objects';
  /** Columns to read as BigInt, or `'auto'`; see codec.ts for why the client cannot tell by itself. */
  bigIntColumns?: BigIntColumns;
}

export type ObjectRows = { rows: 'objects' };

export interface StatementResult<R> {
  columns: string[];
  rows: R[];
  /** Rows inserted, updated or deleted by the statement. */
  changes: number;
  /** The rowid the statement inserted, or null; a BigInt beyond ±(2^53−1). */
  lastInsertRowid: number | bigint | null;
}

export interface Meta {
  database: string;
  /** The database version the answer reflects (after a write, the new one). */
  version: string | null;
  /** Whether a new version was stored. */
  wrote: boolean;
  /** True when the server answered from an earlier attempt with the same idempotency key. */
  replayed: boolean;
  /**
   * True when the write was stored but its rows were too large to return (Lambda answers at
   * most 6 MB): `rows` are empty; read them back with a smaller query.
   */
  rowsOmitted: boolean;
  durationMs: number;
  requestId: string | undefined;
}

/** The last statement's result at the top level, every statement's in `results`. */
export interface ResultSet<R> extends StatementResult<R> {
  results: StatementResult<R>[];
  meta: Meta;
}

export interface BatchResult<R> {
  results: StatementResult<R>[];
  meta: Meta;
}

export type BatchStatement = string | { sql: string; params?: Params };

/** Fields as the server sends them (issue 11); typed loosely where the server may add more. */
export interface DatabaseInfo {
  name: string;
  size_bytes: number;
  version: string;
  last_modified: string;
  [field: string]: unknown;
}

export interface VersionInfo {
  version: string;
  time: string;
  size_bytes: number;
  current: boolean;
  deleted: boolean;
  [field: string]: unknown;
}

export interface RestoreAnswer {
  version: string;
  restored_from: string;
  /** The version the restore replaced: restore it to undo; null for a deleted database. */
  replaced: string | null;
  [field: string]: unknown;
}

export type PointInTime = { version: string } | { asOf: string };

export interface TransferOptions extends CallOptions {
  onProgress?: (progress: Progress) => void;
}

export interface RawRequestOptions extends CallOptions {
  json?: unknown;
  query?: Record<string, string | number | boolean | undefined>;
  /** Whether the route only reads (retried after any transient failure); default: GET does. */
  read?: boolean;
}

export interface Client {
  /** Statements that read (a `query` that writes is fine while idempotency keys are on). */
  query<R = Row>(sql: string, params: Params | undefined, options: SqlOptions & ObjectRows): Promise<ResultSet<R>>;
  query<R = SqlValue[]>(sql: string, params?: Params, options?: SqlOptions): Promise<ResultSet<R>>;
  /** Statements that write; `sql` may hold several separated by `;`, run as one transaction. */
  execute<R = Row>(sql: string, params: Params | undefined, options: SqlOptions & ObjectRows): Promise<ResultSet<R>>;
  execute<R = SqlValue[]>(sql: string, params?: Params, options?: SqlOptions): Promise<ResultSet<R>>;
  /** Statements each with its own params, run atomically: all applied or none. */
  batch<R = Row>(statements: readonly BatchStatement[], options: SqlOptions & ObjectRows): Promise<BatchResult<R>>;
  batch<R = SqlValue[]>(statements: readonly BatchStatement[], options?: SqlOptions): Promise<BatchResult<R>>;

  listDatabases(options?: CallOptions & { limit?: number; cursor?: string; deleted?: boolean }): Promise<{ databases: DatabaseInfo[]; [field: string]: unknown }>;
  getDatabase(name: string, options?: CallOptions): Promise<DatabaseInfo>;
  versions(name: string, options?: CallOptions & { limit?: number; before?: string }): Promise<{ versions: VersionInfo[]; [field: string]: unknown }>;
  restore(name: string, point: PointInTime, options?: CallOptions): Promise<RestoreAnswer>;
  /** The database file (`sqlite`) or a SQL dump (`sql`) as bytes, following a presigned URL for large files. */
  exportDatabase(name: string, options?: TransferOptions & { format?: 'sqlite' | 'sql'; version?: string }): Promise<Uint8Array>;
  /** Replaces the database with a SQLite file, or (`format: 'sql'`) with what a SQL dump makes, as a new version. */
  importDatabase(name: string, file: Uint8Array, options?: TransferOptions & { format?: 'sqlite' | 'sql' }): Promise<Record<string, unknown>>;
  clone(name: string, target: { to: string } & Partial<{ version: string; asOf: string }>, options?: CallOptions): Promise<Record<string, unknown>>;
  /** A delete marker: reads answer 404 until the database is restored. */
  deleteDatabase(name: string, options?: CallOptions): Promise<Record<string, unknown>>;
  /** A route without a method here (e.g. `POST /flights`), with the same key, retries, idempotency key and errors. */
  request<T = unknown>(method: 'GET' | 'POST' | 'DELETE', path: string, options?: RawRequestOptions): Promise<T>;
}

interface WireResult {
  columns: string[];
  rows: unknown[];
  changes: number;
  last_insert_rowid: unknown;
}

/**
 * Files up to this size are imported in the request itself (the server's default MAX_BODY_BYTES);
 * larger ones, or any the server answers 413, through the staged upload.
 */
const INLINE_IMPORT_BYTES = 4 * 1024 * 1024;

const DEFAULT_TIMEOUT_MS = 30_000;

/** A staged upload may take timeoutMs plus the time to send the file at 100 KB/s. */
const UPLOAD_BYTES_PER_MS = 100;

/** The server's rule for keys (README "Idempotent writes"). */
const IDEMPOTENCY_KEY = /^[\x21-\x7e](?:[\x20-\x7e]{0,126}[\x21-\x7e])?$/;

function protocolOf(url: string): string {
  try {
    return new URL(url).protocol;
  } catch {
    return '';
  }
}

interface WireAnswer {
  results: WireResult[];
  meta: { database: string; version: string | null; wrote: boolean; replayed?: boolean; rows_omitted?: boolean; duration_ms: number };
}

export function createClient(options: ClientOptions): Client {
  if (!options.url) throw new TypeError('createClient: url is required');
  if (!/^https?:$/.test(protocolOf(options.url))) {
    throw new TypeError(`createClient: url must be an http(s) URL such as https://abc.execute-api.eu-west-1.amazonaws.com, got "${options.url}"`);
  }
  if (!options.key) throw new TypeError('createClient: key is required');
  const transport: TransportOptions = {
    url: options.url,
    key: options.key,
    fetch: options.fetch ?? ((input, init) => fetch(input, init)),
    timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    retries: options.retries ?? 3,
    backoff: { baseDelayMs: options.retryBaseDelayMs ?? 100, maxDelayMs: options.retryMaxDelayMs ?? 20_000 },
    onRetry: options.onRetry,
  };

  const keyFor = (call: CallOptions): string | undefined => {
    if (call.idempotencyKey === false) return undefined;
    if (call.idempotencyKey !== undefined) {
      // What the server refuses (and fetch cannot send) is a mistake here, not a failure to retry.
      if (!IDEMPOTENCY_KEY.test(call.idempotencyKey)) throw new TypeError(`idempotencyKey must be 1 to 128 printable ASCII characters, spaces only inside; got ${JSON.stringify(call.idempotencyKey)}`);
      return call.idempotencyKey;
    }
    return options.idempotencyKeys === false ? undefined : newKey();
  };

  const send = (spec: Omit<Exchange, 'signal' | 'timeoutMs'>, call: CallOptions) => exchange(transport, { ...spec, signal: call.signal, timeoutMs: call.timeoutMs });

  const postSql = async (statements: { sql_statement: string; params?: Params } | { statements: readonly BatchStatement[] }, call: SqlOptions, read: boolean) => {
    const body: Record<string, unknown> = {};
    const database = call.database ?? options.database;
    if (database !== undefined) body.database = database;
    if (call.consistency !== undefined) body.consistency = call.consistency;
    if (call.version !== undefined) body.version = call.version;
    if (call.asOf !== undefined) body.as_of = call.asOf;
    if ('statements' in statements) {
      body.statements = statements.statements.map((statement) =>
        typeof statement === 'string' ? { sql: statement } : statement.params === undefined ? { sql: statement.sql } : { sql: statement.sql, params: encodeParams(statement.params) },
      );
    } else {
      body.sql_statement = statements.sql_statement;
      if (statements.params !== undefined) body.params = encodeParams(statements.params);
    }
    const answer = await send({ method: 'POST', path: '/sql', json: body, read, idempotencyKey: keyFor(call) }, call);
    return decodeSqlAnswer(answer, call);
  };

  const resultSet = (batch: BatchResult<unknown>): ResultSet<never> => {
    const last = batch.results[batch.results.length - 1] ?? { columns: [], rows: [], changes: 0, lastInsertRowid: null };
    return { ...last, results: batch.results, meta: batch.meta } as ResultSet<never>;
  };

  const databasePath = (name: string, rest = '') => {
    // '', '.' and '..' would be folded away by URL (dot segments), reaching another route or database.
    if (name === '' || name === '.' || name === '..') throw new TypeError(`database name ${JSON.stringify(name)} is not a database name`);
    return `/databases/${encodeURIComponent(name)}${rest}`;
  };
  const getJson = async <T>(path: string, query: Exchange['query'], call: CallOptions) => decodeJsonObject(await send({ method: 'GET', path, query, read: true }, call)) as T;
  const writeJson = async <T = Record<string, unknown>>(method: 'POST' | 'DELETE', path: string, spec: Partial<Exchange>, call: CallOptions) =>
    decodeJsonObject(await send({ method, path, read: false, idempotencyKey: keyFor(call), ...spec }, call)) as T;

  const client: Client = {
    query: async (sql: string, params?: Params, call: SqlOptions = {}) => resultSet(await postSql({ sql_statement: sql, params }, call, true)),
    execute: async (sql: string, params?: Params, call: SqlOptions = {}) => resultSet(await postSql({ sql_statement: sql, params }, call, false)),
    batch: async (statements: readonly BatchStatement[], call: SqlOptions = {}) => (await postSql({ statements }, call, false)) as BatchResult<never>,

    listDatabases: (call = {}) => getJson('/databases', { limit: call.limit, cursor: call.cursor, deleted: call.deleted }, call),
    getDatabase: async (name, call = {}) => getJson(databasePath(name), undefined, call),
    versions: async (name, call = {}) => getJson(databasePath(name, '/versions'), { limit: call.limit, before: call.before }, call),
    restore: async (name, point, call = {}) => writeJson('POST', databasePath(name, '/restore'), { json: pointBody(point) }, call),
    clone: async (name, target, call = {}) => {
      const { to, ...point } = target;
      return writeJson('POST', databasePath(name, '/clone'), { json: { to, ...(point.version || point.asOf ? pointBody(point as PointInTime) : {}) } }, call);
    },
    deleteDatabase: async (name, call = {}) => writeJson('DELETE', databasePath(name), { query: { confirm: name } }, call),
    exportDatabase: async (name, call = {}) => {
      const answer = await send({ method: 'GET', path: databasePath(name, '/export'), query: { format: call.format, version: call.version }, read: true, onProgress: call.onProgress }, call);
      if (!(answer.headers.get('content-type') ?? '').includes('application/json')) return answer.body;
      // Too large to answer inline: the server presigned a GET of that exact version.
      const { url } = decodeJsonObject(answer) as { url?: unknown };
      if (typeof url !== 'string') throw badAnswer(answer, 'export answered JSON without a url');
      return (await send({ method: 'GET', path: url, absoluteUrl: true, read: true, onProgress: call.onProgress }, call)).body;
    },
    importDatabase: async (name, file, call = {}) => {
      const path = databasePath(name, '/import');
      call.onProgress?.({ bytes: 0, total: file.byteLength });
      const contentType = call.format === 'sql' ? 'application/sql' : 'application/vnd.sqlite3';
      let answer: Record<string, unknown> | undefined;
      if (file.byteLength <= INLINE_IMPORT_BYTES) {
        try {
          answer = await writeJson('POST', path, { bytes: { data: file, contentType } }, call);
        } catch (error) {
          // Over this server's body limit (a 413 refuses before anything is done): the staged upload below.
          if (!(error instanceof CloudliteError && error.status === 413)) throw error;
        }
      }
      const staged = async (): Promise<Record<string, unknown>> => {
        // docs/lifecycle.md "Large files": a presigned POST to S3, then a commit that names it.
        const stage = decodeJsonObject(await send({ method: 'POST', path, json: { upload: true }, read: true }, call)) as {
          staged?: unknown;
          upload?: { url?: unknown; fields?: Record<string, string> };
        };
        if (typeof stage.staged !== 'string' || typeof stage.upload?.url !== 'string') throw new CloudliteError('BAD_ANSWER', 'import {"upload": true} answered without staged and upload.url');
        const form = new FormData();
        for (const [field, value] of Object.entries(stage.upload.fields ?? {})) form.append(field, value);
        form.append('file', new Blob([file as Uint8Array<ArrayBuffer>]));
        // The answer to an upload starts only once the whole file has left: its time grows with its size.
        const uploadTimeoutMs = (call.timeoutMs ?? options.timeoutMs ?? DEFAULT_TIMEOUT_MS) + Math.ceil(file.byteLength / UPLOAD_BYTES_PER_MS);
        await exchange(transport, { method: 'POST', path: stage.upload.url, absoluteUrl: true, form, read: true, signal: call.signal, timeoutMs: uploadTimeoutMs });
        // The file's SHA-256 names the import, so a retry with the same key that staged it again is the same request.
        const sha256 = await sha256Hex(file);
        return writeJson('POST', path, { json: { staged: stage.staged, ...(call.format === 'sql' ? { format: 'sql' } : {}), ...(sha256 && { sha256 }) } }, call);
      };
      const committed = answer ?? (await staged());
      call.onProgress?.({ bytes: file.byteLength, total: file.byteLength });
      return committed;
    },
    request: async <T>(method: 'GET' | 'POST' | 'DELETE', path: string, call: RawRequestOptions = {}) => {
      const read = call.read ?? method === 'GET';
      const answer = await send({ method, path, query: call.query, json: call.json, read, idempotencyKey: method === 'GET' ? undefined : keyFor(call) }, call);
      return decodeJson(answer) as T;
    },
  };
  return client;
}

/**
 * A random UUID v4 for an idempotency key. crypto.randomUUID exists only in secure contexts (a
 * page served over plain http lacks it), crypto.getRandomValues everywhere.
 */
function newKey(): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6]! & 0x0f) | 0x40;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The file's SHA-256 in hex; undefined where Web Crypto is missing (a page served over plain http). */
async function sha256Hex(file: Uint8Array): Promise<string | undefined> {
  if (typeof crypto.subtle?.digest !== 'function') return undefined;
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', file as Uint8Array<ArrayBuffer>));
  return Array.from(digest, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

function pointBody(point: PointInTime): Record<string, string> {
  return 'version' in point ? { version: point.version } : { as_of: point.asOf };
}

/** A 2xx answer the client cannot read; it names the request's key, since a write may have been applied. */
function badAnswer(answer: Answer, message: string): CloudliteError {
  return new CloudliteError('BAD_ANSWER', message, { status: answer.status, requestId: answer.requestId, idempotencyKey: answer.idempotencyKey });
}

function decodeJsonObject(answer: Answer): Record<string, unknown> {
  const json = decodeJson(answer);
  if (json === null || typeof json !== 'object') {
    throw badAnswer(answer, `expected a JSON object, got ${answer.body.byteLength} bytes that are not one`);
  }
  return json as Record<string, unknown>;
}

function decodeSqlAnswer(answer: Answer, call: SqlOptions): BatchResult<unknown> {
  const wire = decodeJsonObject(answer) as unknown as WireAnswer;
  if (!Array.isArray(wire.results) || wire.meta === undefined) {
    throw badAnswer(answer, 'POST /sql answered without results and meta');
  }
  return {
    results: wire.results.map((result) => ({
      columns: result.columns,
      rows: decodeRows(result.columns, result.rows, call.rows ?? 'arrays', call.bigIntColumns),
      changes: result.changes,
      lastInsertRowid: decodeRowid(result.last_insert_rowid),
    })),
    meta: {
      database: wire.meta.database,
      version: wire.meta.version,
      wrote: wire.meta.wrote,
      replayed: wire.meta.replayed === true,
      rowsOmitted: wire.meta.rows_omitted === true,
      durationMs: wire.meta.duration_ms,
      requestId: answer.requestId,
    },
  };
}
