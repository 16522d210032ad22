import { createLogger } from '../logging';
import { loadConfig } from '../config';
import { createHealthHandler } from '../http/health-route';

// A logger and nothing else: health answers even when S3 or DynamoDB do not.
export const handler = createHealthHandler({ logger: createLogger(loadConfig().logLevel) });
