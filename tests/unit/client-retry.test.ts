import {
  ApiError,
  CloudliteError,
  createClient,
  GatewayError,
  isRetryable,
  NetworkError,
  parseRetryAfter,
  retryDelayMs,
  SqlError,
  TimeoutError,
} from '../../clients/typescript/src/index.ts';
import { json, okAnswer as ok, scriptedClient as clientWith, serviceError } from '../helpers/fake-fetch';

describe('the retry policy', () => {
  const read = { read: true, idempotencyKey: false };
  const keyedWrite = { read: false, idempotencyKey: true };
  const bareWrite = { read: false, idempotencyKey: false };
  const api = (status: number, code: string) => new ApiError(code, code, { status });
  const gateway = (status: number) => new GatewayError(`HTTP_${status}`, 'gateway', { status });

  it.each<[string, boolean, boolean, boolean, CloudliteError]>([
    ['409 WRITE_CONFLICT', true, true, true, api(409, 'WRITE_CONFLICT')],
    ['503 LOCK_TIMEOUT', true, true, true, api(503, 'LOCK_TIMEOUT')],
    ['a gateway 429 throttle', true, true, true, gateway(429)],
    ['503 STORAGE_UNAVAILABLE', true, true, false, api(503, 'STORAGE_UNAVAILABLE')],
    ['500 INTERNAL', true, true, false, api(500, 'INTERNAL')],
    ['504 REQUEST_TIMEOUT', true, true, false, api(504, 'REQUEST_TIMEOUT')],
    ['a gateway 503', true, true, false, gateway(503)],
    ['a gateway 504', true, true, false, gateway(504)],
    ['a network failure', true, true, false, new NetworkError('reset', {})],
    ['a timeout', true, true, false, new TimeoutError(10)],
    ['503 WRITE_OUTCOME_UNKNOWN', false, true, false, api(503, 'WRITE_OUTCOME_UNKNOWN')],
    ['400 SQL_ERROR', false, false, false, new SqlError('SQL_ERROR', 'no such table', { status: 400 })],
    ['504 STATEMENT_TIMEOUT', false, false, false, api(504, 'STATEMENT_TIMEOUT')],
    ['500 CORRUPT_DATABASE', false, false, false, api(500, 'CORRUPT_DATABASE')],
    ['422 IDEMPOTENCY_KEY_REUSED', false, false, false, api(422, 'IDEMPOTENCY_KEY_REUSED')],
    ['a gateway 404', false, false, false, gateway(404)],
  ])('%s: read %s, write with key %s, write without key %s', (_name, forRead, forKeyedWrite, forBareWrite, error) => {
    expect([isRetryable(error, read), isRetryable(error, keyedWrite), isRetryable(error, bareWrite)]).toEqual([forRead, forKeyedWrite, forBareWrite]);
  });

  it('backs off exponentially with full jitter, capped', () => {
    const policy = { baseDelayMs: 100, maxDelayMs: 1000 };
    const almostOne = () => 0.999999;
    expect([0, 1, 2, 3, 4, 10].map((retry) => retryDelayMs(retry, undefined, policy, almostOne))).toEqual([99, 199, 399, 799, 999, 999]);
    expect(retryDelayMs(3, undefined, policy, () => 0)).toBe(0);
  });

  it('waits at least what Retry-After asks, and gives up when that is longer than the longest wait', () => {
    const policy = { baseDelayMs: 100, maxDelayMs: 5000 };
    expect(retryDelayMs(0, 3, policy, () => 0)).toBe(3000);
    expect(retryDelayMs(0, 3, policy, () => 0.5)).toBe(3050);
    expect(retryDelayMs(0, 6, policy, () => 0)).toBeUndefined();
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('7', now)).toBe(7);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now)).toBe(30);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });
});

