import path from 'node:path';
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient, ResourceInUseException, UpdateTimeToLiveCommand, waitUntilTableExists } from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, PutBucketVersioningCommand, S3Client } from '@aws-sdk/client-s3';
import { startDynalite, startDynamoDbLocal, type LocalDynamoDb } from './dynamodb';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from './credentials';
import { startLocalS3, type LocalS3Server } from './s3/server';

/**
 * The local default stack: an S3-compatible server with versioning and conditional writes, and
 * a DynamoDB server, both in this process (DynamoDB Local in a Java child process when asked),
 * provisioned like the deployed stage: a versioned bucket and a lock table keyed by `lock_id`.
 */

export interface LocalStackOptions {
  /** Persist here (S3 objects under s3/, DynamoDB under dynamodb/); absent = memory only. */
  dataDir?: string;
  s3Port?: number;
  dynamoDbPort?: number;
  dynamoDb?: 'dynalite' | 'dynamodb-local';
  bucket?: string;
  lockTable?: string;
  keyTable?: string;
}

export interface LocalStack {
  s3Endpoint: string;
  dynamoDbEndpoint: string;
  bucket: string;
  lockTable: string;
  keyTable: string;
  /** Environment for the service and the SDK (endpoints, names, credentials, region). */
  env: Record<string, string>;
  close(): Promise<void>;
}

export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const bucket = options.bucket ?? 'cloudlite-local';
  const lockTable = options.lockTable ?? 'cloudlite-locks';
  const keyTable = options.keyTable ?? `${lockTable}-keys`;
  const s3: LocalS3Server = await startLocalS3({
    port: options.s3Port ?? 0, dataDir: options.dataDir && path.join(options.dataDir, 's3'), credentials: LOCAL_CREDENTIALS,
  });
  let dynamoDb: LocalDynamoDb;
  try {
    dynamoDb =
      options.dynamoDb === 'dynamodb-local'
        ? await startDynamoDbLocal({ port: options.dynamoDbPort ?? 8000 })
        : await startDynalite({ port: options.dynamoDbPort ?? 0, dataDir: options.dataDir && path.join(options.dataDir, 'dynamodb') });
  } catch (error) {
    await s3.close();
    throw error;
  }
  const stack: LocalStack = {
    s3Endpoint: s3.endpoint,
    dynamoDbEndpoint: dynamoDb.endpoint,
    bucket,
    lockTable,
    keyTable,
    env: {
      S3_ENDPOINT: s3.endpoint,
      S3_BUCKET: bucket,
      DYNAMODB_ENDPOINT: dynamoDb.endpoint,
      LOCK_TABLE: lockTable,
      KEY_TABLE: keyTable,
      AWS_REGION: LOCAL_REGION,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    },
    close: async () => {
      await Promise.all([s3.close(), dynamoDb.close()]);
    },
  };
  try {
    await provision(stack);
  } catch (error) {
    await stack.close();
    throw error;
  }
  return stack;
}

/** Creates the bucket (versioned), the lock table and the key table (TTL on expires_at); safe to repeat. */
export async function provision(stack: Pick<LocalStack, 's3Endpoint' | 'dynamoDbEndpoint' | 'bucket' | 'lockTable'> & { keyTable?: string }): Promise<void> {
  const s3 = new S3Client({ endpoint: stack.s3Endpoint, forcePathStyle: true, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  const dynamoDb = new DynamoDBClient({ endpoint: stack.dynamoDbEndpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  try {
    await s3.send(new CreateBucketCommand({ Bucket: stack.bucket })).catch((error: Error) => {
      if (error.name !== 'BucketAlreadyOwnedByYou') throw error;
    });
    await s3.send(new PutBucketVersioningCommand({ Bucket: stack.bucket, VersioningConfiguration: { Status: 'Enabled' } }));
    const tables = [
      { name: stack.lockTable, key: 'lock_id' },
      ...(stack.keyTable ? [{ name: stack.keyTable, key: 'key_hash' }] : []),
    ];
    for (const table of tables) await createTable(dynamoDb, table.name, table.key);
  } finally {
    s3.destroy();
    dynamoDb.destroy();
  }
}

async function createTable(dynamoDb: DynamoDBClient, name: string, partitionKey: string): Promise<void> {
  const exists = await dynamoDb.send(new DescribeTableCommand({ TableName: name })).then(
    () => true,
    () => false,
  );
  if (!exists) {
    await dynamoDb
      .send(
        new CreateTableCommand({
          TableName: name,
          AttributeDefinitions: [{ AttributeName: partitionKey, AttributeType: 'S' }],
          KeySchema: [{ AttributeName: partitionKey, KeyType: 'HASH' }],
          BillingMode: 'PAY_PER_REQUEST',
        }),
      )
      .catch((error: unknown) => {
        if (!(error instanceof ResourceInUseException)) throw error;
      });
    await waitUntilTableExists({ client: dynamoDb, maxWaitTime: 30 }, { TableName: name });
    // dynalite does not implement TTL; correctness never depends on the sweep anyway.
    await dynamoDb
      .send(new UpdateTimeToLiveCommand({ TableName: name, TimeToLiveSpecification: { AttributeName: 'expires_at', Enabled: true } }))
      .catch(() => undefined);
  }
}
