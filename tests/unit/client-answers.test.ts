import { ApiError, createClient, NetworkError, TimeoutError } from '../../clients/typescript/src/index.ts';
import { json, scriptedClient } from '../helpers/fake-fetch';

/**
 * What the server says that the client must not lose, and caller mistakes it must not retry
 * (found by review): README "POST /sql" says a stored write whose rows were too large to return
 * answers `meta.rows_omitted: true` with empty rows, and README "Errors" says
 * WRITE_OUTCOME_UNKNOWN carries `write_id`.
 */
describe('the client keeps what the answer says', () => {
  it('tells a write whose rows were omitted from one that returned no rows', async () => {
    const omitted = json(200, {
      results: [{ columns: ['q'], rows: [], changes: 0, last_insert_rowid: null }],
      meta: { database: 'main', version: 'v2', wrote: true, duration_ms: 1, rows_omitted: true },
    });
    const { client } = scriptedClient([omitted]);
    const answer = await client.execute('INSERT INTO t VALUES (1); SELECT big FROM t');
    expect(answer.rows).toEqual([]);
    expect(answer.meta).toMatchObject({ rowsOmitted: true });
  });

  it('keeps the write id of a WRITE_OUTCOME_UNKNOWN, and the idempotency key to retry with', async () => {
    const unknown = () => json(503, { error: { code: 'WRITE_OUTCOME_UNKNOWN', message: 'the outcome of write w-1 is unknown', request_id: 'r1', write_id: 'w-1' } });
    const keyless = scriptedClient([unknown()], { idempotencyKeys: false }).client.execute('INSERT INTO t VALUES (1)');
    await expect(keyless).rejects.toBeInstanceOf(ApiError);
    await expect(keyless).rejects.toMatchObject({ code: 'WRITE_OUTCOME_UNKNOWN', writeId: 'w-1', idempotencyKey: undefined });

    // With keys on, the client retries it; once its retries are spent, the error names the key it used.
    const { client, requests } = scriptedClient([unknown(), unknown()], { retries: 1 });
    const failure = (await client.execute('INSERT INTO t VALUES (1)').then(
      () => undefined,
      (error: unknown) => error,
    )) as ApiError;
    expect(failure).toMatchObject({ code: 'WRITE_OUTCOME_UNKNOWN', writeId: 'w-1' });
    expect(failure.idempotencyKey).toMatch(/^[0-9a-f-]{36}$/);
    expect(requests.map((r) => r.headers['idempotency-key'])).toEqual([failure.idempotencyKey, failure.idempotencyKey]);
  });

  it('a network failure names where it went, why, and the key', async () => {
    const refused = Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:3931'), { code: 'ECONNREFUSED' }) });
    const client = createClient({ url: 'http://127.0.0.1:3931', key: 'k', retries: 0, fetch: () => Promise.reject(refused) });
    const failure = await client.execute('INSERT INTO t VALUES (1)', undefined, { idempotencyKey: 'order-7' }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(NetworkError);
    expect(failure).toMatchObject({ message: 'POST http://127.0.0.1:3931/sql failed: fetch failed (connect ECONNREFUSED 127.0.0.1:3931)', idempotencyKey: 'order-7' });
    expect(new TimeoutError(10, { idempotencyKey: 'k' }).idempotencyKey).toBe('k');
  });

  it.each([
    ['a body that is not JSON (a proxy page)', () => new Response('<html>OK</html>', { status: 200, headers: { 'content-type': 'text/html' } })],
    ['JSON without results and meta (a cut answer)', () => json(200, { results: null })],
  ])('a keyed write answered 2xx with %s still names the key: it may have been applied', async (_name, answer) => {
    const { client } = scriptedClient([answer()]);
    const failure = await client.execute('INSERT INTO t VALUES (1)', undefined, { idempotencyKey: 'order-8' }).catch((error: unknown) => error);
    expect(failure).toMatchObject({ code: 'BAD_ANSWER', idempotencyKey: 'order-8' });
  });
});

describe('caller mistakes are TypeErrors before anything is sent, never retried', () => {
  it.each([
    ['a URL without its scheme', 'localhost:3931'],
    ['no URL at all', 'not a url'],
    ['another scheme', 'ftp://example.com'],
  ])('createClient refuses %s', (_name, url) => {
    expect(() => createClient({ url, key: 'k' })).toThrow(/url must be an http\(s\) URL/);
  });

  it.each([
    ['empty', ''],
    ['not ASCII', 'ключ'],
    ['with a space at its end', 'order-7 '],
    ['too long', 'k'.repeat(129)],
  ])('an idempotency key %s', async (_name, idempotencyKey) => {
    const { client, requests } = scriptedClient([]);
    await expect(client.execute('INSERT INTO t VALUES (1)', undefined, { idempotencyKey })).rejects.toThrow(TypeError);
    expect(requests).toHaveLength(0);
  });
});
