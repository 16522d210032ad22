/**
 * The request mixes of the four load scenarios, defined once. Pure: no k6 and no Node import,
 * and no import at all, so the k6 scripts (run by k6's own runtime) and the autocannon driver
 * (`scripts/loadtest-local.ts`, run by Node) send the same requests. Randomness comes in as a
 * function so each runtime brings its own and tests can pin it.
 */

export type ScenarioName = 'viral' | 'contention' | 'mixed' | 'many';
export const SCENARIO_NAMES: readonly ScenarioName[] = ['viral', 'contention', 'mixed', 'many'];

/** Tag on every request, so latency thresholds and counts are kept per kind of request. */
export type Endpoint = 'flights' | 'sql_read' | 'sql_read_eventual' | 'sql_write';

export type Random = () => number;

export type SqlParams = readonly (string | number | null)[];

export type SqlBody =
  | { sql_statement: string; params?: SqlParams; database: string; consistency?: 'strong' | 'eventual' }
  | { statements: { sql: string; params?: SqlParams }[]; database: string };

export interface RequestSpec {
  endpoint: Endpoint;
  method: 'GET' | 'POST';
  /** Path and query string, starting with "/". */
  path: string;
  /** Sent as JSON; present exactly when method is POST. */
  body?: SqlBody;
}

/** Where a run's requests go and who writes them. */
export interface MixContext {
  /** Database holding the seeded `flights` table that SQL reads query (mixed also writes there). */
  readDatabase: string;
  /** The one database every writer of the contention scenario fights over. */
  contentionDatabase: string;
  /** How many databases the many-databases scenario spreads over: lt-db-0 .. lt-db-(n-1). */
  databases: number;
  /** Distinguishes this run's rows from earlier runs' in the same database. */
  runId: string;
}

/** Identifies one write so a run can be audited afterwards: who sent it and its number. */
export interface WriteId {
  writer: string;
  seq: number;
}

export const DEFAULT_READ_DATABASE = 'lt-reads';
export const DEFAULT_CONTENTION_DATABASE = 'lt-contention';
export const DEFAULT_DATABASES = 20;
export const FLIGHTS_SEED_ROWS = 5000;

const DATABASE_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;

// A small vocabulary so filters hit both matching and empty result sets, like real traffic.
export const CITIES = ['Delhi', 'Mumbai', 'Bangalore', 'Chennai', 'Kolkata', 'Hyderabad', 'Goa'] as const;
export const AIRLINES = ['Indigo', 'Vistara', 'Air India', 'SpiceJet', 'Akasa Air'] as const;
export const DATES = ['2023-12-20', '2023-12-22', '2023-12-24', '2023-12-25', '2023-12-27', '2023-12-31'] as const;
const MAX_PRICES = [4000, 6500, 9000, 15000] as const;
const MAX_RAIN = [0.2, 0.5, 0.8] as const;

export function manyDatabaseName(index: number): string {
  return `lt-db-${index}`;
}

/** Throws unless `name` is a database name the API accepts, so a bad setting fails before the load. */
export function assertDatabaseName(name: string, setting: string): string {
  if (!DATABASE_NAME.test(name)) throw new Error(`${setting}="${name}" is not a database name (must match ${DATABASE_NAME.source})`);
  return name;
}

export function newRunId(random: Random, nowMs: number): string {
  return `${nowMs.toString(36)}-${Math.floor(random() * 36 ** 6).toString(36).padStart(6, '0')}`;
}

// ---- The mixes ------------------------------------------------------------------------------

/**
 * The next request of a scenario. `write` names the write when the pick is one (a mix that
 * picks a read ignores it), so callers number writes however their runtime allows.
 */
