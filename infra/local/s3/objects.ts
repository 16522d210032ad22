/**
 * Object operations: GET/HEAD (by version, conditional, ranged), PUT (plain, aws-chunked,
 * conditional), CopyObject (versioned source, COPY/REPLACE metadata, CopySourceIf*) and
 * DELETE (a delete marker in a versioned bucket, fenced by If-Match; with a versionId, that version for good).
 */
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { findBucket } from './buckets';
import { checkDeletePreconditions, checkWritePreconditions, readPreconditions, type InFlight } from './conditions';
import type { Bucket, NewVersion, ObjectVersion, Store } from './store';
import { decodeUri, el, isoDate, noSuchKey, preconditionFailed, S3Error, xmlDoc, type Headers, type Reply, type Request } from './protocol';

/** Request headers S3 stores with an object and echoes on GET/HEAD (besides x-amz-meta-*). */
export const STORED_HEADERS = ['content-type', 'content-encoding', 'content-disposition', 'content-language', 'cache-control', 'expires'];

export function getObject(store: Store, r: Request, bucket: Bucket, key: string): Reply {
  const version = resolve(bucket, key, r.query.get('versionId'));
  const headers = describe(bucket, version);
  // S3 answers a stored checksum only when asked, and never for a part of the object.
  if (r.header('x-amz-checksum-mode')?.toUpperCase() !== 'ENABLED' || r.header('range') !== undefined) {
    for (const name of Object.keys(headers)) if (name.startsWith('x-amz-checksum-')) delete headers[name];
  }
  const failed = readPreconditions(r.header, version, '');
  if (failed?.status === 304) {
    return { status: 304, headers: { ETag: version.etag, 'Last-Modified': headers['Last-Modified'] ?? '' } };
  }
  if (failed) throw preconditionFailed(failed.condition);
  for (const name of STORED_HEADERS) {
    const override = r.query.get(`response-${name}`);
    if (override !== null) headers[name] = override;
  }
  if (r.method === 'HEAD') return { status: 200, headers };
  const body = store.body(bucket, version);
  const range = parseRange(r.header('range'), body.length);
  if (!range) return { status: 200, headers, body };
  const [start, end] = range;
  headers['Content-Length'] = String(end - start + 1);
  headers['Content-Range'] = `bytes ${start}-${end}/${body.length}`;
  return { status: 206, headers, body: body.subarray(start, end + 1) };
}

export function putObject(store: Store, r: Request, bucket: Bucket, key: string): Reply {
  let body = r.body;
  const encodings = (r.header('content-encoding') ?? '').split(',').map((e) => e.trim()).filter(Boolean);
  if (encodings.includes('aws-chunked') || r.header('x-amz-content-sha256')?.startsWith('STREAMING-')) {
    body = decodeAwsChunked(body);
    const declared = r.header('x-amz-decoded-content-length');
    if (declared !== undefined && Number(declared) !== body.length) {
      throw new S3Error(400, 'IncompleteBody', 'You did not provide the number of bytes specified by x-amz-decoded-content-length');
    }
  }
  const digest = createHash('md5').update(body);
  const contentMd5 = r.header('content-md5');
  if (contentMd5 !== undefined && contentMd5 !== digest.copy().digest('base64')) {
    throw new S3Error(400, 'BadDigest', 'The Content-MD5 you specified did not match what we received.');
  }
  const headers = { ...storedHeaders(r), ...checkedChecksums(r, body) };
  const contentEncoding = encodings.filter((e) => e !== 'aws-chunked').join(',');
  if (contentEncoding) headers['content-encoding'] = contentEncoding;
  else delete headers['content-encoding'];
  const version = writeVersion(store, r, bucket, { key, etag: `"${digest.digest('hex')}"`, headers }, body);
  return { status: 200, headers: writtenHeaders(bucket, version) };
}

