import { z } from 'zod';
import { BadRequestError } from '../core/errors';
import { isCalendarDate, MAX_PAGE, MAX_PAGE_SIZE, totalWithMinLuggage, type FlightFilters, type FlightSearch, type NewFlight } from './flights';

/**
 * Parses the flights routes' input, or throws a BadRequestError that names the parameter (or
 * the item and field). Pure: tested table-driven.
 *
 * GET /flights query rules:
 * - Every parameter is optional; an empty value (`?origin=`) is the same as leaving it out,
 *   because search forms send their blank fields that way. Values are trimmed.
 * - Unknown parameters are ignored, not refused: public clients and CDNs add their own (cache
 *   busters, utm_*), and the published API ignored them. The cost is that a misspelled filter
 *   (`max_prise`) filters nothing instead of failing.
 * - `airline` is a comma-separated list; repeating the parameter works too (API Gateway joins
 *   repeated values with commas).
 */

export type QueryParameters = Record<string, string | undefined> | null | undefined;

const MAX_TEXT = 100;
const MAX_AIRLINES = 20;
const WHOLE_NUMBER = /^[0-9]+$/;
const DECIMAL = /^(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)$/;

export function parseFlightsQuery(query: QueryParameters): FlightSearch {
  const get = (name: string): string | undefined => {
    const value = query?.[name]?.trim();
    return value === undefined || value === '' ? undefined : value;
  };

  const filters: FlightFilters = {};
  const origin = get('origin');
  if (origin !== undefined) filters.origin = checkText('origin', origin);
  const destination = get('destination');
  if (destination !== undefined) filters.destination = checkText('destination', destination);
  const date = get('date');
  if (date !== undefined) {
    if (!isCalendarDate(date)) throw new BadRequestError(`"date" must be a real calendar date written YYYY-MM-DD; got "${clip(date)}"`);
    filters.date = date;
  }
  const airlines = parseAirlines(get('airline'));
  if (airlines) filters.airlines = airlines;
  const maxPrice = get('max_price');
  if (maxPrice !== undefined) {
    if (!DECIMAL.test(maxPrice)) throw new BadRequestError(`"max_price" must be a number of at least 0; got "${clip(maxPrice)}"`);
    filters.maxPrice = Number(maxPrice);
  }
  const maxRain = get('max_rain');
  if (maxRain !== undefined) {
    if (!DECIMAL.test(maxRain) || Number(maxRain) > 1) throw new BadRequestError(`"max_rain" must be a number from 0 to 1; got "${clip(maxRain)}"`);
    filters.maxRain = Number(maxRain);
  }

  return {
    page: parsePage(get('page')),
    limit: parseLimit(get('limit')),
    // Only "date" picks the date order; anything else, including garbage, is the price order.
    sort: get('sort_by') === 'date' ? 'date' : 'price',
    filters,
  };
}

function parsePage(value: string | undefined): number {
  if (value === undefined) return 1;
  const page = WHOLE_NUMBER.test(value) ? Number(value) : NaN;
  if (!(page >= 1 && page <= MAX_PAGE)) throw new BadRequestError(`"page" must be a whole number from 1 to ${MAX_PAGE}; got "${clip(value)}"`);
  return page;
}

/** Values above MAX_PAGE_SIZE are served as MAX_PAGE_SIZE, not refused. */
function parseLimit(value: string | undefined): number {
  if (value === undefined) return MAX_PAGE_SIZE;
  const limit = WHOLE_NUMBER.test(value) ? Number(value) : NaN;
  if (!(limit >= 1)) throw new BadRequestError(`"limit" must be a whole number of at least 1 (at most ${MAX_PAGE_SIZE} are served); got "${clip(value)}"`);
  return Math.min(limit, MAX_PAGE_SIZE);
}

function parseAirlines(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const byKey = new Map<string, string>();
  for (const name of value.split(',').map((part) => part.trim())) {
    // Fold like SQLite's NOCASE (ASCII letters only), so de-duplication agrees with the match.
    if (name !== '') byKey.set(name.replace(/[A-Z]/g, (c) => c.toLowerCase()), checkText('airline', name));
  }
  if (byKey.size > MAX_AIRLINES) throw new BadRequestError(`"airline" lists ${byKey.size} airlines; at most ${MAX_AIRLINES} are allowed`);
  return byKey.size > 0 ? [...byKey.values()] : undefined;
}

function checkText(name: string, value: string): string {
  if (value.length > MAX_TEXT) throw new BadRequestError(`"${name}" must be at most ${MAX_TEXT} characters`);
  return value;
}

/** Echoes a bad value back for the caller, bounded so a huge one does not bloat the answer. */
function clip(value: string): string {
  return value.length > 40 ? `${value.slice(0, 40)}…` : value;
}

// ---------------------------------------------------------------------------------------------
// POST /flights body

const text = (max: number) => z.string().trim().min(1).max(max);
const nullable = <T extends z.ZodType>(schema: T) => schema.nullable().optional();

