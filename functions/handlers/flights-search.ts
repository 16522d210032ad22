import { buildDatabaseService, createLogger, createMetrics } from '../app';
import { loadConfig } from '../config';
import { createFlightsSearchHandler } from '../flights/flights-routes';

const config = loadConfig();
const logger = createLogger(config.logLevel);
const metrics = createMetrics(config);
// Public and read-only: no keys; its role may only read version records and objects.
export const handler = createFlightsSearchHandler({ config, logger, metrics, service: buildDatabaseService(config, logger, {}, metrics).service });
