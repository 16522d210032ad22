/**
 * Which operation a request is: by method, by whether it names a bucket and a key, and by its
 * sub-resource query parameters. A presigned request is authenticated first (sigv4.ts).
 */
import { createBucket, deleteBucket, findBucket, getVersioning, headBucket, listBuckets, putVersioning } from './buckets';
import type { InFlight } from './conditions';
import { listObjects, listVersions } from './listings';
import { copyObject, deleteObject, getObject, putObject } from './objects';
import { isFormUpload, postObject } from './post-upload';
import { isPresigned, verifyPresignedUrl, type Credentials } from './sigv4';
import type { Store } from './store';
import { notImplemented, type Reply, type Request } from './protocol';

export interface S3State {
  store: Store;
  inFlight: InFlight;
  credentials: Credentials;
}

// Query parameters that select or tune an operation we implement. Any other name (acl, tagging,
// uploads, ...) is a sub-resource we do not implement: answering 200 would lie to the caller.
const KNOWN_PARAMS = new Set([
  'versioning', 'versions', 'versionId', 'list-type', 'prefix', 'delimiter', 'max-keys', 'marker',
  'continuation-token', 'start-after', 'encoding-type', 'fetch-owner', 'key-marker', 'version-id-marker',
  'max-buckets', 'bucket-region', 'response-content-type', 'response-content-language', 'response-expires',
  'response-cache-control', 'response-content-disposition', 'response-content-encoding', 'x-id',
]);

export function dispatch(state: S3State, r: Request): Reply {
  const { store, inFlight } = state;
  for (const name of r.query.keys()) {
    if (!KNOWN_PARAMS.has(name) && !name.toLowerCase().startsWith('x-amz-')) throw notImplemented(`The "${name}" sub-resource`);
  }
  if (isPresigned(r)) verifyPresignedUrl(r, state.credentials);
  const q = (name: string) => r.query.has(name);
  if (r.bucket === undefined) {
    if (r.method === 'GET') return listBuckets(store, r);
  } else if (r.key === undefined) {
    const name = r.bucket;
    if (r.method === 'PUT') return q('versioning') ? putVersioning(store, r, name) : createBucket(store, name);
    if (r.method === 'HEAD') return headBucket(store, name);
    if (r.method === 'DELETE') return deleteBucket(store, name);
    if (r.method === 'POST' && isFormUpload(r)) return postObject(store, state.credentials, r, findBucket(store, name));
    if (r.method === 'GET' && q('versioning')) return getVersioning(store, name);
    if (r.method === 'GET' && q('versions')) return listVersions(r, findBucket(store, name));
    if (r.method === 'GET') return listObjects(r, findBucket(store, name));
  } else {
    const bucket = findBucket(store, r.bucket);
    if (r.method === 'PUT' && r.header('x-amz-copy-source')) return copyObject(store, r, bucket, r.key);
    if (r.method === 'PUT') return putObject(store, r, bucket, r.key);
    if (r.method === 'GET' || r.method === 'HEAD') return getObject(store, r, bucket, r.key);
    if (r.method === 'DELETE') return deleteObject(store, inFlight, r, bucket, r.key);
  }
  throw notImplemented(`${r.method} on this resource`);
}
