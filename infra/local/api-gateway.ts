import { randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';

/**
 * A local stand-in for API Gateway (HTTP API, payload format 2.0): turns each HTTP request into
 * the event Lambda would receive and calls the same handler. Every request is its own
 * invocation with its own context; only module-level state (the warm copy) is shared, as it is
 * between invocations of one warm container.
 *
 * What it answers by itself, as the deployed HTTP API does:
 * - a body over 10 MB: `413 {"message":"Request Entity Too Large"}`. The body is read to its end
 *   first, so the client's keep-alive connection stays usable for its next request.
 * - no route for the method and path: `404 {"message":"Not Found"}`. An HTTP API matches the
 *   method exactly (or `ANY`): `HEAD` does not fall back to a `GET` route, a method the path
 *   lacks gets no `405`, and `OPTIONS` reaches only an `OPTIONS /path` route (no API-level CORS
 *   is configured: the functions answer CORS themselves).
 * - a handler that throws: `500 {"message":"Internal Server Error"}`.
 * Every answer carries `apigw-requestid`, the id the event's `requestContext.requestId` holds.
 */

export interface LambdaHttpResult {
  statusCode: number;
  headers?: Record<string, string>;
  body?: string;
  /** The body is base64 of the bytes to send (API Gateway decodes it). */
  isBase64Encoded?: boolean;
  cookies?: string[];
}

export type LambdaHttpHandler = (
  event: APIGatewayProxyEventV2,
  context: Context,
  options: { signal: AbortSignal },
) => Promise<LambdaHttpResult>;

/**
 * `"METHOD /path"` -> handler, e.g. `"POST /sql"` or `"GET /databases/{name}"`. Path segments
 * may be `{param}` (one segment) or, last, `{param+}` (the rest of the path); the method may be
 * `ANY`. As in API Gateway, the most specific route wins: literal segments over parameters, a
 * named method over `ANY`.
 */
export type RouteTable = Record<string, LambdaHttpHandler>;

export interface LocalApi {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** API Gateway's own payload limit for HTTP APIs; larger bodies never reach the function. */
const API_GATEWAY_MAX_BODY_BYTES = 10 * 1024 * 1024;
/** Content types whose bodies API Gateway passes as text; every other body arrives base64-encoded. */
const TEXT_TYPES = /^(text\/|application\/(json|[\w.+-]+\+json|xml|x-www-form-urlencoded|javascript))/i;

export async function startLocalApi(routes: RouteTable, options: { port?: number; host?: string } = {}): Promise<LocalApi> {
  const table = compileRoutes(routes);
  const server = http.createServer((req, res) => void serve(table, req, res));
  // Keep-alive connections would hold close() open in tests; API Gateway closes idle ones too.
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 3000, options.host ?? '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${urlHost(options.host ?? '127.0.0.1')}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

interface CompiledRoute {
  routeKey: string;
  method: string;
  segments: string[];
  handler: LambdaHttpHandler;
}

function compileRoutes(routes: RouteTable): CompiledRoute[] {
  const compiled = Object.entries(routes).map(([routeKey, handler]) => {
    const [method = '', path = ''] = routeKey.split(' ');
    if (!path.startsWith('/')) throw new TypeError(`route "${routeKey}" must look like "METHOD /path"`);
    const segments = path.split('/').slice(1);
    if (segments.slice(0, -1).some((s) => s.endsWith('+}'))) throw new TypeError(`route "${routeKey}": {param+} must be the last segment`);
    return { routeKey, method: method.toUpperCase(), segments, handler };
  });
  return compiled.sort((a, b) => specificity(b) - specificity(a));
}

/** Higher = tried first: literal segments beat `{param}`, which beats `{param+}`; a method beats ANY. */
function specificity(route: CompiledRoute): number {
  const weights = route.segments.map((s): number => (s.endsWith('+}') ? 0 : s.startsWith('{') ? 1 : 2));
  return weights.reduce((sum, w, i) => sum + w * 3 ** (20 - i), 0) * 2 + (route.method === 'ANY' ? 0 : 1);
}

function matchRoute(table: CompiledRoute[], method: string, rawPath: string) {
  const parts = rawPath.split('/').slice(1);
  for (const route of table) {
    if (route.method !== method && route.method !== 'ANY') continue;
    const pathParameters: Record<string, string> = {};
    const matched = route.segments.every((segment, i) => {
      const param = /^\{(\w+)(\+?)\}$/.exec(segment);
      if (param?.[2]) {
        const rest = parts.slice(i).join('/');
        if (!rest) return false;
        pathParameters[param[1]!] = safeDecode(rest);
        return true;
      }
      const part = parts[i];
      if (part === undefined || (param && part === '')) return false;
      if (param) pathParameters[param[1]!] = safeDecode(part);
      return param ? true : safeDecode(part) === segment;
    });
    const greedy = route.segments.at(-1)?.endsWith('+}') ?? false;
    if (matched && (greedy || parts.length === route.segments.length)) return { route, pathParameters };
  }
  return undefined;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

async function serve(table: CompiledRoute[], req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const requestId = apiGatewayRequestId();
  res.setHeader('apigw-requestid', requestId);
  try {
    const body = await readBody(req);
    if (body === undefined) return reply(res, 413, { message: 'Request Entity Too Large' });
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = (req.method ?? 'GET').toUpperCase();
    const match = matchRoute(table, method, url.pathname);
    if (!match) return reply(res, 404, { message: 'Not Found' });
    const event = toEvent(req, url, method, body, { requestId, routeKey: match.route.routeKey, pathParameters: match.pathParameters });
    const result = await match.route.handler(event, toContext(), { signal: new AbortController().signal });
    const headers: http.OutgoingHttpHeaders = { ...result.headers };
    if (result.cookies?.length) headers['set-cookie'] = result.cookies;
    res.writeHead(result.statusCode, headers);
    res.end(result.isBase64Encoded ? Buffer.from(result.body ?? '', 'base64') : (result.body ?? ''));
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

/** The whole body, or undefined when it is over API Gateway's limit (read to its end regardless). */
async function readBody(req: http.IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  // Never leave the loop early: that destroys the socket, and the client's next keep-alive
  // request on it fails with ECONNRESET. Past the limit the rest is read and dropped.
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size <= API_GATEWAY_MAX_BODY_BYTES) chunks.push(chunk as Buffer);
  }
  return size > API_GATEWAY_MAX_BODY_BYTES ? undefined : Buffer.concat(chunks);
}

/** API Gateway's request ids look like `Jx3vYhWZoAMEVXw=`: base64 of 11 random bytes. */
function apiGatewayRequestId(): string {
  return randomBytes(11).toString('base64');
}

function toEvent(
  req: http.IncomingMessage,
  url: URL,
  method: string,
  body: Buffer,
  route: { requestId: string; routeKey: string; pathParameters: Record<string, string> },
): APIGatewayProxyEventV2 {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(',') : value;
  }
  const queryStringParameters: Record<string, string> = {};
  for (const [name, value] of url.searchParams) {
    queryStringParameters[name] = name in queryStringParameters ? `${queryStringParameters[name]},${value}` : value;
  }
  // API Gateway moves cookies out of the headers into their own list.
  const cookies = headers.cookie?.split(';').map((c) => c.trim()).filter(Boolean);
  delete headers.cookie;
  const isText = TEXT_TYPES.test(headers['content-type'] ?? '') && isValidUtf8(body);
  const now = new Date();
  return {
    version: '2.0',
    routeKey: route.routeKey,
    rawPath: url.pathname,
    rawQueryString: url.search.replace(/^\?/, ''),
    ...(cookies?.length ? { cookies } : {}),
    headers,
    queryStringParameters: url.search ? queryStringParameters : undefined,
    pathParameters: Object.keys(route.pathParameters).length > 0 ? route.pathParameters : undefined,
    body: body.length === 0 ? undefined : isText ? body.toString('utf8') : body.toString('base64'),
    isBase64Encoded: body.length > 0 && !isText,
    requestContext: {
      accountId: 'local',
      apiId: 'local',
      domainName: headers.host ?? 'localhost',
      domainPrefix: 'localhost',
      http: {
        method,
        path: url.pathname,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: (req.socket.remoteAddress ?? '127.0.0.1').replace(/^::ffff:/, ''),
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: route.requestId,
      routeKey: route.routeKey,
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

/** The host as a URL names it: every interface by `localhost`, an IPv6 address in brackets. */
function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return 'localhost';
  return host.includes(':') ? `[${host}]` : host;
}
