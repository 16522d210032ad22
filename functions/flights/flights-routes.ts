import { createHash } from 'node:crypto';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { Config } from '../config';
import { DatabaseNotFoundError, NotReadyError, UnauthorizedError } from '../core/errors';
import type { Logger } from '../core/logger';
import { isMissingSchema } from '../core/migrations';
import { createAuthenticator, type AuthConfig } from '../auth-composition';
import type { Principal } from '../core/principal';
import type { Authenticator } from '../http/auth';
import { corsPolicy } from '../http/cors';
import { idempotencyKeyHeader } from '../http/field-rules';
import type { RequestMetrics } from '../http/metrics';
import { httpHandler } from '../http/middleware';
import { jsonResponse, type HttpResponse } from '../http/responses';
import type { SqlService, WritingService } from '../http/service';
import { flightPage, flightSearchProgram, flightsReplaceProgram, toFlightRows, type FlightSearch } from './flights';
import { parseFlightItems, parseFlightsQuery } from './flights-request';

/**
 * `GET /flights` (public) and `POST /flights` (password or write key): the flights tenant on
 * the core's own read and write paths, against the database named by FLIGHTS_DATABASE.
 */

export interface FlightsSearchDeps {
  config: Pick<Config, 'flightsDatabase' | 'eventualMaxAgeMs' | 'corsAllowedOrigins'>;
  logger: Logger;
  metrics?: RequestMetrics;
  service: SqlService;
}

export function createFlightsSearchHandler({ config, logger, metrics, service }: FlightsSearchDeps) {
  const database = config.flightsDatabase;
  // Browsers and CDNs may reuse an answer for as long as the read itself may be stale.
  const maxAgeSeconds = Math.floor(config.eventualMaxAgeMs / 1000);
  const cacheControl = maxAgeSeconds > 0 ? `public, max-age=${maxAgeSeconds}` : 'no-cache';
  return httpHandler(logger, { cors: corsPolicy('GET', '/flights', config.corsAllowedOrigins), metrics }, async (event, { logFields }) => {
    logFields.database = database;
    const search = parseFlightsQuery(event.queryStringParameters);
    // Eventual consistency: the data changes once a day, and under viral traffic a strong read
    // would read the version record (one DynamoDB GetItem) per request. An eventual read answers
    // from the warm copy when its version was confirmed current at most EVENTUAL_MAX_AGE_MS ago,
    // so an answer is at most that stale; count and page still come from one version (one program).
    const response = await flightsData(() => service.execute({ database, program: flightSearchProgram(search), consistency: 'eventual' }, 'read'));
    const etag = pageEtag(response.meta.version, search);
    const headers = { 'cache-control': cacheControl, etag };
    if (matchesEtag(event.headers['if-none-match'], etag)) return notModified(headers);
    return jsonResponse(200, flightPage(response.results, search), headers);
  });
}

/**
 * The page is a function of the stored version and the normalized search (defaults filled in,
 * values trimmed, airlines de-duplicated), so that pair names it: the same search on the same
 * version gets the same ETag whatever the query string looked like.
 */
export function pageEtag(version: string | null, search: FlightSearch): string {
  const digest = createHash('sha256').update(`${version ?? ''}\n${JSON.stringify(search)}`).digest('base64url');
  return `"${digest.slice(0, 32)}"`;
}

/** If-None-Match: a list of ETags or `*`, compared weakly (RFC 9110 §13.1.2). */
export function matchesEtag(ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false;
  const tags = ifNoneMatch.split(',').map((tag) => tag.trim().replace(/^W\//, ''));
  return tags.includes('*') || tags.includes(etag);
}

function notModified(headers: Record<string, string>): HttpResponse {
  return { statusCode: 304, headers, body: '' };
}

export interface FlightsReplaceDeps {
  config: AuthConfig & Pick<Config, 'flightsDatabase' | 'limits' | 'corsAllowedOrigins'>;
  logger: Logger;
  metrics?: RequestMetrics;
  service: WritingService;
}

export function createFlightsReplaceHandler({ config, logger, metrics, service }: FlightsReplaceDeps) {
  const database = config.flightsDatabase;
  const auth = createAuthenticator(config, logger);
  const options = { cors: corsPolicy('POST', '/flights', config.corsAllowedOrigins), body: { maxBytes: config.limits.maxBodyBytes, rawSql: false }, metrics };
  return httpHandler(logger, options, async (event, { body, logFields, requestId, markChanging }) => {
    logFields.database = database;
    const principal = await authenticateReplace(event, auth, database);
    logFields.keyId = principal.keyId;
    principal.authorize('write', database);
    const items = parseFlightItems(body.kind === 'json' ? body.value : undefined);
    const rows = toFlightRows(items);
    const idempotencyKey = idempotencyKeyHeader(event.headers);
    if (idempotencyKey !== undefined) logFields.idempotencyKey = idempotencyKey;
    // One write of one batch (DELETE + INSERTs): one transaction, one stored version. A retry is
    // the same request when the flights sent are: the uuids generated for this attempt differ.
    const program = flightsReplaceProgram(rows);
    const meaning = { kind: 'flights-replace', flights: items };
    // A deleted database is 404 "restore it" to the key holder, as on every other route: no
    // migration can bring it back, so "not ready, apply the migrations" would mislead.
    const written = await flightsData(
      () => service.write({ database, program, idempotencyKey, meaning, madeBy: { keyId: principal.keyId, requestId }, onChanging: markChanging }),
      { deletedIsNotFound: true },
    );
    logFields.inserted = rows.length;
    logFields.version = written.meta.version;
    if (written.meta.replayed) logFields.replayed = true;
    return jsonResponse(200, { status: 'success', inserted: rows.length, ...(written.meta.replayed && { replayed: true }) });
  });
}

/**
 * The published API's scheme is `?password=...`; a write key as `Authorization: Bearer` works
 * too. When a Bearer key is sent it decides (a read key is 403), otherwise the password does.
 * Without a configured password only keys work. Both comparisons are constant-time.
 * (A password in the query string can end up in proxy and CDN logs; prefer the key.)
 */
async function authenticateReplace(event: APIGatewayProxyEventV2, auth: Authenticator, database: string): Promise<Principal> {
  // Only a Bearer header decides: a proxy or browser may add other schemes (Basic) on its own.
  if (/^Bearer\b/i.test(event.headers.authorization ?? '')) return auth.authenticate(event.headers.authorization);
  const given = event.queryStringParameters?.password;
  if (given === undefined) throw new UnauthorizedError('send the "password" query parameter or "Authorization: Bearer <write key>"');
  return auth.passwordPrincipal(given, database);
}

/**
 * A flights database or table that does not exist means the deployment never ran its
 * migrations: the caller did nothing wrong and cannot fix it, so it is a 503 with Retry-After,
 * not a 404 that tells a public client (and caches) the resource does not exist. The reason
 * (`no such table` / DATABASE_NOT_FOUND) travels as `cause` to the log, not to the caller.
 */
async function flightsData<T>(run: () => Promise<T>, { deletedIsNotFound = false } = {}): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (deletedIsNotFound && error instanceof DatabaseNotFoundError && error.deleted) throw error;
    if (isMissingSchema(error, 'flights')) {
      throw new NotReadyError('flights are not available yet: the flights table does not exist (apply the migrations)', { cause: error });
    }
    throw error;
  }
}
