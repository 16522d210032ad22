import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startLocalApi } from '../infra/local/api-gateway';
import { startLocalStack } from '../infra/local/stack';
import { dataDir as defaultDataDir, LOCAL_STACK_FILE, type LocalStackInfo } from './api-client';

/**
 * `npm start`: the whole service on this machine with no Docker and no AWS account. Starts the
 * local S3 and DynamoDB servers (data under DATA_DIR, kept across restarts), provisions the
 * bucket and lock table, then serves the same handlers Lambda runs on http://localhost:PORT.
 */
async function main(): Promise<void> {
  // The SDK warns that Node 20 support ends in 2027; Lambda runs nodejs22.x.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const dataDir = defaultDataDir();
  const port = Number(process.env.PORT ?? 3000);
  mkdirSync(dataDir, { recursive: true });

  const stack = await startLocalStack({ dataDir });
  const writeKey = process.env.API_KEYS ? undefined : localSecret(dataDir, 'api-key', 'local');
  const flightsPassword = process.env.FLIGHTS_PASSWORD ? undefined : localSecret(dataDir, 'flights-password', 'flights');
  Object.assign(process.env, stack.env, {
    API_KEYS: process.env.API_KEYS ?? `write:${writeKey}`,
    FLIGHTS_PASSWORD: process.env.FLIGHTS_PASSWORD ?? flightsPassword,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'WARN',
  });

  // Imported only now: the app reads and validates its configuration from the environment.
  const { createApp, createRoutes } = await import('../functions/all-routes');
  const { loadConfig } = await import('../functions/config');
  const app = createApp(loadConfig());
  const { applyMigrationsInProcess, describeReport } = await import('./migrate');
  const { seedFlightsIfEmpty } = await import('./seed-flights');
  const flightsDatabase = app.config.flightsDatabase;
  const migrated = describeReport(flightsDatabase, await applyMigrationsInProcess(app, flightsDatabase));
  const seeded = await seedFlightsIfEmpty(app, flightsDatabase);
  const api = await startLocalApi(createRoutes(app), { port, host: process.env.HOST ?? '127.0.0.1' });

  // The CLI, migrate, seed and keys find this stack (its URL, whatever PORT is; its key table) here.
  const info: LocalStackInfo = { url: api.url, dynamoDbEndpoint: stack.dynamoDbEndpoint, keyTable: stack.env.KEY_TABLE! };
  writeFileSync(path.join(dataDir, LOCAL_STACK_FILE), `${JSON.stringify(info, null, 2)}\n`);
  const key = writeKey ?? '<a key from API_KEYS>';
  console.log(`cloudlite is running on ${api.url} (data in ${dataDir})`);
  console.log(`  S3 ${stack.s3Endpoint}  DynamoDB ${stack.dynamoDbEndpoint}`);
  console.log(migrated.replace(/^/gm, '  '));
  if (seeded > 0) console.log(`  seeded ${seeded} sample flights into ${flightsDatabase}`);
  if (writeKey) console.log(`  write key: ${writeKey}  (saved in ${path.join(dataDir, 'api-key')}; set API_KEYS to choose your own)`);
  if (flightsPassword) console.log(`  flights password: ${flightsPassword}  (saved in ${path.join(dataDir, 'flights-password')}; set FLIGHTS_PASSWORD to choose your own)`);
  console.log('Try:');
  console.log(`  curl -s '${api.url}/flights?origin=Delhi&sort_by=date&limit=3'`);
  console.log(`  curl -s ${api.url}/sql -H 'Authorization: Bearer ${key}' -H 'Content-Type: application/json' -d '{"sql_statement": "SELECT sqlite_version() AS version"}'`);

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    // A stopped stack leaves no directions to itself behind.
    rmSync(path.join(dataDir, LOCAL_STACK_FILE), { force: true });
    await api.close();
    await app.close();
    await stack.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}

/** A generated secret (the write key, the flights password), kept in DATA_DIR so it survives restarts like the data does. */
function localSecret(dataDir: string, name: string, prefix: string): string {
  const file = path.join(dataDir, name);
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const secret = `${prefix}-${randomBytes(16).toString('hex')}`;
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}

main().catch((error) => {
  console.error('cloudlite failed to start:', error);
  process.exit(1);
});
