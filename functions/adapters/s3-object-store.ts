import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  HeadObjectCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Readable } from 'node:stream';
import { StorageThrottledError, StorageUnavailableError, VersionGoneError, VersionNotFoundError } from '../core/errors';
import {
  PreconditionFailedError,
  type GetResult,
  type ListedObject,
  type ObjectArchive,
  type ObjectStore,
  type ObjectVersion,
  type CurrentObject,
  type Page,
  type PresignedRequest,
  type PutCondition,
  type StoredVersion,
  type WriteStamp,
} from '../core/ports';
import { attemptsOf, statusOf } from './sdk-errors';

/**
 * A GetObject body read into one buffer of its announced length. The SDK's own collector keeps
 * every chunk and then concatenates them, which holds the file twice at once; a database file
 * can be most of a function's memory, so it is read into its final place as it arrives.
 */
async function readBody(response: GetObjectCommandOutput): Promise<Uint8Array> {
  const body = response.Body!;
  const length = response.ContentLength;
  if (length === undefined || !(body instanceof Readable)) return body.transformToByteArray();
  const bytes = new Uint8Array(length);
  let filled = 0;
  for await (const chunk of body as AsyncIterable<Uint8Array>) {
    if (filled + chunk.byteLength > length) throw new Error(`the object body is longer than its Content-Length (${length} bytes)`);
    bytes.set(chunk, filled);
    filled += chunk.byteLength;
  }
  if (filled !== length) throw new Error(`the object body ended after ${filled} of its ${length} bytes`);
  return bytes;
}

/** Object metadata that stamps each stored version with the write that made it. */
const META = {
  writeId: 'cloudlite-write-id',
  idempotencyKey: 'cloudlite-idempotency-key',
  fingerprint: 'cloudlite-fingerprint',
  answer: 'cloudlite-answer',
  answerBlob: 'cloudlite-answer-blob',
  keyId: 'cloudlite-key-id',
  requestId: 'cloudlite-request-id',
} as const;

/**
 * ObjectStore on S3 (or anything speaking its protocol). SDK errors become domain errors here:
 * only a definite 412 (or a 404 for If-Match on a key that is gone) is a PreconditionFailedError.
 * A 409 ConditionalRequestConflict means a conditional write to the key is still in flight
 * (possibly our own first attempt, which the SDK retried), so like every other failure it is an
 * unknown outcome: StorageUnavailableError, with the SDK error as its cause.
 */