export function nextRequest(scenario: ScenarioName, ctx: MixContext, write: WriteId, random: Random): RequestSpec {
  switch (scenario) {
    case 'viral':
      return viralRead(ctx.readDatabase, random);
    case 'contention':
      return contentionWrite(ctx, write);
    case 'mixed':
      // 95% of what a viral spike reads, 5% appends to the same database, so readers keep
      // meeting fresh versions instead of a cache that never changes.
      return random() < 0.95 ? viralRead(ctx.readDatabase, random) : eventWrite(ctx.readDatabase, ctx.runId, write);
    case 'many': {
      const database = manyDatabaseName(Math.floor(random() * ctx.databases));
      const roll = random();
      if (roll < 0.1) return eventWrite(database, ctx.runId, write);
      return sqlRequest(roll < 0.55 ? 'sql_read' : 'sql_read_eventual', {
        sql_statement: 'SELECT id, writer, seq, at_ms FROM loadtest_events ORDER BY id DESC LIMIT 20',
        database,
        consistency: roll < 0.55 ? 'strong' : 'eventual',
      });
    }
  }
}

/** Half public `GET /flights`, half `POST /sql` reads of which a third accept eventual consistency. */
export function viralRead(readDatabase: string, random: Random): RequestSpec {
  const roll = random();
  if (roll < 0.5) return { endpoint: 'flights', method: 'GET', path: flightsPath(random) };
  const eventual = roll >= 0.85;
  return sqlRequest(eventual ? 'sql_read_eventual' : 'sql_read', {
    ...flightsSelect(random),
    database: readDatabase,
    consistency: eventual ? 'eventual' : 'strong',
  });
}

export function flightsPath(random: Random): string {
  const query: [string, string][] = [
    ['page', String(1 + Math.floor(random() * 3))],
    ['limit', '20'],
  ];
  const origin = pick(CITIES, random);
  if (random() < 0.7) query.push(['origin', origin]);
  if (random() < 0.5) query.push(['destination', pick(CITIES.filter((c) => c !== origin), random)]);
  if (random() < 0.3) query.push(['date', pick(DATES, random)]);
  if (random() < 0.3) query.push(['sort_by', 'date']);
  if (random() < 0.3) query.push(['max_price', String(pick(MAX_PRICES, random))]);
  if (random() < 0.3) {
    const first = pick(AIRLINES, random);
    const airlines = random() < 0.5 ? [first] : [first, pick(AIRLINES.filter((a) => a !== first), random)];
    query.push(['airline', airlines.join(',')]);
  }
  if (random() < 0.2) query.push(['max_rain', String(pick(MAX_RAIN, random))]);
  return `/flights?${query.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&')}`;
}

// Column names and the route index are those of migrations/0001_flights.sql, so these reads also
// run against a database holding the real table.
const FLIGHT_COLUMNS = 'id, date, origin, destination, airline, price_inr, rain_probability';

function flightsSelect(random: Random): { sql_statement: string; params: SqlParams } {
  const origin = pick(CITIES, random);
  const destination = pick(CITIES.filter((c) => c !== origin), random);
  switch (Math.floor(random() * 4)) {
    case 0:
      return {
        sql_statement: `SELECT ${FLIGHT_COLUMNS} FROM flights WHERE origin = ? COLLATE NOCASE AND destination = ? COLLATE NOCASE ORDER BY date, price_inr, id LIMIT 20`,
        params: [origin, destination],
      };
    case 1:
      return {
        sql_statement: `SELECT ${FLIGHT_COLUMNS} FROM flights WHERE origin = ? COLLATE NOCASE AND price_inr <= ? ORDER BY price_inr, date, id LIMIT 20`,
        params: [origin, pick(MAX_PRICES, random)],
      };
    case 2:
      return {
        sql_statement: `SELECT ${FLIGHT_COLUMNS} FROM flights WHERE airline IN (?, ?) AND date = ? ORDER BY price_inr, date, id LIMIT 20`,
        params: [pick(AIRLINES, random), pick(AIRLINES, random), pick(DATES, random)],
      };
    default:
      return {
        sql_statement: `SELECT ${FLIGHT_COLUMNS} FROM flights WHERE destination = ? COLLATE NOCASE AND rain_probability <= ? ORDER BY date, price_inr, id LIMIT 20`,
        params: [destination, pick(MAX_RAIN, random)],
      };
  }
}

