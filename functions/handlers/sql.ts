import { buildDatabaseService, createLogger } from '../app';
import { loadConfig } from '../config';
import { createSqlHandler } from '../http/sql-routes';

const config = loadConfig();
const logger = createLogger(config.logLevel);
// The SQL worker compiles its WASM while the rest loads and the first request fetches.
const built = buildDatabaseService(config, logger, { prestartEngine: true });
export const handler = createSqlHandler({ config, logger, service: built.service });
