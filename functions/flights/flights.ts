import { randomUUID } from 'node:crypto';
import type { Program, SqlValue, StatementInput, StatementResult } from '../core/ports';

/**
 * The flights tenant on top of the core: search filters -> one parameterized read program,
 * rows -> JSON, and a posted list -> one write program that replaces the table. Pure: the
 * routes run these programs through the same DatabaseService as `POST /sql`.
 */

/** GET /flights serves at most this many flights per page; larger `limit`s are served as this. */
export const MAX_PAGE_SIZE = 20;
/** Keeps OFFSET = (page - 1) * limit an exact integer; any page past the end answers an empty page. */
export const MAX_PAGE = Math.floor(Number.MAX_SAFE_INTEGER / MAX_PAGE_SIZE);

/** A flight as GET /flights returns it. */
export interface Flight {
  id: number;
  uuid: string;
  date: string;
  origin: string;
  destination: string;
  airline: string;
  duration: string | null;
  flight_type: string | null;
  price_inr: number;
  origin_country: string | null;
  destination_country: string | null;
  link: string | null;
  rain_probability: number | null;
  free_meal: boolean;
  min_checked_luggage_price: number | null;
  min_checked_luggage_weight: number | null;
  total_with_min_luggage: number | null;
}

/** A flight as POST /flights accepts it (already validated): identity and totals are ours to fill in. */
export type NewFlight = Pick<Flight, 'date' | 'origin' | 'destination' | 'airline' | 'price_inr'> &
  Partial<Omit<Flight, 'date' | 'origin' | 'destination' | 'airline' | 'price_inr'>>;

/** Column order of every SELECT and INSERT here; `rowToFlight` reads cells by this order. */
export const FLIGHT_COLUMNS = [
  'id',
  'uuid',
  'date',
  'origin',
  'destination',
  'airline',
  'duration',
  'flight_type',
  'price_inr',
  'origin_country',
  'destination_country',
  'link',
  'rain_probability',
  'free_meal',
  'min_checked_luggage_price',
  'min_checked_luggage_weight',
  'total_with_min_luggage',
] as const satisfies readonly (keyof Flight)[];

export type FlightSort = 'price' | 'date';

export interface FlightFilters {
  /** City, matched exactly but ignoring (ASCII) case. */
  origin?: string;
  destination?: string;
  /** YYYY-MM-DD, exact. */
  date?: string;
  /** Any of these airlines, each matched exactly but ignoring case. */
  airlines?: string[];
  maxPrice?: number;
  maxRain?: number;
}

export interface FlightSearch {
  page: number;
  limit: number;
  sort: FlightSort;
  filters: FlightFilters;
}

export interface FlightPage {
  data: Flight[];
  page: number;
  total_pages: number;
  total_items: number;
}

// Fixed strings chosen by an enum, never built from input. Each ends with `id` so pages never
// overlap or skip rows between requests, and each is served by an index in 0001_flights.sql.
const ORDER_BY: Readonly<Record<FlightSort, string>> = {
  price: 'price_inr, date, id',
  date: 'date, price_inr, id',
};

const SELECT_LIST = FLIGHT_COLUMNS.join(', ');
const COLUMN_INDEX = Object.fromEntries(FLIGHT_COLUMNS.map((column, index) => [column, index])) as Record<(typeof FLIGHT_COLUMNS)[number], number>;

/**
 * The search as ONE read program of two statements, the count and the page, so both are
 * answered from the same stored version: a replace landing between them cannot make
 * `total_items` disagree with `data`. Every value is a bound parameter.
 */
export function flightSearchProgram(search: FlightSearch): Program {
  const { sql: where, params } = whereClause(search.filters);
  const offset = (search.page - 1) * search.limit;
  return {
    kind: 'batch',
    statements: [
      { sql: `SELECT count(*) FROM flights${where}`, params: params.length > 0 ? params : undefined },
      { sql: `SELECT ${SELECT_LIST} FROM flights${where} ORDER BY ${ORDER_BY[search.sort]} LIMIT ? OFFSET ?`, params: [...params, search.limit, offset] },
    ],
  };
}

function whereClause(filters: FlightFilters): { sql: string; params: SqlValue[] } {
  const terms: string[] = [];
  const params: SqlValue[] = [];
  // COLLATE NOCASE on the comparison matches the indexes' collation, so they stay usable.
  if (filters.origin !== undefined) {
    terms.push('origin = ? COLLATE NOCASE');
    params.push(filters.origin);
  }
  if (filters.destination !== undefined) {
    terms.push('destination = ? COLLATE NOCASE');
    params.push(filters.destination);
  }
  if (filters.date !== undefined) {
    terms.push('date = ?');
    params.push(filters.date);
  }
  if (filters.airlines !== undefined && filters.airlines.length > 0) {
    terms.push(`airline COLLATE NOCASE IN (${filters.airlines.map(() => '?').join(', ')})`);
    params.push(...filters.airlines);
  }
  if (filters.maxPrice !== undefined) {
    terms.push('price_inr <= ?');
    params.push(filters.maxPrice);
  }
  if (filters.maxRain !== undefined) {
    // A flight whose rain probability is unknown (NULL) does not pass a rain limit.
    terms.push('rain_probability <= ?');
    params.push(filters.maxRain);
  }
  return { sql: terms.length > 0 ? ` WHERE ${terms.join(' AND ')}` : '', params };
}

/** Shapes the two results of `flightSearchProgram` into the response body. */
export function flightPage(results: StatementResult[], search: FlightSearch): FlightPage {
  const total = countOf(results[0]);
  return {
    data: (results[1]?.rows ?? []).map(rowToFlight),
    page: search.page,
    total_pages: Math.ceil(total / search.limit),
    total_items: total,
  };
}

