import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

/**
 * A stage's params (serverless.yml `params`, or `--param`) become the functions' environment,
 * which functions/config.ts validates only at cold start: a value it refuses deploys fine and
 * then every function, /health included, fails every request. Packaging must refuse it, naming
 * the variable, before anything is deployed.
 */
const ROOT = path.resolve(__dirname, '../..');
const SLS = path.join(ROOT, 'node_modules', '.bin', 'sls');
const run = promisify(execFile);

function offlineEnv(dir: string): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('AWS_')));
  return {
    ...env,
    AWS_CONFIG_FILE: path.join(dir, 'no-aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: path.join(dir, 'no-aws-credentials'),
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
}

describe('stage params the functions would refuse', () => {
  it.each([
    // The params' own comment writes `logLevel: INFO`; config.ts takes upper case only.
    ['logLevel=debug', 'LOG_LEVEL'],
    // A browser never sends a trailing slash; parseOrigins refuses it at cold start.
    ['corsAllowedOrigins=https://app.example.com/', 'CORS_ALLOWED_ORIGINS'],
  ])('sls package --param %s fails, naming %s', async (param, variable) => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'cloudlite-params-'));
    try {
      const outcome = await run(SLS, ['package', '--stage', 'ci', '--param', param, '--package', path.join(dir, 'package')], { cwd: ROOT, env: offlineEnv(dir), timeout: 180_000 }).then(
        () => 'packaged',
        (error: { stdout: string; stderr: string }) => `${error.stdout}\n${error.stderr}`,
      );
      expect(outcome).toContain(variable);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 200_000);
});
