import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';

/**
 * A local stand-in for API Gateway (HTTP API, payload format 2.0): turns each HTTP request into
 * the event Lambda would receive and calls the same handler. Every request is its own
 * invocation with its own context; only module-level state (the warm copy) is shared, as it is
 * between invocations of one warm container.
 */

export type LambdaHttpHandler = (
  event: APIGatewayProxyEventV2,
  context: Context,
  options: { signal: AbortSignal },
) => Promise<{ statusCode: number; headers?: Record<string, string>; body?: string }>;

/** `"METHOD /path"` -> handler, e.g. `"POST /sql"`. */
export type RouteTable = Record<string, LambdaHttpHandler>;

export interface LocalApi {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** API Gateway's own payload limit for HTTP APIs; larger bodies never reach the function. */
const API_GATEWAY_MAX_BODY_BYTES = 10 * 1024 * 1024;
const TEXT_TYPES = /^(text\/|application\/(json|[\w.+-]+\+json|xml|x-www-form-urlencoded|javascript))/i;

export async function startLocalApi(routes: RouteTable, options: { port?: number; host?: string } = {}): Promise<LocalApi> {
  const server = http.createServer((req, res) => void serve(routes, req, res));
  // Keep-alive connections would hold close() open in tests; API Gateway closes idle ones too.
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 3000, options.host ?? '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${options.host === '0.0.0.0' ? 'localhost' : (options.host ?? '127.0.0.1')}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function serve(routes: RouteTable, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  try {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = (req.method ?? 'GET').toUpperCase();
    const handler = routes[`${method} ${url.pathname}`];
    if (!handler) {
      const allowed = Object.keys(routes).filter((route) => route.endsWith(` ${url.pathname}`));
      return reply(res, allowed.length > 0 ? 405 : 404, {
        error: allowed.length > 0 ? { code: 'METHOD_NOT_ALLOWED', message: `use ${allowed.join(' or ')}` } : { code: 'NOT_FOUND', message: 'no such route' },
      });
    }
    const body = await readBody(req);
    if (body === undefined) return reply(res, 413, { message: 'Request Entity Too Large' });
    const result = await handler(toEvent(req, url, method, body), toContext(), { signal: new AbortController().signal });
    res.writeHead(result.statusCode, result.headers ?? {});
    res.end(result.body ?? '');
  } catch (error) {
    // Lambda answers an unhandled error with a bare 500 from API Gateway; so do we.
    console.error('local API gateway: handler failed', error);
    if (!res.headersSent) reply(res, 500, { message: 'Internal Server Error' });
  }
}

function reply(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

async function readBody(req: http.IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > API_GATEWAY_MAX_BODY_BYTES) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function toEvent(req: http.IncomingMessage, url: URL, method: string, body: Buffer): APIGatewayProxyEventV2 {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(',') : value;
  }
  const queryStringParameters: Record<string, string> = {};
  for (const [name, value] of url.searchParams) {
    queryStringParameters[name] = name in queryStringParameters ? `${queryStringParameters[name]},${value}` : value;
  }
  // API Gateway passes text bodies as strings and everything else base64-encoded.
  const isText = TEXT_TYPES.test(headers['content-type'] ?? '') && isValidUtf8(body);
  const now = new Date();
  return {
    version: '2.0',
    routeKey: `${method} ${url.pathname}`,
    rawPath: url.pathname,
    rawQueryString: url.search.replace(/^\?/, ''),
    headers,
    queryStringParameters: url.search ? queryStringParameters : undefined,
    body: body.length === 0 ? undefined : isText ? body.toString('utf8') : body.toString('base64'),
    isBase64Encoded: body.length > 0 && !isText,
    requestContext: {
      accountId: 'local',
      apiId: 'local',
      domainName: headers.host ?? 'localhost',
      domainPrefix: 'localhost',
      http: { method, path: url.pathname, protocol: `HTTP/${req.httpVersion}`, sourceIp: req.socket.remoteAddress ?? '127.0.0.1', userAgent: headers['user-agent'] ?? '' },
      requestId: randomUUID(),
      routeKey: `${method} ${url.pathname}`,
      stage: '$default',
      time: now.toISOString(),
      timeEpoch: now.getTime(),
    },
  };
}

function isValidUtf8(bytes: Buffer): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

function toContext(): Context {
  const requestId = randomUUID();
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'cloudlite-local',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:local:000000000000:function:cloudlite-local',
    memoryLimitInMB: '1769',
    awsRequestId: requestId,
    logGroupName: '/aws/lambda/cloudlite-local',
    logStreamName: 'local',
    getRemainingTimeInMillis: () => 29_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}