const INSERT_EVENT =
  "INSERT INTO loadtest_events (run_id, writer, seq, at_ms) VALUES (?, ?, ?, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER))";

/**
 * Counter and event in one atomic batch: afterwards the counter, the number of events and the
 * number of acknowledged writes must agree, which is how the contention run detects lost updates.
 */
export function contentionWrite(ctx: MixContext, write: WriteId): RequestSpec {
  return sqlRequest('sql_write', {
    statements: [
      { sql: 'UPDATE loadtest_counters SET n = n + 1 WHERE run_id = ?', params: [ctx.runId] },
      { sql: INSERT_EVENT, params: [ctx.runId, write.writer, write.seq] },
    ],
    database: ctx.contentionDatabase,
  });
}

export function eventWrite(database: string, runId: string, write: WriteId): RequestSpec {
  return sqlRequest('sql_write', { sql_statement: INSERT_EVENT, params: [runId, write.writer, write.seq], database });
}

function sqlRequest(endpoint: Endpoint, body: SqlBody): RequestSpec {
  return { endpoint, method: 'POST', path: '/sql', body };
}

function pick<T>(items: readonly T[], random: Random): T {
  return items[Math.min(items.length - 1, Math.floor(random() * items.length))]!;
}

// ---- Set-up before the load -----------------------------------------------------------------

const EVENTS_TABLE = [
  'CREATE TABLE IF NOT EXISTS loadtest_events (id INTEGER PRIMARY KEY, run_id TEXT NOT NULL, writer TEXT NOT NULL, seq INTEGER NOT NULL, at_ms INTEGER NOT NULL)',
  'CREATE INDEX IF NOT EXISTS loadtest_events_run ON loadtest_events (run_id)',
];

/**
 * Writes to send before the load, in order: tables, seed rows, this run's counter. Each one is
 * idempotent, so re-running a scenario against the same databases only adds the run's counter.
 */
export function setupRequests(scenario: ScenarioName, ctx: MixContext): SqlBody[] {
  switch (scenario) {
    case 'viral':
      return [flightsSeed(ctx.readDatabase, [])];
    case 'mixed':
      return [flightsSeed(ctx.readDatabase, EVENTS_TABLE)];
    case 'contention':
      return [
        {
          database: ctx.contentionDatabase,
          statements: [
            ...EVENTS_TABLE.map((sql) => ({ sql })),
            { sql: 'CREATE TABLE IF NOT EXISTS loadtest_counters (run_id TEXT PRIMARY KEY, n INTEGER NOT NULL)' },
            { sql: 'INSERT OR IGNORE INTO loadtest_counters (run_id, n) VALUES (?, 0)', params: [ctx.runId] },
          ],
        },
      ];
    case 'many':
      return Array.from({ length: ctx.databases }, (_, i) => ({
        database: manyDatabaseName(i),
        statements: EVENTS_TABLE.map((sql) => ({ sql })),
      }));
  }
}

