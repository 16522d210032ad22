import { buildDatabaseService, createLogger } from '../app';
import { loadConfig } from '../config';
import { createFlightsReplaceHandler } from '../flights/flights-routes';

const config = loadConfig();
const logger = createLogger(config.logLevel);
export const handler = createFlightsReplaceHandler({ config, logger, service: buildDatabaseService(config, logger).service });