/** Each field's schema and the rule quoted when an item breaks it. */
const FIELDS = {
  id: { schema: z.number().int().min(1).optional(), rule: 'must be a positive integer' },
  uuid: { schema: text(64).optional(), rule: `must be a non-empty string of at most 64 characters` },
  date: { schema: z.string().refine(isCalendarDate), rule: 'must be a real calendar date written YYYY-MM-DD' },
  origin: { schema: text(MAX_TEXT), rule: `must be a non-empty string of at most ${MAX_TEXT} characters` },
  destination: { schema: text(MAX_TEXT), rule: `must be a non-empty string of at most ${MAX_TEXT} characters` },
  airline: { schema: text(MAX_TEXT), rule: `must be a non-empty string of at most ${MAX_TEXT} characters` },
  price_inr: { schema: z.number().int().min(0), rule: 'must be a non-negative integer' },
  duration: { schema: nullable(text(MAX_TEXT)), rule: 'must be a non-empty string (e.g. "2h 10m") or null' },
  flight_type: { schema: nullable(text(MAX_TEXT)), rule: 'must be a non-empty string (e.g. "Nonstop") or null' },
  origin_country: { schema: nullable(text(MAX_TEXT)), rule: `must be a non-empty string of at most ${MAX_TEXT} characters, or null` },
  destination_country: { schema: nullable(text(MAX_TEXT)), rule: `must be a non-empty string of at most ${MAX_TEXT} characters, or null` },
  // Clients render it as a link: only http(s), never javascript: or data: URLs.
  link: { schema: nullable(z.string().trim().max(2048).refine(isHttpUrl)), rule: 'must be an http(s) URL of at most 2048 characters, or null' },
  rain_probability: { schema: nullable(z.number().min(0).max(1)), rule: 'must be a number from 0 to 1, or null' },
  free_meal: { schema: z.boolean().optional(), rule: 'must be true or false' },
  min_checked_luggage_price: { schema: nullable(z.number().int().min(0)), rule: 'must be a non-negative integer, or null' },
  min_checked_luggage_weight: { schema: nullable(z.number().min(0)), rule: 'must be a non-negative number (kilograms), or null' },
  total_with_min_luggage: {
    schema: nullable(z.number()),
    rule: 'is computed as price_inr + min_checked_luggage_price (null without a luggage price); leave it out or send that value',
  },
} as const;

type FieldName = keyof typeof FIELDS;
const REQUIRED: ReadonlySet<string> = new Set(['date', 'origin', 'destination', 'airline', 'price_inr']);

const Item = z
  .strictObject(Object.fromEntries(Object.entries(FIELDS).map(([name, field]) => [name, field.schema])) as { [K in FieldName]: (typeof FIELDS)[K]['schema'] })
  .superRefine((item, ctx) => {
    if (item.total_with_min_luggage !== undefined && item.total_with_min_luggage !== totalWithMinLuggage(item.price_inr, item.min_checked_luggage_price)) {
      ctx.addIssue({ code: 'custom', path: ['total_with_min_luggage'], message: 'inconsistent total' });
    }
  });

/**
 * Validates the POST /flights body: a non-empty JSON array of flights. The first invalid item
 * fails the whole request with `items[<index>].<field> <rule>`; nothing is replaced.
 *
 * An empty array is refused: the daily feed replaces the whole table, and a feed that came out
 * empty by mistake would otherwise take every flight offline during peak traffic. Emptying the
 * table on purpose is one `DELETE FROM flights` through POST /sql with a write key.
 */
export function parseFlightItems(body: unknown): NewFlight[] {
  if (!Array.isArray(body)) throw new BadRequestError('the request body must be a JSON array of flights');
  if (body.length === 0) {
    throw new BadRequestError('the list of flights is empty; POST /flights replaces every flight, so an empty list is refused (empty the table through POST /sql instead)');
  }
  const items: NewFlight[] = [];
  body.forEach((raw: unknown, index) => {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new BadRequestError(`items[${index}] must be a JSON object`);
    const parsed = Item.safeParse(raw);
    if (!parsed.success) throw new BadRequestError(describeItemIssue(parsed.error.issues[0]!, index, raw as Record<string, unknown>));
    const { total_with_min_luggage: _derived, ...item } = parsed.data;
    items.push(item as NewFlight);
  });
  refuseDuplicates(items, 'uuid');
  refuseDuplicates(items, 'id');
  refuseIdsWithoutRoom(items);
  return items;
}

/**
 * Flights without an id are numbered after the largest given one (toFlightRows); past
 * Number.MAX_SAFE_INTEGER those numbers are no longer exact and would collide.
 */
function refuseIdsWithoutRoom(items: readonly NewFlight[]): void {
  const unnumbered = items.filter((item) => item.id === undefined).length;
  if (unnumbered === 0) return;
  const limit = Number.MAX_SAFE_INTEGER - unnumbered;
  const index = items.findIndex((item) => item.id !== undefined && item.id > limit);
  if (index >= 0) {
    throw new BadRequestError(
      `items[${index}].id must be at most ${limit}: the ${unnumbered} flight(s) without an id are numbered after the largest id`,
    );
  }
}

function describeItemIssue(issue: z.core.$ZodIssue, index: number, raw: Record<string, unknown>): string {
  if (issue.code === 'unrecognized_keys') {
    return `items[${index}] has unknown field(s) ${issue.keys.map((k) => `"${k}"`).join(', ')}; allowed: ${Object.keys(FIELDS).join(', ')}`;
  }
  const field = String(issue.path[0]) as FieldName;
  if (REQUIRED.has(field) && raw[field] === undefined) return `items[${index}].${field} is required`;
  return `items[${index}].${field} ${FIELDS[field]?.rule ?? issue.message}`;
}

function refuseDuplicates(items: readonly NewFlight[], field: 'uuid' | 'id'): void {
  const seen = new Map<string | number, number>();
  items.forEach((item, index) => {
    const value = item[field];
    if (value === undefined) return;
    const first = seen.get(value);
    if (first !== undefined) throw new BadRequestError(`items[${index}].${field} duplicates items[${first}].${field}; each flight needs its own`);
    seen.set(value, index);
  });
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:';
  } catch {
    return false;
  }
}
