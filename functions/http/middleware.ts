import middy, { type MiddlewareObj } from '@middy/core';
import httpHeaderNormalizer from '@middy/http-header-normalizer';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import type { Logger } from '../core/logger';
import { errorResponse } from './error-table';
import type { HttpResponse } from './responses';

/** Fields a handler adds to the request's single access-log line (e.g. the database name). */
export type LogFields = Record<string, unknown>;

type Handler = (event: APIGatewayProxyEventV2, logFields: LogFields) => Promise<HttpResponse>;
type Request = middy.Request<APIGatewayProxyEventV2, HttpResponse, Error, Context>;
type Middleware = MiddlewareObj<APIGatewayProxyEventV2, HttpResponse, Error, Context>;

const logFieldsOf = new WeakMap<object, LogFields>();

/**
 * The middy chain every HTTP entry point shares: normalized headers, errors mapped through the
 * one error table, and one structured log line per request, written at the edge.
 */
export function httpHandler(logger: Logger, handler: Handler) {
  return middy<APIGatewayProxyEventV2, HttpResponse, Error, Context>((event: APIGatewayProxyEventV2, context: Context) => handler(event, fieldsOf(context)))
    .use(accessLog(logger))
    .use(errorMapping(logger))
    .use(httpHeaderNormalizer());
}

function fieldsOf(context: Context): LogFields {
  let fields = logFieldsOf.get(context);
  if (!fields) logFieldsOf.set(context, (fields = {}));
  return fields;
}

function errorMapping(logger: Logger): Middleware {
  return {
    onError: async (request) => {
      request.response = errorResponse(request.error, logger, { requestId: request.context.awsRequestId, ...fieldsOf(request.context) });
    },
  };
}

function accessLog(logger: Logger): Middleware {
  const started = new WeakMap<object, number>();
  const write = async (request: Request) => {
    const http = request.event.requestContext?.http;
    logger.info('request', {
      requestId: request.context.awsRequestId,
      method: http?.method,
      path: http?.path ?? request.event.rawPath,
      status: request.response?.statusCode,
      duration_ms: Math.round((performance.now() - (started.get(request.event) ?? performance.now())) * 10) / 10,
      ...fieldsOf(request.context),
    });
  };
  return {
    before: async (request) => {
      started.set(request.event, performance.now());
    },
    after: write,
    onError: write,
  };
}