export class S3ObjectStore implements ObjectStore, ObjectArchive {
  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
  ) {}

  async get(key: string, options: { ifNoneMatch?: string } = {}): Promise<GetResult> {
    try {
      const response = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key, IfNoneMatch: options.ifNoneMatch }));
      const body = await readBody(response);
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
      return await readBody(response);
    } catch (error) {
      if (version.versionId !== undefined && statusOf(error) === 404) throw new VersionGoneError('the object store no longer holds that version of the database', { cause: error });
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
      if (refusedForSure(error, 'ifMatch' in condition)) throw new PreconditionFailedError(`conditional write to ${key} refused (${statusOf(error)})`, { cause: error });
      throw unavailable('write', error);
    }
  }

  async head(key: string): Promise<CurrentObject | undefined> {
    try {
      const response = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return { etag: response.ETag!, versionId: response.VersionId, stamp: stampOf(response.Metadata ?? {}) };
    } catch (error) {
      if (statusOf(error) !== 404) throw unavailable('inspect', error);
      // No current object. S3 says whether its newest version is a delete marker (and names
      // it), so telling a deleted key from a new one takes no listing, which a reader's role
      // (GET /flights) may not make.
      const headers = (error as { $response?: { headers?: Record<string, string | undefined> } }).$response?.headers ?? {};
      if (headers['x-amz-delete-marker'] !== 'true') return undefined;
      const versionId = headers['x-amz-version-id'];
      if (versionId) return { etag: `delete-marker:${versionId}`, versionId, deleted: true };
    }
    // A delete marker the answer did not name: the newest entry of the key's history.
    const [newest] = (await this.listVersions(key, { limit: 1 })).items;
    return newest?.deleteMarker ? { etag: newest.etag, versionId: newest.versionId, deleted: true } : undefined;
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

  async listVersions(key: string, page: { limit: number; before?: string }): Promise<Page<ObjectVersion>> {
    try {
      const command = new ListObjectVersionsCommand({
        Bucket: this.bucket,
        Prefix: key,
        MaxKeys: page.limit,
        ...(page.before !== undefined && { KeyMarker: key, VersionIdMarker: page.before }),
      });
      const listed = keepListingOrder(command);
      // With options (even none), the client resolves this command's own middleware rather than
      // the stack it caches per command class (cacheMiddleware), which would leave ours out. It
      // drops that cache too: each command resolves its stack once more (microseconds), on a
      // path (history) far rarer than reads and writes.
      const response = await this.client.send(command, {});
      // The prefix also matches longer keys; database names cannot make one, but be exact.
      const versions = (response.Versions ?? [])
        .filter((v) => v.Key === key)
        .map((v) => ({ etag: v.ETag!, versionId: v.VersionId!, lastModifiedMs: v.LastModified!.getTime(), sizeBytes: v.Size ?? 0, deleteMarker: false }));
      const markers = (response.DeleteMarkers ?? [])
        .filter((m) => m.Key === key)
        .map((m) => ({ etag: `delete-marker:${m.VersionId}`, versionId: m.VersionId!, lastModifiedMs: m.LastModified!.getTime(), sizeBytes: 0, deleteMarker: true }));
      // Merged newest first; within one second (all S3 dates have), in the order S3 listed them.
      const order = new Map(listed.map((versionId, i) => [versionId, i]));
      const rank = (versionId: string) => order.get(versionId) ?? order.size;
      const items = [...versions, ...markers].sort((a, b) => b.lastModifiedMs - a.lastModifiedMs || rank(a.versionId) - rank(b.versionId));
      const next = response.IsTruncated && response.NextKeyMarker === key ? response.NextVersionIdMarker : undefined;
      return { items, next };
    } catch (error) {
      // S3 refuses a version id marker that names no version: the caller's mistake, not an outage.
      if (page.before !== undefined && statusOf(error) === 400) throw new VersionNotFoundError(`there is no version "${page.before}" to list the versions after`, { cause: error });
      throw unavailable('list the versions of', error);
    }
  }

  async stampOf(key: string, version: StoredVersion): Promise<WriteStamp | undefined> {
    try {
      const response = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key, VersionId: version.versionId }));
      return stampOf(response.Metadata ?? {});
    } catch (error) {
      // A HEAD of a delete marker's version answers 405: it has no stamp.
      if (statusOf(error) === 404 || statusOf(error) === 405) return undefined;
      throw unavailable('inspect', error);
    }
  }

  async listObjects(prefix: string, page: { limit: number; cursor?: string; includeDeleted: boolean }): Promise<Page<ListedObject>> {
    try {
      if (!page.includeDeleted) {
        const response = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, MaxKeys: page.limit, StartAfter: page.cursor }));
        const items = (response.Contents ?? []).map((o) => ({ key: o.Key!, sizeBytes: o.Size ?? 0, lastModifiedMs: o.LastModified!.getTime(), deleted: false }));
        return { items, next: response.IsTruncated ? items.at(-1)?.key : undefined };
      }
      return await this.listLatestVersions(prefix, page.limit, page.cursor);
    } catch (error) {
      throw unavailable('list', error);
    }
  }

  async copy(from: { key: string; version: StoredVersion }, to: string, condition: PutCondition, stamp: WriteStamp): Promise<StoredVersion> {
    try {
      const response = await this.client.send(
        new CopyObjectCommand({
          Bucket: this.bucket,
          Key: to,
          CopySource: `${this.bucket}/${encodeURIComponent(from.key)}${from.version.versionId ? `?versionId=${encodeURIComponent(from.version.versionId)}` : ''}`,
          // The copy is its own write: its stamp replaces the source's metadata.
          MetadataDirective: 'REPLACE',
          Metadata: metadataOf(stamp),
          ContentType: 'application/vnd.sqlite3',
          ...('ifMatch' in condition ? { IfMatch: condition.ifMatch } : { IfNoneMatch: '*' }),
        }),
      );
      return { etag: response.CopyObjectResult!.ETag!, versionId: response.VersionId };
    } catch (error) {
      if (refusedForSure(error, 'ifMatch' in condition)) throw new PreconditionFailedError(`conditional copy to ${to} refused`, { cause: error });
      throw unavailable('copy', error);
    }
  }

  async markDeleted(key: string, ifMatch: string): Promise<StoredVersion> {
    try {
      const response = await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key, IfMatch: ifMatch }));
      return { etag: `delete-marker:${response.VersionId}`, versionId: response.VersionId };
    } catch (error) {
      if (refusedForSure(error, true)) throw new PreconditionFailedError(`conditional delete of ${key} refused`, { cause: error });
      throw unavailable('delete', error);
    }
  }

  async sizeOf(key: string): Promise<number | undefined> {
    try {
      const response = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return response.ContentLength;
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw unavailable('inspect', error);
    }
  }

  async presignGet(key: string, version: StoredVersion | undefined, expiresInSeconds: number, downloadName: string): Promise<PresignedRequest> {
    // Loaded on first use: only exports of large files presign, and cold starts should not pay for it.
    const { getSignedUrl } = await import('@aws-sdk/s3-request-presigner');
    const url = await getSignedUrl(
      this.client,
      new GetObjectCommand({
        Bucket: this.bucket,
        Key: key,
        VersionId: version?.versionId,
        ResponseContentDisposition: `attachment; filename="${downloadName}"`,
      }),
      { expiresIn: expiresInSeconds },
    );
    return { url, expiresAtMs: Date.now() + expiresInSeconds * 1000 };
  }

  async presignUpload(key: string, maxBytes: number, expiresInSeconds: number): Promise<PresignedRequest> {
    // A presigned POST, unlike a presigned PUT, lets S3 itself refuse a body over the limit.
    const { createPresignedPost } = await import('@aws-sdk/s3-presigned-post');
    const { url, fields } = await createPresignedPost(this.client, {
      Bucket: this.bucket,
      Key: key,
      Conditions: [['content-length-range', 1, maxBytes]],
      Expires: expiresInSeconds,
    });
    return { url, fields, expiresAtMs: Date.now() + expiresInSeconds * 1000 };
  }

  /** Every key's latest version or delete marker, in key order, from the version listing. */
  private async listLatestVersions(prefix: string, limit: number, cursor: string | undefined): Promise<Page<ListedObject>> {
    const items: ListedObject[] = [];
    let keyMarker = cursor;
    let versionIdMarker: string | undefined;
    for (;;) {
      const response = await this.client.send(
        new ListObjectVersionsCommand({ Bucket: this.bucket, Prefix: prefix, KeyMarker: keyMarker, VersionIdMarker: versionIdMarker, MaxKeys: 1000 }),
      );
      const latest = [
        ...(response.Versions ?? []).filter((v) => v.IsLatest).map((v) => ({ key: v.Key!, sizeBytes: v.Size ?? 0, lastModifiedMs: v.LastModified!.getTime(), deleted: false })),
        ...(response.DeleteMarkers ?? []).filter((m) => m.IsLatest).map((m) => ({ key: m.Key!, sizeBytes: 0, lastModifiedMs: m.LastModified!.getTime(), deleted: true })),
      ].sort((a, b) => (a.key < b.key ? -1 : 1));
      for (const object of latest) {
        if (items.length === limit) return { items, next: items.at(-1)!.key };
        items.push(object);
      }
      if (!response.IsTruncated) return { items };
      keyMarker = response.NextKeyMarker;
      versionIdMarker = response.NextVersionIdMarker;
    }
  }
}

