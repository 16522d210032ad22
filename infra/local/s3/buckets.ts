/** Bucket operations: create, delete, exists, list, versioning. */
import type { Bucket, Store } from './store';
import { compareKeys, el, isoDate, noSuchBucket, OWNER, S3Error, xmlReply, type Reply, type Request } from './protocol';

export function findBucket(store: Store, name: string): Bucket {
  const bucket = store.buckets.get(name);
  if (!bucket) throw noSuchBucket(name);
  return bucket;
}

export function listBuckets(store: Store, r: Request): Reply {
  const prefix = r.query.get('prefix') ?? '';
  const buckets = [...store.buckets.values()]
    .filter((b) => b.name.startsWith(prefix))
    .sort((a, b) => compareKeys(a.name, b.name))
    .map((b) => `<Bucket>${el('Name', b.name)}${el('CreationDate', isoDate(b.created))}</Bucket>`);
  return xmlReply('ListAllMyBucketsResult', `${OWNER}<Buckets>${buckets.join('')}</Buckets>`);
}

export function createBucket(store: Store, name: string): Reply {
  // S3's rules, minus the rarely hit ones (IP-address look-alikes, reserved prefixes).
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(name) || name.includes('..')) {
    throw new S3Error(400, 'InvalidBucketName', 'The specified bucket is not valid.', { BucketName: name });
  }
  if (store.buckets.has(name)) {
    throw new S3Error(409, 'BucketAlreadyOwnedByYou',
      'Your previous request to create the named bucket succeeded and you already own it.', { BucketName: name });
  }
  store.createBucket(name);
  return { status: 200, headers: { Location: `/${name}` } };
}

export function headBucket(store: Store, name: string): Reply {
  findBucket(store, name); // existence is the whole answer
  return { status: 200, headers: { 'x-amz-bucket-region': 'us-east-1' } };
}

export function deleteBucket(store: Store, name: string): Reply {
  const bucket = findBucket(store, name);
  if (bucket.objects.size > 0) {
    throw new S3Error(409, 'BucketNotEmpty', 'The bucket you tried to delete is not empty', { BucketName: name });
  }
  store.deleteBucket(bucket);
  return { status: 204 };
}

export function putVersioning(store: Store, r: Request, name: string): Reply {
  const bucket = findBucket(store, name);
  const status = /<Status>\s*(Enabled|Suspended)\s*<\/Status>/.exec(r.body.toString('utf8'))?.[1];
  if (status !== 'Enabled' && status !== 'Suspended') {
    throw new S3Error(400, 'MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema');
  }
  store.setVersioning(bucket, status);
  return { status: 200 };
}

export function getVersioning(store: Store, name: string): Reply {
  const status = findBucket(store, name).versioning;
  return xmlReply('VersioningConfiguration', status ? el('Status', status) : '');
}
