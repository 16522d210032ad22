import { execFileSync } from 'node:child_process';
import { startLocalStack, type LocalStack } from '../../infra/local/stack';
import { startDynamoDbLocal } from '../../infra/local/dynamodb';
import { provision } from '../../infra/local/stack';

/**
 * Starts the local servers once for the whole run: our S3 server and dynalite in this process,
 * and AWS's DynamoDB Local (Java) when Java is available, so the lock is also tested against
 * the real implementation. Tests find them through the environment.
 */
export default async function globalSetup(): Promise<void> {
  // scripts/test-external.ts points the suite at LocalStack or a deployed stage instead.
  if (process.env.CLOUDLITE_TEST_TARGET) return;
  const stack = await startLocalStack({ bucket: 'cloudlite-test', lockTable: 'cloudlite-test-locks' });
  Object.assign(process.env, stack.env, { CLOUDLITE_TEST_STACK: '1' });
  const handles: { close(): Promise<void> }[] = [stack];

  if (javaAvailable()) {
    const port = 18000 + Math.floor(Math.random() * 1000);
    const dynamoDbLocal = await startDynamoDbLocal({ port });
    await provision({ ...stack, dynamoDbEndpoint: dynamoDbLocal.endpoint } satisfies Pick<LocalStack, 's3Endpoint' | 'dynamoDbEndpoint' | 'bucket' | 'lockTable'>);
    process.env.DYNAMODB_LOCAL_ENDPOINT = dynamoDbLocal.endpoint;
    handles.push(dynamoDbLocal);
  } else {
    console.warn('Java not found: the lock tests run against dynalite only (DynamoDB Local needs Java).');
  }
  (globalThis as { __cloudliteHandles?: typeof handles }).__cloudliteHandles = handles;
}

function javaAvailable(): boolean {
  try {
    execFileSync('java', ['-version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
