import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { toFlightRows, type NewFlight } from '../../functions/flights/flights';
import { generateFlights } from '../../scripts/flights-generator';
import { applyMigrationsInProcess } from '../../scripts/migrate';
import { DEFAULT_SEED_LIMITS, planSeed, seedFlightsIfEmpty, seedOverHttp } from '../../scripts/seed-flights';
import { FLIGHTS_PASSWORD, postJson, READ_KEY, startTestApi, testConfig, WRITE_KEY, type SqlCall, type TestApi } from '../helpers/test-app';

/**
 * GET /flights and POST /flights through the local API gateway, S3 and DynamoDB. Flights posted
 * without ids get ids 1..N in list order, so the fixture's comments name each flight's id.
 */

const ROOT = path.resolve(__dirname, '..', '..');

type Row = Omit<NewFlight, 'date' | 'origin' | 'destination' | 'airline' | 'price_inr'>;
const flight = (date: string, origin: string, destination: string, airline: string, price_inr: number, rest: Row = {}): NewFlight => ({
  date,
  origin,
  destination,
  airline,
  price_inr,
  origin_country: 'India',
  destination_country: 'India',
  ...rest,
});

const FIXTURE: NewFlight[] = [
  /* 1 */ flight('2024-03-10', 'Delhi', 'Mumbai', 'Indigo', 4500, { rain_probability: 0.1 }),
  /* 2 */ flight('2024-03-10', 'Delhi', 'Mumbai', 'Air India', 4500, { rain_probability: 0.6, free_meal: true }),
  /* 3 */ flight('2024-03-09', 'Delhi', 'Mumbai', 'Vistara', 4500, { rain_probability: null, free_meal: true }),
  /* 4 */ flight('2024-03-09', 'Delhi', 'Mumbai', 'SpiceJet', 3900, { rain_probability: 0.2, min_checked_luggage_price: 1500, min_checked_luggage_weight: 15 }),
  /* 5 */ flight('2024-03-11', 'Delhi', 'Mumbai', 'Indigo', 3900, { rain_probability: 0 }),
  /* 6 */ flight('2024-03-10', 'Mumbai', 'Delhi', 'Indigo', 5200, { rain_probability: 0.3 }),
  /* 7 */ flight('2024-03-10', 'Mumbai', 'Goa', 'Akasa Air', 2800, { rain_probability: 0.9 }),
  /* 8 */ flight('2024-03-12', 'Bengaluru', 'Delhi', 'Air India', 6100, { rain_probability: 0.05 }),
  /* 9 */ flight('2024-03-09', 'Delhi', 'Dubai', 'Emirates', 18500, { rain_probability: 0, destination_country: 'United Arab Emirates' }),
  /* 10 */ flight('2024-03-10', 'Kolkata', 'Delhi', 'Indigo', 4500, { rain_probability: 0.4 }),
  // 11..23: padding for pagination, all pricier than 6100 and none matching the filters above.
  ...Array.from({ length: 13 }, (_, i) => flight(`2024-03-${13 + (i % 5)}`, 'Chennai', 'Hyderabad', 'Air India Express', 7000 + i * 100, { rain_probability: 0.5 })),
];

interface Page {
  data: { id: number; uuid: string; [field: string]: unknown }[];
  page: number;
  total_pages: number;
  total_items: number;
}

type PageOrError = Page & { error?: { code: string; message: string } };

async function getFlights(url: string, query: Record<string, string> = {}): Promise<{ status: number; headers: Headers; body: PageOrError }> {
  const search = new URLSearchParams(query).toString();
  const response = await fetch(`${url}/flights${search ? `?${search}` : ''}`);
  return { status: response.status, headers: response.headers, body: (await response.json()) as PageOrError };
}

const ids = (page: Page) => page.data.map((f) => f.id);

function postFlights(url: string, body: unknown, auth: { key?: string; password?: string } = { key: WRITE_KEY }): Promise<SqlCall> {
  const query = auth.password === undefined ? '' : `?password=${encodeURIComponent(auth.password)}`;
  // '' sends no Authorization header (undefined would pick postJson's default write key).
  return postJson(url, body, auth.key ?? '', `/flights${query}`);
}

async function startFlightsApi(config = testConfig()): Promise<TestApi> {
  const api = await startTestApi(config);
  await applyMigrationsInProcess(api.app, config.flightsDatabase);
  return api;
}

