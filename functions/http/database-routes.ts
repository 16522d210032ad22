import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { createAuthenticator, type AuthConfig } from '../auth-composition';
import type { Authenticator } from './auth';
import type { Config } from '../config';
import type { ChangeAnswer, DatabaseLifecycle, Transfer } from '../core/database-lifecycle';
import { assertDatabaseName } from '../core/database-name';
import { BadRequestError } from '../core/errors';
import type { Logger } from '../core/logger';
import type { MadeBy } from '../core/ports';
import type { Principal, Role } from '../core/principal';
import { corsPolicy } from './cors';
import { idempotencyKeyHeader, pastVersionOf, unknownName } from './field-rules';
import type { RequestMetrics } from './metrics';
import { httpHandler, type LogFields } from './middleware';
import type { BodyOptions, RequestBody } from './request-body';
import { jsonResponse, type HttpResponse } from './responses';

/**
 * The database lifecycle over HTTP: list, info, versions, export (read keys); restore, import,
 * clone, delete (write keys). Each handler authenticates, checks the key's scope on every
 * database it touches (before any storage request), parses, makes one call into the lifecycle
 * and shapes its answer.
 */
export interface LifecycleApp {
  config: AuthConfig & Pick<Config, 'limits' | 'corsAllowedOrigins'>;
  logger: Logger;
  metrics?: RequestMetrics;
  lifecycle: DatabaseLifecycle;
}


interface Call {
  event: APIGatewayProxyEventV2;
  /** The parsed body, for routes that take one. */
  body?: RequestBody;
  name: string;
  principal: Principal;
  query: Record<string, string | undefined>;
  /** The idempotency key and who is asking, for changes. */
  context: { idempotencyKey?: string; madeBy: MadeBy };
  logFields: LogFields;
}

/** The routes of one Lambda share one authenticator: one key cache, one secret cache, one client. */
type Routes = LifecycleApp & { auth: Authenticator };

/** The query parameters each route reads; any other is a 400 naming the nearest (a typo must not pass unnoticed). */
const QUERY_PARAMETERS: Record<string, readonly string[]> = {
  'GET /databases': ['limit', 'cursor', 'deleted'],
  'GET /databases/{name}/versions': ['limit', 'before'],
  'GET /databases/{name}/export': ['format', 'version', 'as_of'],
  'DELETE /databases/{name}': ['confirm'],
};

function route(app: Routes, method: string, path: string, role: Role, handle: (call: Call) => Promise<HttpResponse>, body?: Omit<BodyOptions, 'maxBytes'>) {
  const { auth } = app;
  const options = { cors: corsPolicy(method, path, app.config.corsAllowedOrigins), metrics: app.metrics };
  const handler = async (event: APIGatewayProxyEventV2, { logFields, requestId, markChanging, body }: { logFields: LogFields; requestId: string; markChanging: () => void; body?: RequestBody }) => {
    const principal = await auth.authenticate(event.headers.authorization);
    logFields.keyId = principal.keyId;
    const name = event.pathParameters?.name ?? '';
    if (name) {
      logFields.database = name;
      // A name first, then its scope, as POST /sql does: a bad name is a 400 on every route.
      assertDatabaseName(name);
      principal.authorize(role, name);
    }
    const idempotencyKey = idempotencyKeyHeader(event.headers);
    if (idempotencyKey !== undefined) logFields.idempotencyKey = idempotencyKey;
    const context = { idempotencyKey, madeBy: { keyId: principal.keyId, requestId }, onChanging: markChanging };
    const query = event.queryStringParameters ?? {};
    const known = QUERY_PARAMETERS[`${method} ${path}`] ?? [];
    const unknown = Object.keys(query).find((parameter) => !known.includes(parameter));
    if (unknown !== undefined) throw new BadRequestError(known.length > 0 ? unknownName('query parameter', unknown, known) : `unknown query parameter "${unknown}"; this route takes none`);
    return handle({ event, body, name, principal, query, context, logFields });
  };
  return body ? httpHandler(app.logger, { ...options, body: { maxBytes: app.config.limits.maxBodyBytes, ...body } }, handler) : httpHandler(app.logger, options, handler);
}

/** `GET /databases?limit=&cursor=&deleted=true` */
function createListDatabasesHandler(app: Routes) {
  return route(app, 'GET', '/databases', 'read', async ({ query, principal }) => {
    return jsonResponse(
      200,
      await app.lifecycle.list({ limit: integerParam(query.limit, 'limit', 100), cursor: query.cursor, includeDeleted: booleanParam(query.deleted, 'deleted'), patterns: principal.patterns }),
    );
  });
}

