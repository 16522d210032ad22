import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { start, stop, type Running } from '../helpers/npm-start';

/**
 * Every README block marked `<!-- example -->` runs verbatim, in order, in one bash session,
 * against `npm start` on a fresh data folder, from a folder whose `.data` is that data folder
 * (only the documented URL is swapped for the server's). Each call's status is recorded; a block
 * may fail only where it says so with `# HTTP <status>`.
 */
const ROOT = path.resolve(__dirname, '../..');
const README = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const EXAMPLES = [...README.matchAll(/<!-- example -->\n```sh\n([\s\S]*?)```/g)].map((match) => match[1]!);
const run = promisify(execFile);

describe('the README examples', () => {
  const home = mkdtempSync(path.join(os.tmpdir(), 'cloudlite-readme-'));
  let server: Running;

  beforeAll(async () => {
    mkdirSync(path.join(home, '.data'));
    server = await start(path.join(home, '.data'), 20000 + Math.floor(Math.random() * 20000));
  }, 90_000);
  afterAll(async () => {
    await stop(server);
    rmSync(home, { recursive: true, force: true });
  });

  it('are there', () => {
    expect(EXAMPLES.length).toBeGreaterThanOrEqual(8);
  });

  it('run verbatim against npm start and answer as documented', async () => {
    // curl is wrapped only to write each call's status to a side file; its output is untouched.
    const log = path.join(home, 'statuses');
    const lines = ['set -euo pipefail', `curl() { command curl -w '%{stderr}%{http_code}\\n' "$@" 2>> ${JSON.stringify(log)}; }`];
    EXAMPLES.forEach((example, index) => {
      lines.push(`echo "example ${index}" >> ${JSON.stringify(log)}`, example.replaceAll('http://localhost:3000', server.url));
    });
    const { stdout } = await run('bash', ['-c', lines.join('\n')], { cwd: home, maxBuffer: 32 * 1024 * 1024 });

    const byExample = readFileSync(log, 'utf8').split(/^example \d+\n/m).slice(1);
    expect(byExample).toHaveLength(EXAMPLES.length);
    EXAMPLES.forEach((example, index) => {
      const codes = byExample[index]!.split('\n').filter(Boolean);
      const documented = [...example.matchAll(/^# HTTP (\d{3})/gm)].map((match) => match[1]);
      // A block that only sets things up (exports, functions) makes no call.
      const calls = /^(sql |curl )/m.test(example);
      expect({ example: index, calls: codes.length > 0 === calls, failing: codes.filter((code) => !/^2\d\d$/.test(code)) }).toEqual({ example: index, calls: true, failing: documented });
    });
    expect(stdout).not.toContain('"INTERNAL"');
    expect(stdout).toContain('"replayed":true');
  }, 180_000);
});
