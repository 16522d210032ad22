import { GetObjectCommand, ListObjectVersionsCommand } from '@aws-sdk/client-s3';
import { buildDatabaseService, type BuiltService, type ServiceOverrides } from '../../functions/app';
import { silentLogger } from '../../functions/core/logger';
import type { SqlEngine } from '../../functions/core/ports';
import { testConfig, testDynamoDbClient, testS3Client } from './test-app';

/**
 * A DatabaseService built through the production wiring against the local servers, with the
 * knobs tests turn: lease timing, clocks, a wrapper around the real engine to pause a writer.
 */
export interface ServiceParts extends Omit<ServiceOverrides, 'dynamoDbClient'> {
  dynamoDbEndpoint?: string;
}

export function buildService(parts: ServiceParts = {}): BuiltService {
  const { dynamoDbEndpoint, ...overrides } = parts;
  return buildDatabaseService(testConfig(), silentLogger, { dynamoDbClient: testDynamoDbClient(dynamoDbEndpoint), ...overrides });
}

/** The stored object's current version id and every version S3 keeps for the database. */
export async function storedVersions(database: string): Promise<{ current?: string; all: string[] }> {
  const config = testConfig();
  const listed = await testS3Client().send(
    new ListObjectVersionsCommand({ Bucket: config.bucket, Prefix: `${config.keyPrefix}${database}.sqlite` }),
  );
  const versions = listed.Versions ?? [];
  return { current: versions.find((v) => v.IsLatest)?.VersionId, all: versions.map((v) => v.VersionId!) };
}

export async function storedBytes(database: string): Promise<Buffer> {
  const config = testConfig();
  const response = await testS3Client().send(new GetObjectCommand({ Bucket: config.bucket, Key: `${config.keyPrefix}${database}.sqlite` }));
  return Buffer.from(await response.Body!.transformToByteArray());
}

/** A promise with its resolve exposed: lets a test hold a writer at a chosen point. */
export function gate(): { opened: Promise<void>; open(): void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

/** Wraps the real engine so each write, once executed, waits for `hold` before it is stored. */
export function holdAfterWrite(hold: () => Promise<void>): (engine: SqlEngine) => SqlEngine {
  return (engine) => ({
    warmVersion: (database) => engine.warmVersion(database),
    firstStatementWrites: (database, program) => engine.firstStatementWrites(database, program),
    read: (request) => engine.read(request),
    write: async (request) => {
      const outcome = await engine.write(request);
      await hold();
      return outcome;
    },
    commitWrite: (writeId, version) => engine.commitWrite(writeId, version),
    abandonWrite: (writeId) => engine.abandonWrite(writeId),
    close: () => engine.close(),
  });
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function script(sql: string, params?: (string | number | null)[]) {
  return { kind: 'script' as const, sql, params };
}