/**
 * S3 lists a key's versions and delete markers newest first, interleaved, but the SDK parses them
 * into two arrays, and their dates are whole seconds: a delete in the same second as the write
 * before it cannot be placed by its date, and the version it deleted would look newer than the
 * delete. The version ids in the order of the XML itself, filled in when the command answers.
 */
function keepListingOrder(command: ListObjectVersionsCommand): string[] {
  const versionIds: string[] = [];
  command.middlewareStack.add(
    // In the deserialize step below the deserializer: the raw response, before it is parsed.
    (next) => async (args) => {
      const result = await next(args);
      const response = result.response as { body?: unknown };
      if (response.body instanceof Readable) {
        const chunks: Buffer[] = [];
        for await (const chunk of response.body) chunks.push(chunk as Buffer);
        const xml = Buffer.concat(chunks);
        response.body = xml; // the deserializer reads a buffer as it reads a stream
        for (const entry of xml.toString('utf8').matchAll(/<(?:Version|DeleteMarker)>.*?<VersionId>([^<]*)<\/VersionId>/gs)) versionIds.push(entry[1]!);
      }
      return result;
    },
    { step: 'deserialize', priority: 'low', name: 'cloudliteListingOrder' },
  );
  return versionIds;
}

function metadataOf(stamp: WriteStamp): Record<string, string> {
  const metadata: Record<string, string> = { [META.writeId]: stamp.writeId };
  if (stamp.madeBy?.keyId) metadata[META.keyId] = stamp.madeBy.keyId;
  if (stamp.madeBy?.requestId) metadata[META.requestId] = stamp.madeBy.requestId;
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
  const madeBy = metadata[META.keyId] || metadata[META.requestId] ? { keyId: metadata[META.keyId], requestId: metadata[META.requestId] } : undefined;
  const key = metadata[META.idempotencyKey];
  const fingerprint = metadata[META.fingerprint];
  const inline = metadata[META.answer];
  const blobKey = metadata[META.answerBlob];
  if (!key || !fingerprint || (inline === undefined && blobKey === undefined)) return { writeId, ...(madeBy && { madeBy }) };
  return { writeId, ...(madeBy && { madeBy }), idempotency: { key, fingerprint, answer: inline !== undefined ? { inline } : { blobKey: blobKey! } } };
}

/**
 * Whether S3 refused a conditional request for sure: a 412 (or a 404 for If-Match on a key that is
 * gone) to its first attempt. A retried attempt may have been refused by the first one, which
 * landed; the caller settles that by looking at the object, so it is reported as unavailable.
 */
function refusedForSure(error: unknown, ifMatch: boolean): boolean {
  const status = statusOf(error);
  return attemptsOf(error) === 1 && (status === 412 || (status === 404 && ifMatch));
}

function unavailable(action: string, error: unknown): StorageUnavailableError {
  const message = `the object store could not ${action} the database; retry`;
  // S3 asks for less load with 503 SlowDown; it is still a failure, but one counted as a throttle.
  if (error instanceof Error && error.name === 'SlowDown') return new StorageThrottledError(message, { cause: error });
  return new StorageUnavailableError(message, { cause: error });
}
