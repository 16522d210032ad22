import { buildDatabaseService, createLogger } from '../app';
import { loadConfig } from '../config';
import { createLifecycleRoutes, dispatchByRoute } from '../http/database-routes';

/** GET /databases, /databases/{name}, /databases/{name}/versions, /databases/{name}/export. */
const config = loadConfig();
const logger = createLogger(config.logLevel);
export const handler = dispatchByRoute(createLifecycleRoutes({ config, logger, lifecycle: buildDatabaseService(config, logger).lifecycle }).read);
