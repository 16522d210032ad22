import { randomBytes, randomUUID } from 'node:crypto';
import { createS3Client } from '../../functions/adapters/aws-clients';
import { S3ObjectStore } from '../../functions/adapters/s3-object-store';
import { StorageUnavailableError } from '../../functions/core/errors';
import { FaultProxy } from '../helpers/fault-proxy';
import { testConfig } from '../helpers/test-app';

/** The S3 adapter's reads of database files, through the real SDK against the local S3 server. */
describe('S3ObjectStore reads', () => {
  const config = testConfig();
  const store = new S3ObjectStore(createS3Client(config), config.bucket);
  let proxy: FaultProxy;
  let proxied: S3ObjectStore;

  beforeAll(async () => {
    proxy = await new FaultProxy(config.s3Endpoint!).start();
    proxied = new S3ObjectStore(createS3Client({ ...config, s3Endpoint: proxy.url }), config.bucket);
  });
  afterAll(async () => {
    await proxy.close();
  });

  async function storeFile(bytes: Uint8Array) {
    const key = `object-store-test/${randomUUID()}.sqlite`;
    const version = await store.put(key, bytes, { create: true }, { writeId: randomUUID() });
    return { key, version };
  }

  // A file of many network chunks, read into one buffer of its own: the engine moves such a
  // buffer to its worker without copying it, which only works when the bytes own all of it.
  it('reads a multi-megabyte file into a buffer holding exactly its bytes, by version and as the latest', async () => {
    const bytes = randomBytes(3 * 1024 * 1024 + 17);
    const { key, version } = await storeFile(bytes);

    const byVersion = await store.getVersion(key, version);
    const latest = await store.get(key);

    for (const read of [byVersion, latest.kind === 'found' ? latest.body : undefined]) {
      expect(read).toBeDefined();
      expect(Buffer.from(read!).equals(bytes)).toBe(true);
      expect(read!.byteOffset).toBe(0);
      expect(read!.buffer.byteLength).toBe(bytes.byteLength);
    }
  });

  it('answers a body cut off before its Content-Length as unavailable, never as a shorter file', async () => {
    const { key, version } = await storeFile(randomBytes(256 * 1024));
    const isGet = (request: { method: string; path: string }) => request.method === 'GET' && request.path.includes(key);

    proxy.inject(isGet, { kind: 'truncate-body' }, 2);

    await expect(proxied.getVersion(key, version)).rejects.toBeInstanceOf(StorageUnavailableError);
    await expect(proxied.get(key)).rejects.toBeInstanceOf(StorageUnavailableError);
    expect(proxy.seen.filter(isGet)).toHaveLength(2);
  });
});
