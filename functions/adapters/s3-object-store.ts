import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { StorageUnavailableError } from '../core/errors';
import type { Logger } from '../core/logger';
import { PreconditionFailedError, type GetResult, type ObjectStore, type PutCondition, type StoredVersion } from '../core/ports';
import { describe, statusOf } from './sdk-errors';

const WRITE_ID_METADATA = 'cloudlite-write-id';

/**
 * ObjectStore on S3 (or anything speaking its protocol). SDK errors become domain errors here:
 * a failed fence (412, or 409 ConditionalRequestConflict for a racing conditional write) is a
 * PreconditionFailedError; everything else the store could not do is StorageUnavailableError.
 */
export class S3ObjectStore implements ObjectStore {
  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    private readonly logger: Logger,
  ) {}

  async get(key: string, options: { ifNoneMatch?: string } = {}): Promise<GetResult> {
    try {
      const response = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key, IfNoneMatch: options.ifNoneMatch }));
      const body = await response.Body!.transformToByteArray();
      return { kind: 'found', body, version: { etag: response.ETag!, versionId: response.VersionId } };
    } catch (error) {
      // A 304 has no body, so the SDK cannot name it: it surfaces as an error with that status.
      if (statusOf(error) === 304) return { kind: 'not_modified' };
      if (statusOf(error) === 404) return { kind: 'not_found' };
      throw this.unavailable('read', key, error);
    }
  }

  async put(key: string, body: Uint8Array, condition: PutCondition, writeId: string): Promise<StoredVersion> {
    try {
      const response = await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: body,
          ContentType: 'application/vnd.sqlite3',
          Metadata: { [WRITE_ID_METADATA]: writeId },
          ...('ifMatch' in condition ? { IfMatch: condition.ifMatch } : { IfNoneMatch: '*' }),
        }),
      );
      return { etag: response.ETag!, versionId: response.VersionId };
    } catch (error) {
      const status = statusOf(error);
      // 404 on If-Match: the object we loaded was deleted since; just as much a lost race.
      if (status === 412 || status === 409 || (status === 404 && 'ifMatch' in condition)) {
        throw new PreconditionFailedError(`conditional write to ${key} refused (${status})`, { cause: error });
      }
      throw this.unavailable('write', key, error);
    }
  }

  async head(key: string): Promise<(StoredVersion & { writeId?: string }) | undefined> {
    try {
      const response = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return { etag: response.ETag!, versionId: response.VersionId, writeId: response.Metadata?.[WRITE_ID_METADATA] };
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw this.unavailable('inspect', key, error);
    }
  }

  private unavailable(action: string, key: string, error: unknown): StorageUnavailableError {
    this.logger.error(`S3 ${action} failed`, { key, error: describe(error) });
    return new StorageUnavailableError(`the object store could not ${action} the database; retry`, { cause: error });
  }
}