/** `GET /databases/{name}` */
function createDatabaseInfoHandler(app: Routes) {
  return route(app, 'GET', '/databases/{name}', 'read', async ({ name }) => jsonResponse(200, await app.lifecycle.info(name)));
}

/** `GET /databases/{name}/versions?limit=&before=` */
function createDatabaseVersionsHandler(app: Routes) {
  return route(app, 'GET', '/databases/{name}/versions', 'read', async ({ name, query }) =>
    jsonResponse(200, await app.lifecycle.versions(name, { limit: integerParam(query.limit, 'limit', 20), before: versionParam(query.before, 'before') })),
  );
}

/** `GET /databases/{name}/export?format=sqlite|sql&version=&as_of=` */
function createExportHandler(app: Routes) {
  return route(app, 'GET', '/databases/{name}/export', 'read', async ({ name, query }) => {
    const format = query.format ?? 'sqlite';
    if (format !== 'sqlite' && format !== 'sql') throw new BadRequestError('format must be "sqlite" or "sql"');
    const exported = await app.lifecycle.export(name, format, pastVersionOf(query.version, query.as_of, false));
    return transferResponse(exported.transfer, exported.version, format === 'sqlite' ? `${name}.sqlite` : `${name}.sql`);
  });
}

/** `POST /databases/{name}/restore` `{"version"}` or `{"as_of"}` */
function createRestoreHandler(app: Routes) {
  return route(
    app,
    'POST',
    '/databases/{name}/restore',
    'write',
    async ({ body, name, context }) => {
      const fields = jsonFields(body, ['version', 'as_of']);
      return changeResponse(await app.lifecycle.restore(name, pastVersionOf(fields.version, fields.as_of, true)!, context));
    },
    JSON_ONLY,
  );
}

/**
 * `POST /databases/{name}/import`: the file itself (`Content-Type: application/vnd.sqlite3`), or
 * JSON `{"upload": true}` for a presigned upload of a larger file, then `{"staged": "<key>"}`.
 */
function createImportHandler(app: Routes) {
  return route(
    app,
    'POST',
    '/databases/{name}/import',
    'write',
    async ({ body, name, context }) => {
      if (body?.kind === 'file') return changeResponse(await app.lifecycle.import(name, { bytes: body.bytes }, context));
      if (body?.kind === 'sql') return changeResponse(await app.lifecycle.import(name, { bytes: Buffer.from(body.sql, 'utf8'), format: 'sql' }, context));
      const fields = jsonFields(body, ['upload', 'staged', 'format', 'sha256']);
      if (fields.upload === true && fields.staged === undefined) {
        const staged = await app.lifecycle.stageUpload(name);
        return jsonResponse(200, {
          staged: staged.staged,
          upload: { url: staged.upload.url, fields: staged.upload.fields, expires_at: new Date(staged.upload.expiresAtMs).toISOString() },
          max_bytes: staged.max_bytes,
        });
      }
      if (typeof fields.staged === 'string' && fields.upload === undefined) {
        const format = fields.format ?? 'sqlite';
        if (format !== 'sqlite' && format !== 'sql') throw new BadRequestError('"format" must be "sqlite" (a database file, the default) or "sql" (a SQL dump)');
        const { sha256 } = fields;
        if (sha256 !== undefined && (typeof sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(sha256))) throw new BadRequestError('"sha256" must be the 64 lower-case hex digits of the uploaded file\'s SHA-256');
        return changeResponse(await app.lifecycle.import(name, { staged: fields.staged, format, ...(sha256 !== undefined && { sha256 }) }, context));
      }
      throw new BadRequestError('send either {"upload": true} or {"staged": "<key from the upload answer>", "format"?: "sqlite" | "sql", "sha256"?: "<hex>"}');
    },
    { rawSql: false, files: true },
  );
}

/** `POST /databases/{name}/clone` `{"to", "version"?, "as_of"?}` */
function createCloneHandler(app: Routes) {
  // The source is only read; the target is created: `read` on the source, `write` on the target.
  return route(
    app,
    'POST',
    '/databases/{name}/clone',
    'read',
    async ({ body, name, principal, context, logFields }) => {
      const fields = jsonFields(body, ['to', 'version', 'as_of']);
      if (typeof fields.to !== 'string') throw new BadRequestError('"to" must name the new database');
      assertDatabaseName(fields.to);
      logFields.to = fields.to;
      principal.authorize('write', fields.to);
      return changeResponse(await app.lifecycle.clone(name, fields.to, pastVersionOf(fields.version, fields.as_of, false), context));
    },
    JSON_ONLY,
  );
}

