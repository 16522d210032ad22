/**
 * S3 contract: the behaviour of S3 this project relies on, pinned through the real S3Client.
 *
 * By default it runs against infra/local/s3/server.ts (random port, temp dataDir). The same
 * suite runs against real S3 so the local server can be checked against the real thing:
 *   S3_CONTRACT_REAL_AWS=1 S3_CONTRACT_BUCKET=<versioned bucket> (AWS_REGION + credentials)
 *   S3_CONTRACT_ENDPOINT=<url> S3_CONTRACT_BUCKET=<versioned bucket>   (another S3 implementation)
 * Every test writes under its own key prefix, and an external run deletes what it wrote.
 * Tests that create buckets, raw-HTTP probes and restarts run against the local server only.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import {
  CopyObjectCommand,
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetBucketVersioningCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListObjectVersionsCommand,
  ListObjectsV2Command,
  PutBucketVersioningCommand,
  PutObjectCommand,
  type PutObjectCommandInput,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { createPresignedPost, type PresignedPostOptions } from '@aws-sdk/s3-presigned-post';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { LOCAL_CREDENTIALS } from '../../infra/local/credentials';
import { startLocalS3, type LocalS3Server } from '../../infra/local/s3/server';

type Target = { kind: 'local' } | { kind: 'external'; bucket: string; endpoint?: string };

function contractTarget(): Target {
  const bucket = process.env.S3_CONTRACT_BUCKET;
  const endpoint = process.env.S3_CONTRACT_ENDPOINT;
  const realAws = process.env.S3_CONTRACT_REAL_AWS === '1';
  if (!endpoint && !realAws) return { kind: 'local' };
  if (!bucket) throw new TypeError('S3_CONTRACT_BUCKET is required with S3_CONTRACT_ENDPOINT or S3_CONTRACT_REAL_AWS=1');
  return { kind: 'external', bucket, endpoint: realAws ? undefined : endpoint };
}

const target = contractTarget();
const localOnly = target.kind === 'local' ? test : test.skip;
const region = process.env.AWS_REGION ?? 'us-east-1';
const runPrefix = `s3-contract/${Date.now()}-${randomUUID().slice(0, 8)}/`;

function localClient(endpoint: string): S3Client {
  return new S3Client({
    endpoint, region, forcePathStyle: true,
    credentials: LOCAL_CREDENTIALS, // the key pair the local server checks presigned requests against
  });
}

let server: LocalS3Server | undefined;
let dataDir: string | undefined;
let client: S3Client;
let bucket: string;

beforeAll(async () => {
  if (target.kind === 'external') {
    client = target.endpoint ? new S3Client({ endpoint: target.endpoint, region, forcePathStyle: true }) : new S3Client({ region });
    bucket = target.bucket;
    const versioning = await client.send(new GetBucketVersioningCommand({ Bucket: bucket }));
    if (versioning.Status !== 'Enabled') throw new Error(`bucket ${bucket} must have versioning Enabled for the S3 contract suite`);
    return;
  }
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 's3-contract-'));
  server = await startLocalS3({ port: 0, dataDir });
  client = localClient(server.endpoint);
  bucket = `contract-${randomUUID().slice(0, 8)}`;
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  await client.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
});

afterAll(async () => {
  if (target.kind === 'external' && client) await deleteEverythingUnder(client, bucket, runPrefix);
  client?.destroy();
  await server?.close();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------------

const prefix = (name: string) => `${runPrefix}${name}/`;
const md5Etag = (body: string | Buffer) => `"${createHash('md5').update(body).digest('hex')}"`;
const put = (Key: string, Body: string | Buffer, extra: Partial<PutObjectCommandInput> = {}) =>
  client.send(new PutObjectCommand({ Bucket: bucket, Key, Body, ...extra }));

async function read(Key: string, VersionId?: string): Promise<string> {
  const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key, VersionId }));
  return Buffer.from(await res.Body!.transformToByteArray()).toString('utf8');
}

/** The error a call must fail with; a call that succeeds fails the test. */
async function s3Error(call: Promise<unknown>): Promise<S3ServiceException> {
  try {
    await call;
  } catch (err) {
    if (err instanceof S3ServiceException) return err;
    throw err;
  }
  throw new Error('expected the S3 call to fail, but it succeeded');
}

const statusOf = (err: S3ServiceException) => err.$metadata.httpStatusCode;
const headerOf = (err: S3ServiceException, name: string) => err.$response?.headers[name];

async function listVersions(c: S3Client, Bucket: string, Prefix: string) {
  return c.send(new ListObjectVersionsCommand({ Bucket, Prefix }));
}

async function deleteEverythingUnder(c: S3Client, Bucket: string, Prefix: string): Promise<void> {
  for (;;) {
    const page = await listVersions(c, Bucket, Prefix);
    const all = [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])];
    if (all.length === 0) return;
    for (const v of all) await c.send(new DeleteObjectCommand({ Bucket, Key: v.Key!, VersionId: v.VersionId }));
  }
}

/** PutObject, also returning the headers that went on the wire (after checksums and signing). */
async function putCapturingHeaders(input: PutObjectCommandInput) {
  const command = new PutObjectCommand(input);
  let sent: Record<string, string> = {};
  command.middlewareStack.add((next) => async (args) => {
    sent = { ...(args.request as { headers: Record<string, string> }).headers };
    return next(args);
  }, { step: 'deserialize', name: 'captureSentHeaders' });
  return { output: await client.send(command), sent };
}

/** Settles every promise; `wins` are the fulfilled ones, `losses` the S3 errors. */
async function race(calls: Promise<unknown>[]) {
  const settled = await Promise.allSettled(calls);
  const wins = settled.filter((s) => s.status === 'fulfilled');
  const losses = settled.flatMap((s) => (s.status === 'rejected' ? [s.reason as S3ServiceException] : []));
  return { wins, losses };
}

