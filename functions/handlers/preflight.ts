import { createLogger } from '../logging';
import { loadConfig } from '../config';
import { createPreflightHandler } from '../http/cors';

// Answers the OPTIONS routes of every path: browsers ask it before a cross-origin call.
const config = loadConfig();
export const handler = createPreflightHandler({ config, logger: createLogger(config.logLevel) });