describe('the client retries', () => {
  it('a read after 503 STORAGE_UNAVAILABLE, sending the same request again', async () => {
    const { client, requests, retries } = clientWith([serviceError(503, 'STORAGE_UNAVAILABLE', { 'retry-after': '0' }), ok([[2]])]);
    const answer = await client.query('SELECT 2', undefined, { idempotencyKey: false });
    expect(answer.rows).toEqual([[2]]);
    expect(requests).toHaveLength(2);
    expect(requests[1]!.body).toEqual(requests[0]!.body);
    expect(retries.map((event) => event.error.code)).toEqual(['STORAGE_UNAVAILABLE']);
  });

  it('a write after a lost connection, with the same Idempotency-Key on both attempts', async () => {
    const { client, requests } = clientWith([new TypeError('fetch failed'), ok()]);
    await client.execute('INSERT INTO t VALUES (1)');
    expect(requests).toHaveLength(2);
    const keys = requests.map((request) => request.headers['idempotency-key']);
    expect(keys[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(keys[1]).toBe(keys[0]);
  });

  it('a new key for each call, and the caller’s own key when given', async () => {
    const { client, requests } = clientWith([ok(), ok(), ok()]);
    await client.execute('INSERT INTO t VALUES (1)');
    await client.execute('INSERT INTO t VALUES (1)');
    await client.batch(['INSERT INTO t VALUES (1)'], { idempotencyKey: 'order-42' });
    const keys = requests.map((request) => request.headers['idempotency-key']);
    expect(keys[0]).not.toBe(keys[1]);
    expect(keys[2]).toBe('order-42');
  });

  it('never a write without a key after a lost connection: it may have been applied', async () => {
    const { client, requests } = clientWith([new TypeError('fetch failed'), ok()], { idempotencyKeys: false });
    await expect(client.execute('INSERT INTO t VALUES (1)')).rejects.toBeInstanceOf(NetworkError);
    expect(requests).toHaveLength(1);
    expect(requests[0]!.headers['idempotency-key']).toBeUndefined();
  });

  it('a write without a key after 409 WRITE_CONFLICT: nothing was applied', async () => {
    const { client, requests } = clientWith([serviceError(409, 'WRITE_CONFLICT'), ok()], { idempotencyKeys: false });
    await client.execute('INSERT INTO t VALUES (1)');
    expect(requests).toHaveLength(2);
  });

  it('never WRITE_OUTCOME_UNKNOWN without a key, even from query; with a key the retry settles it', async () => {
    const bare = clientWith([serviceError(503, 'WRITE_OUTCOME_UNKNOWN'), ok()], { idempotencyKeys: false });
    await expect(bare.client.query('INSERT INTO t VALUES (1)')).rejects.toMatchObject({ code: 'WRITE_OUTCOME_UNKNOWN', status: 503 });
    expect(bare.requests).toHaveLength(1);

    const keyed = clientWith([serviceError(503, 'WRITE_OUTCOME_UNKNOWN'), ok()]);
    await keyed.client.execute('INSERT INTO t VALUES (1)');
    expect(keyed.requests).toHaveLength(2);
  });

  it('never a gateway 504 without a key; with one, yes', async () => {
    const timeout = () => json(504, { message: 'Service Unavailable' });
    const bare = clientWith([timeout(), ok()], { idempotencyKeys: false });
    await expect(bare.client.execute('UPDATE t SET x = 1')).rejects.toBeInstanceOf(GatewayError);
    expect(bare.requests).toHaveLength(1);

    const keyed = clientWith([timeout(), ok()]);
    await keyed.client.execute('UPDATE t SET x = 1');
    expect(keyed.requests).toHaveLength(2);
  });

  it('gives up after `retries` retries with the last error', async () => {
    const { client, requests } = clientWith(
      [serviceError(503, 'LOCK_TIMEOUT'), serviceError(503, 'LOCK_TIMEOUT'), serviceError(409, 'WRITE_CONFLICT'), ok()],
      { retries: 2 },
    );
    await expect(client.execute('INSERT INTO t VALUES (1)')).rejects.toMatchObject({ code: 'WRITE_CONFLICT' });
    expect(requests).toHaveLength(3);
  });

  it('waits what Retry-After says before retrying', async () => {
    const { client, retries } = clientWith([serviceError(503, 'LOCK_TIMEOUT', { 'retry-after': '1' }), ok()]);
    await client.execute('INSERT INTO t VALUES (1)');
    expect(retries).toHaveLength(1);
    expect(retries[0]!.delayMs).toBeGreaterThanOrEqual(1000);
  });

  it('fails at once, carrying retryAfterSeconds, when Retry-After is longer than it may wait', async () => {
    const { client, requests } = clientWith([serviceError(503, 'LOCK_TIMEOUT', { 'retry-after': '40' }), ok()], { retryMaxDelayMs: 5000 });
    await expect(client.execute('INSERT INTO t VALUES (1)')).rejects.toMatchObject({ code: 'LOCK_TIMEOUT', retryAfterSeconds: 40 });
    expect(requests).toHaveLength(1);
  });

  it('times an attempt out, and retries a read after it', async () => {
    const { client, requests } = clientWith(['hang', ok()], { timeoutMs: 50 });
    await client.query('SELECT 1', undefined, { idempotencyKey: false });
    expect(requests).toHaveLength(2);
  });

  it('a write without a key that times out is a TimeoutError, not retried', async () => {
    const { client, requests } = clientWith(['hang', ok()], { timeoutMs: 50, idempotencyKeys: false });
    await expect(client.execute('INSERT INTO t VALUES (1)')).rejects.toBeInstanceOf(TimeoutError);
    expect(requests).toHaveLength(1);
  });

  it("the caller's abort ends the call with the caller's reason, without retrying", async () => {
    const { client, requests } = clientWith(['hang', ok()]);
    const controller = new AbortController();
    const call = client.query('SELECT 1', undefined, { signal: controller.signal });
    setTimeout(() => controller.abort(new Error('user pressed ^C')), 20);
    await expect(call).rejects.toThrow('user pressed ^C');
    expect(requests).toHaveLength(1);
  });
});

describe('the client’s errors', () => {
  it('carry code, status, statement index and the request id from the x-request-id header', async () => {
    const answer = json(400, { error: { code: 'SQL_ERROR', message: 'no such table: nope', statement_index: 1 } }, { 'x-request-id': 'req-1' });
    const { client } = clientWith([answer]);
    const error = await client.batch(['SELECT 1', 'SELECT * FROM nope']).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SqlError);
    expect(error).toMatchObject({ code: 'SQL_ERROR', status: 400, statementIndex: 1, requestId: 'req-1', message: 'no such table: nope' });
  });

  it('take the request id from the error body when no header carries it', async () => {
    const { client } = clientWith([json(403, { error: { code: 'FORBIDDEN', message: 'read key', request_id: 'req-2' } })]);
    await expect(client.execute('DELETE FROM t')).rejects.toMatchObject({ name: 'ApiError', code: 'FORBIDDEN', status: 403, requestId: 'req-2' });
  });

  it("API Gateway's own answers are GatewayErrors with code HTTP_<status>", async () => {
    const { client } = clientWith([json(404, { message: 'Not Found' }, { 'apigw-requestid': 'gw-1' })]);
    await expect(client.listDatabases()).rejects.toMatchObject({ name: 'GatewayError', code: 'HTTP_404', status: 404, message: 'Not Found', requestId: 'gw-1' });
  });
});

describe('the client retries what the README says to retry (review)', () => {
  // README "Errors": 503 SERVICE_UNAVAILABLE (the function cannot read its keys from SSM yet,
  // `Retry-After: 5`) is "retry? yes": nothing can be authenticated, so nothing was applied.
  it('503 SERVICE_UNAVAILABLE, even a write without a key: nothing was authenticated, so nothing was applied', () => {
    const error = new ApiError('SERVICE_UNAVAILABLE', 'keys unavailable', { status: 503, retryAfterSeconds: 5 });
    expect([isRetryable(error, { read: true, idempotencyKey: false }), isRetryable(error, { read: false, idempotencyKey: true }), isRetryable(error, { read: false, idempotencyKey: false })]).toEqual([true, true, true]);
  });

  it('a call that meets 503 SERVICE_UNAVAILABLE with Retry-After is sent again', async () => {
    const { client, requests } = clientWith([serviceError(503, 'SERVICE_UNAVAILABLE', { 'retry-after': '0' }), ok([[1]])]);
    const answer = await client.query('SELECT 1');
    expect(answer.rows).toEqual([[1]]);
    expect(requests).toHaveLength(2);
  });
});

describe('a download that keeps arriving is not a timeout (review)', () => {
  afterEach(() => jest.useRealTimers());

  // docs/client.md: `timeoutMs` is per attempt and a TimeoutError means "no answer within
  // timeoutMs". An export that answered at once and keeps streaming its body was cut at
  // timeoutMs and downloaded again from the start, `retries` times, then failed "no answer
  // within 30000 ms": `cloudlite export` of a 400 MB database (MAX_DATABASE_MB) needs > 13 MB/s.
  it('an export whose body streams for longer than timeoutMs, never pausing that long, completes in one request', async () => {
    jest.useFakeTimers();
    const chunks = 5;
    let push: ((chunk: Uint8Array | null) => void) | undefined;
    const requests: string[] = [];
    // Like fetch: the answer's headers come at once, its body as it arrives; an abort of the request errors the body.
    const fetch = async (url: string, init: RequestInit): Promise<Response> => {
      requests.push(url);
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          let aborted = false;
          push = (chunk) => {
            if (aborted) return; // the request was aborted: its body has errored
            if (chunk === null) controller.close();
            else controller.enqueue(chunk);
          };
          init.signal?.addEventListener('abort', () => {
            aborted = true;
            controller.error(init.signal?.reason);
          });
        },
      });
      return new Response(body, { status: 200, headers: { 'content-type': 'application/vnd.sqlite3' } });
    };
    const client = createClient({ url: 'http://api.test', key: 'k', fetch, timeoutMs: 1000, retries: 0 });
    const exported = client.exportDatabase('big').then(
      (bytes) => ({ bytes }),
      (error: unknown) => ({ error }),
    );
    await jest.advanceTimersByTimeAsync(0);
    for (let i = 0; i < chunks; i++) {
      push!(new Uint8Array([i]));
      await jest.advanceTimersByTimeAsync(600); // each pause well under timeoutMs; all of them well over it
    }
    push!(null);
    const outcome = await exported;
    expect(outcome).toEqual({ bytes: new Uint8Array([0, 1, 2, 3, 4]) });
    expect(requests).toHaveLength(1);
  });
});

