import { buildDatabaseService, createLogger } from '../app';
import { loadConfig } from '../config';
import { createSqlHandler } from '../http/sql-routes';

const config = loadConfig();
const logger = createLogger(config.logLevel);
export const handler = createSqlHandler({ config, logger, service: buildDatabaseService(config, logger).service });