/** A raw HTTP request to the local server, for what the SDK cannot express. */
function raw(method: string, urlPath: string, headers: http.OutgoingHttpHeaders = {}, body?: Buffer | string) {
  return new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>((resolve, reject) => {
    const req = http.request(`${server!.endpoint}${urlPath}`, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

// ---------------------------------------------------------------------------------------------
// versioning
// ---------------------------------------------------------------------------------------------

describe('versioned objects', () => {
  test('each PUT to a versioned bucket creates a distinct version that stays readable by VersionId', async () => {
    const key = `${prefix('versions')}doc.txt`;

    const first = await put(key, 'one');
    const second = await put(key, 'two');

    expect(first.VersionId).toBeTruthy();
    expect(first.VersionId).not.toBe('null');
    expect(second.VersionId).not.toBe(first.VersionId);
    expect(first.ETag).toBe(md5Etag('one'));
    expect(await read(key)).toBe('two');
    expect(await read(key, first.VersionId)).toBe('one');
    const old = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key, VersionId: first.VersionId }));
    expect(old.VersionId).toBe(first.VersionId);
    expect(old.ETag).toBe(md5Etag('one'));
  });

  test('DELETE without a VersionId adds a delete marker: GET/HEAD answer 404 with x-amz-delete-marker, older versions stay readable', async () => {
    const key = `${prefix('delete-marker')}doc.txt`;
    const written = await put(key, 'kept');

    const deleted = await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));

    expect(deleted.DeleteMarker).toBe(true);
    expect(deleted.VersionId).toBeTruthy();
    expect(deleted.VersionId).not.toBe(written.VersionId);
    const getErr = await s3Error(read(key));
    expect(statusOf(getErr)).toBe(404);
    expect(getErr.name).toBe('NoSuchKey');
    expect(headerOf(getErr, 'x-amz-delete-marker')).toBe('true');
    const headErr = await s3Error(client.send(new HeadObjectCommand({ Bucket: bucket, Key: key })));
    expect(statusOf(headErr)).toBe(404);
    expect(headerOf(headErr, 'x-amz-delete-marker')).toBe('true');
    expect(await read(key, written.VersionId)).toBe('kept');
    const markerErr = await s3Error(read(key, deleted.VersionId));
    expect(statusOf(markerErr)).toBe(405);
    expect(markerErr.name).toBe('MethodNotAllowed');
  });

  test('DELETE with a VersionId removes that version for good; removing the delete marker brings the object back', async () => {
    const key = `${prefix('delete-version')}doc.txt`;
    const v1 = await put(key, 'one');
    const v2 = await put(key, 'two');
    const marker = await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));

    const unmarked = await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key, VersionId: marker.VersionId }));
    expect(unmarked.DeleteMarker).toBe(true);
    expect(unmarked.VersionId).toBe(marker.VersionId);
    expect(await read(key)).toBe('two');

    const removed = await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key, VersionId: v2.VersionId }));
    expect(removed.VersionId).toBe(v2.VersionId);
    expect(await read(key)).toBe('one');
    const gone = await s3Error(read(key, v2.VersionId));
    expect(statusOf(gone)).toBe(404);
    expect(gone.name).toBe('NoSuchVersion');
    expect(await read(key, v1.VersionId)).toBe('one');
  });

  test('ListObjectVersions lists versions newest first with one IsLatest per key, reports delete markers and honours the prefix', async () => {
    const p = prefix('list-versions');
    const a1 = await put(`${p}in/a`, 'a1');
    const a2 = await put(`${p}in/a`, 'a2');
    const aMarker = await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: `${p}in/a` }));
    const b1 = await put(`${p}in/b`, 'b1');
    await put(`${p}out/c`, 'c1');

    const listed = await listVersions(client, bucket, `${p}in/`);

    expect((listed.Versions ?? []).map((v) => [v.Key, v.VersionId, v.IsLatest, v.ETag, v.Size])).toEqual([
      [`${p}in/a`, a2.VersionId, false, md5Etag('a2'), 2],
      [`${p}in/a`, a1.VersionId, false, md5Etag('a1'), 2],
      [`${p}in/b`, b1.VersionId, true, md5Etag('b1'), 2],
    ]);
    expect((listed.DeleteMarkers ?? []).map((m) => [m.Key, m.VersionId, m.IsLatest])).toEqual([
      [`${p}in/a`, aMarker.VersionId, true],
    ]);
    expect(listed.IsTruncated).toBe(false);
    const paged: [string | undefined, string | undefined][] = [];
    let marker: { KeyMarker?: string; VersionIdMarker?: string } = {};
    for (let page = 0; page < 10; page++) { // bounded: a server that ignores the markers must fail, not spin
      const res = await client.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: `${p}in/`, MaxKeys: 1, ...marker }));
      for (const v of [...(res.DeleteMarkers ?? []), ...(res.Versions ?? [])]) paged.push([v.Key, v.VersionId]);
      if (!res.IsTruncated) break;
      marker = { KeyMarker: res.NextKeyMarker, VersionIdMarker: res.NextVersionIdMarker };
    }
    expect(paged).toEqual([
      [`${p}in/a`, aMarker.VersionId], [`${p}in/a`, a2.VersionId], [`${p}in/a`, a1.VersionId], [`${p}in/b`, b1.VersionId],
    ]);
  });

  test('CopyObject from an old version onto its own key restores it as a new current version with its bytes and metadata', async () => {
    const key = `${prefix('restore')}dïr/ä file+1.txt`;
    const old = await put(key, 'generation one', { ContentType: 'text/plain', Metadata: { generation: '1' } });
    const newer = await put(key, 'generation two', { ContentType: 'text/csv', Metadata: { generation: '2' } });

    const copied = await client.send(new CopyObjectCommand({
      Bucket: bucket, Key: key, CopySource: `${bucket}/${encodeURIComponent(key)}?versionId=${encodeURIComponent(old.VersionId!)}`,
    }));

    expect(copied.CopySourceVersionId).toBe(old.VersionId);
    expect(copied.VersionId).toBeTruthy();
    expect([old.VersionId, newer.VersionId]).not.toContain(copied.VersionId);
    expect(copied.CopyObjectResult?.ETag).toBe(old.ETag);
    const current = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    expect(await current.Body!.transformToString()).toBe('generation one');
    expect(current.VersionId).toBe(copied.VersionId);
    expect(current.ContentType).toBe('text/plain');
    expect(current.Metadata).toEqual({ generation: '1' });
    const listed = await listVersions(client, bucket, key);
    expect(listed.Versions?.map((v) => v.VersionId)).toEqual([copied.VersionId, newer.VersionId, old.VersionId]);
  });
});

// ---------------------------------------------------------------------------------------------
// conditional requests
// ---------------------------------------------------------------------------------------------

