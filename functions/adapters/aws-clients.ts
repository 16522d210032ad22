import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Config } from '../config';

/**
 * SDK clients built from config. Endpoints are set only for local servers (path-style S3 there).
 * Every request has a timeout that throws (the SDK only warns by default), so a hung
 * connection becomes a retryable error instead of a hang.
 */
export function createS3Client(config: Pick<Config, 'region' | 's3Endpoint' | 's3RequestTimeoutMs'>): S3Client {
  return new S3Client({
    region: config.region,
    endpoint: config.s3Endpoint,
    forcePathStyle: config.s3Endpoint !== undefined,
    requestHandler: { requestTimeout: config.s3RequestTimeoutMs, connectionTimeout: 3_000, throwOnRequestTimeout: true },
    maxAttempts: 3,
    // The middleware stack is resolved once per command, not on every request: nothing changes
    // a stack after its first request. (lib-dynamodb's document client refuses this option.)
    cacheMiddleware: true,
  });
}

export function createDynamoDbClient(
  config: Pick<Config, 'region' | 'dynamoDbEndpoint' | 'dynamoDbRequestTimeoutMs'>,
): DynamoDBDocumentClient {
  const client = new DynamoDBClient({
    region: config.region,
    endpoint: config.dynamoDbEndpoint,
    requestHandler: { requestTimeout: config.dynamoDbRequestTimeoutMs, connectionTimeout: 2_000, throwOnRequestTimeout: true },
    maxAttempts: 3,
  });
  return DynamoDBDocumentClient.from(client);
}
