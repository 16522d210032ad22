import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');

/** `npm start` in a child process (its own local stack and data directory), on a free port. */
export interface LocalServer {
  url: string;
  key: string;
  close(): Promise<void>;
}

export async function startLocalServer(key: string): Promise<LocalServer> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'cloudlite-bench-server-'));
  const child: ChildProcess = spawn(path.join(ROOT, 'node_modules', '.bin', 'tsx'), ['scripts/local-server.ts'], {
    cwd: ROOT,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, API_KEYS: `write:${key}`, LOG_LEVEL: 'ERROR' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`npm start did not come up in 60 s:\n${out}`)), 60_000);
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      // The banner's last line: by then migrations and the seed have run.
      const running = /cloudlite is running on (http:\/\/\S+)/.exec(out);
      // The banner ends with the /sql curl line; stdout may deliver it in a later chunk than 'Try:'.
      if (running && out.includes('sqlite_version()')) {
        clearTimeout(timer);
        resolve(running[1]!);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`npm start exited with ${code}:\n${out}`)));
  });
  return {
    url,
    key,
    close: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
