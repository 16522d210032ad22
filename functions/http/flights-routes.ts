import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { App } from '../app';
import { NotReadyError, UnauthorizedError } from '../core/errors';
import { flightPage, flightSearchProgram, flightsReplaceProgram, toFlightRows } from '../core/flights';
import { isMissingSchema } from '../core/migrations';
import { createAuthenticator } from '../auth-composition';
import type { Principal } from '../core/principal';
import type { Authenticator } from './auth';
import { parseFlightItems, parseFlightsQuery } from './flights-request';
import { parseJsonBody } from './json-body';
import { httpHandler } from './middleware';
import { jsonResponse } from './responses';

/**
 * `GET /flights` (public) and `POST /flights` (password or write key): the flights tenant on
 * the core's own read and write paths, against the database named by FLIGHTS_DATABASE.
 */

export function createFlightsSearchHandler(app: App) {
  const database = app.config.flightsDatabase;
  // Browsers and CDNs may reuse an answer for as long as the read itself may be stale.
  const maxAgeSeconds = Math.floor(app.config.eventualMaxAgeMs / 1000);
  const cacheControl = maxAgeSeconds > 0 ? `public, max-age=${maxAgeSeconds}` : 'no-store';
  return httpHandler(app.logger, async (event, logFields) => {
    logFields.database = database;
    const search = parseFlightsQuery(event.queryStringParameters);
    // Eventual consistency: the data changes once a day, and under viral traffic a strong read
    // would send one conditional GET to S3 per request. An eventual read answers from the warm
    // copy when S3 confirmed it at most EVENTUAL_MAX_AGE_MS ago, so an answer is at most that
    // stale; count and page still come from one version (one program).
    const response = await flightsData(() =>
      app.service.execute({ database, program: flightSearchProgram(search), consistency: 'eventual' }, 'read'),
    );
    return jsonResponse(200, flightPage(response.results, search), { 'cache-control': cacheControl });
  });
}

export function createFlightsReplaceHandler(app: App) {
  const database = app.config.flightsDatabase;
  const auth = createAuthenticator(app.config, app.logger);
  return httpHandler(app.logger, async (event, logFields) => {
    logFields.database = database;
    const principal = await authenticateReplace(event, auth, database);
    logFields.keyId = principal.keyId;
    principal.authorize('write', database);
    const body = parseJsonBody(
      { body: event.body, isBase64Encoded: event.isBase64Encoded, contentType: event.headers['content-type'] },
      app.config.limits.maxBodyBytes,
    );
    const rows = toFlightRows(parseFlightItems(body));
    // One write of one batch (DELETE + INSERTs): one transaction, one stored version.
    const program = flightsReplaceProgram(rows);
    await flightsData(() => app.service.write({ database, program }));
    logFields.inserted = rows.length;
    return jsonResponse(200, { status: 'success', inserted: rows.length });
  });
}

/**
 * The published API's scheme is `?password=...`; a write key as `Authorization: Bearer` works
 * too. When a Bearer key is sent it decides (it needs write on the flights database), otherwise
 * the password does: it maps to a principal that may write the flights database and nothing
 * else. Without a configured password only keys work. Both comparisons are constant-time.
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
async function flightsData<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (isMissingSchema(error, 'flights')) {
      throw new NotReadyError('flights are not available yet: the flights table does not exist (apply the migrations)', { cause: error });
    }
    throw error;
  }
}
