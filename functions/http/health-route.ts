import { version } from '../../package.json';
import type { Logger } from '../core/logger';
import { corsPolicy } from './cors';
import { httpHandler } from './middleware';
import { jsonResponse } from './responses';

/** `GET /health`: no dependencies touched, so it answers even when S3 or DynamoDB do not. */
export function createHealthHandler({ logger }: { logger: Logger }) {
  return httpHandler(logger, { cors: corsPolicy('GET', '/health', []) }, async () => jsonResponse(200, { status: 'ok', service: 'cloudlite', version }));
}
