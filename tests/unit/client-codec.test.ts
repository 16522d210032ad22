import { decodeCell, encodeParam, objectKeys } from '../../clients/typescript/src/index.ts';
import { objectKeys as serverObjectKeys } from '../../functions/http/sql-routes';
import { json, okAnswer, scriptedClient } from '../helpers/fake-fetch';

describe('the client codec', () => {
  it('sends bigints as {"integer"}, bytes as {"base64"}, booleans and the rest as they are', async () => {
    const { client, requests } = scriptedClient([okAnswer()]);
    await client.execute('INSERT INTO t VALUES (?, ?, ?, ?, ?, ?)', [9223372036854775807n, new Uint8Array([0, 255, 16]), true, 2.5, 'x', null]);
    expect(requests[0]!.body).toMatchObject({ params: [{ integer: '9223372036854775807' }, { base64: 'AP8Q' }, true, 2.5, 'x', null] });
  });

  it('refuses what JSON cannot carry exactly, before sending anything', async () => {
    const { client, requests } = scriptedClient([okAnswer()]);
    await expect(client.execute('SELECT ?', [Infinity])).rejects.toThrow('params[0]: Infinity cannot be sent');
    await expect(client.execute('SELECT :d', { d: new Date(0) as never })).rejects.toThrow('params.d: unsupported parameter type Date');
    expect(() => encodeParam(2n ** 63n)).toThrow("outside SQLite's 64-bit integer range");
    expect(requests).toHaveLength(0);
  });

  it('reads blobs back as Uint8Array and leaves digit strings alone unless told', async () => {
    const { client } = scriptedClient([okAnswer([[{ base64: 'AP8Q' }, '9223372036854775807', 'Infinity']], ['b', 'big', 'inf'])]);
    const { rows } = await client.query('SELECT b, big, inf FROM t');
    expect(rows).toEqual([[new Uint8Array([0, 255, 16]), '9223372036854775807', 'Infinity']]);
  });

  it('bigIntColumns reads the named columns as BigInt throughout, whether a number or a string came', async () => {
    const { client } = scriptedClient([okAnswer([[1, 9007199254740992, 'x'], ['-9223372036854775808', 2.5, '12']], ['id', 'price', 'code'])]);
    const { rows } = await client.query('SELECT id, price, code FROM t', undefined, { bigIntColumns: ['id'] });
    expect(rows).toEqual([
      [1n, 9007199254740992, 'x'],
      [-9223372036854775808n, 2.5, '12'],
    ]);
  });

  it("'auto' reads only integral strings beyond ±(2^53−1) within 64 bits as BigInt", () => {
    expect(decodeCell('9007199254740992', 'auto')).toBe(9007199254740992n);
    expect(decodeCell('-9223372036854775808', 'auto')).toBe(-9223372036854775808n);
    expect(decodeCell('9007199254740991', 'auto')).toBe('9007199254740991'); // the server would have sent a number
    expect(decodeCell('99999999999999999999', 'auto')).toBe('99999999999999999999'); // beyond 64 bits: text
    expect(decodeCell('007', 'auto')).toBe('007');
    expect(decodeCell(42, 'auto')).toBe(42);
  });

  it('a string last_insert_rowid is a big integer', async () => {
    const { client } = scriptedClient([okAnswer([], [], { last_insert_rowid: '9223372036854775807' })]);
    expect((await client.execute('INSERT INTO t VALUES (NULL)')).lastInsertRowid).toBe(9223372036854775807n);
  });

  it("rows: 'objects' keys cells by column, numbering a repeated name", async () => {
    interface Pair {
      id: number;
      'id:1': number;
      name: string;
    }
    const { client } = scriptedClient([okAnswer([[1, 2, 'a']], ['id', 'id', 'name'])]);
    const { rows } = await client.query<Pair>('SELECT a.id, b.id, a.name FROM a JOIN b', undefined, { rows: 'objects' });
    expect(rows).toEqual([{ id: 1, 'id:1': 2, name: 'a' }]);
    // The server's rule exactly (functions/http/sql-routes.ts), so both name a column alike.
    expect(objectKeys(['x', 'x', 'x:1', 'x'])).toEqual(['x', 'x:2', 'x:1', 'x:3']);
    expect(objectKeys(['x', 'x', 'x:1', 'x'])).toEqual(serverObjectKeys(['x', 'x', 'x:1', 'x']));
  });

  it.each([
    ['the client', objectKeys],
    ['the server', serverObjectKeys],
  ])("%s names a thousand columns of one name in a thousand tries, not half a million (the server's main thread, outside any statement timeout)", (_side, keysOf) => {
    const columns = [...Array.from({ length: 1_000 }, () => '1'), '1:5', '1'];
    const has = jest.spyOn(Set.prototype, 'has');
    let keys: string[];
    try {
      keys = keysOf(columns);
    } finally {
      has.mockRestore();
    }
    expect(has.mock.calls.length).toBeLessThan(10 * columns.length);
    expect(new Set(keys).size).toBe(columns.length);
    expect(keys.slice(0, 3)).toEqual(['1', '1:1', '1:2']);
    expect(keys.slice(-2)).toEqual(['1:5', '1:1001']); // a column's own name is never a suffix
  });

  it('reads rows the server already sent as objects, in column order', async () => {
    const { client } = scriptedClient([okAnswer([{ n: 1, big: '9223372036854775807' }], ['n', 'big'])]);
    expect((await client.query('SELECT n, big', undefined, { bigIntColumns: ['big'] })).rows).toEqual([[1, 9223372036854775807n]]);
  });

  it('a script answers with its last statement at the top and every statement in results', async () => {
    const answer = json(200, {
      results: [
        { columns: [], rows: [], changes: 1, last_insert_rowid: 7 },
        { columns: ['n'], rows: [[1]], changes: 0, last_insert_rowid: null },
      ],
      meta: { database: 'shop', version: 'v9', wrote: true, duration_ms: 3, replayed: true },
    }, { 'x-request-id': 'r-9' });
    const { client, requests } = scriptedClient([answer], { database: 'shop' });
    const result = await client.execute('INSERT INTO t VALUES (1); SELECT count(*) AS n FROM t', undefined, { consistency: 'strong' });
    expect(requests[0]!.body).toEqual({ database: 'shop', consistency: 'strong', sql_statement: 'INSERT INTO t VALUES (1); SELECT count(*) AS n FROM t' });
    expect(result.rows).toEqual([[1]]);
    expect(result.results.map((r) => r.lastInsertRowid)).toEqual([7, null]);
    expect(result.meta).toEqual({ database: 'shop', version: 'v9', wrote: true, replayed: true, rowsOmitted: false, durationMs: 3, requestId: 'r-9' });
  });
});

