/**
 * In-process S3-compatible server for the local stack and the integration tests.
 *
 * Why it exists: the service relies on two S3 features at once (object versioning and
 * conditional PUT with If-Match / If-None-Match), and no local emulator available here honours
 * both. This one speaks enough of the S3 REST API, path-style only, for the real AWS SDK v3
 * S3Client. It never checks signatures: it is a dev/test tool, bound to loopback by default.
 *
 * Node only (node:http, node:fs, node:crypto). State lives in memory; with `dataDir` every
 * change is also written to disk (temp file + rename) before the response is sent, so a
 * restarted server sees the same buckets and versions.
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';

export interface LocalS3Options {
  /** 0 = a random free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Persist here; absent = memory only. */
  dataDir?: string;
}

export interface LocalS3Server {
  /** e.g. http://127.0.0.1:4569 */
  readonly endpoint: string;
  readonly port: number;
  close(): Promise<void>;
}

type Versioning = 'Enabled' | 'Suspended';

/** One entry of a key's history; also the JSON record persisted next to the body file. */
interface ObjectVersion {
  key: string;
  versionId: string; // "null" in unversioned / suspended buckets, as S3 reports it
  seq: number; // global creation order: sorts a key's history after a restart
  isDeleteMarker: boolean;
  lastModified: number; // epoch ms
  etag: string; // quoted hex MD5
  size: number;
  headers: Record<string, string>; // content-* headers and x-amz-meta-*, echoed on GET/HEAD
  file: string; // body file name, unique per bucket (version ids are not: "null" repeats)
}

interface Bucket {
  name: string;
  created: number;
  versioning?: Versioning; // undefined = never versioned, which S3 distinguishes from Suspended
  objects: Map<string, ObjectVersion[]>; // newest first
}

type Headers = Record<string, string>;
interface Reply { status: number; headers?: Headers; body?: Buffer | string }

class S3Error extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly fields: Record<string, string> = {},
    readonly headers: Headers = {},
  ) {
    super(message);
    this.name = 'S3Error';
  }
}

const XMLNS = 'http://s3.amazonaws.com/doc/2006-03-01/';
// Everything is buffered in memory; refuse (rather than crash on) bodies we cannot hold.
const MAX_BODY_BYTES = 1024 * 1024 * 1024;
const OWNER = '<Owner><ID>local-s3</ID></Owner>';
const STORED_HEADERS = ['content-type', 'content-encoding', 'content-disposition', 'content-language', 'cache-control', 'expires'];
// Query parameters that select or tune an operation we implement. Any other name (acl, tagging,
// uploads, ...) is a sub-resource we do not implement: answering 200 would lie to the caller.
const KNOWN_PARAMS = new Set([
  'versioning', 'versions', 'versionId', 'list-type', 'prefix', 'delimiter', 'max-keys', 'marker',
  'continuation-token', 'start-after', 'encoding-type', 'fetch-owner', 'key-marker', 'version-id-marker',
  'max-buckets', 'bucket-region', 'response-content-type', 'response-content-language', 'response-expires',
  'response-cache-control', 'response-content-disposition', 'response-content-encoding',
]);

const noSuchBucket = (name: string) => new S3Error(404, 'NoSuchBucket', 'The specified bucket does not exist', { BucketName: name });
const noSuchKey = (key: string, headers: Headers = {}) =>
  new S3Error(404, 'NoSuchKey', 'The specified key does not exist.', { Key: key }, headers);
