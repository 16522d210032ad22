import { buildDatabaseService, createLogger, createMetrics } from '../app';
import { loadConfig } from '../config';
import { createSqlHandler } from '../http/sql-routes';

const config = loadConfig();
const logger = createLogger(config.logLevel);
const metrics = createMetrics(config);
export const handler = createSqlHandler({ config, logger, metrics, service: buildDatabaseService(config, logger, {}, metrics).service });
