import { ConfigError, loadConfig } from '../functions/config';

/**
 * Run by the Serverless plugin (infra/build-plugin.js) before it packages: each function's
 * environment as the stage sets it, read by the functions' own `loadConfig`, so a stage whose
 * functions would refuse to start (a `logLevel: debug` param, an origin with a path) fails to
 * package instead of deploying functions that answer every request 500.
 *
 * Argument: JSON `{ "<function>": { "<VARIABLE>": "<value>" } }`, where a value CloudFormation
 * resolves at deploy time (the bucket's name) is already a placeholder string.
 */
const environments = JSON.parse(process.argv[2] ?? '{}') as Record<string, Record<string, string>>;
const problems: string[] = [];
for (const [name, environment] of Object.entries(environments)) {
  try {
    loadConfig(environment);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems.push(`function ${name}: ${error.message}`);
  }
}
if (problems.length > 0) {
  process.stderr.write(`${problems.join('\n')}\n`);
  process.exitCode = 1;
}
