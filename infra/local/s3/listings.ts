/**
 * ListObjects (v1), ListObjectsV2 and ListObjectVersions, paginated as S3 paginates:
 * - keys in UTF-8 byte order; a key's versions and delete markers newest first;
 * - MaxKeys counts Contents/Versions/DeleteMarkers and CommonPrefixes together, is capped at
 *   1000, and `max-keys=0` answers an empty page with IsTruncated=false;
 * - IsTruncated is true only when another entry exists, and then the page carries what resumes
 *   it: NextContinuationToken (v2), NextMarker (v1, with a delimiter), NextKeyMarker and
 *   NextVersionIdMarker (versions);
 * - a delimiter rolls keys up into CommonPrefixes; EncodingType=url encodes keys and is echoed.
 */
import { versionSeq, type Bucket, type ObjectVersion } from './store';
import { compareKeys, el, invalidArgument, isoDate, OWNER, S3Error, xmlReply, type Reply, type Request } from './protocol';

interface ListParams {
  prefix: string;
  delimiter: string;
  maxKeys: number;
  /** The EncodingType echo, empty when not asked for. */
  encodingEcho: string;
  enc(s: string): string;
}

function listParams(r: Request): ListParams {
  const raw = r.query.get('max-keys') ?? '1000';
  if (!/^\d+$/.test(raw)) throw invalidArgument('Provided max-keys not an integer or within integer range');
  const encodingType = r.query.get('encoding-type');
  if (encodingType !== null && encodingType !== 'url') throw invalidArgument('Invalid Encoding Method specified in Request');
  const url = encodingType === 'url';
  return {
    prefix: r.query.get('prefix') ?? '',
    delimiter: r.query.get('delimiter') ?? '',
    maxKeys: Math.min(Number(raw), 1000),
    encodingEcho: url ? el('EncodingType', 'url') : '',
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

// The v2 continuation token is opaque to clients; here it names the last entry returned, with a
// tag so that a token we did not mint is refused as S3 refuses it.
const TOKEN_TAG = 'local-s3:';
const encodeToken = (last: string) => Buffer.from(TOKEN_TAG + last).toString('base64url');
function decodeToken(token: string): string {
  if (token === '') return ''; // S3 treats an empty token as the start of the listing
  const decoded = Buffer.from(token, 'base64url').toString('utf8');
  if (!decoded.startsWith(TOKEN_TAG)) throw invalidArgument('The continuation token provided is incorrect');
  return decoded.slice(TOKEN_TAG.length);
}

/** ListObjects (v1) and ListObjectsV2: current, non-delete-marker versions only. */
export function listObjects(r: Request, bucket: Bucket): Reply {
  const v2 = r.query.get('list-type') === '2';
  const { prefix, delimiter, maxKeys, encodingEcho, enc } = listParams(r);
  const token = r.query.get('continuation-token');
  const startAfter = r.query.get('start-after');
  const after = v2 ? (token !== null ? decodeToken(token) : startAfter ?? '') : r.query.get('marker') ?? '';
  const withOwner = !v2 || r.query.get('fetch-owner') === 'true';
  const contents: string[] = [];
  const prefixes: string[] = [];
  let last = '';
  let truncated = false;
  for (const key of maxKeys === 0 ? [] : sortedKeys(bucket, prefix)) {
    const current = bucket.objects.get(key)?.[0];
    if (!current || current.isDeleteMarker) continue;
    const entry = groupOf(key, prefix, delimiter) ?? key;
    if (compareKeys(entry, after) <= 0 || entry === last) continue; // returned on an earlier page or just now
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
    + (delimiter ? el('Delimiter', enc(delimiter)) : '') + encodingEcho + el('IsTruncated', truncated);
  const paging = v2
    ? el('KeyCount', contents.length + prefixes.length) + (token !== null ? el('ContinuationToken', token) : '')
      + (truncated ? el('NextContinuationToken', encodeToken(last)) : '')
      + (startAfter !== null ? el('StartAfter', enc(startAfter)) : '')
    : el('Marker', enc(after)) + (truncated && delimiter ? el('NextMarker', enc(last)) : '');
  return xmlReply('ListBucketResult', common + paging + contents.join('') + prefixes.join(''));
}

/** ListObjectVersions: keys in UTF-8 order, each key's versions and delete markers newest first. */
export function listVersions(r: Request, bucket: Bucket): Reply {
  const { prefix, delimiter, maxKeys, encodingEcho, enc } = listParams(r);
  const keyMarker = r.query.get('key-marker') ?? '';
  const versionMarker = r.query.get('version-id-marker') ?? '';
  if (versionMarker && !keyMarker) {
    throw new S3Error(400, 'InvalidArgument', 'A version-id marker cannot be specified without a key marker.',
      { ArgumentName: 'version-id-marker', ArgumentValue: versionMarker });
  }
  const entries: string[] = [];
  let truncated = false;
  let next: { key: string; versionId?: string } | undefined;
  outer: for (const key of maxKeys === 0 ? [] : sortedKeys(bucket, prefix)) {
    const group = groupOf(key, prefix, delimiter);
    if (group !== undefined) {
      if (compareKeys(group, keyMarker) <= 0 || group === next?.key) continue;
      if (entries.length >= maxKeys) { truncated = true; break; }
      entries.push(`<CommonPrefixes>${el('Prefix', enc(group))}</CommonPrefixes>`);
      next = { key: group };
      continue;
    }
    const cmp = compareKeys(key, keyMarker);
    if (cmp < 0 || (cmp === 0 && !versionMarker)) continue;
    const history = bucket.objects.get(key) ?? [];
    const from = cmp === 0 ? resumeIndex(history, versionMarker) : 0;
    for (const [i, v] of history.entries()) {
      if (i < from) continue;
      if (entries.length >= maxKeys) { truncated = true; break outer; }
      const common = el('Key', enc(key)) + el('VersionId', v.versionId) + el('IsLatest', i === 0)
        + el('LastModified', isoDate(v.lastModified));
      entries.push(v.isDeleteMarker
        ? `<DeleteMarker>${common}${OWNER}</DeleteMarker>`
        : `<Version>${common}${el('ETag', v.etag)}${el('Size', v.size)}${el('StorageClass', 'STANDARD')}${OWNER}</Version>`);
      next = { key, versionId: v.versionId };
    }
  }
  const paging = truncated && next
    ? el('NextKeyMarker', enc(next.key)) + (next.versionId ? el('NextVersionIdMarker', next.versionId) : '') : '';
  return xmlReply('ListVersionsResult', el('Name', bucket.name) + el('Prefix', enc(prefix)) + el('KeyMarker', enc(keyMarker))
    + el('VersionIdMarker', versionMarker) + el('MaxKeys', maxKeys) + (delimiter ? el('Delimiter', enc(delimiter)) : '')
    + encodingEcho + el('IsTruncated', truncated) + paging + entries.join(''));
}

/**
 * Where a key's history resumes after `versionMarker`: right after that version, or, when it
 * was deleted since the previous page, after the place its id says it had. A "null" marker
 * that is gone resumes past the key (its place is unknown; S3 orders the null version by time).
 */
function resumeIndex(history: ObjectVersion[], versionMarker: string): number {
  const at = history.findIndex((v) => v.versionId === versionMarker);
  if (at >= 0) return at + 1;
  if (versionMarker === 'null') return history.length;
  const seq = versionSeq(versionMarker);
  if (seq === undefined) {
    throw new S3Error(400, 'InvalidArgument', 'Invalid version id specified',
      { ArgumentName: 'version-id-marker', ArgumentValue: versionMarker });
  }
  const older = history.findIndex((v) => v.seq < seq);
  return older < 0 ? history.length : older;
}