describe('GET /flights', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startFlightsApi();
    const posted = await postFlights(api.url, FIXTURE);
    expect(posted).toMatchObject({ status: 200, body: { status: 'success', inserted: FIXTURE.length } });
  });
  afterAll(async () => {
    await api.close();
  });

  describe('filters', () => {
    it.each<[string, Record<string, string>, number[]]>([
      ['origin matches the city ignoring case', { origin: 'dELHI' }, [4, 5, 3, 1, 2, 9]],
      ['destination matches the city ignoring case', { destination: 'MUMBAI' }, [4, 5, 3, 1, 2]],
      ['origin and destination together', { origin: 'Mumbai', destination: 'goa' }, [7]],
      ['date is exact', { date: '2024-03-09' }, [4, 3, 9]],
      ['origin, destination and date together', { origin: 'Delhi', destination: 'Mumbai', date: '2024-03-10' }, [1, 2]],
      ['max_price keeps flights priced at or below it', { max_price: '4500' }, [7, 4, 5, 3, 1, 2, 10]],
      ['max_price just below a price excludes it', { max_price: '4499' }, [7, 4, 5]],
      ['airline is any of a comma list, ignoring case and surrounding spaces', { airline: ' indigo ,SPICEJET' }, [4, 5, 1, 10, 6]],
      ['max_rain keeps flights at or below it and drops unknown rain', { max_rain: '0.1' }, [5, 1, 8, 9]],
      ['max_rain of 0 keeps only dry flights', { max_rain: '0' }, [5, 9]],
      ['filters combine with AND', { origin: 'Delhi', airline: 'Indigo', max_price: '4000' }, [5]],
      ['a city nobody flies from matches nothing', { origin: 'Atlantis' }, []],
    ])('%s', async (_name, query, expected) => {
      const { status, body } = await getFlights(api.url, query);
      expect(status).toBe(200);
      expect(ids(body)).toEqual(expected);
      expect(body.total_items).toBe(expected.length);
    });

    it('answers each flight with every field, free_meal as a boolean and the derived total', async () => {
      const { body } = await getFlights(api.url, { airline: 'SpiceJet' });
      expect(body).toMatchObject({ page: 1, total_pages: 1, total_items: 1 });
      expect(body.data[0]).toEqual({
        id: 4,
        uuid: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/),
        date: '2024-03-09',
        origin: 'Delhi',
        destination: 'Mumbai',
        airline: 'SpiceJet',
        duration: null,
        flight_type: null,
        price_inr: 3900,
        origin_country: 'India',
        destination_country: 'India',
        link: null,
        rain_probability: 0.2,
        free_meal: false,
        min_checked_luggage_price: 1500,
        min_checked_luggage_weight: 15,
        total_with_min_luggage: 5400,
      });
      expect((await getFlights(api.url, { airline: 'Vistara' })).body.data[0]).toMatchObject({ free_meal: true, total_with_min_luggage: null });
    });
  });

  describe('sorting', () => {
    it('sorts by price ascending by default, breaking ties by date and then id', async () => {
      // 4 and 5 share 3900 (4 flies earlier); 3, 1 and 2 share 4500 (3 earlier; 1 and 2 same day).
      expect(ids((await getFlights(api.url, { origin: 'Delhi' })).body)).toEqual([4, 5, 3, 1, 2, 9]);
    });

    it('sort_by=date sorts by date ascending, breaking ties by price and then id', async () => {
      // 2024-03-09: 4 (3900), 3 (4500), 9 (18500); 2024-03-10: 1 and 2 both 4500; then 5.
      expect(ids((await getFlights(api.url, { origin: 'Delhi', sort_by: 'date' })).body)).toEqual([4, 3, 9, 1, 2, 5]);
    });

    it('any other sort_by is the price order', async () => {
      expect(ids((await getFlights(api.url, { origin: 'Delhi', sort_by: 'price_inr DESC' })).body)).toEqual([4, 5, 3, 1, 2, 9]);
    });
  });

  describe('pagination', () => {
    it('serves 20 per page by default with the true totals', async () => {
      const { body } = await getFlights(api.url);
      expect(body).toMatchObject({ page: 1, total_pages: 2, total_items: 23 });
      expect(body.data).toHaveLength(20);
    });

    it('the last page is partial, and the pages together hold every flight once', async () => {
      const first = (await getFlights(api.url, { page: '1' })).body;
      const last = (await getFlights(api.url, { page: '2' })).body;
      expect(last).toMatchObject({ page: 2, total_pages: 2, total_items: 23 });
      expect(last.data).toHaveLength(3);
      expect(new Set([...ids(first), ...ids(last)])).toEqual(new Set(FIXTURE.map((_, i) => i + 1)));
    });

    it('a page past the end answers no flights with the true totals', async () => {
      const { status, body } = await getFlights(api.url, { page: '3' });
      expect(status).toBe(200);
      expect(body).toEqual({ data: [], page: 3, total_pages: 2, total_items: 23 });
    });

    it('a limit above 20 is served as 20', async () => {
      const { body } = await getFlights(api.url, { limit: '100' });
      expect(body.data).toHaveLength(20);
      expect(body.total_pages).toBe(2);
    });

    it('small pages walk the same order as one big page, the last one partial', async () => {
      const whole = ids((await getFlights(api.url)).body).concat(ids((await getFlights(api.url, { page: '2' })).body));
      const walked: number[] = [];
      for (let page = 1; page <= 5; page++) {
        const { body } = await getFlights(api.url, { page: String(page), limit: '5' });
        expect(body).toMatchObject({ page, total_pages: 5, total_items: 23 });
        walked.push(...ids(body));
      }
      expect(walked).toEqual(whole);
      expect((await getFlights(api.url, { page: '5', limit: '5' })).body.data).toHaveLength(3);
    });

    it('filters and pages combine: total_pages counts the filtered flights', async () => {
      const { body } = await getFlights(api.url, { origin: 'Delhi', limit: '4', page: '2' });
      expect(body).toEqual(expect.objectContaining({ page: 2, total_pages: 2, total_items: 6 }));
      expect(ids(body)).toEqual([2, 9]);
    });
  });

  describe('validation', () => {
    it.each<[Record<string, string>, string]>([
      [{ page: '0' }, 'page'],
      [{ page: 'abc' }, 'page'],
      [{ limit: '0' }, 'limit'],
      [{ limit: 'many' }, 'limit'],
      [{ date: '2023-13-45' }, 'date'],
      [{ date: '2023-02-29' }, 'date'],
      [{ max_price: '-5' }, 'max_price'],
      [{ max_price: 'abc' }, 'max_price'],
      [{ max_rain: '2' }, 'max_rain'],
      [{ max_rain: 'wet' }, 'max_rain'],
    ])('%j answers 400 BAD_REQUEST naming "%s"', async (query, parameter) => {
      const { status, body } = await getFlights(api.url, query);
      expect(status).toBe(400);
      expect(body.error!.code).toBe('BAD_REQUEST');
      expect(body.error!.message).toContain(`"${parameter}"`);
    });

    it('unknown query parameters are ignored', async () => {
      const { status, body } = await getFlights(api.url, { utm_source: 'newsletter', _: '1700000000' });
      expect(status).toBe(200);
      expect(body.total_items).toBe(23);
    });
  });

  describe('injection attempts are plain values', () => {
    it.each<[string, Record<string, string>, number]>([
      ['a city with a quote and OR 1=1', { origin: "Delhi' OR 1=1 --" }, 0],
      ['a city with double quotes', { origin: 'Delhi" OR ""="' }, 0],
      ['a city that tries to stack a DELETE', { destination: "'; DELETE FROM flights; --" }, 0],
      ['an airline list carrying SQL (only the honest entry matches)', { airline: "Indigo') OR ('1'='1,Vistara" }, 1],
      ['a sort_by carrying SQL (served in price order)', { sort_by: 'date; DROP TABLE flights; --' }, 23],
    ])('%s', async (_name, query, expectedTotal) => {
      const { status, body } = await getFlights(api.url, query);
      expect(status).toBe(200);
      expect(body.total_items).toBe(expectedTotal);
    });

    it('a date or number carrying SQL is refused as invalid', async () => {
      expect((await getFlights(api.url, { date: "2024-03-09' OR '1'='1" })).status).toBe(400);
      expect((await getFlights(api.url, { max_price: '1 OR 1=1' })).status).toBe(400);
    });

    it('the table is intact afterwards', async () => {
      const count = await postJson(api.url, { database: api.app.config.flightsDatabase, sql_statement: 'SELECT count(*) FROM flights' }, READ_KEY);
      expect(count.body.results[0].rows).toEqual([[23]]);
      expect((await getFlights(api.url)).body.total_items).toBe(23);
    });
  });

  it('is public, and lets caches keep an answer as long as the read may be stale', async () => {
    const { status, headers } = await getFlights(api.url);
    expect(status).toBe(200);
    expect(headers.get('cache-control')).toBe('public, max-age=5');
  });
});