describe('conditional reads', () => {
  test('GET and HEAD with If-None-Match equal to the current ETag answer 304 Not Modified; another ETag gets the body', async () => {
    const key = `${prefix('if-none-match-get')}doc.txt`;
    const { ETag } = await put(key, 'cached');

    const getErr = await s3Error(client.send(new GetObjectCommand({ Bucket: bucket, Key: key, IfNoneMatch: ETag })));
    const headErr = await s3Error(client.send(new HeadObjectCommand({ Bucket: bucket, Key: key, IfNoneMatch: ETag })));

    for (const err of [getErr, headErr]) {
      expect(statusOf(err)).toBe(304);
      expect(['NotModified', 'Unknown', '304']).toContain(err.name);
    }
    const fresh = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key, IfNoneMatch: md5Etag('something else') }));
    expect(await fresh.Body!.transformToString()).toBe('cached');
  });

  test('GET with If-Modified-Since at the object\'s Last-Modified answers 304, with an earlier date the body', async () => {
    const key = `${prefix('if-modified-since')}doc.txt`;
    await put(key, 'dated');
    const { LastModified } = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));

    const notModified = await s3Error(client.send(new GetObjectCommand({ Bucket: bucket, Key: key, IfModifiedSince: LastModified })));
    const earlier = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key, IfModifiedSince: new Date(LastModified!.getTime() - 60_000) }));

    expect(statusOf(notModified)).toBe(304);
    expect(await earlier.Body!.transformToString()).toBe('dated');
  });

  test('GET and HEAD with an If-Match that differs from the current ETag answer 412 PreconditionFailed', async () => {
    const key = `${prefix('if-match-get')}doc.txt`;
    const stale = await put(key, 'one');
    const current = await put(key, 'two');

    const getErr = await s3Error(client.send(new GetObjectCommand({ Bucket: bucket, Key: key, IfMatch: stale.ETag })));
    const headErr = await s3Error(client.send(new HeadObjectCommand({ Bucket: bucket, Key: key, IfMatch: stale.ETag })));

    expect(statusOf(getErr)).toBe(412);
    expect(getErr.name).toBe('PreconditionFailed');
    expect(statusOf(headErr)).toBe(412);
    const matching = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key, IfMatch: current.ETag }));
    expect(await matching.Body!.transformToString()).toBe('two');
  });

  test('a Range GET answers 206 with exactly the requested bytes', async () => {
    const key = `${prefix('range')}doc.txt`;
    await put(key, '0123456789');

    const middle = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: 'bytes=2-5' }));
    const tail = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: 'bytes=-3' }));

    expect(middle.$metadata.httpStatusCode).toBe(206);
    expect(middle.ContentRange).toBe('bytes 2-5/10');
    expect(await middle.Body!.transformToString()).toBe('2345');
    expect(await tail.Body!.transformToString()).toBe('789');
  });
});

describe('conditional writes', () => {
  test('PUT with If-None-Match * fails with 412 while the key exists and succeeds on a new key or over a delete marker', async () => {
    const key = `${prefix('if-none-match-put')}lock`;

    const created = await put(key, 'first', { IfNoneMatch: '*' });
    const refused = await s3Error(put(key, 'second', { IfNoneMatch: '*' }));
    await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    const recreated = await put(key, 'third', { IfNoneMatch: '*' });

    expect(created.ETag).toBe(md5Etag('first'));
    expect(statusOf(refused)).toBe(412);
    expect(refused.name).toBe('PreconditionFailed');
    expect(recreated.ETag).toBe(md5Etag('third'));
    expect(await read(key)).toBe('third');
  });

  test('PUT with If-Match succeeds on the current ETag and fails with 412 on a stale one, leaving the object unchanged', async () => {
    const key = `${prefix('if-match-put')}doc`;
    const v1 = await put(key, 'v1');
    const v2 = await put(key, 'v2', { IfMatch: v1.ETag });

    const stale = await s3Error(put(key, 'lost update', { IfMatch: v1.ETag }));

    expect(v2.ETag).toBe(md5Etag('v2'));
    expect(statusOf(stale)).toBe(412);
    expect(stale.name).toBe('PreconditionFailed');
    expect(await read(key)).toBe('v2');
  });

  test('PUT with If-Match on a missing key, or one whose current version is a delete marker, answers 404 NoSuchKey', async () => {
    const missing = `${prefix('if-match-missing')}never-written`;
    const deleted = `${prefix('if-match-missing')}deleted`;
    const { ETag } = await put(deleted, 'soon gone');
    await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: deleted }));

    const onMissing = await s3Error(put(missing, 'x', { IfMatch: ETag }));
    const onMarker = await s3Error(put(deleted, 'x', { IfMatch: ETag }));

    for (const err of [onMissing, onMarker]) {
      expect(statusOf(err)).toBe(404);
      expect(err.name).toBe('NoSuchKey');
    }
  });

  test('DELETE with If-Match places a delete marker only on the current ETag: 412 on a stale one, 404 NoSuchKey once the current version is a delete marker', async () => {
    const key = `${prefix('if-match-delete')}doc`;
    const v1 = await put(key, 'v1');
    await put(key, 'v2', { IfMatch: v1.ETag });

    const stale = await s3Error(client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key, IfMatch: v1.ETag })));
    expect(statusOf(stale)).toBe(412);
    expect(await read(key)).toBe('v2');

    await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key, IfMatch: md5Etag('v2') }));
    const again = await s3Error(client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key, IfMatch: md5Etag('v2') })));
    expect(statusOf(again)).toBe(404);
    expect(again.name).toBe('NoSuchKey');
    const listed = await client.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: key }));
    expect((listed.DeleteMarkers ?? []).length).toBe(1);
  });

  test('PUT with If-None-Match set to an ETag instead of * answers 501 NotImplemented and writes nothing', async () => {
    const key = `${prefix('if-none-match-etag')}doc`;
    const { ETag } = await put(key, 'original');

    const err = await s3Error(put(key, 'replacement', { IfNoneMatch: md5Etag('something else') }));

    expect([statusOf(err), err.name]).toEqual([501, 'NotImplemented']);
    expect(await read(key)).toBe('original');
    expect((await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))).ETag).toBe(ETag);
  });

  test('racing If-None-Match * PUTs on one key: exactly one wins, the others get 412 PreconditionFailed or 409 ConditionalRequestConflict', async () => {
    const key = `${prefix('race-create')}lock`;
    const bodies = Array.from({ length: 8 }, (_, i) => Buffer.concat([Buffer.from(`writer-${i}:`), randomBytes(256 * 1024)]));

    const { wins, losses } = await race(bodies.map((body) => put(key, body, { IfNoneMatch: '*' })));

    expect(wins).toHaveLength(1);
    expect(losses).toHaveLength(bodies.length - 1);
    for (const err of losses) {
      expect([[412, 'PreconditionFailed'], [409, 'ConditionalRequestConflict']]).toContainEqual([statusOf(err), err.name]);
    }
    const listed = await listVersions(client, bucket, key);
    expect(listed.Versions).toHaveLength(1);
    const winner = bodies.find((b) => md5Etag(b) === listed.Versions?.[0]?.ETag);
    expect(winner).toBeDefined();
  });

  test('racing If-Match PUTs from the same ETag: exactly one replaces the object, the others get 412 or 409', async () => {
    const key = `${prefix('race-update')}doc`;
    const base = await put(key, 'base');

    const { wins, losses } = await race(Array.from({ length: 6 }, (_, i) => put(key, `update-${i}`, { IfMatch: base.ETag })));

    expect(wins).toHaveLength(1);
    for (const err of losses) expect([412, 409]).toContain(statusOf(err));
    expect((await listVersions(client, bucket, key)).Versions).toHaveLength(2);
    expect(await read(key)).toMatch(/^update-\d$/);
  });

  localOnly('a conditional PUT that arrives while another is still uploading gets 409 ConditionalRequestConflict; the first one commits', async () => {
    const key = `${prefix('in-flight')}lock`;
    const body = Buffer.from('slow writer');
    // Open a conditional PUT and send only half its body, so it is in flight.
    let answer!: (r: { status: number }) => void;
    const slowDone = new Promise<{ status: number }>((resolve) => { answer = resolve; });
    const slow = http.request(`${server!.endpoint}/${bucket}/${key}`, {
      method: 'PUT', headers: { 'If-None-Match': '*', 'Content-Length': body.length },
    }, (res) => { res.resume(); res.on('end', () => answer({ status: res.statusCode ?? 0 })); });
    slow.write(body.subarray(0, 4));
    await new Promise((r) => setTimeout(r, 100));

    const overlapping = await s3Error(put(key, 'fast writer', { IfNoneMatch: '*' }));
    slow.end(body.subarray(4));

    expect(statusOf(overlapping)).toBe(409);
    expect(overlapping.name).toBe('ConditionalRequestConflict');
    expect((await slowDone).status).toBe(200);
    expect(await read(key)).toBe('slow writer');
  });

  localOnly('a conditional upload whose client disconnects mid-body does not hold the key: the next conditional PUT succeeds', async () => {
    const key = `${prefix('aborted')}lock`;
    const abandoned = http.request(`${server!.endpoint}/${bucket}/${key}`, {
      method: 'PUT', headers: { 'If-None-Match': '*', 'Content-Length': 100 },
    });
    abandoned.on('error', () => undefined); // we are the ones hanging up
    abandoned.write('0123456789');
    await new Promise((r) => setTimeout(r, 50));
    abandoned.destroy();
    await new Promise((r) => setTimeout(r, 50));

    const next = await put(key, 'after the abort', { IfNoneMatch: '*' });

    expect(next.ETag).toBe(md5Etag('after the abort'));
    expect(await read(key)).toBe('after the abort');
  });
});

