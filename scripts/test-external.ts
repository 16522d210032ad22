import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { provision } from '../infra/local/stack';

/**
 * Runs the integration suite against real AWS-like services instead of the local servers:
 *
 *   npm run test:localstack   LocalStack started through testcontainers (needs a container runtime)
 *   npm run test:aws -- --bucket <DatabaseBucketName> --table <LockTableName> [--region us-east-1]
 *                       [--url <HttpApiUrl> --key <write key>]
 *                             a deployed stage's bucket and lock table (its stack outputs), with
 *                             the usual AWS credentials; databases are created under test names.
 *                             With --url and --key, tests/integration/external-contract.int.test.ts
 *                             goes through the deployed API instead, so its first write, missing
 *                             database, version-record read and past-version read run under the
 *                             roles the stage gives its functions (the local stack enforces no IAM).
 *
 * The same tests run; jest's global setup sees CLOUDLITE_TEST_TARGET and starts nothing. Left
 * out: the packaging test (no service involved) and the soak (it starts its own local stack);
 * against AWS also the fault tests, whose proxies speak plain HTTP to a local endpoint.
 * Without a container runtime or without the stage's outputs, it says so in one line and exits 0.
 */
const ALWAYS_LEFT_OUT = ['packaging', 'soak'];

async function main(): Promise<number> {
  const target = process.argv[2];
  if (target === 'localstack') return localstack();
  if (target === 'aws') return aws();
  console.error('usage: tsx scripts/test-external.ts localstack|aws [--bucket B --table T --region R]');
  return 2;
}

async function localstack(): Promise<number> {
  const { getContainerRuntimeClient } = await import('testcontainers');
  try {
    await getContainerRuntimeClient();
  } catch (error) {
    console.log(`test:localstack skipped: no container runtime (Docker) on this machine: ${(error as Error).message}`);
    return 0;
  }
  const { LocalstackContainer } = await import('@testcontainers/localstack');
  const container = await new LocalstackContainer('localstack/localstack:4').start();
  try {
    const endpoint = container.getConnectionUri();
    const env = {
      CLOUDLITE_TEST_TARGET: 'localstack',
      S3_ENDPOINT: endpoint,
      DYNAMODB_ENDPOINT: endpoint,
      S3_BUCKET: 'cloudlite-test',
      LOCK_TABLE: 'cloudlite-test-locks',
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      S3_CONTRACT_ENDPOINT: endpoint,
      S3_CONTRACT_BUCKET: 'cloudlite-contract',
    };
    Object.assign(process.env, env);
    await provision({ s3Endpoint: endpoint, dynamoDbEndpoint: endpoint, bucket: env.S3_BUCKET, lockTable: env.LOCK_TABLE });
    await provision({ s3Endpoint: endpoint, dynamoDbEndpoint: endpoint, bucket: env.S3_CONTRACT_BUCKET, lockTable: env.LOCK_TABLE });
    return runJest(env, ALWAYS_LEFT_OUT);
  } finally {
    await container.stop();
  }
}

function aws(): number {
  const { values } = parseArgs({
    args: process.argv.slice(3),
    options: { bucket: { type: 'string' }, table: { type: 'string' }, region: { type: 'string' }, url: { type: 'string' }, key: { type: 'string' } },
  });
  const bucket = values.bucket ?? process.env.CLOUDLITE_AWS_BUCKET;
  const table = values.table ?? process.env.CLOUDLITE_AWS_LOCK_TABLE;
  if (!bucket || !table) {
    console.log('test:aws skipped: give the stage outputs with --bucket <DatabaseBucketName> --table <LockTableName> (or CLOUDLITE_AWS_BUCKET / CLOUDLITE_AWS_LOCK_TABLE)');
    return 0;
  }
  const url = values.url ?? process.env.CLOUDLITE_AWS_API_URL;
  const key = values.key ?? process.env.CLOUDLITE_AWS_API_KEY;
  if (Boolean(url) !== Boolean(key)) {
    console.error('test:aws: give --url <HttpApiUrl> and --key <write key> together (or CLOUDLITE_AWS_API_URL / CLOUDLITE_AWS_API_KEY)');
    return 2;
  }
  if (!url) console.log('test:aws: without --url and --key the storage contract runs under your credentials, not the deployed roles');
  const env = {
    CLOUDLITE_TEST_TARGET: 'aws',
    ...(url && key && { CLOUDLITE_TEST_API_URL: url, CLOUDLITE_TEST_API_KEY: key }),
    S3_BUCKET: bucket,
    LOCK_TABLE: table,
    AWS_REGION: values.region ?? process.env.AWS_REGION ?? 'us-east-1',
    S3_CONTRACT_REAL_AWS: '1',
    S3_CONTRACT_BUCKET: bucket,
  };
  return runJest(env, [...ALWAYS_LEFT_OUT, 'faults']);
}

function runJest(env: Record<string, string>, leftOut: string[]): number {
  const result = spawnSync('npx', ['jest', 'tests/integration', '--runInBand', '--testPathIgnorePatterns', ...leftOut], {
    stdio: 'inherit',
    env: { ...process.env, ...env },
  });
  return result.status ?? 1;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
