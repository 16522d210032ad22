import { buildDatabaseService, createLogger, createMetrics } from '../app';
import { loadConfig } from '../config';
import { createFlightsReplaceHandler } from '../flights/flights-routes';

const config = loadConfig();
const logger = createLogger(config.logLevel);
const metrics = createMetrics(config);
// The SQL worker compiles its WASM while the rest loads and the first request fetches.
const built = buildDatabaseService(config, logger, { prestartEngine: true }, metrics);
export const handler = createFlightsReplaceHandler({ config, logger, metrics, service: built.service });