describe('conditional reads beyond what AWS documents (local server)', () => {
  localOnly('GET with If-None-Match * answers 304 for an existing object, as RFC 7232 defines', async () => {
    const key = `${prefix('if-none-match-star')}doc`;
    await put(key, 'exists');

    const err = await s3Error(client.send(new GetObjectCommand({ Bucket: bucket, Key: key, IfNoneMatch: '*' })));

    expect(statusOf(err)).toBe(304);
  });
});

// ---------------------------------------------------------------------------------------------
// bodies, metadata, keys, listings, errors
// ---------------------------------------------------------------------------------------------

describe('objects', () => {
  test('user metadata, Content-Type and Cache-Control round-trip through PUT, GET, HEAD and CopyObject; REPLACE swaps them', async () => {
    const p = prefix('metadata');
    await put(`${p}src`, '{}', { ContentType: 'application/json', CacheControl: 'max-age=60', Metadata: { owner: 'db-7', 'schema-version': '3' } });

    const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: `${p}src` }));
    const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: `${p}src` }));
    await client.send(new CopyObjectCommand({ Bucket: bucket, Key: `${p}copy`, CopySource: `${bucket}/${p}src` }));
    const copy = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: `${p}copy` }));
    await client.send(new CopyObjectCommand({
      Bucket: bucket, Key: `${p}replaced`, CopySource: `${bucket}/${p}src`,
      MetadataDirective: 'REPLACE', ContentType: 'text/plain', Metadata: { owner: 'other' },
    }));
    const replaced = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: `${p}replaced` }));

    for (const res of [got, head, copy]) {
      expect(res.Metadata).toEqual({ owner: 'db-7', 'schema-version': '3' });
      expect(res.ContentType).toBe('application/json');
      expect(res.CacheControl).toBe('max-age=60');
      expect(res.ContentLength).toBe(2);
      expect(res.LastModified).toBeInstanceOf(Date);
    }
    expect(replaced.Metadata).toEqual({ owner: 'other' });
    expect(replaced.ContentType).toBe('text/plain');
    expect(replaced.ETag).toBe(md5Etag('{}'));
  });

  test('a streaming Readable body with ContentLength is sent aws-chunked and stored without its chunk framing', async () => {
    const key = `${prefix('streaming')}blob`;
    const chunks = [randomBytes(70_000), Buffer.from('\r\n0\r\nnot-a-trailer:x\r\n'), randomBytes(100_000)];
    const expected = Buffer.concat(chunks);

    const { output, sent } = await putCapturingHeaders({
      Bucket: bucket, Key: key, Body: Readable.from(chunks), ContentLength: expected.length,
    });

    expect(sent['content-encoding']).toContain('aws-chunked');
    expect(sent['x-amz-decoded-content-length']).toBe(String(expected.length));
    expect(output.ETag).toBe(md5Etag(expected));
    const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    expect(got.ContentEncoding ?? '').not.toContain('aws-chunked');
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(expected)).toBe(true);
  });

  test('a PUT whose x-amz-checksum-crc32 does not match its body answers 400 BadDigest and stores nothing; a matching one comes back on GET with ChecksumMode ENABLED', async () => {
    // The SDK sends a CRC32 with every PutObject (functions/adapters/s3-object-store.ts included)
    // and checks it on every GetObject that answers one: S3 validates and keeps it.
    const key = `${prefix('checksum')}doc`;
    const crc32OfOther = '2Vg1IA=='; // CRC32 of "other", not of the body sent

    const refused = await s3Error(put(key, 'the body', { ChecksumCRC32: crc32OfOther }));
    const { sent } = await putCapturingHeaders({ Bucket: bucket, Key: key, Body: 'the body' });
    const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key, ChecksumMode: 'ENABLED' }));
    const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key, ChecksumMode: 'ENABLED' }));

    expect([statusOf(refused), refused.name]).toEqual([400, 'BadDigest']);
    expect(sent['x-amz-checksum-crc32']).toMatch(/^[A-Za-z0-9+/]{6}==$/);
    expect(await got.Body!.transformToString()).toBe('the body');
    expect(got.ChecksumCRC32).toBe(sent['x-amz-checksum-crc32']);
    expect(head.ChecksumCRC32).toBe(sent['x-amz-checksum-crc32']);
    expect((await listVersions(client, bucket, key)).Versions).toHaveLength(1);
  });

  test('a 2 MB binary body, sent with Expect: 100-continue, round-trips byte-exact and its ETag is the MD5 of the bytes', async () => {
    const key = `${prefix('binary')}blob.bin`;
    const body = randomBytes(2 * 1024 * 1024);

    const { output: written, sent } = await putCapturingHeaders({ Bucket: bucket, Key: key, Body: body });
    const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const bytes = Buffer.from(await got.Body!.transformToByteArray());

    expect(sent.Expect ?? sent.expect).toBe('100-continue');
    expect(written.ETag).toBe(md5Etag(body));
    expect(got.ContentLength).toBe(body.length);
    expect(got.ETag).toBe(written.ETag);
    expect(bytes.equals(body)).toBe(true);
  });

  test('keys with spaces, unicode, reserved URL characters and dot segments round-trip and list verbatim', async () => {
    const p = prefix('odd-keys');
    const keys = [`${p}a b/ünï cödé.txt`, `${p}plus+and&equals=?#%25.txt`, `${p}dots/../x/./y`, `${p}trailing/`];
    for (const [i, key] of keys.entries()) await put(key, `body-${i}`);

    const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: p }));

    expect(listed.Contents?.map((c) => c.Key)).toEqual([...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
    for (const [i, key] of keys.entries()) expect(await read(key)).toBe(`body-${i}`);
  });

  test('ListObjectsV2 filters by prefix, rolls keys up by delimiter, pages with continuation tokens and hides deleted keys', async () => {
    const p = prefix('list-v2');
    for (const k of ['a.txt', 'b.txt', 'dir/c.txt', 'dir/d.txt', 'e.txt']) await put(`${p}${k}`, k);
    await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: `${p}e.txt` }));
    await put(`${prefix('list-v2-other')}z.txt`, 'outside the prefix');

    const rolledUp = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: p, Delimiter: '/' }));
    const pages: string[][] = [];
    let token: string | undefined;
    do {
      const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: p, MaxKeys: 2, ContinuationToken: token }));
      pages.push((page.Contents ?? []).map((c) => c.Key!.slice(p.length)));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token && pages.length < 10); // a server that ignores the token must fail, not spin

    expect(rolledUp.Contents?.map((c) => c.Key)).toEqual([`${p}a.txt`, `${p}b.txt`]);
    expect(rolledUp.CommonPrefixes?.map((c) => c.Prefix)).toEqual([`${p}dir/`]);
    expect(rolledUp.KeyCount).toBe(3);
    expect(pages).toEqual([['a.txt', 'b.txt'], ['dir/c.txt', 'dir/d.txt']]);
  });

  test('GetObject and HeadObject of a key that never existed answer 404 (NoSuchKey for GET)', async () => {
    const key = `${prefix('missing')}nothing-here`;

    const getErr = await s3Error(read(key));
    const headErr = await s3Error(client.send(new HeadObjectCommand({ Bucket: bucket, Key: key })));

    expect(statusOf(getErr)).toBe(404);
    expect(getErr.name).toBe('NoSuchKey');
    expect(statusOf(headErr)).toBe(404);
  });

  test('object and listing operations on a bucket that does not exist answer 404 NoSuchBucket', async () => {
    const missing = `no-such-bucket-${randomUUID()}`;

    const errors = await Promise.all([
      s3Error(client.send(new GetObjectCommand({ Bucket: missing, Key: 'k' }))),
      s3Error(client.send(new PutObjectCommand({ Bucket: missing, Key: 'k', Body: 'x' }))),
      s3Error(client.send(new ListObjectsV2Command({ Bucket: missing }))),
      s3Error(client.send(new ListObjectVersionsCommand({ Bucket: missing }))),
    ]);
    const head = await s3Error(client.send(new HeadBucketCommand({ Bucket: missing })));

    for (const err of errors) {
      expect(statusOf(err)).toBe(404);
      expect(err.name).toBe('NoSuchBucket');
    }
    expect(statusOf(head)).toBe(404);
  });
});

