import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { Logger } from '../core/logger';
import { httpHandler } from './middleware';
import type { HttpResponse } from './responses';

/**
 * CORS, answered by the functions themselves: an HTTP API's own `cors` setting is one policy for
 * the whole API (and makes API Gateway ignore the functions' CORS headers), but the public reads
 * allow every origin while the keyed routes allow only the origins configured per stage.
 *
 * The table below is the only place that says which route is which; the routes take their policy
 * from it and the OPTIONS handler answers preflights from it.
 */

type Access = 'public' | 'keyed';

export const CORS_ROUTES: Readonly<Record<string, Readonly<Record<string, Access>>>> = {
  '/sql': { POST: 'keyed' },
  '/flights': { GET: 'public', POST: 'keyed' },
  '/health': { GET: 'public' },
  '/openapi.json': { GET: 'public' },
  '/databases': { GET: 'keyed' },
  '/databases/{name}': { GET: 'keyed', DELETE: 'keyed' },
  '/databases/{name}/versions': { GET: 'keyed' },
  '/databases/{name}/export': { GET: 'keyed' },
  '/databases/{name}/restore': { POST: 'keyed' },
  '/databases/{name}/import': { POST: 'keyed' },
  '/databases/{name}/clone': { POST: 'keyed' },
};

/** Response headers a browser script may read (an export's version and file name among them). */
const EXPOSED_HEADERS = 'x-request-id, retry-after, etag, x-cloudlite-version, content-disposition';
const ALLOWED_HEADERS = 'Authorization, Content-Type, Idempotency-Key, If-None-Match';
/** Browsers cache a preflight answer this long (Chromium caps it at 2 hours). */
const PREFLIGHT_MAX_AGE_SECONDS = 600;

export interface CorsPolicy {
  /** The origin to allow, or undefined when this origin may not call the route from a browser. */
  allowOrigin(origin: string | undefined): string | undefined;
  /** Whether the answer differs by Origin (caches must key on it). */
  readonly variesByOrigin: boolean;
}

export function corsPolicy(method: string, path: string, allowedOrigins: readonly string[]): CorsPolicy {
  const access = CORS_ROUTES[path]?.[method];
  if (!access) throw new Error(`no CORS policy for ${method} ${path}: add it to CORS_ROUTES`);
  return policyOf(access, allowedOrigins);
}

function policyOf(access: Access, allowedOrigins: readonly string[]): CorsPolicy {
  if (access === 'public') return { allowOrigin: () => '*', variesByOrigin: false };
  return { allowOrigin: (origin) => (origin !== undefined && allowedOrigins.includes(origin) ? origin : undefined), variesByOrigin: true };
}

/** The CORS headers of an actual (non-preflight) response. */
export function corsHeaders(policy: CorsPolicy, origin: string | undefined): Record<string, string> {
  const headers: Record<string, string> = policy.variesByOrigin ? { vary: 'Origin' } : {};
  const allowed = policy.allowOrigin(origin);
  if (allowed !== undefined) Object.assign(headers, { 'access-control-allow-origin': allowed, 'access-control-expose-headers': EXPOSED_HEADERS });
  return headers;
}

/**
 * `OPTIONS <path>`: a preflight is allowed when the requested method exists on the path and the
 * origin may use it. A refused preflight still answers 204, without the allow headers: the
 * browser then refuses the call, which is all a refusal can do.
 */
export function createPreflightHandler(deps: { config: { corsAllowedOrigins: readonly string[] }; logger: Logger }) {
  return httpHandler(deps.logger, {}, async (event) => preflight(event, deps.config.corsAllowedOrigins));
}

function preflight(event: APIGatewayProxyEventV2, allowedOrigins: readonly string[]): HttpResponse {
  // The route key names the path as declared (`OPTIONS /databases/{name}`), parameters and all.
  const methods = CORS_ROUTES[event.routeKey?.replace(/^OPTIONS /, '') ?? ''] ?? CORS_ROUTES[event.rawPath] ?? {};
  const headers: Record<string, string> = { allow: [...Object.keys(methods), 'OPTIONS'].join(', '), vary: 'Origin' };
  const origin = event.headers.origin;
  const requested = event.headers['access-control-request-method']?.toUpperCase();
  const access = requested === undefined ? undefined : methods[requested];
  const allowed = access === undefined ? undefined : policyOf(access, allowedOrigins).allowOrigin(origin);
  if (allowed !== undefined) {
    const permitted = Object.entries(methods).filter(([, a]) => policyOf(a, allowedOrigins).allowOrigin(origin) !== undefined);
    Object.assign(headers, {
      'access-control-allow-origin': allowed,
      'access-control-allow-methods': permitted.map(([method]) => method).join(', '),
      'access-control-allow-headers': ALLOWED_HEADERS,
      'access-control-max-age': String(PREFLIGHT_MAX_AGE_SECONDS),
    });
  }
  return { statusCode: 204, headers, body: '' };
}