/** A deterministic `flights` table generated by SQLite itself, so the request stays small. */
function flightsSeed(database: string, extra: readonly string[]): SqlBody {
  const caseOf = (values: readonly (string | number)[], expr: string) =>
    `CASE ${expr} ${values.map((v, i) => `WHEN ${i} THEN ${typeof v === 'string' ? `'${v.replace(/'/g, "''")}'` : v}`).join(' ')} END`;
  const n = CITIES.length;
  return {
    database,
    statements: [
      {
        sql:
          'CREATE TABLE IF NOT EXISTS flights (id INTEGER PRIMARY KEY, uuid TEXT NOT NULL UNIQUE, date TEXT NOT NULL, origin TEXT NOT NULL, ' +
          'destination TEXT NOT NULL, airline TEXT NOT NULL, price_inr INTEGER NOT NULL, rain_probability REAL)',
      },
      { sql: 'CREATE INDEX IF NOT EXISTS flights_by_route_date ON flights (origin COLLATE NOCASE, destination COLLATE NOCASE, date, price_inr)' },
      {
        sql:
          'WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i < ?) ' +
          'INSERT INTO flights (uuid, airline, origin, destination, date, price_inr, rain_probability) ' +
          `SELECT 'lt-' || i, ${caseOf(AIRLINES, `i % ${AIRLINES.length}`)}, ${caseOf(CITIES, `i % ${n}`)}, ` +
          // The destination is the origin shifted by 1 .. n-1 places, so never the origin itself.
          `${caseOf(CITIES, `(i % ${n} + (i / ${n}) % ${n - 1} + 1) % ${n}`)}, ${caseOf(DATES, `(i / 3) % ${DATES.length}`)}, ` +
          '2500 + (i * 7919) % 12500, ((i * 37) % 100) / 100.0 FROM seq WHERE NOT EXISTS (SELECT 1 FROM flights)',
        params: [FLIGHTS_SEED_ROWS - 1],
      },
      ...extra.map((sql) => ({ sql })),
    ],
  };
}

// ---- Accounting after the contention run ----------------------------------------------------

export function accountingQuery(ctx: MixContext): SqlBody {
  return {
    sql_statement:
      'SELECT (SELECT n FROM loadtest_counters WHERE run_id = ?) AS counter, (SELECT count(*) FROM loadtest_events WHERE run_id = ?) AS events',
    params: [ctx.runId, ctx.runId],
    database: ctx.contentionDatabase,
    consistency: 'strong',
  };
}

export interface StoredCounts {
  counter: number;
  events: number;
}

/** Reads the parsed answer to accountingQuery; throws with the answer when it is not the expected shape. */
export function parseStoredCounts(answer: unknown): StoredCounts {
  const row = (answer as { results?: { rows?: unknown[][] }[] } | null)?.results?.[0]?.rows?.[0];
  const [counter, events] = row ?? [];
  if (typeof counter !== 'number' || typeof events !== 'number') {
    throw new Error(`unexpected answer to the accounting query: ${JSON.stringify(answer).slice(0, 300)}`);
  }
  return { counter, events };
}

export interface AccountingInput extends StoredCounts {
  /** Writes answered 2xx. */
  acknowledged: number;
  /** Writes whose outcome is unknown: transport errors, timeouts, 5xx other than 503, cut off at the end. */
  ambiguous: number;
}

/**
 * Every acknowledged write must be stored (no lost update), counter and events must agree
 * (batches are atomic), and anything stored beyond the acknowledged writes must be explained by
 * writes whose answer never arrived.
 */
export function accountingVerdict(input: AccountingInput): { ok: boolean; message: string } {
  const { counter, events, acknowledged, ambiguous } = input;
  const figures = `counter=${counter} events=${events} acknowledged=${acknowledged} ambiguous=${ambiguous}`;
  if (counter !== events) return { ok: false, message: `counter and events disagree, a batch was applied in part (${figures})` };
  if (counter < acknowledged) return { ok: false, message: `${acknowledged - counter} acknowledged write(s) lost (${figures})` };
  if (counter > acknowledged + ambiguous) {
    return { ok: false, message: `${counter - acknowledged - ambiguous} write(s) stored that nobody sent or that were refused (${figures})` };
  }
  return { ok: true, message: `every acknowledged write is stored exactly once (${figures})` };
}

// ---- Outcomes and retries -------------------------------------------------------------------

export type Outcome = 'ok' | 'retryable' | 'error';

