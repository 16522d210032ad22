import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { PowertoolsMetrics } from '../../functions/adapters/powertools-metrics';
import { DatabaseService, type ServiceEvent } from '../../functions/core/database-service';
import {
  CloudliteError,
  LockTimeoutError,
  SqlError,
  StorageThrottledError,
  StorageUnavailableError,
  WriteConflictError,
  WriteOutcomeUnknownError,
} from '../../functions/core/errors';
import { silentLogger } from '../../functions/core/logger';
import { metricsOfEvent, type MetricName, type RequestMetrics } from '../../functions/http/metrics';
import { httpHandler } from '../../functions/http/middleware';
import { jsonResponse, type HttpResponse } from '../../functions/http/responses';
import { SERVICE_OPTIONS, FakeClock, FakeEngine, FakeIdempotencyStore, FakeLeaseLock, FakeObjectStore } from '../helpers/fakes';

/**
 * What outsiders see: the edge counts the outcomes of each request into a metrics port and
 * flushes once per request; the service reports what its answers do not show. A fake sink
 * records counts and flushes; the Powertools adapter is checked on the EMF line it writes.
 */

function fakeMetrics() {
  const flushed: MetricName[][] = [];
  let pending: MetricName[] = [];
  const metrics: RequestMetrics & { flushed: MetricName[][] } = {
    flushed,
    count: (name) => void pending.push(name),
    flush: () => {
      flushed.push(pending);
      pending = [];
    },
  };
  return metrics;
}

function event(): APIGatewayProxyEventV2 {
  return {
    version: '2.0',
    routeKey: 'POST /sql',
    rawPath: '/sql',
    rawQueryString: '',
    headers: {},
    isBase64Encoded: false,
    requestContext: { requestId: 'metrics-test', http: { method: 'POST', path: '/sql' }, routeKey: 'POST /sql' } as APIGatewayProxyEventV2['requestContext'],
  };
}

type Invoke = (event: APIGatewayProxyEventV2, context: Context) => Promise<HttpResponse>;

async function answerWith(metrics: RequestMetrics, outcome: () => Promise<HttpResponse>): Promise<HttpResponse> {
  const handler = httpHandler(silentLogger, { metrics }, outcome) as unknown as Invoke;
  return handler(event(), { awsRequestId: 'lambda-1' } as Context);
}

const fail = (error: CloudliteError) => async (): Promise<HttpResponse> => {
  throw error;
};

describe('the edge counts each request once, by its answer', () => {
  it.each<[string, CloudliteError, MetricName[]]>([
    ['an unknown outcome', new WriteOutcomeUnknownError('w-1'), ['UnknownOutcomes']],
    ['a write conflict', new WriteConflictError('changed underneath'), ['WriteConflicts']],
    ['a lock timeout', new LockTimeoutError('locked', 2), ['LockTimeouts']],
    ['a throttled storage request', new StorageThrottledError('slow down'), ['Throttles']],
    ['an upload throttled into an unknown outcome', new WriteOutcomeUnknownError('w-2', { cause: new StorageThrottledError('slow down') }), ['UnknownOutcomes', 'Throttles']],
    ['storage that failed without throttling', new StorageUnavailableError('down'), []],
    ["the caller's SQL error", new SqlError('no such table: t'), []],
  ])('%s', async (_name, error, counted) => {
    const metrics = fakeMetrics();

    const response = await answerWith(metrics, fail(error));

    expect(response.statusCode).toBeGreaterThanOrEqual(400);
    expect(metrics.flushed).toEqual([counted]);
  });

  it('a request that succeeds counts nothing and still flushes what the service counted during it', async () => {
    const metrics = fakeMetrics();

    const response = await answerWith(metrics, async () => {
      metrics.count('Replays');
      return jsonResponse(200, { ok: true });
    });

    expect(response.statusCode).toBe(200);
    expect(metrics.flushed).toEqual([['Replays']]);
  });

  it('a sink that fails to publish does not fail the request it describes', async () => {
    const broken: RequestMetrics = {
      count: () => undefined,
      flush: () => {
        throw new Error('stdout closed');
      },
    };

    const response = await answerWith(broken, fail(new WriteConflictError('changed')));

    expect(response.statusCode).toBe(409);
  });
});

