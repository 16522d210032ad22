import { createClient, type ClientOptions, type RetryEvent } from '../../clients/typescript/src/index.ts';

/** Test doubles for the TypeScript client: a fetch that answers from a script, and answers to script. */

export type Scripted = Response | Error | 'hang';

export interface RecordedRequest {
  url: string;
  method: string;
  headers: Record<string, string>;
  /** The parsed JSON body, or the raw body when it is not a string. */
  body: unknown;
}

/** A fetch that answers from `script`, one entry per attempt ('hang' waits for the abort), and records what it was sent. */
export function fakeFetch(script: Scripted[]) {
  const requests: RecordedRequest[] = [];
  const fetch = async (url: string, init: RequestInit): Promise<Response> => {
    const body = typeof init.body === 'string' ? JSON.parse(init.body) : init.body;
    requests.push({ url, method: init.method ?? 'GET', headers: init.headers as Record<string, string>, body });
    const next = script.shift();
    if (next === undefined) throw new Error('the fake fetch ran out of answers');
    if (next === 'hang') {
      return new Promise((_resolve, reject) => init.signal?.addEventListener('abort', () => reject(init.signal?.reason)));
    }
    if (next instanceof Error) throw next;
    return next;
  };
  return { fetch, requests };
}

export const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });

export const serviceError = (status: number, code: string, headers: Record<string, string> = {}) => json(status, { error: { code, message: `a ${code}` } }, headers);

/** A POST /sql answer with one result. */
export const okAnswer = (rows: unknown[] = [[1]], columns = ['x'], extra: Record<string, unknown> = {}) =>
  json(200, { results: [{ columns, rows, changes: 0, last_insert_rowid: null, ...extra }], meta: { database: 'main', version: 'v1', wrote: false, duration_ms: 1 } });

/** A client on a scripted fetch, retrying without real waits (1 ms base delay), recording its retries. */
export function scriptedClient(script: Scripted[], options: Partial<ClientOptions> = {}) {
  const fake = fakeFetch(script);
  const retries: RetryEvent[] = [];
  const client = createClient({ url: 'http://api.test', key: 'k', fetch: fake.fetch, retryBaseDelayMs: 1, onRetry: (event) => retries.push(event), ...options });
  return { client, requests: fake.requests, retries };
}