describe('an upload that keeps leaving is not a timeout (review, diff-edge)', () => {
  afterEach(() => jest.useRealTimers());

  // docs/client.md: importDatabase sends "a file over 4 MiB ... through the staged upload" (up
  // to MAX_DATABASE_MB, 400 MB), and `timeoutMs` (30 s) now runs "until the answer starts and then
  // between chunks of its body". An upload's answer starts only once the whole file has been sent,
  // so the presigned POST of a file that takes longer than timeoutMs to send is cut, sent again
  // from the start `retries` times, then fails TIMEOUT: 400 MB in 30 s needs > 13 MB/s upstream.
  it('a staged upload whose body leaves for longer than timeoutMs, never pausing that long, completes with one POST to S3', async () => {
    jest.useFakeTimers();
    const s3Posts: string[] = [];
    const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
    const fetch = async (url: string, init: RequestInit): Promise<Response> => {
      if (url.startsWith('https://s3.test/')) {
        s3Posts.push(url);
        // S3 takes the body as it comes: five chunks, 600 ms apart (a slow uplink), then the rest.
        const reader = new Response(init.body as ConstructorParameters<typeof Response>[0]).body!.getReader();
        for (let i = 0; i < 5; i++) {
          await reader.read();
          await new Promise((resolve) => setTimeout(resolve, 600));
          if (init.signal?.aborted) throw init.signal.reason;
        }
        while (!(await reader.read()).done);
        return new Response(null, { status: 204 });
      }
      const body = JSON.parse(String(init.body)) as { upload?: boolean; staged?: string };
      if (body.upload) return json(200, { staged: 'staging/big/1.sqlite', upload: { url: 'https://s3.test/bucket', fields: { key: 'staging/big/1.sqlite' } }, max_bytes: 400e6 });
      return json(200, { version: 'v2', replaced: null });
    };
    const client = createClient({ url: 'http://api.test', key: 'k', fetch, timeoutMs: 1000, retries: 2 });
    const imported = client.importDatabase('big', new Uint8Array(5 * 1024 * 1024)).then(
      (answer) => ({ answer }),
      (error: unknown) => ({ error }),
    );
    await jest.advanceTimersByTimeAsync(20_000);
    expect(await imported).toEqual({ answer: { version: 'v2', replaced: null } });
    expect(s3Posts).toHaveLength(1);
  });
});