describe('POST /flights', () => {
  let api: TestApi;
  const count = async () => (await getFlights(api.url, { limit: '1' })).body.total_items;
  beforeAll(async () => {
    api = await startFlightsApi();
  });
  beforeEach(async () => {
    expect((await postFlights(api.url, FIXTURE)).status).toBe(200);
  });
  afterAll(async () => {
    await api.close();
  });

  const two = FIXTURE.slice(0, 2);

  describe('authentication', () => {
    it.each<[string, { key?: string; password?: string }, number, string]>([
      ['no credentials', {}, 401, 'UNAUTHORIZED'],
      ['a wrong password', { password: 'not-the-password' }, 401, 'UNAUTHORIZED'],
      ['an empty password', { password: '' }, 401, 'UNAUTHORIZED'],
      ['a wrong key', { key: 'not-a-real-key-123' }, 401, 'UNAUTHORIZED'],
      ['an expired key', { key: 'test-expired-key-01' }, 401, 'UNAUTHORIZED'],
      ['a read key', { key: READ_KEY }, 403, 'FORBIDDEN'],
      ['a read key, even with the right password', { key: READ_KEY, password: FLIGHTS_PASSWORD }, 403, 'FORBIDDEN'],
    ])('%s is refused and nothing changes', async (_name, auth, status, code) => {
      const response = await postFlights(api.url, two, auth);
      expect(response.status).toBe(status);
      expect(response.body.error.code).toBe(code);
      expect(await count()).toBe(FIXTURE.length);
    });

    it.each<[string, { key?: string; password?: string }]>([
      ['the right password', { password: FLIGHTS_PASSWORD }],
      ['a write key', { key: WRITE_KEY }],
    ])('%s replaces the flights', async (_name, auth) => {
      const response = await postFlights(api.url, two, auth);
      expect(response).toMatchObject({ status: 200, body: { status: 'success', inserted: 2 } });
      expect(await count()).toBe(2);
    });

    it('the right password still works when a proxy adds a Basic Authorization header', async () => {
      const response = await fetch(`${api.url}/flights?password=${encodeURIComponent(FLIGHTS_PASSWORD)}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Basic dXNlcjpwYXNz' },
        body: JSON.stringify(two),
      });
      expect(response.status).toBe(200);
    });
  });

  describe('validation', () => {
    it('one invalid item is a 400 naming its index and field, and nothing is replaced', async () => {
      const items = [...two, FIXTURE[2], { ...FIXTURE[3], price_inr: -10 }];
      const response = await postFlights(api.url, items);
      expect(response.status).toBe(400);
      expect(response.body.error).toEqual({ code: 'BAD_REQUEST', message: 'items[3].price_inr must be a non-negative integer', request_id: response.headers.get('x-request-id') });
      expect(await count()).toBe(FIXTURE.length);
    });

    it.each<[string, unknown, string]>([
      ['an unknown field', [{ ...two[0], seats: 4 }], 'items[0] has unknown field(s) "seats"'],
      ['a missing required field', [two[0], { ...two[1], date: undefined }], 'items[1].date is required'],
      ['an empty list', [], 'the list of flights is empty'],
      ['an object instead of a list', { flights: two }, 'must be a JSON array'],
    ])('%s is a 400 and nothing is replaced', async (_name, body, message) => {
      const response = await postFlights(api.url, body);
      expect(response.status).toBe(400);
      expect(response.body.error.message).toContain(message);
      expect(await count()).toBe(FIXTURE.length);
    });

    it('a body over the limit is a 413', async () => {
      const response = await postFlights(api.url, [{ ...two[0], link: `https://x.example/${'a'.repeat(1_100_000)}` }]);
      expect(response.status).toBe(413);
      expect(await count()).toBe(FIXTURE.length);
    });
  });

  it('generates a uuid when absent, keeps a given one, and derives the luggage total', async () => {
    const response = await postFlights(api.url, [
      { ...two[0], uuid: 'given-uuid-1', min_checked_luggage_price: 1200 },
      { ...two[1], uuid: undefined },
    ]);
    expect(response.status).toBe(200);
    const { body } = await getFlights(api.url, { sort_by: 'date' });
    expect(body.data.map((f) => [f.id, f.uuid, f.total_with_min_luggage])).toEqual([
      [1, 'given-uuid-1', 5700],
      [2, expect.stringMatching(/^[0-9a-f-]{36}$/), null],
    ]);
  });

  describe('retries with an Idempotency-Key', () => {
    const postKeyed = async (body: unknown, idempotencyKey: string): Promise<SqlCall> => {
      const response = await fetch(`${api.url}/flights`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${WRITE_KEY}`, 'idempotency-key': idempotencyKey },
        body: JSON.stringify(body),
      });
      return { status: response.status, headers: response.headers, body: await response.json() };
    };
    const uuids = async () => (await getFlights(api.url, { sort_by: 'date' })).body.data.map((f) => f.uuid);

    it('the same flights sent again replay the first answer, though each attempt generates other uuids', async () => {
      const withoutUuids = two.map((item) => ({ ...item, uuid: undefined }));
      const first = await postKeyed(withoutUuids, 'flights-retry-1');
      expect(first.status).toBe(200);
      expect(first.body).toEqual({ status: 'success', inserted: 2 });
      const stored = await uuids();

      const retry = await postKeyed(withoutUuids, 'flights-retry-1');

      expect(retry).toMatchObject({ status: 200, body: { status: 'success', inserted: 2, replayed: true } });
      expect(await uuids()).toEqual(stored);
    });

    it('other flights under the same key are refused and change nothing', async () => {
      expect((await postKeyed(two, 'flights-retry-2')).status).toBe(200);
      const stored = await uuids();

      const other = await postKeyed(FIXTURE.slice(2, 4), 'flights-retry-2');

      expect(other.status).toBe(422);
      expect(other.body.error.code).toBe('IDEMPOTENCY_KEY_REUSED');
      expect(await uuids()).toEqual(stored);
    });
  });

  it('readers see the old set or the new one, never a mix, while a replace runs', async () => {
    const setA = generateFlights({ rows: 1_000, seed: 101, startDate: '2024-01-01' });
    const setB = generateFlights({ rows: 1_500, seed: 202, startDate: '2024-02-01' });
    const uuidsA = new Set(setA.map((f) => f.uuid));
    const uuidsB = new Set(setB.map((f) => f.uuid));
    expect((await postFlights(api.url, setA)).status).toBe(200);

    let replaced = false;
    const seen = { A: 0, B: 0 };
    const reader = async (query: Record<string, string>) => {
      // Keep reading until a few answers after the replace returned.
      for (let afterReplace = 0; afterReplace < 3; ) {
        const { status, body } = await getFlights(api.url, query);
        expect(status).toBe(200);
        const from = body.total_items === setA.length ? 'A' : body.total_items === setB.length ? 'B' : 'neither';
        const uuids = from === 'A' ? uuidsA : uuidsB;
        expect(from).not.toBe('neither');
        expect(body.data.length).toBe(20);
        expect(body.data.every((f) => uuids.has(f.uuid))).toBe(true);
        seen[from as 'A' | 'B'] += 1;
        if (replaced) afterReplace += 1;
      }
    };
    const queries: Record<string, string>[] = [{}, { sort_by: 'date' }, { page: '7' }, { page: '3', sort_by: 'date' }];
    const readers = queries.map(reader);
    const replace = postFlights(api.url, setB).then((response) => {
      replaced = true;
      return response;
    });

    expect((await replace).body).toEqual({ status: 'success', inserted: 1_500 });
    await Promise.all(readers);
    expect(seen.A).toBeGreaterThan(0);
    expect(seen.B).toBeGreaterThan(0);
  });
});

describe('flights on a database that was never migrated, and without a configured password', () => {
  let api: TestApi;
  let database: string;
  beforeAll(async () => {
    const config = testConfig({ flightsPassword: undefined });
    database = config.flightsDatabase;
    api = await startTestApi(config);
  });
  afterAll(async () => {
    await api.close();
  });

  it('GET answers 503 with Retry-After while the database does not exist', async () => {
    const { status, headers, body } = await getFlights(api.url);
    expect(status).toBe(503);
    expect(headers.get('retry-after')).toBe('30');
    expect(body.error!.code).toBe('NOT_READY');
    expect(body.error!.message).toContain('flights are not available yet');
    expect(body.error!.message).not.toContain(database);
  });

  it('POST answers 503 too, and creates nothing', async () => {
    expect((await postFlights(api.url, FIXTURE.slice(0, 1))).status).toBe(503);
    const probe = await postJson(api.url, { database, sql_statement: 'SELECT 1' });
    expect(probe.body.error.code).toBe('DATABASE_NOT_FOUND');
  });

  it('GET answers 503 when the database exists without the flights table', async () => {
    expect((await postJson(api.url, { database, sql_statement: 'CREATE TABLE other (x)' })).status).toBe(200);
    expect((await getFlights(api.url)).status).toBe(503);
  });

  it('once migrated: the password is refused when none is configured, the key works', async () => {
    await applyMigrationsInProcess(api.app, database);
    expect((await getFlights(api.url)).body).toEqual({ data: [], page: 1, total_pages: 0, total_items: 0 });
    const byPassword = await postFlights(api.url, FIXTURE, { password: FLIGHTS_PASSWORD });
    expect(byPassword.status).toBe(401);
    expect(byPassword.body.error.message).toContain('password authentication is not configured');
    expect((await postFlights(api.url, FIXTURE, { key: WRITE_KEY })).status).toBe(200);
  });
});

describe('seeding flights through the API', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startFlightsApi();
  });
  afterAll(async () => {
    await api.close();
  });

  const total = async () => (await getFlights(api.url, { limit: '1' })).body.total_items;

  it('seedFlightsIfEmpty fills an empty table once and leaves a filled one alone', async () => {
    expect(await seedFlightsIfEmpty(api.app, api.app.config.flightsDatabase, 120)).toBe(120);
    expect(await seedFlightsIfEmpty(api.app, api.app.config.flightsDatabase, 120)).toBe(0);
    expect(await total()).toBe(120);
  });

  it('a list that fits one body goes through POST /flights', async () => {
    const plan = planSeed(toFlightRows(generateFlights({ rows: 300, seed: 5, startDate: '2024-01-01' })), undefined, DEFAULT_SEED_LIMITS);
    expect(plan).toMatchObject({ route: '/flights', bodies: [expect.any(Array)] });
    await seedOverHttp({ url: api.url, key: WRITE_KEY }, plan);
    expect(await total()).toBe(300);
  });

  it('a list too big for one request loads into a staging table, and readers see the old flights until the one-request swap', async () => {
    const before = await total();
    const flights = toFlightRows(generateFlights({ rows: 400, seed: 6, startDate: '2024-01-01' }));
    const plan = planSeed(flights, api.app.config.flightsDatabase, { maxBodyBytes: 1_048_576, maxStatements: 5, maxParams: 170 });
    expect(plan.route).toBe('/sql');
    expect(plan.bodies.length).toBeGreaterThan(3);

    await seedOverHttp({ url: api.url, key: WRITE_KEY }, { ...plan, bodies: plan.bodies.slice(0, -1) });
    expect(await total()).toBe(before);
    await seedOverHttp({ url: api.url, key: WRITE_KEY }, { ...plan, bodies: plan.bodies.slice(-1) });

    expect(await total()).toBe(400);
    const { body } = await getFlights(api.url, { sort_by: 'date', limit: '1' });
    const first = [...flights].sort((a, b) => a.date.localeCompare(b.date) || a.price_inr - b.price_inr || a.id - b.id)[0]!;
    expect(body.data[0]).toEqual(first);
    const staging = await postJson(api.url, { database: api.app.config.flightsDatabase, sql_statement: "SELECT count(*) FROM sqlite_master WHERE name = 'flights_seed_staging'" }, READ_KEY);
    expect(staging.body.results[0].rows).toEqual([[0]]);
  });

  it('npm run seed:flights loads N generated flights and says how', async () => {
    const { stdout } = await promisify(execFile)(path.join(ROOT, 'node_modules', '.bin', 'tsx'), ['scripts/seed-flights.ts', '--rows', '50', '--url', api.url, '--key', WRITE_KEY, '--start', '2024-05-01'], {
      cwd: ROOT,
    });
    expect(stdout).toMatch(/^seeded 50 flights into the server's flights database via POST \/flights in 1 request\(s\)/);
    expect(await total()).toBe(50);
  });
});
