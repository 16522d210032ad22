import { createLogger } from '../logging';
import { loadConfig } from '../config';
import { createOpenApiHandler } from '../http/openapi-route';

export const handler = createOpenApiHandler({ logger: createLogger(loadConfig().logLevel) });
