import { buildDatabaseService, createLogger } from '../app';
import { loadConfig } from '../config';
import { createFlightsSearchHandler } from '../flights/flights-routes';

const config = loadConfig();
const logger = createLogger(config.logLevel);
// Public and read-only: no keys; its role may only read version records and objects.
export const handler = createFlightsSearchHandler({ config, logger, service: buildDatabaseService(config, logger).service });
