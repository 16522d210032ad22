import { parseArgs } from 'node:util';
import type { App } from '../functions/all-routes';
import { countOf, FLIGHT_COLUMNS, flightInsertStatements, flightsReplaceProgram, toFlightRows, type Flight } from '../functions/flights/flights';
import type { StatementInput } from '../functions/core/ports';
import { postApi, resolveKey, resolveUrl, runCli, sqlBody, UsageError, type ApiTarget } from './api-client';
import { generateFlights } from './flights-generator';

/**
 * `npm run seed:flights -- --rows N [--database main] [--url http://localhost:3000] [--key K]
 *   [--seed 1] [--start YYYY-MM-DD] [--max-body-bytes 1048576] [--max-statements 100] [--max-params 1000]`
 *
 * Replaces the flights table with N generated flights (scripts/flights-generator.ts), always
 * through the API and so through the locked, fenced write path:
 *
 * - Without --database, and when the list fits one request body: `POST /flights`, into the
 *   server's FLIGHTS_DATABASE. One atomic replace, exactly what the daily feed does.
 * - Otherwise `POST /sql` into --database (default `main`, FLIGHTS_DATABASE's default):
 *   - when DELETE + the multi-row INSERTs fit one request: that one batch, the same program
 *     POST /flights runs (atomic);
 *   - else the rows go into a staging table over as many requests as the limits need (each
 *     request at most --max-statements statements of at most --max-params parameters and
 *     --max-body-bytes bytes, the server's defaults), and one last request swaps them in:
 *     DELETE FROM flights + INSERT ... SELECT FROM the staging table + DROP it.
 *   Trade-off: readers still see the old table or the new one, never a mix (the swap is one
 *   transaction), but every request rewrites and uploads the whole database file, so loading
 *   takes O(requests x file size) of upload; and an interrupted run leaves the staging table
 *   behind until the next run drops it.
 */

const STAGING_TABLE = 'flights_seed_staging';

export interface SeedLimits {
  maxBodyBytes: number;
  maxStatements: number;
  maxParams: number;
}

/** The server's default limits (config.ts). */
export const DEFAULT_SEED_LIMITS: SeedLimits = { maxBodyBytes: 4_194_304, maxStatements: 100, maxParams: 1_000 };

/**
 * For a fresh local stack: fills an empty flights table with `rows` generated flights through
 * the app's database service (one write, like POST /flights). Leaves a non-empty table alone
 * and returns how many it inserted. Two servers starting together may both seed; the second
 * replace simply wins.
 */
export async function seedFlightsIfEmpty(app: App, database: string, rows = 200): Promise<number> {
  const counted = await app.service.execute({ database, program: { kind: 'script', sql: 'SELECT count(*) FROM flights' }, consistency: 'strong' }, 'read');
  if (countOf(counted.results[0]) > 0) return 0;
  const flights = toFlightRows(generateFlights({ rows }));
  await app.service.write({ database, program: flightsReplaceProgram(flights) });
  return flights.length;
}

export interface SeedPlan {
  route: '/flights' | '/sql';
  bodies: unknown[];
}

