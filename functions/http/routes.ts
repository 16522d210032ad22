import type { App } from '../app';
import { createLifecycleRoutes } from './database-routes';
import { createFlightsReplaceHandler, createFlightsSearchHandler } from './flights-routes';
import { createHealthHandler, createSqlHandler } from './sql-routes';

/** Every HTTP route and its handler; serverless.yml declares the same routes for API Gateway. */
export function createRoutes(app: App) {
  return {
    'POST /sql': createSqlHandler(app),
    'GET /health': createHealthHandler(app),
    'GET /flights': createFlightsSearchHandler(app),
    'POST /flights': createFlightsReplaceHandler(app),
    ...createLifecycleRoutes(app).read,
    ...createLifecycleRoutes(app).write,
  };
}