describe('the lifecycle methods speak the issue 11 contract', () => {
  it('lists, describes and pages through versions with GETs that carry no idempotency key', async () => {
    const { client, requests } = scriptedClient([json(200, { databases: [] }), json(200, { name: 'a b' }), json(200, { versions: [] })]);
    await client.listDatabases({ limit: 2, cursor: 'c1', deleted: true });
    await client.getDatabase('a b');
    await client.versions('shop', { limit: 5, before: 'v3' });
    expect(requests.map((r) => `${r.method} ${r.url}`)).toEqual([
      'GET http://api.test/databases?limit=2&cursor=c1&deleted=true',
      'GET http://api.test/databases/a%20b',
      'GET http://api.test/databases/shop/versions?limit=5&before=v3',
    ]);
    expect(requests.every((r) => r.headers['idempotency-key'] === undefined && r.headers.authorization === 'Bearer k')).toBe(true);
  });

  it('restores, clones and deletes with an idempotency key', async () => {
    const { client, requests } = scriptedClient([json(200, { version: 'v4', restored_from: 'v1', replaced: 'v3' }), json(200, {}), json(200, {})]);
    expect(await client.restore('shop', { asOf: '2026-01-01T00:00:00Z' })).toMatchObject({ replaced: 'v3' });
    await client.clone('shop', { to: 'shop-copy', version: 'v1' });
    await client.deleteDatabase('shop');
    expect(requests.map((r) => [r.method, r.url, r.body])).toEqual([
      ['POST', 'http://api.test/databases/shop/restore', { as_of: '2026-01-01T00:00:00Z' }],
      ['POST', 'http://api.test/databases/shop/clone', { to: 'shop-copy', version: 'v1' }],
      ['DELETE', 'http://api.test/databases/shop?confirm=shop', undefined],
    ]);
    expect(requests.every((r) => typeof r.headers['idempotency-key'] === 'string')).toBe(true);
  });

  it('export follows a presigned URL without sending the key there, reporting progress', async () => {
    const file = new Uint8Array([83, 81, 76, 105, 116, 101]);
    const { client, requests } = scriptedClient([json(200, { url: 'https://bucket.test/x?sig=1', expires_at: '…' }), new Response(file, { headers: { 'content-length': '6' } })]);
    const seen: number[] = [];
    const bytes = await client.exportDatabase('shop', { format: 'sqlite', onProgress: (p) => seen.push(p.bytes) });
    expect(bytes).toEqual(file);
    expect(requests.map((r) => r.url)).toEqual(['http://api.test/databases/shop/export?format=sqlite', 'https://bucket.test/x?sig=1']);
    expect(requests[1]!.headers.authorization).toBeUndefined();
    expect(seen.at(-1)).toBe(6);
  });

  it('import sends the file as application/vnd.sqlite3', async () => {
    const { client, requests } = scriptedClient([json(200, { version: 'v2' })]);
    await client.importDatabase('shop', new Uint8Array([1, 2, 3]));
    expect(requests[0]).toMatchObject({ method: 'POST', url: 'http://api.test/databases/shop/import', body: new Uint8Array([1, 2, 3]) });
    expect(requests[0]!.headers['content-type']).toBe('application/vnd.sqlite3');
  });
});

