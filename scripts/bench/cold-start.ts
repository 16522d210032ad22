import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { build } from 'esbuild';
import { startLocalParameterStore } from '../../infra/local/ssm';
import { buildBundles, MAIN_FIELDS } from '../build';
import { median } from './measure';

/**
 * Cold start, side by side in fresh processes: the floor (the S3 and DynamoDB clients loaded and
 * sql.js initialised, from a minified bundle) against the product (the packaged sql handler
 * loaded and answering a strong read). Both are timed from their process's start to their answer
 * by the process's own clock (performance.now() counts from Node's start), so both pay Node's own
 * start the same way, and neither pays for forking this process: a bench holding a gigabyte adds
 * about 50 ms to every spawn, which would flatter the ratio. Runs alternate, so a busy machine
 * slows both alike.
 */

export interface ColdStartReport {
  floorMs: number;
  /** Keys from SSM, as deployed stages read them (serverless.yml sets API_KEYS_PARAMETER). */
  productMs: number;
  /** Keys in API_KEYS: no SSM request, and the SSM client never loads. */
  productWithEnvKeysMs: number;
  /** `require()` of the handler module alone, timed inside the fresh process. */
  loadMs: Record<string, number>;
  /** The product's answer, to show it really answered. */
  productStatus: number;
  bundles: { name: string; bytes: number }[];
}

export interface ColdStartTarget {
  env: Record<string, string>;
  database: string;
  apiKey: string;
}

const DRIVER = 'cold-start-driver.js';
const KEYS_PARAMETER = '/cloudlite/bench/api-keys';
const LOAD_PROBE = 'load-probe.js';

export async function measureColdStart(outDir: string, target: ColdStartTarget, runs: number): Promise<ColdStartReport> {
  const built = await buildBundles({ outDir });
  await build({
    entryPoints: [path.join(__dirname, 'cold-start-floor.ts')],
    bundle: true,
    minify: true,
    platform: 'node',
    target: 'node22',
    format: 'cjs',
    // Resolved as the product's bundles are, so the floor gets the same trimmed SDK clients.
    mainFields: MAIN_FIELDS,
    outfile: path.join(outDir, 'floor.js'),
    logLevel: 'silent',
  });
  await writeFile(path.join(outDir, DRIVER), driverSource());
  await writeFile(path.join(outDir, LOAD_PROBE), "const start = performance.now(); require(process.argv[2]); process.stdout.write(`done ${performance.now() - start}\\n`);\n");

  const event = JSON.stringify(strongReadEvent(target.database, target.apiKey));
  const env = { ...processEnv(), ...target.env, API_KEYS: `write:${target.apiKey}`, LOG_LEVEL: 'ERROR' };
  const parameterStore = await startLocalParameterStore({ [KEYS_PARAMETER]: `write:${target.apiKey}` });
  const ssmEnv = { ...env, API_KEYS: '', API_KEYS_PARAMETER: KEYS_PARAMETER, AWS_ENDPOINT_URL_SSM: parameterStore.url };
  const floor: number[] = [];
  const product: number[] = [];
  const productWithEnvKeys: number[] = [];
  let productStatus = 0;
  try {
    for (let run = 0; run < runs; run++) {
      floor.push(Number((await spawnUntilDone(outDir, ['floor.js'], env)).detail));
      const [answeredAtMs, status] = (await spawnUntilDone(outDir, [DRIVER, event], ssmEnv)).detail.split(' ').map(Number);
      product.push(answeredAtMs!);
      productStatus = status!;
      productWithEnvKeys.push(Number((await spawnUntilDone(outDir, [DRIVER, event], env)).detail.split(' ')[0]));
    }
  } finally {
    await parameterStore.close();
  }
  const loadMs: Record<string, number> = {};
  for (const handler of ['health', 'sql']) {
    const loads: number[] = [];
    for (let run = 0; run < runs; run++) loads.push(Number((await spawnUntilDone(outDir, [LOAD_PROBE, `./${handler}.js`], env)).detail));
    loadMs[handler] = median(loads.sort((a, b) => a - b));
  }
  const sorted = (values: number[]) => values.sort((a, b) => a - b);
  return {
    floorMs: median(sorted(floor)),
    productMs: median(sorted(product)),
    productWithEnvKeysMs: median(sorted(productWithEnvKeys)),
    loadMs,
    productStatus,
    bundles: built.files.filter((file) => /\.(js|wasm)$/.test(file.name) && file.bytes > 1024),
  };
}

/** Invokes the packaged handler once, as the Lambda runtime would, and prints its status. */
function driverSource(): string {
  return `'use strict';
const { handler } = require('./sql.js');
const context = { awsRequestId: 'bench-cold-start', functionName: 'bench', getRemainingTimeInMillis: () => 29000 };
handler(JSON.parse(process.argv[2]), context).then(
  (response) => { process.stdout.write('done ' + performance.now() + ' ' + response.statusCode + '\\n'); process.exit(0); },
  (error) => { console.error(error); process.exit(1); },
);
`;
}

/** Runs a script until it prints `done <detail>`; resolves with the detail. */
function spawnUntilDone(cwd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ detail: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let done: { detail: string } | undefined;
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const line = /^done ?(.*)$/m.exec(out);
      if (line && !done) done = { detail: line[1]!.trim() };
    });
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (done && code === 0) resolve(done);
      else reject(new Error(`cold-start run ${args[0]} failed (exit ${code}): ${err.slice(0, 500)}`));
    });
  });
}

function processEnv(): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', AWS_EC2_METADATA_DISABLED: 'true' };
}

function strongReadEvent(database: string, apiKey: string) {
  const body = JSON.stringify({ database, sql_statement: 'SELECT id, category, price FROM items WHERE id = ?', params: [42] });
  return {
    version: '2.0',
    routeKey: 'POST /sql',
    rawPath: '/sql',
    rawQueryString: '',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
    requestContext: {
      accountId: '123456789012',
      apiId: 'bench',
      domainName: 'bench.local',
      domainPrefix: 'bench',
      http: { method: 'POST', path: '/sql', protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'bench' },
      requestId: 'bench-cold-start',
      routeKey: 'POST /sql',
      stage: '$default',
      time: new Date().toISOString(),
      timeEpoch: Date.now(),
    },
    body,
    isBase64Encoded: false,
  };
}
