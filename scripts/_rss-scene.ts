import { PutObjectCommand } from '@aws-sdk/client-s3';
import { writeFileSync } from 'node:fs';
import initSqlJs from 'sql.js';
import { createS3Client } from '../functions/adapters/aws-clients';
import { loadConfig } from '../functions/config';
import { startLocalStack } from '../infra/local/stack';
import { startBenchService } from './bench/service-bench';
import { generateDatabase } from './bench/measure';
const KEY = 'bench-write-key-0001';
async function main() {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const stack = await startLocalStack();
  const env = { ...stack.env, API_KEYS: `write:${KEY}`, LOG_LEVEL: 'ERROR', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', STATEMENT_TIMEOUT_MS: '60000', LOCK_LEASE_MS: '90000', S3_REQUEST_TIMEOUT_MS: '60000', LOCK_WAIT_MS: '20000' };
  Object.assign(process.env, env);
  const config = loadConfig(process.env);
  const SQL = await initSqlJs();
  for (const size of process.argv.slice(2).map(Number)) for (const suffix of ["", "twin"]) {
    const bytes = generateDatabase(SQL, size);
    await createS3Client(config).send(new PutObjectCommand({ Bucket: config.bucket, Key: `${config.keyPrefix}rss${size}${suffix}.sqlite`, Body: bytes }));
    const svc = await startBenchService(config, KEY);
    await svc.client.execute('UPDATE items SET price = price + 1 WHERE id = 1', undefined, { database: `rss${size}${suffix}` });
    await svc.close();
    console.log('ready', size, bytes.byteLength);
  }
  writeFileSync('/tmp/s17/rss-env.json', JSON.stringify(env));
  await new Promise(() => undefined);
}
main();