// ---------------------------------------------------------------------------------------------
// listing pages: what a sweep over every version of every database leans on
// ---------------------------------------------------------------------------------------------

type VersionEntry = { Key?: string; VersionId?: string; LastModified?: Date; IsLatest?: boolean };

/** Every page of a ListObjectVersions walk, each as the entries it returned in S3's order. */
async function versionPages(Prefix: string, MaxKeys: number) {
  const pages: { entries: [string, string][]; next?: [string | undefined, string | undefined]; truncated?: boolean }[] = [];
  let marker: { KeyMarker?: string; VersionIdMarker?: string } = {};
  for (let page = 0; page < 20; page++) { // bounded: a server that ignores the markers must fail, not spin
    const res = await client.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix, MaxKeys, ...marker }));
    const entries = inListingOrder([...(res.Versions ?? []), ...(res.DeleteMarkers ?? [])]);
    pages.push({ entries, truncated: res.IsTruncated, next: res.IsTruncated ? [res.NextKeyMarker, res.NextVersionIdMarker] : undefined });
    if (!res.IsTruncated) break;
    marker = { KeyMarker: res.NextKeyMarker, VersionIdMarker: res.NextVersionIdMarker };
  }
  return pages;
}

/** The SDK splits a page into Versions and DeleteMarkers; the wire order is by key, then newest first. */
function inListingOrder(all: VersionEntry[]) {
  const byKey = new Map<string, VersionEntry[]>();
  for (const v of all) byKey.set(v.Key!, [...(byKey.get(v.Key!) ?? []), v]);
  return [...byKey.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))).flatMap((key) =>
    byKey.get(key)!.sort((a, b) => Number(b.IsLatest) - Number(a.IsLatest) || b.LastModified!.getTime() - a.LastModified!.getTime())
      .map((v) => [v.Key!, v.VersionId!] as [string, string]));
}

