import type { App } from '../app';
import { createHealthHandler, createSqlHandler } from './sql-routes';

/** Every HTTP route and its handler; serverless.yml declares the same routes for API Gateway. */
export function createRoutes(app: App) {
  return {
    'POST /sql': createSqlHandler(app),
    'GET /health': createHealthHandler(app),
  };
}