export function copyObject(store: Store, r: Request, bucket: Bucket, key: string): Reply {
  const source = r.header('x-amz-copy-source') ?? '';
  const [rawPath = '', rawQuery = ''] = source.split('?', 2);
  const path = decodeUri(rawPath).replace(/^\//, '');
  const slash = path.indexOf('/');
  if (slash <= 0 || slash === path.length - 1) {
    throw new S3Error(400, 'InvalidArgument', 'Copy Source must mention the source bucket and key: sourcebucket/sourcekey');
  }
  const sourceBucket = findBucket(store, path.slice(0, slash));
  const sourceVersionId = new URLSearchParams(rawQuery).get('versionId');
  const from = resolve(sourceBucket, path.slice(slash + 1), sourceVersionId, true);
  // On a copy source every failed condition is a 412, "not modified" included.
  const failed = readPreconditions(r.header, from, 'x-amz-copy-source-');
  if (failed) throw preconditionFailed(`x-amz-copy-source-${failed.condition}`);
  const directive = (r.header('x-amz-metadata-directive') ?? 'COPY').toUpperCase();
  if (directive !== 'COPY' && directive !== 'REPLACE') throw new S3Error(400, 'InvalidArgument', 'Unknown metadata directive.');
  if (directive === 'COPY' && sourceBucket === bucket && from.key === key && sourceVersionId === null) {
    throw new S3Error(400, 'InvalidRequest', 'This copy request is illegal because it is trying to copy an object to itself '
      + 'without changing the object\'s metadata, storage class, website redirect location or encryption attributes.');
  }
  const headers = directive === 'COPY' ? { ...from.headers } : storedHeaders(r);
  const version = writeVersion(store, r, bucket, { key, etag: from.etag, headers }, store.body(sourceBucket, from));
  const out = writtenHeaders(bucket, version);
  if (sourceBucket.versioning) out['x-amz-copy-source-version-id'] = from.versionId;
  const result = el('LastModified', isoDate(version.lastModified)) + el('ETag', version.etag);
  return { status: 200, headers: out, body: xmlDoc('CopyObjectResult', result) };
}

export function deleteObject(store: Store, inFlight: InFlight, r: Request, bucket: Bucket, key: string): Reply {
  const versionId = r.query.get('versionId');
  if (versionId === null) checkDeletePreconditions(r, key, bucket.objects.get(key)?.[0]);
  inFlight.noteDelete(bucket.name, key);
  if (versionId !== null) {
    // Deleting a version that does not exist is a no-op success in S3, as deletes are idempotent.
    const target = bucket.objects.get(key)?.find((v) => v.versionId === versionId);
    if (target) store.removeVersion(bucket, target);
    const headers: Headers = { 'x-amz-version-id': versionId };
    if (target?.isDeleteMarker) headers['x-amz-delete-marker'] = 'true';
    return { status: 204, headers };
  }
  if (!bucket.versioning) {
    const current = bucket.objects.get(key)?.[0];
    if (current) store.removeVersion(bucket, current);
    return { status: 204 };
  }
  const marker = store.addVersion(bucket, {
    key, isDeleteMarker: true, lastModified: Date.now(), etag: '', size: 0, headers: {},
  }, undefined);
  return { status: 204, headers: { 'x-amz-delete-marker': 'true', 'x-amz-version-id': marker.versionId } };
}

/**
 * Checks S3's limits and the request's write preconditions, then stores the new version, in one
 * synchronous step (see InFlight). Every write path ends here: PUT, copy and POST uploads.
 */
export function writeVersion(
  store: Store, r: Request, bucket: Bucket, fields: Pick<NewVersion, 'key' | 'etag' | 'headers'>, body: Buffer,
): ObjectVersion {
  const { key, headers } = fields;
  if (Buffer.byteLength(key) > 1024) throw new S3Error(400, 'KeyTooLongError', 'Your key is too long', { Key: key });
  const metaBytes = Object.entries(headers)
    .filter(([name]) => name.startsWith('x-amz-meta-'))
    .reduce((n, [name, value]) => n + name.length - 'x-amz-meta-'.length + value.length, 0);
  if (metaBytes > 2048) {
    throw new S3Error(400, 'MetadataTooLarge', 'Your metadata headers exceed the maximum allowed metadata size');
  }
  checkWritePreconditions(r, key, bucket.objects.get(key)?.[0]);
  return store.addVersion(bucket, { ...fields, isDeleteMarker: false, lastModified: Date.now(), size: body.length }, body);
}

const CHECKSUMS: Record<string, { name: string; of(body: Buffer): string }> = {
  'x-amz-checksum-crc32': { name: 'CRC32', of: (body) => { const b = Buffer.alloc(4); b.writeUInt32BE(crc32(body) >>> 0); return b.toString('base64'); } },
  'x-amz-checksum-sha1': { name: 'SHA1', of: (body) => createHash('sha1').update(body).digest('base64') },
  'x-amz-checksum-sha256': { name: 'SHA256', of: (body) => createHash('sha256').update(body).digest('base64') },
};

/**
 * The x-amz-checksum-* headers of a PUT, checked against its body as S3 checks them (400
 * BadDigest), to be stored with the version. CRC32C and CRC64NVME are not computed here: they
 * are neither checked nor kept. Trailing checksums of an aws-chunked body are not read.
 */
function checkedChecksums(r: Request, body: Buffer): Headers {
  const out: Headers = {};
  for (const [header, checksum] of Object.entries(CHECKSUMS)) {
    const sent = r.header(header);
    if (sent === undefined) continue;
    if (sent !== checksum.of(body)) {
      throw new S3Error(400, 'BadDigest', `The ${checksum.name} you specified did not match the calculated checksum.`);
    }
    out[header] = sent;
  }
  return out;
}

/** The headers S3 answers a successful write with. */
export function writtenHeaders(bucket: Bucket, version: ObjectVersion): Headers {
  return { ETag: version.etag, ...versionHeader(bucket, version) };
}

/** The content-* headers and x-amz-meta-* of a request, as S3 stores them with the object. */
export function storedHeaders(r: Pick<Request, 'header' | 'headersRaw'>): Headers {
  const out: Headers = {};
  for (const name of STORED_HEADERS) {
    const value = r.header(name);
    if (value !== undefined) out[name] = value;
  }
  for (const [name, value] of Object.entries(r.headersRaw())) {
    if (name.startsWith('x-amz-meta-')) out[name] = value;
  }
  return out;
}

/** The version a GET/HEAD/copy-source names, or the S3 error for why there is none. */
function resolve(bucket: Bucket, key: string, versionId: string | null, forCopy = false): ObjectVersion {
  const history = bucket.objects.get(key) ?? [];
  if (versionId === null) {
    const current = history[0];
    if (!current) throw noSuchKey(key);
    if (current.isDeleteMarker) throw noSuchKey(key, { 'x-amz-delete-marker': 'true', ...versionHeader(bucket, current) });
    return current;
  }
  const version = history.find((v) => v.versionId === versionId);
  if (!version) {
    throw new S3Error(404, 'NoSuchVersion', 'The specified version does not exist.', { Key: key, VersionId: versionId });
  }
  if (version.isDeleteMarker && forCopy) {
    throw new S3Error(400, 'InvalidRequest', 'The source of a copy request may not specifically refer to a delete marker by version id.');
  }
  if (version.isDeleteMarker) {
    throw new S3Error(405, 'MethodNotAllowed', 'The specified method is not allowed against this resource.',
      { Method: 'GET', ResourceType: 'DeleteMarker' },
      { 'x-amz-delete-marker': 'true', 'x-amz-version-id': version.versionId, Allow: 'DELETE',
        'Last-Modified': new Date(version.lastModified).toUTCString() });
  }
  return version;
}

function versionHeader(bucket: Bucket, version: ObjectVersion): Headers {
  // A bucket that was never versioned has no version ids to speak of; once versioning has been
  // configured S3 reports them, "null" included.
  return bucket.versioning ? { 'x-amz-version-id': version.versionId } : {};
}

function describe(bucket: Bucket, v: ObjectVersion): Headers {
  return {
    'content-type': 'binary/octet-stream',
    ...v.headers,
    ETag: v.etag,
    'Last-Modified': new Date(v.lastModified).toUTCString(),
    'Content-Length': String(v.size),
    'Accept-Ranges': 'bytes',
    ...versionHeader(bucket, v),
  };
}

/** A single `bytes=` range as inclusive [start, end]; undefined = serve the whole object. */
function parseRange(header: string | undefined, size: number): [number, number] | undefined {
  const m = header === undefined ? null : /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined; // absent or unsupported: S3 ignores it
  const [start, end] = m[1] === ''
    ? [Math.max(0, size - Number(m[2])), size - 1]
    : [Number(m[1]), m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1)];
  if (start >= size || start > end) {
    throw new S3Error(416, 'InvalidRange', 'The requested range is not satisfiable',
      { RangeRequested: header ?? '', ActualObjectSize: String(size) }, { 'Content-Range': `bytes */${size}` });
  }
  return [start, end];
}

/**
 * Strips the aws-chunked framing the SDK uses for streaming bodies:
 * `<hex-size>[;chunk-signature=..]\r\n<data>\r\n ... 0[;..]\r\n<trailers>\r\n\r\n`.
 * Chunk signatures and trailing checksums are not checked (header-signed requests never are).
 */
function decodeAwsChunked(raw: Buffer): Buffer {
  const parts: Buffer[] = [];
  const malformed = () => new S3Error(400, 'IncompleteBody', 'The request body is not valid aws-chunked encoding');
  for (let pos = 0; ;) {
    const eol = raw.indexOf('\r\n', pos);
    if (eol < 0) throw malformed();
    const size = raw.toString('latin1', pos, eol).split(';')[0]?.trim() ?? '';
    if (!/^[0-9a-fA-F]{1,16}$/.test(size)) throw malformed();
    const start = eol + 2;
    const end = start + parseInt(size, 16);
    if (end === start) return Buffer.concat(parts);
    if (end + 2 > raw.length || raw[end] !== 0x0d || raw[end + 1] !== 0x0a) throw malformed();
    parts.push(raw.subarray(start, end));
    pos = end + 2;
  }
}