describe('listing pages', () => {
  test('ListObjectVersions pages by MaxKeys across keys: each truncated page names its last entry as NextKeyMarker/NextVersionIdMarker, the last page none', async () => {
    const p = prefix('version-pages');
    const a1 = await put(`${p}a`, 'a1');
    const a2 = await put(`${p}a`, 'a2');
    const a3 = await put(`${p}a`, 'a3');
    const b1 = await put(`${p}b`, 'b1');
    const bMarker = await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: `${p}b` }));

    const pages = await versionPages(p, 2);

    expect(pages.map((page) => page.entries)).toEqual([
      [[`${p}a`, a3.VersionId], [`${p}a`, a2.VersionId]],
      [[`${p}a`, a1.VersionId], [`${p}b`, bMarker.VersionId]],
      [[`${p}b`, b1.VersionId]],
    ]);
    expect(pages.map((page) => page.next)).toEqual([[`${p}a`, a2.VersionId], [`${p}b`, bMarker.VersionId], undefined]);
    expect(pages.map((page) => page.truncated)).toEqual([true, true, false]);
  });

  test('a page that ends exactly at the last entry is not truncated, and MaxKeys=0 answers an empty page that is not truncated either', async () => {
    const p = prefix('exact-pages');
    await put(`${p}a`, 'a');
    await put(`${p}b`, 'b');

    const exactVersions = await client.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: p, MaxKeys: 2 }));
    const exactObjects = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: p, MaxKeys: 2 }));
    const noVersions = await client.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: p, MaxKeys: 0 }));
    const noObjects = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: p, MaxKeys: 0 }));

    expect([exactVersions.IsTruncated, exactVersions.NextKeyMarker, exactVersions.Versions?.length]).toEqual([false, undefined, 2]);
    expect([exactObjects.IsTruncated, exactObjects.NextContinuationToken, exactObjects.KeyCount]).toEqual([false, undefined, 2]);
    expect([noVersions.IsTruncated, noVersions.NextKeyMarker, noVersions.Versions, noVersions.DeleteMarkers]).toEqual([false, undefined, undefined, undefined]);
    expect([noObjects.IsTruncated, noObjects.NextContinuationToken, noObjects.KeyCount, noObjects.Contents]).toEqual([false, undefined, 0, undefined]);
  });

  test('ListObjectVersions with a KeyMarker alone starts after every version of that key; with a VersionIdMarker, after that version', async () => {
    const p = prefix('version-markers');
    await put(`${p}a`, 'a1');
    const a2 = await put(`${p}a`, 'a2');
    const b1 = await put(`${p}b`, 'b1');

    const afterKey = await client.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: p, KeyMarker: `${p}a` }));
    const afterVersion = await client.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: p, KeyMarker: `${p}a`, VersionIdMarker: a2.VersionId }));

    expect(afterKey.Versions?.map((v) => v.VersionId)).toEqual([b1.VersionId]);
    expect(afterKey.KeyMarker).toBe(`${p}a`);
    expect(afterVersion.Versions?.map((v) => [v.Key, v.ETag])).toEqual([[`${p}a`, md5Etag('a1')], [`${p}b`, md5Etag('b1')]]);
    expect(afterVersion.VersionIdMarker).toBe(a2.VersionId);
  });

  test('a VersionIdMarker without a KeyMarker, and a continuation token S3 did not mint, answer 400 InvalidArgument', async () => {
    const p = prefix('bad-markers');
    const { VersionId } = await put(`${p}a`, 'a');

    const noKeyMarker = await s3Error(client.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: p, VersionIdMarker: VersionId })));
    const badToken = await s3Error(client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: p, ContinuationToken: 'bm90LWEtdG9rZW4' })));

    expect([statusOf(noKeyMarker), noKeyMarker.name]).toEqual([400, 'InvalidArgument']);
    expect([statusOf(badToken), badToken.name]).toEqual([400, 'InvalidArgument']);
  });

  test('ListObjectsV2 with a delimiter counts CommonPrefixes toward MaxKeys and resumes after a prefix without repeating its keys', async () => {
    const p = prefix('delimited-pages');
    for (const k of ['a', 'dir/1', 'dir/2', 'e']) await put(`${p}${k}`, k);

    const pages: string[][] = [];
    let token: string | undefined;
    do {
      const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: p, Delimiter: '/', MaxKeys: 1, ContinuationToken: token }));
      pages.push([...(page.Contents ?? []).map((c) => c.Key!), ...(page.CommonPrefixes ?? []).map((c) => c.Prefix!)].map((k) => k.slice(p.length)));
      expect(page.KeyCount).toBe(1);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token && pages.length < 10);

    expect(pages).toEqual([['a'], ['dir/'], ['e']]);
  });

  test('ListObjectsV2 StartAfter skips keys up to and including it and is echoed', async () => {
    const p = prefix('start-after');
    for (const k of ['a', 'b', 'c']) await put(`${p}${k}`, k);

    const res = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: p, StartAfter: `${p}a` }));

    expect(res.Contents?.map((c) => c.Key)).toEqual([`${p}b`, `${p}c`]);
    expect(res.StartAfter).toBe(`${p}a`);
  });

  localOnly('a version walk resumes in place when the marker version was deleted between two pages (as a lifecycle sweep may do)', async () => {
    const p = prefix('deleted-marker');
    const v = [];
    for (let i = 1; i <= 4; i++) v.push(await put(`${p}a`, `a${i}`));
    const first = await client.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: p, MaxKeys: 2 }));
    expect(first.NextVersionIdMarker).toBe(v[2]!.VersionId);

    await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: `${p}a`, VersionId: v[2]!.VersionId }));
    const second = await client.send(new ListObjectVersionsCommand({
      Bucket: bucket, Prefix: p, KeyMarker: first.NextKeyMarker, VersionIdMarker: first.NextVersionIdMarker,
    }));

    expect(second.Versions?.map((x) => x.VersionId)).toEqual([v[1]!.VersionId, v[0]!.VersionId]);
  });
});

// ---------------------------------------------------------------------------------------------
// presigned requests: what a browser or curl gets instead of credentials
// ---------------------------------------------------------------------------------------------

/**
 * A client to presign with. `WHEN_REQUIRED`: otherwise the SDK signs the CRC32 of an empty body
 * into a presigned PUT, which S3-compatible stores (R2, MinIO) then refuse for any real body.
 */
function presigningClient(credentials?: { accessKeyId: string; secretAccessKey: string }): S3Client {
  if (target.kind === 'local') {
    return new S3Client({
      endpoint: server!.endpoint, region, forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED',
      credentials: credentials ?? LOCAL_CREDENTIALS,
    });
  }
  return new S3Client({
    region, requestChecksumCalculation: 'WHEN_REQUIRED', ...(target.endpoint ? { endpoint: target.endpoint, forcePathStyle: true } : {}),
    ...(credentials ? { credentials } : {}),
  });
}

/** An S3 error answered to a plain HTTP client: status, Code and Message from the XML body. */
async function httpAnswer(res: Response) {
  const body = await res.text();
  return { status: res.status, code: /<Code>([^<]*)<\/Code>/.exec(body)?.[1], message: /<Message>([^<]*)<\/Message>/.exec(body)?.[1], body };
}

function withParam(url: string, name: string, value: string): string {
  const u = new URL(url);
  u.searchParams.set(name, value);
  return u.toString();
}

describe('presigned URLs', () => {
  let signer: S3Client;
  beforeAll(() => { signer = presigningClient(); });
  afterAll(() => signer.destroy());

  test('a presigned GET of an old version answers its bytes; a presigned PUT stores a new version', async () => {
    const key = `${prefix('presigned')}doc`;
    const old = await put(key, 'old bytes');
    await put(key, 'new bytes');

    const getUrl = await getSignedUrl(signer, new GetObjectCommand({ Bucket: bucket, Key: key, VersionId: old.VersionId }), { expiresIn: 900 });
    const putUrl = await getSignedUrl(signer, new PutObjectCommand({ Bucket: bucket, Key: key }), { expiresIn: 900 });
    const got = await fetch(getUrl);
    const stored = await fetch(putUrl, { method: 'PUT', body: 'uploaded through a URL' });

    expect([got.status, await got.text()]).toEqual([200, 'old bytes']);
    expect(stored.status).toBe(200);
    expect(stored.headers.get('etag')).toBe(md5Etag('uploaded through a URL'));
    expect(stored.headers.get('x-amz-version-id')).toBeTruthy();
    expect(await read(key)).toBe('uploaded through a URL');
  });

  test('an expired presigned URL answers 403 AccessDenied "Request has expired" and stores nothing', async () => {
    const key = `${prefix('presigned-expired')}doc`;
    await put(key, 'kept');
    const signingDate = new Date(Date.now() - 3_600_000); // signed an hour ago for one minute

    const getUrl = await getSignedUrl(signer, new GetObjectCommand({ Bucket: bucket, Key: key }), { expiresIn: 60, signingDate });
    const putUrl = await getSignedUrl(signer, new PutObjectCommand({ Bucket: bucket, Key: key }), { expiresIn: 60, signingDate });
    const got = await httpAnswer(await fetch(getUrl));
    const stored = await httpAnswer(await fetch(putUrl, { method: 'PUT', body: 'too late' }));

    for (const answer of [got, stored]) expect([answer.status, answer.code, answer.message]).toEqual([403, 'AccessDenied', 'Request has expired']);
    expect(await read(key)).toBe('kept');
  });

  test('X-Amz-Expires over seven days answers 400 AuthorizationQueryParametersError', async () => {
    const key = `${prefix('presigned-week')}doc`;
    await put(key, 'x');
    const url = await getSignedUrl(signer, new GetObjectCommand({ Bucket: bucket, Key: key }), { expiresIn: 60 });

    const answer = await httpAnswer(await fetch(withParam(url, 'X-Amz-Expires', '604801')));

    expect([answer.status, answer.code]).toEqual([400, 'AuthorizationQueryParametersError']);
  });

  test('a tampered signature, a changed versionId, or a GET URL used to PUT answer 403 SignatureDoesNotMatch', async () => {
    const key = `${prefix('presigned-tampered')}doc`;
    const first = await put(key, 'first');
    await put(key, 'second');
    const url = await getSignedUrl(signer, new GetObjectCommand({ Bucket: bucket, Key: key, VersionId: first.VersionId }), { expiresIn: 900 });
    const signature = new URL(url).searchParams.get('X-Amz-Signature')!;
    const flipped = signature.slice(0, -1) + (signature.endsWith('0') ? '1' : '0');

    const answers = [
      await httpAnswer(await fetch(withParam(url, 'X-Amz-Signature', flipped))),
      await httpAnswer(await fetch(withParam(url, 'versionId', 'null'))),
      await httpAnswer(await fetch(url, { method: 'PUT', body: 'not allowed' })),
    ];

    for (const answer of answers) expect([answer.status, answer.code]).toEqual([403, 'SignatureDoesNotMatch']);
    expect(await read(key)).toBe('second');
  });

  test('a URL signed with a key the store does not know answers 403 InvalidAccessKeyId', async () => {
    const stranger = presigningClient({ accessKeyId: 'AKIAUNKNOWNKEY000000', secretAccessKey: 'not-a-real-secret' });
    const url = await getSignedUrl(stranger, new GetObjectCommand({ Bucket: bucket, Key: `${prefix('presigned-stranger')}doc` }), { expiresIn: 60 });
    stranger.destroy();

    const answer = await httpAnswer(await fetch(url));

    expect([answer.status, answer.code]).toEqual([403, 'InvalidAccessKeyId']);
  });
});

