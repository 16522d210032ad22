import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

/** `npm start` in a child process, as a new user runs it, on a data folder and port of the test's choosing. */
const ROOT = path.resolve(__dirname, '../..');

export interface Running {
  child: ChildProcess;
  url: string;
  output: string;
}

export function start(dataDir: string, port: number, extraEnv: NodeJS.ProcessEnv = {}): Promise<Running> {
  const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: dataDir, PORT: String(port) };
  // The server must stand on its own: none of the test stack's endpoints or keys.
  for (const name of ['S3_ENDPOINT', 'DYNAMODB_ENDPOINT', 'S3_BUCKET', 'LOCK_TABLE', 'API_KEYS', 'FLIGHTS_PASSWORD']) delete env[name];
  Object.assign(env, extraEnv);
  const child = spawn(process.execPath, [path.join(ROOT, 'node_modules/tsx/dist/cli.mjs'), 'scripts/local-server.ts'], { cwd: ROOT, env });
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`npm start did not come up within 60 s:\n${output}`)), 60_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /cloudlite is running on (http:\/\/\S+)/.exec(output);
      // The banner ends with the /sql curl line; stdout may deliver it in a later chunk than 'Try:'.
      if (match && output.includes('sqlite_version()')) {
        clearTimeout(timer);
        resolve({ child, url: match[1]!, output });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`npm start exited with ${code}:\n${output}`));
    });
  });
}

export async function stop(running: Running): Promise<void> {
  const exited = new Promise((resolve) => running.child.once('exit', resolve));
  running.child.kill('SIGTERM');
  await exited;
}

