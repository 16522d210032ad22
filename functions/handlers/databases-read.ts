import { buildDatabaseService, createLogger, createMetrics } from '../app';
import { loadConfig } from '../config';
import { createLifecycleRoutes, dispatchByRoute } from '../http/database-routes';

/** GET /databases, /databases/{name}, /databases/{name}/versions, /databases/{name}/export. */
const config = loadConfig();
const logger = createLogger(config.logLevel);
const metrics = createMetrics(config);
export const handler = dispatchByRoute(createLifecycleRoutes({ config, logger, metrics, lifecycle: buildDatabaseService(config, logger, {}, metrics).lifecycle }).read);
