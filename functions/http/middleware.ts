import middy, { type MiddlewareObj } from '@middy/core';
import httpHeaderNormalizer from '@middy/http-header-normalizer';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { RequestTimeoutError, WriteOutcomeUnknownError } from '../core/errors';
import type { Logger } from '../core/logger';
import { corsHeaders, type CorsPolicy } from './cors';
import { errorAnswer } from './error-table';
import { metricsOfFailure, noMetrics, type RequestMetrics } from './metrics';
import { bodyParser, parsedBody, type BodyOptions, type RequestBody } from './request-body';
import type { HttpResponse } from './responses';

/** Fields a handler adds to the request's single access-log line (e.g. the database name). */
export type LogFields = Record<string, unknown>;

/** What a route handler gets besides the event. */
export interface Call {
  logFields: LogFields;
  /** API Gateway's request id: answered as `x-request-id`, in error bodies and in the log. */
  requestId: string;
  /**
   * For the service (`onChanging`): once called, a request cut off by the function's time limit
   * is answered WRITE_OUTCOME_UNKNOWN (its change may still be applied: an upload the next
   * writer adopts), where before it is 504 REQUEST_TIMEOUT (nothing was changed).
   */
  markChanging: () => void;
}

export interface RouteOptions {
  /** Absent: the handler sets its own CORS headers (the preflight handler). */
  cors?: CorsPolicy;
  /** The route takes a body: parsed before the handler runs. */
  body?: BodyOptions;
  /** Counts what outsiders should see (unknown outcomes, conflicts, ...); absent: nothing is counted. */
  metrics?: RequestMetrics;
}

/**
 * How long before the function's time limit a request still running is answered: enough to
 * write the answer and its log line before Lambda stops the function.
 */
const DEADLINE_MARGIN_MS = 250;

type Handler = (event: APIGatewayProxyEventV2, call: Call) => Promise<HttpResponse>;
type BodyHandler = (event: APIGatewayProxyEventV2, call: Call & { body: RequestBody }) => Promise<HttpResponse>;
type Request = middy.Request<APIGatewayProxyEventV2, HttpResponse, Error, Context>;
type Middleware = MiddlewareObj<APIGatewayProxyEventV2, HttpResponse, Error, Context>;

interface CallState extends Call {
  started: number;
  changing: boolean;
  /** The route's own work, still watched after a deadline answer said its outcome is unknown. */
  running?: Promise<HttpResponse>;
}

const calls = new WeakMap<object, CallState>();

/**
 * The middy chain every HTTP entry point shares: normalized headers, the body parsed (for routes
 * that take one), errors mapped through the one error table, `x-request-id` and CORS headers on
 * every answer, and one structured log line per request, written here at the edge, with the
 * request's metrics flushed after it.
 */
export function httpHandler(logger: Logger, options: RouteOptions & { body: BodyOptions }, handler: BodyHandler): middy.MiddyfiedHandler<APIGatewayProxyEventV2, HttpResponse, Error, Context>;
export function httpHandler(logger: Logger, options: RouteOptions, handler: Handler): middy.MiddyfiedHandler<APIGatewayProxyEventV2, HttpResponse, Error, Context>;
export function httpHandler(logger: Logger, options: RouteOptions, handler: Handler | BodyHandler) {
  const chain = middy<APIGatewayProxyEventV2, HttpResponse, Error, Context>(
    (event: APIGatewayProxyEventV2) => {
      const call = calls.get(event)!;
      call.running = options.body ? (handler as BodyHandler)(event, { ...call, body: parsedBody(event) }) : (handler as Handler)(event, call);
      return call.running;
    },
    { timeoutEarlyInMillis: DEADLINE_MARGIN_MS },
  )
    .use(edge(logger, options.cors, options.metrics ?? noMetrics))
    .use(httpHeaderNormalizer());
  for (const middleware of options.body ? bodyParser(options.body) : []) chain.use(middleware as Middleware);
  return chain;
}

function edge(logger: Logger, cors: CorsPolicy | undefined, metrics: RequestMetrics): Middleware {
  const finish = async (request: Request) => {
    const call = calls.get(request.event) ?? start(request);
    const fields: LogFields = {};
    let level: 'info' | 'warn' | 'error' = 'info';
    let response = request.response;
    if (response == null) {
      const error = isDeadline(request.error) ? deadlineError(call) : request.error;
      if (error instanceof WriteOutcomeUnknownError && isDeadline(request.error)) logLateOutcome(logger, call);
      const answer = errorAnswer(error, call.requestId);
      response = answer.response;
      level = answer.level;
      Object.assign(fields, { code: answer.code, error: answer.details });
      // The id the unknown write is stamped with in S3, as a field an operator can filter on.
      if (error instanceof WriteOutcomeUnknownError && error.writeId !== undefined) fields.writeId = error.writeId;
      for (const name of metricsOfFailure(answer.code, error)) metrics.count(name);
    }
    response.headers = { ...response.headers, 'x-request-id': call.requestId };
    request.response = response;
    if (cors) Object.assign(response.headers, corsHeaders(cors, request.event.headers?.origin));
    const http = request.event.requestContext?.http;
    logger[level]('request', {
      requestId: call.requestId,
      awsRequestId: request.context.awsRequestId,
      method: http?.method,
      path: http?.path ?? request.event.rawPath,
      status: response.statusCode,
      duration_ms: Math.round((performance.now() - call.started) * 10) / 10,
      ...call.logFields,
      ...fields,
    });
    flush(metrics, logger);
  };
  return {
    before: async (request) => {
      start(request);
    },
    after: finish,
    onError: finish,
  };
}

function start(request: Request): CallState {
  const state: CallState = {
    logFields: {},
    requestId: request.event.requestContext?.requestId ?? request.context.awsRequestId,
    started: performance.now(),
    changing: false,
    markChanging: () => {
      state.changing = true;
    },
  };
  calls.set(request.event, state);
  return state;
}

/** middy's own error when the handler is still running DEADLINE_MARGIN_MS before the function's time limit. */
function isDeadline(error: unknown): boolean {
  return error instanceof Error && error.name === 'TimeoutError' && (error.cause as { package?: string } | undefined)?.package === '@middy/core';
}

function deadlineError(call: CallState): Error {
  return call.changing
    ? new WriteOutcomeUnknownError(undefined)
    : new RequestTimeoutError('the function ran out of time before this request finished; nothing was changed; retry');
}

/**
 * A request answered WRITE_OUTCOME_UNKNOWN at the deadline, its change still running (on Lambda,
 * until the function is frozen; it goes on when it thaws): once it ends, one more line under the
 * same request id says how, with the database and version the route logged, so the unknown
 * outcome can be settled from the log. At error level, as the unknown outcome itself.
 */
function logLateOutcome(logger: Logger, call: CallState): void {
  call.running?.then(
    (response) => logger.error('request ended after its answer', { requestId: call.requestId, status: response.statusCode, ...call.logFields }),
    (error: unknown) => {
      const answer = errorAnswer(error, call.requestId);
      logger.error('request ended after its answer', { requestId: call.requestId, status: answer.response.statusCode, ...call.logFields, code: answer.code, error: answer.details });
    },
  );
}

/** Metrics are a view of the service, never a reason to fail the request they describe. */
function flush(metrics: RequestMetrics, logger: Logger): void {
  try {
    metrics.flush();
  } catch (error) {
    logger.warn('metrics not published', { error: String(error) });
  }
}
