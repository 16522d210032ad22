import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { StorageUnavailableError } from '../core/errors';
import { PreconditionFailedError, type GetResult, type ObjectStore, type PutCondition, type StoredVersion, type WriteStamp } from '../core/ports';
import { statusOf } from './sdk-errors';

/** Object metadata that stamps each stored version with the write that made it. */
const META = {
  writeId: 'cloudlite-write-id',
  idempotencyKey: 'cloudlite-idempotency-key',
  fingerprint: 'cloudlite-fingerprint',
  answer: 'cloudlite-answer',
  answerBlob: 'cloudlite-answer-blob',
} as const;

/**
 * ObjectStore on S3 (or anything speaking its protocol). SDK errors become domain errors here:
 * only a definite 412 (or a 404 for If-Match on a key that is gone) is a PreconditionFailedError.
 * A 409 ConditionalRequestConflict means a conditional write to the key is still in flight
 * (possibly our own first attempt, which the SDK retried), so like every other failure it is an
 * unknown outcome: StorageUnavailableError, with the SDK error as its cause.
 */
export class S3ObjectStore implements ObjectStore {
  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
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
      throw unavailable('read', error);
    }
  }

  async getVersion(key: string, version: StoredVersion): Promise<Uint8Array> {
    try {
      const response = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: key, VersionId: version.versionId, IfMatch: version.versionId ? undefined : version.etag }),
      );
      return await response.Body!.transformToByteArray();
    } catch (error) {
      throw unavailable('read', error);
    }
  }

  async put(key: string, body: Uint8Array, condition: PutCondition, stamp: WriteStamp): Promise<StoredVersion> {
    try {
      const response = await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: body,
          ContentType: 'application/vnd.sqlite3',
          Metadata: metadataOf(stamp),
          ...('ifMatch' in condition ? { IfMatch: condition.ifMatch } : { IfNoneMatch: '*' }),
        }),
      );
      return { etag: response.ETag!, versionId: response.VersionId };
    } catch (error) {
      const status = statusOf(error);
      if (status === 412 || (status === 404 && 'ifMatch' in condition)) {
        throw new PreconditionFailedError(`conditional write to ${key} refused (${status})`, { cause: error });
      }
      throw unavailable('write', error);
    }
  }

  async head(key: string): Promise<(StoredVersion & { stamp?: WriteStamp }) | undefined> {
    try {
      const response = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return { etag: response.ETag!, versionId: response.VersionId, stamp: stampOf(response.Metadata ?? {}) };
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw unavailable('inspect', error);
    }
  }

  async putBlob(key: string, body: Uint8Array): Promise<void> {
    try {
      await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentType: 'application/octet-stream' }));
    } catch (error) {
      throw unavailable('write', error);
    }
  }

  async getBlob(key: string): Promise<Uint8Array | undefined> {
    const got = await this.get(key);
    return got.kind === 'found' ? got.body : undefined;
  }
}

function metadataOf(stamp: WriteStamp): Record<string, string> {
  const metadata: Record<string, string> = { [META.writeId]: stamp.writeId };
  const idempotency = stamp.idempotency;
  if (idempotency) {
    metadata[META.idempotencyKey] = idempotency.key;
    metadata[META.fingerprint] = idempotency.fingerprint;
    if ('inline' in idempotency.answer) metadata[META.answer] = idempotency.answer.inline;
    else metadata[META.answerBlob] = idempotency.answer.blobKey;
  }
  return metadata;
}

function stampOf(metadata: Record<string, string>): WriteStamp | undefined {
  const writeId = metadata[META.writeId];
  if (!writeId) return undefined;
  const key = metadata[META.idempotencyKey];
  const fingerprint = metadata[META.fingerprint];
  const inline = metadata[META.answer];
  const blobKey = metadata[META.answerBlob];
  if (!key || !fingerprint || (inline === undefined && blobKey === undefined)) return { writeId };
  return { writeId, idempotency: { key, fingerprint, answer: inline !== undefined ? { inline } : { blobKey: blobKey! } } };
}

function unavailable(action: string, error: unknown): StorageUnavailableError {
  return new StorageUnavailableError(`the object store could not ${action} the database; retry`, { cause: error });
}