/** Decides how to send the flights (see the header); pure, so tests can check the packing. */
export function planSeed(flights: Flight[], database: string | undefined, limits: SeedLimits): SeedPlan {
  const items = flights.map(({ id: _id, total_with_min_luggage: _total, ...item }) => item);
  if (database === undefined && byteLength(items) <= limits.maxBodyBytes) return { route: '/flights', bodies: [items] };

  // POST /flights knows the server's flights database; POST /sql must be told which it is.
  if (database === undefined) {
    throw new Error(`${flights.length} flights do not fit one POST /flights body: pass --database <the server's FLIGHTS_DATABASE> to load them through POST /sql`);
  }
  const target = database;
  const inserts = flightInsertStatements(flights, limits.maxParams);
  const single = { kind: 'batch' as const, statements: [{ sql: 'DELETE FROM flights' }, ...inserts] };
  const singleBody = sqlBody(target, single);
  if (single.statements.length <= limits.maxStatements && byteLength(singleBody) <= limits.maxBodyBytes) return { route: '/sql', bodies: [singleBody] };

  const columns = FLIGHT_COLUMNS.join(', ');
  const prepare: StatementInput[] = [{ sql: `DROP TABLE IF EXISTS ${STAGING_TABLE}` }, { sql: `CREATE TABLE ${STAGING_TABLE} AS SELECT ${columns} FROM flights WHERE 0` }];
  const swap: StatementInput[] = [
    { sql: 'DELETE FROM flights' },
    { sql: `INSERT INTO flights (${columns}) SELECT ${columns} FROM ${STAGING_TABLE}` },
    { sql: `DROP TABLE ${STAGING_TABLE}` },
  ];
  const loads = pack([...prepare, ...flightInsertStatements(flights, limits.maxParams, STAGING_TABLE)], target, limits);
  return { route: '/sql', bodies: [...loads, sqlBody(target, { kind: 'batch', statements: swap })] };
}

/** Greedily groups statements into POST /sql bodies within the statement and byte limits. */
function pack(statements: StatementInput[], database: string, limits: SeedLimits): unknown[] {
  const budget = limits.maxBodyBytes - 1024; // room for the envelope around the statements
  const bodies: unknown[] = [];
  let current: StatementInput[] = [];
  let bytes = 0;
  for (const statement of statements) {
    const size = byteLength(sqlBody(database, { kind: 'batch', statements: [statement] }));
    if (size > budget) throw new Error(`one INSERT of ${limits.maxParams} parameters is ${size} bytes, over the body limit; lower --max-params`);
    if (current.length > 0 && (current.length >= limits.maxStatements || bytes + size > budget)) {
      bodies.push(sqlBody(database, { kind: 'batch', statements: current }));
      current = [];
      bytes = 0;
    }
    current.push(statement);
    bytes += size;
  }
  if (current.length > 0) bodies.push(sqlBody(database, { kind: 'batch', statements: current }));
  return bodies;
}

function byteLength(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value), 'utf8');
}

export async function seedOverHttp(target: ApiTarget, plan: SeedPlan): Promise<void> {
  for (const body of plan.bodies) await postApi(target, plan.route, body);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rows: { type: 'string' },
      database: { type: 'string' },
      url: { type: 'string' },
      key: { type: 'string' },
      seed: { type: 'string' },
      start: { type: 'string' },
      'max-body-bytes': { type: 'string' },
      'max-statements': { type: 'string' },
      'max-params': { type: 'string' },
    },
    strict: true,
  });
  const rows = wholeNumber(values.rows, 'rows');
  if (rows === undefined || rows < 1) throw new UsageError('usage: npm run seed:flights -- --rows N [--database main] [--url http://localhost:3000] [--key <write key>]');
  const limits: SeedLimits = {
    maxBodyBytes: wholeNumber(values['max-body-bytes'], 'max-body-bytes') ?? DEFAULT_SEED_LIMITS.maxBodyBytes,
    maxStatements: wholeNumber(values['max-statements'], 'max-statements') ?? DEFAULT_SEED_LIMITS.maxStatements,
    maxParams: wholeNumber(values['max-params'], 'max-params') ?? DEFAULT_SEED_LIMITS.maxParams,
  };
  const flights = toFlightRows(generateFlights({ rows, seed: wholeNumber(values.seed, 'seed') ?? 1, startDate: values.start }));
  const plan = planSeed(flights, values.database, limits);
  const started = performance.now();
  const url = resolveUrl(values.url);
  await seedOverHttp({ url, key: resolveKey(values.key, url) }, plan);
  const where = plan.route === '/flights' ? "the server's flights database" : `database "${values.database}"`;
  console.log(`seeded ${rows} flights into ${where} via POST ${plan.route} in ${plan.bodies.length} request(s), ${Math.round(performance.now() - started)} ms`);
}

function wholeNumber(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^[0-9]+$/.test(value)) throw new UsageError(`--${name} must be a whole number`);
  return Number(value);
}

runCli('seed', module, main);
