import { buildDatabaseService, createLogger } from '../app';
import { loadConfig } from '../config';
import { createFlightsSearchHandler } from '../flights/flights-routes';

const config = loadConfig();
const logger = createLogger(config.logLevel);
// Public and read-only: no keys, no lock client.
export const handler = createFlightsSearchHandler({ config, logger, service: buildDatabaseService(config, logger, { readOnly: true }).service });
