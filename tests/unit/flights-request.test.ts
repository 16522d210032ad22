import { BadRequestError } from '../../functions/core/errors';
import type { FlightSearch } from '../../functions/flights/flights';
import { parseFlightItems, parseFlightsQuery } from '../../functions/flights/flights-request';

const DEFAULTS: FlightSearch = { page: 1, limit: 20, sort: 'price', filters: {} };

describe('parseFlightsQuery', () => {
  it.each<[string, Record<string, string> | undefined, FlightSearch]>([
    ['no query string at all gives page 1, 20 per page, price order', undefined, DEFAULTS],
    ['page and limit are read as whole numbers', { page: '3', limit: '5' }, { ...DEFAULTS, page: 3, limit: 5 }],
    ['a limit above 20 is served as 20', { limit: '500' }, DEFAULTS],
    ['a limit of exactly 20 is kept', { limit: '20' }, DEFAULTS],
    ['sort_by=date picks the date order', { sort_by: 'date' }, { ...DEFAULTS, sort: 'date' }],
    ['any other sort_by is the price order', { sort_by: 'duration' }, DEFAULTS],
    ['a sort_by holding SQL is just another value: price order', { sort_by: 'date; DROP TABLE flights' }, DEFAULTS],
    ['cities are trimmed and kept as given (matching ignores case later)', { origin: ' delhi ', destination: 'MUMBAI' }, { ...DEFAULTS, filters: { origin: 'delhi', destination: 'MUMBAI' } }],
    ['a city holding SQL is kept verbatim, to be bound as a parameter', { origin: "Delhi' OR 1=1 --" }, { ...DEFAULTS, filters: { origin: "Delhi' OR 1=1 --" } }],
    ['a real date is kept', { date: '2024-02-29' }, { ...DEFAULTS, filters: { date: '2024-02-29' } }],
    ['max_price accepts integers and decimals, including 0', { max_price: '0' }, { ...DEFAULTS, filters: { maxPrice: 0 } }],
    ['max_price with a fraction', { max_price: '4500.50' }, { ...DEFAULTS, filters: { maxPrice: 4500.5 } }],
    ['max_rain accepts 0 to 1', { max_rain: '.25' }, { ...DEFAULTS, filters: { maxRain: 0.25 } }],
    ['max_rain of exactly 1', { max_rain: '1' }, { ...DEFAULTS, filters: { maxRain: 1 } }],
    [
      'airline is a comma-separated list: trimmed, empties dropped, duplicates (ignoring case) once',
      { airline: ' Indigo , air india,,INDIGO ' },
      { ...DEFAULTS, filters: { airlines: ['INDIGO', 'air india'] } },
    ],
    [
      'airlines differing only in non-ASCII case stay distinct, as SQLite NOCASE keeps them',
      { airline: 'Äir Alpha,äir alpha' },
      { ...DEFAULTS, filters: { airlines: ['Äir Alpha', 'äir alpha'] } },
    ],
    ['a date in the first century is a real date', { date: '0050-03-01' }, { ...DEFAULTS, filters: { date: '0050-03-01' } }],
    ['an empty value is the same as leaving the parameter out', { origin: '', page: '', limit: ' ', airline: ' , ' }, DEFAULTS],
    ['unknown parameters are ignored', { utm_source: 'x', _: '123', password: 'p' }, DEFAULTS],
  ])('%s', (_name, query, expected) => {
    expect(parseFlightsQuery(query)).toEqual(expected);
  });

  it.each<[Record<string, string>, string]>([
    [{ page: '0' }, '"page" must be a whole number from 1'],
    [{ page: 'abc' }, '"page" must be a whole number from 1'],
    [{ page: '-1' }, '"page" must be a whole number from 1'],
    [{ page: '1.5' }, '"page" must be a whole number from 1'],
    [{ page: '1e3' }, '"page" must be a whole number from 1'],
    [{ page: '450359962737050' }, '"page" must be a whole number from 1 to 450359962737049'],
    [{ limit: '0' }, '"limit" must be a whole number of at least 1'],
    [{ limit: 'ten' }, '"limit" must be a whole number of at least 1'],
    [{ limit: '-20' }, '"limit" must be a whole number of at least 1'],
    [{ date: '2023-13-45' }, '"date" must be a real calendar date'],
    [{ date: '2023-02-29' }, '"date" must be a real calendar date'],
    [{ date: '2024-04-31' }, '"date" must be a real calendar date'],
    [{ date: '25-12-2023' }, '"date" must be a real calendar date'],
    [{ date: "2023-12-25' OR '1'='1" }, '"date" must be a real calendar date'],
    [{ max_price: '-5' }, '"max_price" must be a number of at least 0'],
    [{ max_price: 'cheap' }, '"max_price" must be a number of at least 0'],
    [{ max_price: '1 OR 1=1' }, '"max_price" must be a number of at least 0'],
    [{ max_price: 'Infinity' }, '"max_price" must be a number of at least 0'],
    [{ max_rain: '2' }, '"max_rain" must be a number from 0 to 1'],
    [{ max_rain: '1.01' }, '"max_rain" must be a number from 0 to 1'],
    [{ max_rain: '-0.1' }, '"max_rain" must be a number from 0 to 1'],
    [{ max_rain: 'dry' }, '"max_rain" must be a number from 0 to 1'],
    [{ origin: 'x'.repeat(101) }, '"origin" must be at most 100 characters'],
    [{ airline: Array.from({ length: 21 }, (_, i) => `Airline ${i}`).join(',') }, '"airline" lists 21 airlines; at most 20'],
  ])('refuses %j with a message naming the parameter', (query, message) => {
    expect(() => parseFlightsQuery(query)).toThrow(BadRequestError);
    expect(() => parseFlightsQuery(query)).toThrow(message);
  });
});

