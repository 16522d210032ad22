import { buildDatabaseService, createLogger, createMetrics, type BuiltService, type ServiceOverrides } from './app';
import type { Config } from './config';
import type { Logger } from './core/logger';
import { createFlightsReplaceHandler, createFlightsSearchHandler } from './flights/flights-routes';
import { createPreflightHandler } from './http/cors';
import { createLifecycleRoutes } from './http/database-routes';
import { createHealthHandler } from './http/health-route';
import type { RequestMetrics } from './http/metrics';
import { createOpenApiHandler } from './http/openapi-route';
import { createSqlHandler } from './http/sql-routes';

/**
 * Every route in one process (the local server, tests, the bench), wired by the same composition
 * root as the Lambda handlers. Kept apart from `app.ts` so a handler's bundle holds only its own
 * route, not every other one.
 */
/** Every route served by one process (local server, tests): one service shared by all routes. */
export interface App extends BuiltService {
  config: Config;
  logger: Logger;
  metrics: RequestMetrics;
}

export function createApp(config: Config, logger: Logger = createLogger(config.logLevel), overrides: ServiceOverrides = {}, metrics = createMetrics(config)): App {
  return { config, logger, metrics, ...buildDatabaseService(config, logger, overrides, metrics) };
}

/** Every HTTP route and its handler; serverless.yml declares the same routes for API Gateway. */
export function createRoutes(app: App) {
  const deps = { config: app.config, logger: app.logger, metrics: app.metrics, service: app.service };
  const preflight = createPreflightHandler(deps);
  const lifecycle = createLifecycleRoutes({ ...deps, lifecycle: app.lifecycle });
  return {
    'POST /sql': createSqlHandler(deps),
    'GET /health': createHealthHandler(deps),
    'GET /flights': createFlightsSearchHandler(deps),
    'POST /flights': createFlightsReplaceHandler(deps),
    'GET /openapi.json': createOpenApiHandler(deps),
    'OPTIONS /sql': preflight,
    'OPTIONS /health': preflight,
    'OPTIONS /flights': preflight,
    'OPTIONS /openapi.json': preflight,
    ...lifecycle.read,
    ...lifecycle.write,
    'OPTIONS /databases': preflight,
    'OPTIONS /databases/{name}': preflight,
    'OPTIONS /databases/{name}/versions': preflight,
    'OPTIONS /databases/{name}/export': preflight,
    'OPTIONS /databases/{name}/restore': preflight,
    'OPTIONS /databases/{name}/import': preflight,
    'OPTIONS /databases/{name}/clone': preflight,
  };
}
