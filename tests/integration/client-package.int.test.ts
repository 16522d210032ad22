import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '..', '..');

describe('the client package', () => {
  it('builds to ES modules with declarations that plain Node imports', async () => {
    const outDir = mkdtempSync(path.join(tmpdir(), 'cloudlite-client-'));
    writeFileSync(path.join(outDir, 'package.json'), JSON.stringify({ type: 'module' })); // as the package's own package.json says
    await run(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(ROOT, 'clients', 'typescript'), '--outDir', outDir]);
    expect(existsSync(path.join(outDir, 'index.d.ts'))).toBe(true);
    const entry = pathToFileURL(path.join(outDir, 'index.js')).href;
    const probe = `const m = await import(${JSON.stringify(entry)}); const c = m.createClient({ url: 'http://x', key: 'k' }); console.log(typeof c.query, m.encodeParam(5n).integer);`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', probe]);
    expect(stdout.trim()).toBe('function 5');
  });
});
