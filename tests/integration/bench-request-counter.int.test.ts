import { GetObjectCommand, ListObjectVersionsCommand } from '@aws-sdk/client-s3';
import { createDynamoDbClient, createS3Client } from '../../functions/adapters/aws-clients';
import { loadConfig } from '../../functions/config';
import { countRequests } from '../../scripts/bench/request-counter';

/**
 * The bench's request counter (item 4 of issue 9): what it names a request is what BENCHMARKS.md
 * prints, so two operations S3 bills differently must not share a name. A LIST costs 12.5 times
 * a GET; the create row printed "S3 GET ×2" for one GetObject and one ListObjectVersions.
 */

const config = loadConfig({ ...process.env, API_KEYS: 'write:bench-counter-key-0001' });

test('tells a ListObjectVersions from a GetObject of the database file', async () => {
  const s3 = createS3Client(config);
  const counter = countRequests(s3, createDynamoDbClient(config));
  const key = `${config.keyPrefix}bench-counter-${Date.now().toString(36)}.sqlite`;
  await s3.send(new GetObjectCommand({ Bucket: config.bucket, Key: key })).catch(() => undefined); // 404: counted all the same
  await s3.send(new ListObjectVersionsCommand({ Bucket: config.bucket, Prefix: key, MaxKeys: 1 }));
  expect(counter.count('S3')).toBe(2);
  expect(counter.tally().requests.size).toBe(2);
});
