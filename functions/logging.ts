import { Logger as PowertoolsLogger } from '@aws-lambda-powertools/logger';
import type { Config } from './config';
import type { Logger } from './core/logger';

/**
 * Structured JSON logs through Powertools, behind the core's small Logger interface. A module of
 * its own so that handlers needing only a logger (health, openapi, preflight) bundle no SDK client.
 */
export function createLogger(logLevel: Config['logLevel']): Logger {
  const powertools = new PowertoolsLogger({ serviceName: 'cloudlite', logLevel });
  return {
    debug: (message, fields) => powertools.debug(message, fields ?? {}),
    info: (message, fields) => powertools.info(message, fields ?? {}),
    warn: (message, fields) => powertools.warn(message, fields ?? {}),
    error: (message, fields) => powertools.error(message, fields ?? {}),
  };
}
