import { createHash } from 'node:crypto';
import { DynamoDbKeyTable } from '../../functions/adapters/dynamodb-key-table';
import { createKey, revokeKey } from '../../functions/core/key-registry';
import { fixedSecret } from '../../functions/core/secrets';
import { Authenticator } from '../../functions/http/auth';
import { postJson, startTestApi, testConfig, testDynamoDbClient, testS3Client, uniqueDatabase, WRITE_KEY, type TestApi } from '../helpers/test-app';

/**
 * Keys scoped to databases, end to end on the local stack: API_KEYS entries with patterns and
 * digests, and tenant keys created in and revoked from the real key table (dynalite).
 */

const keyTable = process.env.KEY_TABLE;
const sha256 = (key: string) => createHash('sha256').update(key).digest('hex');
const ACME_KEY = 'acme-write-key-01';
const ACME_READER = 'acme-read-key-01';

(keyTable ? describe : describe.skip)('database scopes through POST /sql and POST /flights', () => {
  let api: TestApi;
  let s3Requests = 0;
  const suffix = uniqueDatabase('t').slice(2);
  const acme = `acme-${suffix}`;
  const acmeOther = `acme-${suffix}-2`;
  const globex = `globex-${suffix}`;
  const neverCreated = `globex-${suffix}-none`;

  beforeAll(async () => {
    const s3Client = testS3Client();
    s3Client.middlewareStack.add(
      (next) => async (args) => {
        s3Requests++;
        return next(args);
      },
      { step: 'initialize' },
    );
    api = await startTestApi(
      testConfig({
        apiKeys: [
          { role: 'write', databases: '*', key: WRITE_KEY },
          { role: 'write', databases: `acme-${suffix}*`, key: ACME_KEY },
          { role: 'read', databases: acme, sha256: sha256(ACME_READER) },
        ],
        keyCacheTtlMs: 0,
      }),
      { s3Client },
    );
    for (const database of [acme, acmeOther, globex]) {
      expect((await postJson(api.url, { database, sql_statement: 'CREATE TABLE t(x); INSERT INTO t VALUES (1)' })).status).toBe(200);
    }
  });
  afterAll(async () => {
    await api?.close();
  });

  it.each([
    ['a tenant key reads its own database', ACME_KEY, () => acme, 'SELECT x FROM t', 200],
    ['a tenant key writes a database its glob names', ACME_KEY, () => acmeOther, 'INSERT INTO t VALUES (2)', 200],
    ['a digest key reads its database', ACME_READER, () => acme, 'SELECT x FROM t', 200],
    ['a digest read key cannot write it', ACME_READER, () => acme, 'INSERT INTO t VALUES (3)', 403],
    ['a digest read key cannot read a database outside its scope', ACME_READER, () => acmeOther, 'SELECT x FROM t', 403],
  ])('%s', async (_name, key, database, sql, status) => {
    const response = await postJson(api.url, { database: database(), sql_statement: sql }, key);
    expect([response.status, response.body.error?.code]).toEqual([status, status === 200 ? undefined : 'FORBIDDEN']);
  });

  const call = async (method: string, route: string, key: string, body?: unknown) => {
    const response = await fetch(`${api.url}${route}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  };

  it('a tenant key lists only the databases in its scope', async () => {
    const listed = await call('GET', '/databases?limit=1000', ACME_KEY);
    const names: string[] = listed.body.databases.map((database: { name: string }) => database.name);
    expect(names).toEqual(expect.arrayContaining([acme, acmeOther]));
    expect(names.filter((name) => !name.startsWith(`acme-${suffix}`))).toEqual([]);
  });

  it.each([
    ['a key for one database, paging', ACME_READER, '', () => [acme]],
    ['a tenant key, paging', ACME_KEY, '', () => [acme, acmeOther]],
    ['a tenant key, paging with deleted databases', ACME_KEY, '&deleted=true', () => [acme, acmeOther]],
  ])("%s one at a time, is shown its databases and never another's name, not even as a cursor", async (_name, key, extra, expected) => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await call('GET', `/databases?limit=1${extra}${cursor === null ? '' : `&cursor=${cursor}`}`, key);
      expect(page.status).toBe(200);
      seen.push(...page.body.databases.map((database: { name: string }) => database.name));
      cursor = page.body.next_cursor;
      if (cursor !== null) seen.push(cursor);
    } while (cursor !== null);
    expect([...new Set(seen)].sort()).toEqual(expected().sort());
  });

  it.each([
    ['describe', 'GET', (db: string) => `/databases/${db}`, undefined],
    ['list the versions of', 'GET', (db: string) => `/databases/${db}/versions`, undefined],
    ['export', 'GET', (db: string) => `/databases/${db}/export`, undefined],
    ['restore', 'POST', (db: string) => `/databases/${db}/restore`, { version: 'v1' }],
    ['clone from', 'POST', (db: string) => `/databases/${db}/clone`, { to: `acme-${suffix}-copy` }],
    ['delete', 'DELETE', (db: string) => `/databases/${db}?confirm=${db}`, undefined],
  ])("a tenant key cannot %s another tenant's database, with the same 403 whether it exists or not", async (_name, method, route, body) => {
    const before = s3Requests;
    const existing = await call(method, route(globex), ACME_KEY, body);
    const missing = await call(method, route(neverCreated), ACME_KEY, body);
    expect([existing.status, missing.status]).toEqual([403, 403]);
    expect(existing.body.error.message.replace(globex, '<db>')).toBe(missing.body.error.message.replace(neverCreated, '<db>'));
    expect(s3Requests - before).toBe(0);
  });

  it("a tenant key cannot clone its own database into another tenant's name", async () => {
    const before = s3Requests;
    const response = await call('POST', `/databases/${acme}/clone`, ACME_KEY, { to: `globex-${suffix}-stolen` });
    expect([response.status, response.body.error.code]).toEqual([403, 'FORBIDDEN']);
    expect(s3Requests - before).toBe(0);
  });

  it("a tenant key cannot read, write or create another tenant's database, and touches no S3 object trying", async () => {
    const before = s3Requests;
    const attempts = [
      { database: globex, sql_statement: 'SELECT x FROM t' },
      { database: globex, sql_statement: 'DELETE FROM t' },
      { database: neverCreated, sql_statement: 'CREATE TABLE stolen(x)' },
    ];
    for (const attempt of attempts) {
      const response = await postJson(api.url, attempt, ACME_KEY);
      expect([attempt.sql_statement, response.status, response.body.error.code]).toEqual([attempt.sql_statement, 403, 'FORBIDDEN']);
    }
    expect(s3Requests - before).toBe(0);
    const check = await postJson(api.url, { database: globex, sql_statement: 'SELECT count(*) AS n FROM t' });
    expect(check.body.results[0].rows).toEqual([[1]]);
  });

  it('answers the same 403 body for a database that exists and one that does not', async () => {
    const existing = await postJson(api.url, { database: globex, sql_statement: 'SELECT 1' }, ACME_KEY);
    const missing = await postJson(api.url, { database: neverCreated, sql_statement: 'SELECT 1' }, ACME_KEY);
    const masked = (body: { error: { message: string; request_id?: string } }, name: string) =>
      JSON.stringify({ ...body, error: { ...body.error, request_id: '<request>' } }).replace(name, '<db>');

    expect([existing.status, missing.status]).toEqual([403, 403]);
    expect(masked(existing.body, globex)).toBe(masked(missing.body, neverCreated));
  });

  it('POST /flights needs write on the flights database: a tenant key is 403', async () => {
    const flights = [{ date: '2026-12-25', origin: 'Delhi', destination: 'Mumbai', airline: 'Indigo', price_inr: 4500 }];
    const byTenant = await postJson(api.url, flights, ACME_KEY, '/flights');
    expect([byTenant.status, byTenant.body.error.code]).toEqual([403, 'FORBIDDEN']);
  });

  it('a key created in the key table works within its scope, and stops working once revoked', async () => {
    const table = new DynamoDbKeyTable(testDynamoDbClient(), keyTable!);
    const created = await createKey(table, { role: 'write', databases: acme, label: 'acme-test' }, Date.now());

    const allowed = await postJson(api.url, { database: acme, sql_statement: 'SELECT x FROM t' }, created.key);
    const outside = await postJson(api.url, { database: globex, sql_statement: 'SELECT x FROM t' }, created.key);
    expect([allowed.status, outside.status]).toEqual([200, 403]);

    await revokeKey(table, created.keyId);
    // KEY_CACHE_TTL_MS is 0 here: the next request looks the key up again.
    const revoked = await postJson(api.url, { database: acme, sql_statement: 'SELECT x FROM t' }, created.key);
    expect([revoked.status, revoked.body.error.code]).toEqual([401, 'UNAUTHORIZED']);
  });
});

(keyTable ? describe : describe.skip)('the DynamoDB key table', () => {
  const table = () => new DynamoDbKeyTable(testDynamoDbClient(), keyTable!);

  it('stores only the digest: create, find, list and remove round-trip', async () => {
    const expiresAtMs = Date.parse('2030-01-01T00:00:00Z');
    const created = await createKey(table(), { role: 'read', databases: 'tenant-42-*', label: 'tenant 42', expiresAtMs }, Date.parse('2026-01-01T00:00:00Z'));
    const digest = sha256(created.key);

    expect(await table().find(digest)).toEqual({ role: 'read', databases: 'tenant-42-*', label: 'tenant 42', expiresAtMs, createdAtMs: Date.parse('2026-01-01T00:00:00Z') });
    const listed = (await table().list()).find((key) => key.sha256Hex === digest);
    expect(listed).toMatchObject({ role: 'read', databases: 'tenant-42-*', label: 'tenant 42' });
    expect(JSON.stringify(await table().list())).not.toContain(created.key);
    expect(created.keyId).toBe(`key:${digest.slice(0, 8)}`);

    expect(await table().remove(digest)).toBe(true);
    expect(await table().find(digest)).toBeUndefined();
    expect(await table().remove(digest)).toBe(false);
  });

  it('a revoked key keeps working for at most the cache time, then is refused', async () => {
    let now = Date.now();
    const auth = new Authenticator({ apiKeys: fixedSecret([]), keyStore: table(), keyCacheTtlMs: 60_000, clock: () => now });
    const created = await createKey(table(), { role: 'write', databases: 'tenant-7' }, now);
    await expect(auth.authenticate(`Bearer ${created.key}`)).resolves.toMatchObject({ keyId: created.keyId, role: 'write' });

    await revokeKey(table(), created.keyId);
    now += 59_000;
    await expect(auth.authenticate(`Bearer ${created.key}`)).resolves.toMatchObject({ keyId: created.keyId });
    now += 1_000;
    await expect(auth.authenticate(`Bearer ${created.key}`)).rejects.toThrow('invalid API key');
  });

  it('revoking an unknown id is an error, not a silent success', async () => {
    await expect(revokeKey(table(), 'key:00000000')).rejects.toThrow('no key key:00000000');
  });
});
