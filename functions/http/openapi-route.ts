import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import type { Logger } from '../core/logger';
import { corsPolicy } from './cors';
import { httpHandler } from './middleware';
import { jsonResponse } from './responses';

/**
 * `GET /openapi.json`: docs/openapi.yaml as JSON. A deployment ships the YAML beside the bundle
 * (scripts/build.ts copies it there); from source it is read from docs/.
 */
export function openApiDocumentPath(): string {
  const bundled = path.join(__dirname, 'openapi.yaml');
  return existsSync(bundled) ? bundled : path.resolve(__dirname, '../../docs/openapi.yaml');
}

export function loadOpenApiDocument(): Record<string, unknown> {
  return parse(readFileSync(openApiDocumentPath(), 'utf8')) as Record<string, unknown>;
}

export function createOpenApiHandler({ logger }: { logger: Logger }) {
  let document: Record<string, unknown> | undefined;
  return httpHandler(logger, { cors: corsPolicy('GET', '/openapi.json', []) }, async () => {
    // Read on first use, so a container that never serves it never parses it.
    document ??= loadOpenApiDocument();
    return jsonResponse(200, document, { 'cache-control': 'public, max-age=300' });
  });
}