describe('a database name never turns into another route (review)', () => {
  // The server answers a bad name 400 (CHANGELOG: lifecycle routes answer 400 for a bad name),
  // but '.' and '..' are URL dot segments: encodeURIComponent leaves them alone and URL folds
  // them away, so versions('.') asked GET /databases/versions (the database named "versions")
  // and exportDatabase('.') exported the database named "export".
  it.each([
    ['versions', (client: ReturnType<typeof scriptedClient>['client']) => client.versions('.')],
    ['export', (client: ReturnType<typeof scriptedClient>['client']) => client.exportDatabase('.')],
    ['getDatabase', (client: ReturnType<typeof scriptedClient>['client']) => client.getDatabase('..')],
    ['deleteDatabase', (client: ReturnType<typeof scriptedClient>['client']) => client.deleteDatabase('.')],
  ])('%s of a dot name asks about no other database or route', async (_name, call) => {
    const { client, requests } = scriptedClient([json(200, { name: 'versions', version: 'v1', versions: [] }), json(200, {})]);
    await call(client).catch(() => undefined); // a TypeError before sending, or the server's 400
    const paths = requests.map((request) => new URL(request.url).pathname);
    expect(paths.filter((path) => !/^\/databases\/[^/]*\.[^/]*(\/|$)/.test(path))).toEqual([]);
  });
});

describe('the client in a browser page served over plain http (review)', () => {
  // docs/client.md: "it needs only a global fetch: ... browsers". crypto.randomUUID exists only
  // in secure contexts (https, localhost); on a page at http://intranet-host it is undefined,
  // while crypto.getRandomValues is there. Every execute() then threw a TypeError before sending.
  it('writes with an idempotency key when crypto.randomUUID is missing', async () => {
    const randomUUID = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(globalThis.crypto), 'randomUUID')!;
    Object.defineProperty(Object.getPrototypeOf(globalThis.crypto), 'randomUUID', { value: undefined, configurable: true, writable: true });
    try {
      const { client, requests } = scriptedClient([okAnswer()]);
      await client.execute('INSERT INTO t VALUES (1)');
      expect(requests[0]!.headers['idempotency-key']).toMatch(/^[\x21-\x7e]{16,128}$/);
    } finally {
      Object.defineProperty(Object.getPrototypeOf(globalThis.crypto), 'randomUUID', randomUUID);
    }
  });
});