describe('the service reports what its answers do not show', () => {
  function setup() {
    const clock = new FakeClock();
    const lock = new FakeLeaseLock(clock);
    const events: ServiceEvent[] = [];
    const service = new DatabaseService(
      SERVICE_OPTIONS,
      { store: new FakeObjectStore(), lock, idempotency: new FakeIdempotencyStore(), engine: new FakeEngine(), clock: clock.now, onEvent: (e) => void events.push(e) },
    );
    const run = (sql: string, idempotencyKey?: string) =>
      service.execute({ database: 'shop', program: { kind: 'script', sql }, consistency: 'strong', idempotencyKey }, 'write');
    return { lock, events, run };
  }

  it.each([
    ['throttled', new StorageThrottledError('throttled'), true],
    ['unavailable', new StorageUnavailableError('down'), false],
  ])('a strong read whose version record is %s falls back to S3, and says so', async (_name, error, throttled) => {
    const t = setup();
    await t.run('ADD a');
    t.lock.onPublished = async () => {
      throw error;
    };

    const read = await t.run('SELECT');

    expect(read.results[0]!.rows).toEqual([['a']]);
    expect(t.events).toEqual([{ kind: 'read_fallback', throttled }]);
  });

  it('a retry with the same Idempotency-Key is reported as a replay, the first attempt is not', async () => {
    const t = setup();
    await t.run('ADD a', 'k-1');
    expect(t.events).toEqual([]);

    const again = await t.run('ADD a', 'k-1');

    expect(again.meta.replayed).toBe(true);
    expect(t.events).toEqual([{ kind: 'replayed' }]);
  });

  it.each<[string, ServiceEvent, MetricName[]]>([
    ['a replay counts as a replay', { kind: 'replayed' }, ['Replays']],
    ['a throttled fallback counts as a fallback and a throttle', { kind: 'read_fallback', throttled: true }, ['ReadFallbacks', 'Throttles']],
    ['any other fallback counts only as a fallback', { kind: 'read_fallback', throttled: false }, ['ReadFallbacks']],
  ])('%s', (_name, serviceEvent, names) => {
    expect(metricsOfEvent(serviceEvent)).toEqual(names);
  });
});

describe('PowertoolsMetrics writes embedded metric format', () => {
  let written: string[];
  let spy: jest.SpyInstance;
  beforeEach(() => {
    written = [];
    spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => (written.push(String(chunk)), true));
  });
  afterEach(() => spy.mockRestore());

  it('one line per flush, in namespace cloudlite with the service and stage dimensions', () => {
    const metrics = new PowertoolsMetrics('prod');
    metrics.count('UnknownOutcomes');
    metrics.count('Throttles');
    metrics.flush();

    const lines = written.join('').trim().split('\n');
    expect(lines).toHaveLength(1);
    const emf = JSON.parse(lines[0]!);
    expect(emf._aws.CloudWatchMetrics).toEqual([
      {
        Namespace: 'cloudlite',
        Dimensions: [['service', 'stage']],
        Metrics: [
          { Name: 'UnknownOutcomes', Unit: 'Count' },
          { Name: 'Throttles', Unit: 'Count' },
        ],
      },
    ]);
    expect(emf).toMatchObject({ service: 'cloudlite', stage: 'prod', UnknownOutcomes: 1, Throttles: 1 });
  });

  it('a request that counted nothing writes nothing', () => {
    const metrics = new PowertoolsMetrics('prod');
    metrics.count('Replays');
    metrics.flush();
    written.length = 0;

    metrics.flush();

    expect(written).toEqual([]);
  });
});