describe('parseFlightItems', () => {
  const valid = { date: '2023-12-25', origin: 'Delhi', destination: 'Mumbai', airline: 'Indigo', price_inr: 4500 };

  it('accepts the five required fields alone', () => {
    expect(parseFlightItems([valid])).toEqual([valid]);
  });

  it('accepts every optional field, null where nullable, and trims text', () => {
    const full = {
      ...valid,
      origin: ' Delhi ',
      id: 7,
      uuid: '1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed',
      duration: '2h 10m',
      flight_type: 'Nonstop',
      origin_country: 'India',
      destination_country: null,
      link: 'https://flights.example.com/book/1',
      rain_probability: 0,
      free_meal: true,
      min_checked_luggage_price: 1500,
      min_checked_luggage_weight: 15,
      total_with_min_luggage: 6000,
    };
    const { total_with_min_luggage: _derived, ...expected } = { ...full, origin: 'Delhi' };
    expect(parseFlightItems([full])).toEqual([expected]);
  });

  it.each<[string, unknown, string]>([
    ['a body that is not an array', { flights: [] }, 'the request body must be a JSON array of flights'],
    ['an empty array (it would delete every flight)', [], 'the list of flights is empty'],
    ['an item that is not an object', [valid, 'flight'], 'items[1] must be a JSON object'],
    ['a missing required field', [valid, { ...valid, airline: undefined }], 'items[1].airline is required'],
    ['a negative price', [valid, valid, valid, { ...valid, price_inr: -1 }], 'items[3].price_inr must be a non-negative integer'],
    ['a fractional price', [{ ...valid, price_inr: 10.5 }], 'items[0].price_inr must be a non-negative integer'],
    ['a price sent as a string', [{ ...valid, price_inr: '4500' }], 'items[0].price_inr must be a non-negative integer'],
    ['an impossible date', [{ ...valid, date: '2023-02-30' }], 'items[0].date must be a real calendar date'],
    ['an empty city', [{ ...valid, origin: '  ' }], 'items[0].origin must be a non-empty string'],
    ['free_meal as 1 instead of a boolean', [{ ...valid, free_meal: 1 }], 'items[0].free_meal must be true or false'],
    ['rain above 1', [{ ...valid, rain_probability: 1.5 }], 'items[0].rain_probability must be a number from 0 to 1'],
    ['a javascript: link', [{ ...valid, link: 'javascript:alert(1)' }], 'items[0].link must be an http(s) URL'],
    ['a negative luggage price', [{ ...valid, min_checked_luggage_price: -100 }], 'items[0].min_checked_luggage_price must be a non-negative integer'],
    ['a total that is not price + luggage', [{ ...valid, min_checked_luggage_price: 100, total_with_min_luggage: 1 }], 'items[0].total_with_min_luggage is computed'],
    ['a total without a luggage price', [{ ...valid, total_with_min_luggage: 4500 }], 'items[0].total_with_min_luggage is computed'],
    ['an unknown field', [{ ...valid, seats: 3 }], 'items[0] has unknown field(s) "seats"'],
    ['a zero id', [{ ...valid, id: 0 }], 'items[0].id must be a positive integer'],
    ['two items with the same uuid', [{ ...valid, uuid: 'a' }, valid, { ...valid, uuid: 'a' }], 'items[2].uuid duplicates items[0].uuid'],
    ['two items with the same id', [{ ...valid, id: 4 }, { ...valid, id: 4 }], 'items[1].id duplicates items[0].id'],
  ])('refuses %s, naming the item and field', (_name, body, message) => {
    expect(() => parseFlightItems(body)).toThrow(BadRequestError);
    expect(() => parseFlightItems(body)).toThrow(message);
  });
});