const preconditionFailed = (condition: string) =>
  new S3Error(412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', { Condition: condition });
const notImplemented = (what: string) => new S3Error(501, 'NotImplemented', `${what} is not implemented by the local S3 server`);

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const el = (name: string, value: string | number | boolean) => `<${name}>${esc(String(value))}</${name}>`;
const xmlDoc = (root: string, inner: string, ns = true) =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<${root}${ns ? ` xmlns="${XMLNS}"` : ''}>${inner}</${root}>`;
const md5 = (data: Buffer) => createHash('md5').update(data);
const isoDate = (ms: number) => new Date(ms).toISOString();
// S3 orders keys by their UTF-8 bytes; JS string comparison (UTF-16 units) differs above U+E000.
const compareKeys = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));
const decodeUri = (s: string) => {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new S3Error(400, 'InvalidURI', 'Couldn\'t parse the specified URI.');
  }
};
const unquote = (etag: string) => etag.trim().replace(/^W\//, '').replace(/^"(.*)"$/, '$1');

// ---------------------------------------------------------------------------------------------
// State and persistence: dataDir/<bucket>/bucket.json, dataDir/<bucket>/versions/<file>.{json,bin}
// ---------------------------------------------------------------------------------------------

function writeAtomic(file: string, data: string | Buffer): void {
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, file); // a reader (or a restart) sees the old file or the new one, never half
}

class Store {
  readonly buckets = new Map<string, Bucket>();
  private readonly bodies = new Map<string, Buffer>(); // memory mode only, by `${bucket}/${file}`
  private seq = 0;

  constructor(private readonly dataDir: string | undefined) {
    if (dataDir) this.load(dataDir);
  }

  createBucket(name: string): Bucket {
    const bucket: Bucket = { name, created: Date.now(), objects: new Map() };
    if (this.dataDir) {
      fs.mkdirSync(`${this.dataDir}/${name}/versions`, { recursive: true });
      this.saveBucket(bucket);
    }
    this.buckets.set(name, bucket);
    return bucket;
  }

  deleteBucket(bucket: Bucket): void {
    this.buckets.delete(bucket.name);
    if (!this.dataDir) return;
    // bucket.json goes first: a crash mid-way leaves a directory that load() ignores.
    fs.rmSync(`${this.dataDir}/${bucket.name}/bucket.json`, { force: true });
    fs.rmSync(`${this.dataDir}/${bucket.name}`, { recursive: true, force: true });
  }

  setVersioning(bucket: Bucket, status: Versioning): void {
    bucket.versioning = status;
    this.saveBucket(bucket);
  }

  /** Makes `fields` the newest version of its key. A "null" version replaces the previous one. */
  addVersion(bucket: Bucket, fields: Omit<ObjectVersion, 'seq' | 'file'>, body: Buffer | undefined): ObjectVersion {
    const version: ObjectVersion = { ...fields, seq: ++this.seq, file: randomBytes(12).toString('hex') };
    if (this.dataDir) {
      // Body before record: the JSON record is the commit point, so a crash never leaves a
      // version whose body is missing.
      const base = `${this.dataDir}/${bucket.name}/versions/${version.file}`;
      if (body) writeAtomic(`${base}.bin`, body);
      writeAtomic(`${base}.json`, JSON.stringify(version));
    } else if (body) {
      this.bodies.set(`${bucket.name}/${version.file}`, body);
    }
    const history = bucket.objects.get(version.key) ?? [];
    const replaced = version.versionId === 'null' ? history.find((v) => v.versionId === 'null') : undefined;
    if (replaced) this.removeVersion(bucket, replaced);
    bucket.objects.set(version.key, [version, ...(bucket.objects.get(version.key) ?? [])]);
    return version;
  }

  removeVersion(bucket: Bucket, version: ObjectVersion): void {
    const rest = (bucket.objects.get(version.key) ?? []).filter((v) => v !== version);
    if (rest.length > 0) bucket.objects.set(version.key, rest);
    else bucket.objects.delete(version.key);
    this.bodies.delete(`${bucket.name}/${version.file}`);
    if (this.dataDir) {
      const base = `${this.dataDir}/${bucket.name}/versions/${version.file}`;
      fs.rmSync(`${base}.json`, { force: true });
      fs.rmSync(`${base}.bin`, { force: true });
    }
  }

  body(bucket: Bucket, version: ObjectVersion): Buffer {
    if (!this.dataDir) return this.bodies.get(`${bucket.name}/${version.file}`) ?? Buffer.alloc(0);
    return version.size === 0 ? Buffer.alloc(0) : fs.readFileSync(`${this.dataDir}/${bucket.name}/versions/${version.file}.bin`);
  }

  private saveBucket(bucket: Bucket): void {
    if (!this.dataDir) return;
    const { name, created, versioning } = bucket;
    writeAtomic(`${this.dataDir}/${name}/bucket.json`, JSON.stringify({ name, created, versioning }));
  }

  private load(dataDir: string): void {
    fs.mkdirSync(dataDir, { recursive: true });
    for (const entry of fs.readdirSync(dataDir, { withFileTypes: true })) {
      const dir = `${dataDir}/${entry.name}`;
      if (!entry.isDirectory() || !fs.existsSync(`${dir}/bucket.json`)) continue;
      const meta = JSON.parse(fs.readFileSync(`${dir}/bucket.json`, 'utf8')) as Omit<Bucket, 'objects'>;
      const bucket: Bucket = { ...meta, objects: new Map() };
      fs.mkdirSync(`${dir}/versions`, { recursive: true });
      const records: ObjectVersion[] = [];
      for (const file of fs.readdirSync(`${dir}/versions`)) {
        if (file.endsWith('.tmp')) fs.rmSync(`${dir}/versions/${file}`, { force: true }); // interrupted write
        if (!file.endsWith('.json')) continue;
        try {
          records.push(JSON.parse(fs.readFileSync(`${dir}/versions/${file}`, 'utf8')) as ObjectVersion);
        } catch {
          // Unreadable record: skip it rather than refuse to start a dev server.
        }
      }
      records.sort((a, b) => b.seq - a.seq);
      for (const v of records) {
        this.seq = Math.max(this.seq, v.seq);
        const history = bucket.objects.get(v.key) ?? [];
        // A crash between writing a new "null" version and removing the old one leaves both.
        if (history.some((h) => h.versionId === v.versionId)) continue;
        bucket.objects.set(v.key, [...history, v]);
      }
      this.buckets.set(bucket.name, bucket);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Conditional PUT bookkeeping
// ---------------------------------------------------------------------------------------------

/**
 * Conditional PUTs in flight, per bucket/key. The body of a PUT arrives over many event-loop
 * turns; the condition is checked and the version committed in one synchronous step once the
 * body is complete, so no other request can interleave between check and commit. What remains
 * is overlap during the upload, which S3 reports as 409 ConditionalRequestConflict:
 *
 *   A: PUT If-None-Match:*  |--- receiving body ---|check+commit| 200
 *   B: PUT If-None-Match:*         |--- receiving ---|             409 (A was in flight)
 *   C: DELETE                   |x| (during A's upload)     -> A answers 409 instead of 200
 *
 * An If-Match PUT overlapped by a DELETE needs no bookkeeping: the key is gone at commit time,
 * and S3 answers that with 404, which is what the plain check produces.
 */
class InFlight {
  private readonly byKey = new Map<string, { deletedMeanwhile: boolean }>();

  enter(bucket: string, key: string): Ticket {
    const id = `${bucket}\n${key}`;
    if (this.byKey.has(id)) return { conflict: true, deletedMeanwhile: () => false, release: () => undefined };
    const state = { deletedMeanwhile: false };
    this.byKey.set(id, state);
    return { conflict: false, deletedMeanwhile: () => state.deletedMeanwhile, release: () => this.byKey.delete(id) };
  }

  noteDelete(bucket: string, key: string): void {
    const state = this.byKey.get(`${bucket}\n${key}`);
    if (state) state.deletedMeanwhile = true;
  }
}

interface Ticket { conflict: boolean; deletedMeanwhile(): boolean; release(): void }

// ---------------------------------------------------------------------------------------------
// Request decoding
// ---------------------------------------------------------------------------------------------

/**
 * Strips the aws-chunked framing the SDK uses for streaming bodies:
 * `<hex-size>[;chunk-signature=..]\r\n<data>\r\n ... 0[;..]\r\n<trailers>\r\n\r\n`.
 * Signatures and trailing checksums are ignored, like every other signature here.
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

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    req.on('data', (chunk: Buffer) => {
      total += chunk.length;
      if (total <= MAX_BODY_BYTES) chunks.push(chunk); // past the cap keep draining, answer at the end
    });
    req.on('end', () =>
      total > MAX_BODY_BYTES
        ? reject(new S3Error(400, 'EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size'))
        : resolve(Buffer.concat(chunks)));
    req.on('error', () => reject(new S3Error(400, 'IncompleteBody', 'The connection closed before the whole body arrived')));
  });
}

interface Request {
  method: string;
  bucket?: string;
  key?: string;
  query: URLSearchParams;
  header(name: string): string | undefined;
  headersRaw(): Headers;
  body: Buffer;
  ticket?: Ticket;
}

// ---------------------------------------------------------------------------------------------
// Operations
// ---------------------------------------------------------------------------------------------

class LocalS3 {
  readonly inFlight = new InFlight();

  constructor(private readonly store: Store) {}

  dispatch(r: Request): Reply {
    for (const name of r.query.keys()) {
      if (!KNOWN_PARAMS.has(name) && name !== 'x-id' && !name.toLowerCase().startsWith('x-amz-')) {
        throw notImplemented(`The "${name}" sub-resource`);
      }
    }
    const q = (name: string) => r.query.has(name);
    if (r.bucket === undefined) {
      if (r.method === 'GET') return this.listBuckets(r);
    } else if (r.key === undefined) {
      const name = r.bucket;
      if (r.method === 'PUT') return q('versioning') ? this.putVersioning(r, name) : this.createBucket(name);
      if (r.method === 'HEAD') {
        this.bucket(name); // existence is the whole answer
        return { status: 200, headers: { 'x-amz-bucket-region': 'us-east-1' } };
      }
      if (r.method === 'DELETE') return this.deleteBucket(name);
      if (r.method === 'GET' && q('versioning')) return this.getVersioning(name);
      if (r.method === 'GET' && q('versions')) return this.listVersions(r, this.bucket(name));
      if (r.method === 'GET') return this.listObjects(r, this.bucket(name));
    } else {
      const bucket = this.bucket(r.bucket);
      if (r.method === 'PUT' && r.header('x-amz-copy-source')) return this.copyObject(r, bucket, r.key);
      if (r.method === 'PUT') return this.putObject(r, bucket, r.key);
      if (r.method === 'GET' || r.method === 'HEAD') return this.getObject(r, bucket, r.key);
      if (r.method === 'DELETE') return this.deleteObject(r, bucket, r.key);
    }
    throw notImplemented(`${r.method} on this resource`);
  }

  private bucket(name: string): Bucket {
    const bucket = this.store.buckets.get(name);
    if (!bucket) throw noSuchBucket(name);
    return bucket;
  }

  private listBuckets(r: Request): Reply {
    const prefix = r.query.get('prefix') ?? '';
    const buckets = [...this.store.buckets.values()]
      .filter((b) => b.name.startsWith(prefix))
      .sort((a, b) => compareKeys(a.name, b.name))
      .map((b) => `<Bucket>${el('Name', b.name)}${el('CreationDate', isoDate(b.created))}</Bucket>`);
    return xmlReply('ListAllMyBucketsResult', `${OWNER}<Buckets>${buckets.join('')}</Buckets>`);
  }

  private createBucket(name: string): Reply {
    // S3's rules, minus the rarely hit ones (IP-address look-alikes, reserved prefixes).
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(name) || name.includes('..')) {
      throw new S3Error(400, 'InvalidBucketName', 'The specified bucket is not valid.', { BucketName: name });
    }
    if (this.store.buckets.has(name)) {
      throw new S3Error(409, 'BucketAlreadyOwnedByYou',
        'Your previous request to create the named bucket succeeded and you already own it.', { BucketName: name });
    }
    this.store.createBucket(name);
    return { status: 200, headers: { Location: `/${name}` } };
  }

  private deleteBucket(name: string): Reply {
    const bucket = this.bucket(name);
    if (bucket.objects.size > 0) {
      throw new S3Error(409, 'BucketNotEmpty', 'The bucket you tried to delete is not empty', { BucketName: name });
    }
    this.store.deleteBucket(bucket);
    return { status: 204 };
  }

  private putVersioning(r: Request, name: string): Reply {
    const bucket = this.bucket(name);
    const status = /<Status>\s*(Enabled|Suspended)\s*<\/Status>/.exec(r.body.toString('utf8'))?.[1];
    if (status !== 'Enabled' && status !== 'Suspended') {
      throw new S3Error(400, 'MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema');
    }
    this.store.setVersioning(bucket, status);
    return { status: 200 };
  }

  private getVersioning(name: string): Reply {
    const status = this.bucket(name).versioning;
    return xmlReply('VersioningConfiguration', status ? el('Status', status) : '');
  }

  /** ListObjects (v1) and ListObjectsV2: current, non-delete-marker versions only. */
  private listObjects(r: Request, bucket: Bucket): Reply {
    const v2 = r.query.get('list-type') === '2';
    const { prefix, delimiter, maxKeys, enc } = listParams(r);
    const token = r.query.get('continuation-token'); // opaque to clients; here the last entry returned
    const startAfter = r.query.get('start-after');
    const resumeFrom = token === null ? startAfter : Buffer.from(token, 'base64url').toString('utf8');
    const after = (v2 ? resumeFrom : r.query.get('marker')) ?? '';
    const withOwner = !v2 || r.query.get('fetch-owner') === 'true';
    const contents: string[] = [];
    const prefixes: string[] = [];
    let last = '';
    let truncated = false;
    for (const key of sortedKeys(bucket, prefix)) {
      const current = bucket.objects.get(key)?.[0];
      if (!current || current.isDeleteMarker) continue;
      const entry = groupOf(key, prefix, delimiter) ?? key;
      if (compareKeys(entry, after) <= 0 || entry === last) continue; // already returned
      if (contents.length + prefixes.length >= maxKeys) { truncated = true; break; }
      last = entry;
      if (entry !== key) {
        prefixes.push(`<CommonPrefixes>${el('Prefix', enc(entry))}</CommonPrefixes>`);
        continue;
      }
      contents.push(`<Contents>${el('Key', enc(key))}${el('LastModified', isoDate(current.lastModified))}${el('ETag', current.etag)}`
        + `${el('Size', current.size)}${withOwner ? OWNER : ''}${el('StorageClass', 'STANDARD')}</Contents>`);
    }
    const common = el('Name', bucket.name) + el('Prefix', enc(prefix)) + el('MaxKeys', maxKeys)
      + (delimiter ? el('Delimiter', enc(delimiter)) : '') + (r.query.has('encoding-type') ? el('EncodingType', 'url') : '')
      + el('IsTruncated', truncated);
    const paging = v2
      ? el('KeyCount', contents.length + prefixes.length) + (token ? el('ContinuationToken', token) : '')
        + (truncated ? el('NextContinuationToken', Buffer.from(last).toString('base64url')) : '')
        + (startAfter !== null ? el('StartAfter', enc(startAfter)) : '')
      : el('Marker', enc(after)) + (truncated && delimiter ? el('NextMarker', enc(last)) : '');
    return xmlReply('ListBucketResult', common + paging + contents.join('') + prefixes.join(''));
  }

  /** ListObjectVersions: keys in UTF-8 order, each key's versions and delete markers newest first. */
  private listVersions(r: Request, bucket: Bucket): Reply {
    const { prefix, delimiter, maxKeys, enc } = listParams(r);
    const keyMarker = r.query.get('key-marker') ?? '';
    const versionMarker = r.query.get('version-id-marker') ?? '';
    const entries: string[] = [];
    let count = 0;
    let truncated = false;
    let next: { key: string; versionId?: string } | undefined;
    outer: for (const key of sortedKeys(bucket, prefix)) {
      const group = groupOf(key, prefix, delimiter);
      if (group !== undefined) {
        if (compareKeys(group, keyMarker) <= 0 || group === next?.key) continue;
        if (count >= maxKeys) { truncated = true; break; }
        entries.push(`<CommonPrefixes>${el('Prefix', enc(group))}</CommonPrefixes>`);
        count++;
        next = { key: group };
        continue;
      }
      const cmp = compareKeys(key, keyMarker);
      if (cmp < 0 || (cmp === 0 && !versionMarker)) continue;
      const history = bucket.objects.get(key) ?? [];
      const from = cmp === 0 ? history.findIndex((v) => v.versionId === versionMarker) + 1 : 0;
      for (const [i, v] of history.entries()) {
        if (i < from) continue;
        if (count >= maxKeys) { truncated = true; break outer; }
        const common = el('Key', enc(key)) + el('VersionId', v.versionId) + el('IsLatest', i === 0)
          + el('LastModified', isoDate(v.lastModified));
        entries.push(v.isDeleteMarker
          ? `<DeleteMarker>${common}${OWNER}</DeleteMarker>`
          : `<Version>${common}${el('ETag', v.etag)}${el('Size', v.size)}${el('StorageClass', 'STANDARD')}${OWNER}</Version>`);
        count++;
        next = { key, versionId: v.versionId };
      }
    }
    const paging = truncated && next
      ? el('NextKeyMarker', enc(next.key)) + (next.versionId ? el('NextVersionIdMarker', next.versionId) : '') : '';
    return xmlReply('ListVersionsResult', el('Name', bucket.name) + el('Prefix', enc(prefix)) + el('KeyMarker', enc(keyMarker))
      + el('VersionIdMarker', versionMarker) + el('MaxKeys', maxKeys) + (delimiter ? el('Delimiter', enc(delimiter)) : '')
      + el('IsTruncated', truncated) + paging + entries.join(''));
  }

  private getObject(r: Request, bucket: Bucket, key: string): Reply {
    const version = this.resolve(bucket, key, r.query.get('versionId'));
    const headers = describe(bucket, version);
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
    const body = this.store.body(bucket, version);
    const range = parseRange(r.header('range'), body.length);
    if (!range) return { status: 200, headers, body };
    const [start, end] = range;
    headers['Content-Length'] = String(end - start + 1);
    headers['Content-Range'] = `bytes ${start}-${end}/${body.length}`;
    return { status: 206, headers, body: body.subarray(start, end + 1) };
  }

  private putObject(r: Request, bucket: Bucket, key: string): Reply {
    let body = r.body;
    const encodings = (r.header('content-encoding') ?? '').split(',').map((e) => e.trim()).filter(Boolean);
    if (encodings.includes('aws-chunked') || r.header('x-amz-content-sha256')?.startsWith('STREAMING-')) {
      body = decodeAwsChunked(body);
      const declared = r.header('x-amz-decoded-content-length');
      if (declared !== undefined && Number(declared) !== body.length) {
        throw new S3Error(400, 'IncompleteBody', 'You did not provide the number of bytes specified by x-amz-decoded-content-length');
      }
    }
    const digest = md5(body);
    const contentMd5 = r.header('content-md5');
    if (contentMd5 !== undefined && contentMd5 !== digest.copy().digest('base64')) {
      throw new S3Error(400, 'BadDigest', 'The Content-MD5 you specified did not match what we received.');
    }
    const headers = storedHeaders(r);
    const contentEncoding = encodings.filter((e) => e !== 'aws-chunked').join(',');
    if (contentEncoding) headers['content-encoding'] = contentEncoding;
    else delete headers['content-encoding'];
    return this.commit(r, bucket, key, body, `"${digest.digest('hex')}"`, headers);
  }

  private copyObject(r: Request, bucket: Bucket, key: string): Reply {
    const source = r.header('x-amz-copy-source') ?? '';
    const [rawPath = '', rawQuery = ''] = source.split('?', 2);
    const path = decodeUri(rawPath).replace(/^\//, '');
    const slash = path.indexOf('/');
    if (slash <= 0 || slash === path.length - 1) {
      throw new S3Error(400, 'InvalidArgument', 'Copy Source must mention the source bucket and key: sourcebucket/sourcekey');
    }
    const sourceBucket = this.bucket(path.slice(0, slash));
    const sourceVersionId = new URLSearchParams(rawQuery).get('versionId');
    const from = this.resolve(sourceBucket, path.slice(slash + 1), sourceVersionId, true);
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
    const reply = this.commit(r, bucket, key, this.store.body(sourceBucket, from), from.etag, headers);
    if (sourceBucket.versioning) reply.headers = { ...reply.headers, 'x-amz-copy-source-version-id': from.versionId };
    return reply;
  }

  /** Checks the write preconditions and stores the new version in one synchronous step. */
  private commit(r: Request, bucket: Bucket, key: string, body: Buffer, etag: string, headers: Headers): Reply {
    if (Buffer.byteLength(key) > 1024) throw new S3Error(400, 'KeyTooLongError', 'Your key is too long', { Key: key });
    const metaBytes = Object.entries(headers)
      .filter(([name]) => name.startsWith('x-amz-meta-'))
      .reduce((n, [name, value]) => n + name.length - 'x-amz-meta-'.length + value.length, 0);
    if (metaBytes > 2048) {
      throw new S3Error(400, 'MetadataTooLarge', 'Your metadata headers exceed the maximum allowed metadata size');
    }
    const ifNoneMatch = r.header('if-none-match');
    const ifMatch = r.header('if-match');
    if ((ifNoneMatch !== undefined && ifNoneMatch.trim() !== '*') || (ifNoneMatch !== undefined && ifMatch !== undefined)) {
      // What AWS answers: on writes If-None-Match only takes "*", and not together with If-Match.
      throw new S3Error(501, 'NotImplemented', 'A header you provided implies functionality that is not implemented',
        { Header: 'If-None-Match' });
    }
    const conflict = () => new S3Error(409, 'ConditionalRequestConflict',
      'The conditional request cannot succeed due to a conflicting operation against this resource.', { Key: key });
    if (r.ticket?.conflict) throw conflict();
    const current = bucket.objects.get(key)?.[0];
    const live = current && !current.isDeleteMarker ? current : undefined;
    if (ifNoneMatch !== undefined) {
      if (live) throw preconditionFailed('If-None-Match');
      // The key was deleted while this upload was in flight: S3 reports the overlap, not success.
      if (r.ticket?.deletedMeanwhile()) throw conflict();
    }
    if (ifMatch !== undefined) {
      // AWS: no current version, or a delete marker, fails with 404 rather than 412.
      if (!live) throw noSuchKey(key);
      if (!etagListMatches(ifMatch, live.etag)) throw preconditionFailed('If-Match');
    }
    const version = this.store.addVersion(bucket, {
      key, versionId: newVersionId(bucket), isDeleteMarker: false, lastModified: Date.now(), etag, size: body.length, headers,
    }, body);
    const out: Headers = { ETag: etag, ...versionHeader(bucket, version) };
    if (!r.header('x-amz-copy-source')) return { status: 200, headers: out };
    const result = el('LastModified', isoDate(version.lastModified)) + el('ETag', etag);
    return { status: 200, headers: out, body: xmlDoc('CopyObjectResult', result) };
  }

  private deleteObject(r: Request, bucket: Bucket, key: string): Reply {
    const versionId = r.query.get('versionId');
    this.inFlight.noteDelete(bucket.name, key);
    if (versionId !== null) {
      // Deleting a version that does not exist is a no-op success in S3, as deletes are idempotent.
      const target = bucket.objects.get(key)?.find((v) => v.versionId === versionId);
      if (target) this.store.removeVersion(bucket, target);
      const headers: Headers = { 'x-amz-version-id': versionId };
      if (target?.isDeleteMarker) headers['x-amz-delete-marker'] = 'true';
      return { status: 204, headers };
    }
    if (!bucket.versioning) {
      const current = bucket.objects.get(key)?.[0];
      if (current) this.store.removeVersion(bucket, current);
      return { status: 204 };
    }
    const marker = this.store.addVersion(bucket, {
      key, versionId: newVersionId(bucket), isDeleteMarker: true, lastModified: Date.now(), etag: '', size: 0, headers: {},
    }, undefined);
    return { status: 204, headers: { 'x-amz-delete-marker': 'true', 'x-amz-version-id': marker.versionId } };
  }

  /** The version a GET/HEAD/copy-source names, or the S3 error for why there is none. */
  private resolve(bucket: Bucket, key: string, versionId: string | null, forCopy = false): ObjectVersion {
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
}

// ---------------------------------------------------------------------------------------------
// Helpers shared by the operations
// ---------------------------------------------------------------------------------------------

function xmlReply(root: string, inner: string): Reply {
  return { status: 200, body: xmlDoc(root, inner) };
}

/** Versioned buckets mint an opaque id per write; the others only ever hold the "null" version. */
function newVersionId(bucket: Bucket): string {
  return bucket.versioning === 'Enabled' ? randomBytes(24).toString('base64url') : 'null';
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

function storedHeaders(r: Request): Headers {
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

function etagListMatches(header: string, etag: string): boolean {
  return header.split(',').some((candidate) => candidate.trim() === '*' || unquote(candidate) === unquote(etag));
}

/**
 * The first read precondition that fails, in RFC 7232 order: If-Match (else If-Unmodified-Since)
 * fails with 412, then If-None-Match (else If-Modified-Since) with 304. `prefix` selects the
 * x-amz-copy-source-* variants of the same headers.
 */
function readPreconditions(
  header: (name: string) => string | undefined, v: ObjectVersion, prefix: string,
): { status: 304 | 412; condition: string } | undefined {
  const get = (name: string) => header(prefix + name);
  const date = (name: string) => {
    const ms = Date.parse(get(name) ?? '');
    return Number.isNaN(ms) ? undefined : ms; // S3 ignores a date it cannot parse
  };
  const modified = Math.floor(v.lastModified / 1000) * 1000; // HTTP dates carry whole seconds
  const ifMatch = get('if-match');
  const ifUnmodifiedSince = date('if-unmodified-since');
  if (ifMatch !== undefined) {
    if (!etagListMatches(ifMatch, v.etag)) return { status: 412, condition: 'If-Match' };
  } else if (ifUnmodifiedSince !== undefined && modified > ifUnmodifiedSince) {
    return { status: 412, condition: 'If-Unmodified-Since' };
  }
  const ifNoneMatch = get('if-none-match');
  const ifModifiedSince = date('if-modified-since');
  if (ifNoneMatch !== undefined) {
    if (etagListMatches(ifNoneMatch, v.etag)) return { status: 304, condition: 'If-None-Match' };
  } else if (ifModifiedSince !== undefined && modified <= ifModifiedSince) {
    return { status: 304, condition: 'If-Modified-Since' };
  }
  return undefined;
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

function listParams(r: Request) {
  const raw = r.query.get('max-keys') ?? '1000';
  const maxKeys = Number(raw);
  if (!/^\d+$/.test(raw)) throw new S3Error(400, 'InvalidArgument', 'Provided max-keys not an integer or within integer range');
  const url = r.query.get('encoding-type') === 'url';
  return {
    prefix: r.query.get('prefix') ?? '',
    delimiter: r.query.get('delimiter') ?? '',
    maxKeys: Math.min(maxKeys, 1000),
    enc: (s: string) => (url ? encodeURIComponent(s).replace(/%2F/g, '/') : s),
  };
}

function sortedKeys(bucket: Bucket, prefix: string): string[] {
  return [...bucket.objects.keys()].filter((k) => k.startsWith(prefix)).sort(compareKeys);
}

/** The CommonPrefixes entry a key rolls up into under `delimiter`, if any. */
function groupOf(key: string, prefix: string, delimiter: string): string | undefined {
  if (!delimiter) return undefined;
  const at = key.indexOf(delimiter, prefix.length);
  return at < 0 ? undefined : key.slice(0, at + delimiter.length);
}

// ---------------------------------------------------------------------------------------------
// HTTP edge
// ---------------------------------------------------------------------------------------------

function send(req: http.IncomingMessage, res: http.ServerResponse, reply: Reply): void {
  if (res.headersSent || res.destroyed) return;
  const headers: Headers = { ...reply.headers };
  let body = reply.body === undefined ? undefined : Buffer.from(reply.body);
  if (body && typeof reply.body === 'string') headers['Content-Type'] = 'application/xml';
  if (req.method === 'HEAD' || reply.status === 304 || reply.status === 204) body = undefined;
  else headers['Content-Length'] ??= String(body?.length ?? 0);
  res.writeHead(reply.status, headers);
  res.end(body);
}

function errorReply(err: S3Error, resource: string, requestId: string): Reply {
  const fields = Object.entries(err.fields).map(([k, v]) => el(k, v)).join('');
  const inner = el('Code', err.code) + el('Message', err.message) + fields
    + el('Resource', resource) + el('RequestId', requestId);
  return { status: err.status, headers: err.headers, body: xmlDoc('Error', inner, false) };
}

function parseRequest(req: http.IncomingMessage): Request {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  // Split by hand: WHATWG URL parsing would resolve "." and ".." segments, which are legal in keys.
  const [bucket = '', ...rest] = decodeUri(q < 0 ? url : url.slice(0, q)).replace(/^\//, '').split('/');
  const key = rest.join('/');
  const header = (name: string) => {
    const value = req.headers[name];
    return Array.isArray(value) ? value.join(',') : value;
  };
  return {
    method: req.method ?? 'GET',
    bucket: bucket || undefined,
    key: bucket && key ? key : undefined,
    query: new URLSearchParams(q < 0 ? '' : url.slice(q + 1)),
    header,
    headersRaw: () => Object.fromEntries(Object.keys(req.headers).map((name) => [name, header(name) ?? ''])),
    body: Buffer.alloc(0),
  };
}

/** Starts the server; resolves once it is listening. */
export async function startLocalS3(options: LocalS3Options = {}): Promise<LocalS3Server> {
  const host = options.host ?? '127.0.0.1';
  const s3 = new LocalS3(new Store(options.dataDir));

  const server = http.createServer((req, res) => {
    const requestId = randomBytes(8).toString('hex').toUpperCase();
    res.setHeader('x-amz-request-id', requestId);
    res.setHeader('x-amz-id-2', randomBytes(24).toString('base64'));
    let ticket: Ticket | undefined;
    const run = async (): Promise<Reply> => {
      const request = parseRequest(req);
      // Registered before the body arrives: overlap with another conditional PUT is decided by
      // arrival, and the check itself runs once the whole body is in (see InFlight).
      const conditional = request.header('if-match') !== undefined || request.header('if-none-match') !== undefined;
      if (request.method === 'PUT' && request.bucket && request.key && conditional) {
        ticket = s3.inFlight.enter(request.bucket, request.key);
        request.ticket = ticket;
      }
      request.body = await readBody(req);
      return s3.dispatch(request);
    };
    run()
      .catch((err: unknown) => {
        if (err instanceof S3Error) return errorReply(err, req.url ?? '/', requestId);
        const { method, url } = req;
        console.error(JSON.stringify({ level: 'error', msg: 'local-s3 internal error', requestId, method, url, error: String(err) }));
        const internal = new S3Error(500, 'InternalError', 'We encountered an internal error. Please try again.');
        return errorReply(internal, url ?? '/', requestId);
      })
      .then((reply) => send(req, res, reply))
      .catch(() => res.destroy()) // nothing more can be said on this socket; the server goes on
      .finally(() => ticket?.release());
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => { server.off('error', reject); resolve(); });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port ?? 0;
  const shownHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return {
    endpoint: `http://${shownHost}:${port}`,
    port,
    close: () => new Promise<void>((resolve, reject) => {
      server.close((err) => (err ? reject(err) : resolve()));
      server.closeAllConnections(); // SDK clients keep sockets alive; do not wait for them to idle out
    }),
  };
}