/** 409 WRITE_CONFLICT and 503 LOCK_TIMEOUT / STORAGE_UNAVAILABLE are the contract's retryable answers. */
export function classifyStatus(status: number): Outcome {
  if (status >= 200 && status < 300) return 'ok';
  if (status === 409 || status === 503) return 'retryable';
  return 'error';
}

/** True when a failed write may or may not have been applied: no answer, or a 5xx that is not 503. */
export function isAmbiguousWriteFailure(status: number): boolean {
  return status === 0 || (status >= 500 && status !== 503);
}

/** How one answer counts: its outcome, and for a write whether it may have been applied. */
export interface Answer {
  outcome: Outcome;
  /** A write that failed this way may or may not have been applied. */
  ambiguous: boolean;
  /** `error.code` of an error body, when there is one. */
  code?: string;
}

/**
 * Classifies an answer by its status AND its body: a 2xx counts as ok only when it is the API's
 * answer for that request (`data` and `total_items` for GET /flights, `results` for POST /sql),
 * so a wrong BASE_URL answering 200 to everything fails the run instead of passing it. A 2xx that
 * is not the API's answer is an error, ambiguous for a write (something answered; it may be a
 * proxy in front of a write that landed). `503 WRITE_OUTCOME_UNKNOWN` is retryable (with the same
 * Idempotency-Key) and ambiguous: it may have been stored.
 */
export function classifyAnswer(endpoint: Endpoint, status: number, body: string | null | undefined): Answer {
  const parsed = parseJson(body);
  const code = (parsed as { error?: { code?: unknown } } | undefined)?.error?.code;
  const errorCode = typeof code === 'string' ? code : undefined;
  if (status >= 200 && status < 300) {
    return isApiAnswer(endpoint, parsed) ? { outcome: 'ok', ambiguous: false } : { outcome: 'error', ambiguous: true };
  }
  if (status === 409 || status === 503) {
    return { outcome: 'retryable', ambiguous: status === 503 && errorCode === 'WRITE_OUTCOME_UNKNOWN', code: errorCode };
  }
  return { outcome: 'error', ambiguous: isAmbiguousWriteFailure(status), code: errorCode };
}

function isApiAnswer(endpoint: Endpoint, parsed: unknown): boolean {
  if (typeof parsed !== 'object' || parsed === null) return false;
  const answer = parsed as { data?: unknown; total_items?: unknown; results?: unknown };
  if (endpoint === 'flights') return Array.isArray(answer.data) && typeof answer.total_items === 'number';
  return Array.isArray(answer.results);
}

function parseJson(body: string | null | undefined): unknown {
  if (typeof body !== 'string' || body === '') return undefined;
  try {
    return JSON.parse(body) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * An Idempotency-Key for one write: the same on each of its attempts (so a retry is replayed or
 * applied once), distinct across writers, writes and runs. 1-128 printable characters.
 */
export function writeKey(writer: string, seq: number, random: Random, nowMs: number): string {
  return `lt-${writer}-${seq}-${nowMs.toString(36)}-${Math.floor(random() * 2 ** 32).toString(36)}`;
}

export const RETRY_BASE_MS = 100;
export const RETRY_CAP_MS = 5000;

/**
 * Wait before attempt `attempt + 1` (attempt counts from 0): exponential backoff with full
 * jitter, but never less than the server's Retry-After (seconds or an HTTP date).
 */
export function retryDelayMs(attempt: number, retryAfter: string | undefined, random: Random, nowMs: number): number {
  const backoff = random() * Math.min(RETRY_CAP_MS, RETRY_BASE_MS * 2 ** attempt);
  return Math.max(backoff, retryAfterMs(retryAfter, nowMs));
}

export function retryAfterMs(header: string | undefined, nowMs: number): number {
  if (header === undefined || header.trim() === '') return 0;
  const seconds = Number(header.trim());
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(header);
  return Number.isFinite(date) ? Math.max(0, date - nowMs) : 0;
}
