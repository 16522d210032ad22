import { buildDatabaseService, createLogger } from '../app';
import { loadConfig } from '../config';
import { createLifecycleRoutes, dispatchByRoute } from '../http/database-routes';

/** POST /databases/{name}/restore, /import, /clone and DELETE /databases/{name}. */
const config = loadConfig();
const logger = createLogger(config.logLevel);
export const handler = dispatchByRoute(createLifecycleRoutes({ config, logger, lifecycle: buildDatabaseService(config, logger).lifecycle }).write);
