import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { offlineEnv } from '../helpers/offline-env';

/**
 * A stage's params (serverless.yml `params`, or `--param`) become the functions' environment,
 * which functions/config.ts validates only at cold start: a value it refuses deploys fine and
 * then every function, /health included, fails every request. Packaging must refuse it, naming
 * the variable, before anything is deployed.
 */
const ROOT = path.resolve(__dirname, '../..');
const SLS = path.join(ROOT, 'node_modules', '.bin', 'sls');
const run = promisify(execFile);


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
