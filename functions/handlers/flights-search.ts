import { buildDatabaseService, createLogger, createMetrics } from '../app';
import { loadConfig } from '../config';
import { createFlightsSearchHandler } from '../flights/flights-routes';

const config = loadConfig();
const logger = createLogger(config.logLevel);
const metrics = createMetrics(config);
// Public and read-only: no keys; its role may only read version records and objects.
// The SQL worker compiles its WASM while the rest loads and the first request fetches.
const built = buildDatabaseService(config, logger, { prestartEngine: true }, metrics);
export const handler = createFlightsSearchHandler({ config, logger, metrics, service: built.service });
