import { buildDatabaseService, createLogger, createMetrics } from '../app';
import { loadConfig } from '../config';
import { createFlightsReplaceHandler } from '../flights/flights-routes';

const config = loadConfig();
const logger = createLogger(config.logLevel);
const metrics = createMetrics(config);
export const handler = createFlightsReplaceHandler({ config, logger, metrics, service: buildDatabaseService(config, logger, {}, metrics).service });
