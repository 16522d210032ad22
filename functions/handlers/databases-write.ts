import { buildDatabaseService, createLogger, createMetrics } from '../app';
import { loadConfig } from '../config';
import { createLifecycleRoutes, dispatchByRoute } from '../http/database-routes';

/** POST /databases/{name}/restore, /import, /clone and DELETE /databases/{name}. */
const config = loadConfig();
const logger = createLogger(config.logLevel);
const metrics = createMetrics(config);
export const handler = dispatchByRoute(createLifecycleRoutes({ config, logger, metrics, lifecycle: buildDatabaseService(config, logger, {}, metrics).lifecycle }).write);