/** The single integer of a `SELECT count(*)`, bigint in-process or number over HTTP. */
export function countOf(result: StatementResult | undefined): number {
  const value = result?.rows[0]?.[0];
  return typeof value === 'bigint' || typeof value === 'number' ? Number(value) : 0;
}

/** One row in FLIGHT_COLUMNS order -> a Flight, with INTEGER cells as numbers and free_meal as a boolean. */
export function rowToFlight(row: SqlValue[]): Flight {
  const cell = (column: (typeof FLIGHT_COLUMNS)[number]) => row[COLUMN_INDEX[column]] ?? null;
  return {
    id: toNumber(cell('id'))!,
    uuid: String(cell('uuid')),
    date: String(cell('date')),
    origin: String(cell('origin')),
    destination: String(cell('destination')),
    airline: String(cell('airline')),
    duration: toText(cell('duration')),
    flight_type: toText(cell('flight_type')),
    price_inr: toNumber(cell('price_inr'))!,
    origin_country: toText(cell('origin_country')),
    destination_country: toText(cell('destination_country')),
    link: toText(cell('link')),
    rain_probability: toNumber(cell('rain_probability')),
    free_meal: toNumber(cell('free_meal')) === 1,
    min_checked_luggage_price: toNumber(cell('min_checked_luggage_price')),
    min_checked_luggage_weight: toNumber(cell('min_checked_luggage_weight')),
    total_with_min_luggage: toNumber(cell('total_with_min_luggage')),
  };
}

function toNumber(value: SqlValue): number | null {
  if (value === null) return null;
  if (typeof value === 'bigint' || typeof value === 'number') return Number(value);
  // Only rows written around POST /flights (e.g. by POST /sql) could hold text here.
  const parsed = Number(value);
  return Number.isFinite(parsed) ? parsed : null;
}

function toText(value: SqlValue): string | null {
  return value === null ? null : String(value);
}

/** True for a real YYYY-MM-DD calendar date (no 2023-02-29, no 2023-13-45). */
export function isCalendarDate(value: string): boolean {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (!match) return false;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day); // unlike Date.UTC, keeps years 0000-0099 as written
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

/** The published total: ticket plus the cheapest checked bag, when a bag price is known. */
export function totalWithMinLuggage(priceInr: number, minCheckedLuggagePrice: number | null | undefined): number | null {
  return minCheckedLuggagePrice === null || minCheckedLuggagePrice === undefined ? null : priceInr + minCheckedLuggagePrice;
}

/**
 * Completes validated flights into stored rows: a generated uuid when absent, the derived
 * total, and an explicit id for every row (given ids kept; the others numbered after the
 * largest given one, in list order), so ids never collide inside one replace and a re-post of
 * the same list gives the same ids.
 */
export function toFlightRows(items: readonly NewFlight[], newUuid: () => string = randomUUID): Flight[] {
  let nextId = Math.max(0, ...items.map((item) => item.id ?? 0)) + 1;
  return items.map((item) => ({
    id: item.id ?? nextId++,
    uuid: item.uuid ?? newUuid(),
    date: item.date,
    origin: item.origin,
    destination: item.destination,
    airline: item.airline,
    duration: item.duration ?? null,
    flight_type: item.flight_type ?? null,
    price_inr: item.price_inr,
    origin_country: item.origin_country ?? null,
    destination_country: item.destination_country ?? null,
    link: item.link ?? null,
    rain_probability: item.rain_probability ?? null,
    free_meal: item.free_meal ?? false,
    min_checked_luggage_price: item.min_checked_luggage_price ?? null,
    min_checked_luggage_weight: item.min_checked_luggage_weight ?? null,
    total_with_min_luggage: totalWithMinLuggage(item.price_inr, item.min_checked_luggage_price),
  }));
}

/**
 * SQLite's cap on bound values per statement in sql.js (SQLITE_MAX_VARIABLE_NUMBER). The replace
 * program is built here, not sent through POST /sql, so only this cap applies to it; the body
 * limit is what bounds a replace.
 */
export const SQLITE_MAX_VARIABLES = 32_766;

/**
 * Multi-row INSERTs of `rows` into `table`, as many rows per statement as `maxParams` allows.
 * `table` is a constant of our code (flights, or the seed script's staging table), never input.
 */
export function flightInsertStatements(rows: readonly Flight[], maxParams: number, table = 'flights'): StatementInput[] {
  const perStatement = Math.max(1, Math.floor(maxParams / FLIGHT_COLUMNS.length));
  const tuple = `(${FLIGHT_COLUMNS.map(() => '?').join(', ')})`;
  const statements: StatementInput[] = [];
  for (let start = 0; start < rows.length; start += perStatement) {
    const chunk = rows.slice(start, start + perStatement);
    statements.push({
      sql: `INSERT INTO ${table} (${SELECT_LIST}) VALUES ${chunk.map(() => tuple).join(', ')}`,
      params: chunk.flatMap(flightValues),
    });
  }
  return statements;
}

function flightValues(flight: Flight): SqlValue[] {
  return FLIGHT_COLUMNS.map((column) => {
    const value = flight[column];
    return typeof value === 'boolean' ? (value ? 1 : 0) : value;
  });
}

/**
 * The whole replace as ONE write program: DELETE then the INSERTs, in one transaction and one
 * stored version, so readers see the old table or the new one, never a mix, and a failing row
 * leaves the old table in place.
 */
export function flightsReplaceProgram(rows: readonly Flight[]): Program {
  return { kind: 'batch', statements: [{ sql: 'DELETE FROM flights' }, ...flightInsertStatements(rows, SQLITE_MAX_VARIABLES)] };
}