/** `DELETE /databases/{name}?confirm={name}` */
function createDeleteHandler(app: Routes) {
  return route(app, 'DELETE', '/databases/{name}', 'write', async ({ name, query, context }) => changeResponse(await app.lifecycle.delete(name, query.confirm, context)));
}

// ---------------------------------------------------------------------------------------------

const JSON_ONLY = { rawSql: false };

/** The fields of a JSON object body (restore, clone, staged import), known fields only. */
function jsonFields(body: RequestBody | undefined, fields: string[]): Record<string, unknown> {
  const value = body?.kind === 'json' ? body.value : undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new BadRequestError('request body must be a JSON object');
  const unknown = Object.keys(value).find((key) => !fields.includes(key));
  if (unknown) throw new BadRequestError(`unknown field "${unknown}"; expected ${fields.map((f) => `"${f}"`).join(', ')}`);
  return value as Record<string, unknown>;
}

function booleanParam(value: string | undefined, name: string): boolean {
  if (value === undefined || value === 'false') return false;
  if (value === 'true') return true;
  throw new BadRequestError(`${name} must be "true" or "false"`);
}

/** A version id from the query: absent, or not empty (an empty one would silently list nothing). */
function versionParam(value: string | undefined, name: string): string | undefined {
  if (value === '') throw new BadRequestError(`${name} must name a version id (the last "version" of the previous page)`);
  return value;
}

/** A page size: any positive integer (the lifecycle caps it at its page's maximum). */
function integerParam(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d{1,15}$/.test(value) || Number(value) < 1) throw new BadRequestError(`${name} must be a positive integer`);
  return Number(value);
}

function changeResponse(answer: ChangeAnswer): HttpResponse {
  return jsonResponse(200, { version: answer.version, ...answer.fields, ...(answer.fields.converted_from_wal !== undefined && { converted_from_wal: answer.fields.converted_from_wal === 1 }), ...(answer.replayed && { replayed: true }) });
}

function transferResponse(transfer: Transfer, version: string, fileName: string): HttpResponse {
  if (transfer.kind === 'presigned') {
    return jsonResponse(200, { version, url: transfer.request.url, expires_at: new Date(transfer.request.expiresAtMs).toISOString() });
  }
  const headers = { 'content-disposition': `attachment; filename="${fileName}"`, 'x-cloudlite-version': version, 'cache-control': 'no-store' };
  if (typeof transfer.body === 'string') return { statusCode: 200, headers: { 'content-type': 'application/sql; charset=utf-8', ...headers }, body: transfer.body };
  // Binary bodies travel base64-encoded through API Gateway.
  return { statusCode: 200, headers: { 'content-type': 'application/vnd.sqlite3', ...headers }, body: Buffer.from(transfer.body).toString('base64'), isBase64Encoded: true };
}

/** Every lifecycle route by its API Gateway route key; serverless.yml declares the same. */
export function createLifecycleRoutes(lifecycleApp: LifecycleApp) {
  const app: Routes = { ...lifecycleApp, auth: createAuthenticator(lifecycleApp.config, lifecycleApp.logger) };
  return {
    read: {
      'GET /databases': createListDatabasesHandler(app),
      'GET /databases/{name}': createDatabaseInfoHandler(app),
      'GET /databases/{name}/versions': createDatabaseVersionsHandler(app),
      'GET /databases/{name}/export': createExportHandler(app),
    },
    write: {
      'POST /databases/{name}/restore': createRestoreHandler(app),
      'POST /databases/{name}/import': createImportHandler(app),
      'POST /databases/{name}/clone': createCloneHandler(app),
      'DELETE /databases/{name}': createDeleteHandler(app),
    },
  };
}

type RouteHandler = ReturnType<typeof route>;

/** One Lambda serves several routes of the same privilege: API Gateway names the route it matched. */
export function dispatchByRoute(routes: Record<string, RouteHandler>): RouteHandler {
  return ((event: APIGatewayProxyEventV2, context: Parameters<RouteHandler>[1]) => {
    const handler = routes[event.routeKey];
    if (!handler) return Promise.resolve(jsonResponse(404, { message: 'Not Found' }));
    return handler(event, context);
  }) as RouteHandler;
}