describe('presigned POST (browser form upload)', () => {
  let signer: S3Client;
  beforeAll(() => { signer = presigningClient(); });
  afterAll(() => signer.destroy());

  /** Posts the presigned fields plus `file`, the way a browser form does (file last). */
  async function upload(post: { url: string; fields: Record<string, string> }, file: Buffer, override: Record<string, string> = {}) {
    const form = new FormData();
    for (const [name, value] of Object.entries({ ...post.fields, ...override })) form.append(name, value);
    form.append('file', new Blob([file]), 'upload.bin');
    return fetch(post.url, { method: 'POST', body: form });
  }

  const presignUpload = (Key: string, extra: Pick<PresignedPostOptions, 'Conditions' | 'Fields' | 'Expires'> = {}) =>
    createPresignedPost(signer, {
      Bucket: bucket, Key, Expires: extra.Expires ?? 900,
      Conditions: [['content-length-range', 10, 1000], ...(extra.Conditions ?? [])],
      Fields: { 'Content-Type': 'application/vnd.sqlite3', ...extra.Fields },
    });

  test('an upload within content-length-range answers 204 with its ETag and is stored as a new version with its Content-Type', async () => {
    const key = `${prefix('post')}staged.sqlite`;
    const bytes = randomBytes(500);
    const post = await presignUpload(key);

    const first = await upload(post, bytes);
    const second = await upload(post, Buffer.from('a second upload'));

    expect(first.status).toBe(204);
    expect(first.headers.get('etag')).toBe(md5Etag(bytes));
    expect(second.status).toBe(204);
    const listed = await listVersions(client, bucket, key);
    expect(listed.Versions?.map((v) => v.VersionId)).toEqual([second.headers.get('x-amz-version-id'), first.headers.get('x-amz-version-id')]);
    const old = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key, VersionId: first.headers.get('x-amz-version-id')! }));
    expect(Buffer.from(await old.Body!.transformToByteArray()).equals(bytes)).toBe(true);
    expect(old.ContentType).toBe('application/vnd.sqlite3');
  });

  test('a file over or under content-length-range answers 400 EntityTooLarge / EntityTooSmall and stores nothing', async () => {
    const key = `${prefix('post-size')}staged.sqlite`;
    const post = await presignUpload(key);

    const tooLarge = await httpAnswer(await upload(post, randomBytes(1001)));
    const tooSmall = await httpAnswer(await upload(post, randomBytes(9)));

    expect([tooLarge.status, tooLarge.code]).toEqual([400, 'EntityTooLarge']);
    expect([tooSmall.status, tooSmall.code]).toEqual([400, 'EntityTooSmall']);
    expect((await listVersions(client, bucket, key)).Versions ?? []).toEqual([]);
  });

  test('an expired policy, a tampered signature, another key or a field the policy does not cover answer 403 and store nothing', async () => {
    const p = prefix('post-refused');
    const post = await presignUpload(`${p}staged.sqlite`);
    const expired = await presignUpload(`${p}staged.sqlite`, { Expires: -60 });
    const signature = post.fields['X-Amz-Signature']!;

    const answers = {
      expired: await httpAnswer(await upload(expired, randomBytes(100))),
      tampered: await httpAnswer(await upload(post, randomBytes(100), { 'X-Amz-Signature': signature.slice(0, -1) + (signature.endsWith('0') ? '1' : '0') })),
      otherKey: await httpAnswer(await upload(post, randomBytes(100), { key: `${p}elsewhere.sqlite` })),
      extraField: await httpAnswer(await upload(post, randomBytes(100), { 'x-amz-meta-smuggled': 'yes' })),
    };

    expect([answers.expired.status, answers.expired.code]).toEqual([403, 'AccessDenied']);
    expect([answers.tampered.status, answers.tampered.code]).toEqual([403, 'SignatureDoesNotMatch']);
    expect([answers.otherKey.status, answers.otherKey.code]).toEqual([403, 'AccessDenied']);
    expect([answers.extraField.status, answers.extraField.code]).toEqual([403, 'AccessDenied']);
    expect((await listVersions(client, bucket, p)).Versions ?? []).toEqual([]);
  });

  test('success_action_status 201 answers a PostResponse document naming the bucket and key', async () => {
    const key = `${prefix('post-201')}staged.sqlite`;
    const post = await presignUpload(key, { Conditions: [{ success_action_status: '201' }], Fields: { success_action_status: '201' } });

    const res = await upload(post, randomBytes(50));
    const body = await res.text();

    expect(res.status).toBe(201);
    expect(body).toContain(`<Key>${key}</Key>`);
    expect(body).toContain(`<Bucket>${bucket}</Bucket>`);
  });
});

// ---------------------------------------------------------------------------------------------
// local server only: buckets it may create, raw HTTP, restarts
// ---------------------------------------------------------------------------------------------

describe('local server', () => {
  localOnly('CreateBucket on an existing bucket answers 409 BucketAlreadyOwnedByYou; DeleteBucket needs every version gone (409 BucketNotEmpty)', async () => {
    const name = `lifecycle-${randomUUID().slice(0, 8)}`;
    await client.send(new CreateBucketCommand({ Bucket: name }));
    await client.send(new PutBucketVersioningCommand({ Bucket: name, VersioningConfiguration: { Status: 'Enabled' } }));
    await client.send(new PutObjectCommand({ Bucket: name, Key: 'k', Body: 'x' }));
    await client.send(new DeleteObjectCommand({ Bucket: name, Key: 'k' })); // only a delete marker is current now

    const again = await s3Error(client.send(new CreateBucketCommand({ Bucket: name })));
    const notEmpty = await s3Error(client.send(new DeleteBucketCommand({ Bucket: name })));
    const listedWhileAlive = (await client.send(new ListBucketsCommand({}))).Buckets?.map((b) => b.Name);
    await deleteEverythingUnder(client, name, '');
    await client.send(new DeleteBucketCommand({ Bucket: name }));
    const headAfter = await s3Error(client.send(new HeadBucketCommand({ Bucket: name })));

    expect([statusOf(again), again.name]).toEqual([409, 'BucketAlreadyOwnedByYou']);
    expect([statusOf(notEmpty), notEmpty.name]).toEqual([409, 'BucketNotEmpty']);
    expect(listedWhileAlive).toContain(name);
    expect(statusOf(headAfter)).toBe(404);
  });

  localOnly('an unversioned bucket keeps one version per key with VersionId "null" and sends no x-amz-version-id', async () => {
    const name = `plain-${randomUUID().slice(0, 8)}`;
    await client.send(new CreateBucketCommand({ Bucket: name }));

    const first = await client.send(new PutObjectCommand({ Bucket: name, Key: 'k', Body: 'one' }));
    await client.send(new PutObjectCommand({ Bucket: name, Key: 'k', Body: 'two' }));
    const got = await client.send(new GetObjectCommand({ Bucket: name, Key: 'k' }));
    const listed = await listVersions(client, name, '');
    const versioning = await client.send(new GetBucketVersioningCommand({ Bucket: name }));
    const deleted = await client.send(new DeleteObjectCommand({ Bucket: name, Key: 'k' }));
    const afterDelete = await listVersions(client, name, '');

    expect(first.VersionId).toBeUndefined();
    expect(got.VersionId).toBeUndefined();
    expect(await got.Body!.transformToString()).toBe('two');
    expect(listed.Versions?.map((v) => [v.VersionId, v.IsLatest, v.ETag])).toEqual([['null', true, md5Etag('two')]]);
    expect(versioning.Status).toBeUndefined();
    expect(deleted.DeleteMarker).toBeUndefined();
    expect(afterDelete.Versions ?? []).toEqual([]);
    expect(afterDelete.DeleteMarkers ?? []).toEqual([]);
  });

  localOnly('an unimplemented sub-resource answers 501 NotImplemented XML, and every response carries x-amz-request-id', async () => {
    const acl = await raw('GET', `/${bucket}?acl`);
    const post = await raw('POST', `/${bucket}/k?uploads`);
    const ok = await raw('GET', '/');

    expect(acl.status).toBe(501);
    expect(acl.body).toMatch(/<Error><Code>NotImplemented<\/Code><Message>[^<]+<\/Message>.*<RequestId>[0-9A-F]+<\/RequestId><\/Error>/);
    expect(post.status).toBe(501);
    for (const res of [acl, post, ok]) expect(res.headers['x-amz-request-id']).toMatch(/^[0-9A-F]{16}$/);
  });

  localOnly('malformed input (broken aws-chunked body, bad percent-encoding) gets a 4xx error and the server keeps serving', async () => {
    const brokenChunks = await raw('PUT', `/${bucket}/${prefix('bad-input')}k`, {
      'content-encoding': 'aws-chunked', 'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
    }, 'zz\r\nnot hex\r\n');
    const badUri = await raw('GET', `/${bucket}/%E0%A4%A`);
    const shortChunks = await raw('PUT', `/${bucket}/${prefix('bad-input')}k`, {
      'content-encoding': 'aws-chunked', 'x-amz-decoded-content-length': '10',
    }, '5\r\nhello\r\n0\r\n\r\n');

    expect([brokenChunks.status, brokenChunks.body]).toEqual([400, expect.stringContaining('<Code>IncompleteBody</Code>')]);
    expect([badUri.status, badUri.body]).toEqual([400, expect.stringContaining('<Code>InvalidURI</Code>')]);
    expect(shortChunks.status).toBe(400);
    expect((await raw('GET', '/')).status).toBe(200);
  });

  localOnly('a restarted server on the same dataDir serves the same buckets, versioning, versions, delete markers and metadata', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 's3-restart-'));
    const first = await startLocalS3({ dataDir: dir });
    const before = localClient(first.endpoint);
    await before.send(new CreateBucketCommand({ Bucket: 'durable' }));
    await before.send(new PutBucketVersioningCommand({ Bucket: 'durable', VersioningConfiguration: { Status: 'Enabled' } }));
    const v1 = await before.send(new PutObjectCommand({ Bucket: 'durable', Key: 'db/main.sqlite', Body: 'v1', Metadata: { generation: '1' } }));
    const v2 = await before.send(new PutObjectCommand({ Bucket: 'durable', Key: 'db/main.sqlite', Body: 'v2', Metadata: { generation: '2' } }));
    const marker = await before.send(new DeleteObjectCommand({ Bucket: 'durable', Key: 'gone' }));
    const versionsBefore = await listVersions(before, 'durable', '');
    before.destroy();
    await first.close();

    const second = await startLocalS3({ dataDir: dir });
    const after = localClient(second.endpoint);
    try {
      const versioning = await after.send(new GetBucketVersioningCommand({ Bucket: 'durable' }));
      const versionsAfter = await listVersions(after, 'durable', '');
      const current = await after.send(new GetObjectCommand({ Bucket: 'durable', Key: 'db/main.sqlite' }));
      const old = await after.send(new GetObjectCommand({ Bucket: 'durable', Key: 'db/main.sqlite', VersionId: v1.VersionId }));
      const next = await after.send(new PutObjectCommand({ Bucket: 'durable', Key: 'db/main.sqlite', Body: 'v3', IfMatch: v2.ETag }));

      expect(versioning.Status).toBe('Enabled');
      expect(versionsAfter.Versions).toEqual(versionsBefore.Versions);
      expect(versionsAfter.DeleteMarkers?.map((m) => m.VersionId)).toEqual([marker.VersionId]);
      expect([current.VersionId, await current.Body!.transformToString(), current.Metadata]).toEqual([v2.VersionId, 'v2', { generation: '2' }]);
      expect([await old.Body!.transformToString(), old.Metadata]).toEqual(['v1', { generation: '1' }]);
      expect(next.VersionId).not.toBe(v2.VersionId);
    } finally {
      after.destroy();
      await second.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
