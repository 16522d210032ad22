import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { start, stop } from '../helpers/npm-start';

/**
 * `npm start`'s own settings as README "Configuration" documents them: `PORT`, `DATA_DIR`,
 * `HOST` default to `3000`, `.data`, `127.0.0.1`, "npm start only".
 */
describe('npm start settings', () => {
  const port = 20000 + Math.floor(Math.random() * 20000);

  /** Whether anything accepts a TCP connection at host:port. */
  const accepts = (host: string, p: number) =>
    new Promise<boolean>((resolve) => {
      const socket = net.connect({ host, port: p });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });

  it('an empty HOST (HOST= in a shell or .env) means the loopback default: not every interface, and a URL the CLI can use', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'cloudlite-host-'));
    const running = await start(dataDir, port, { HOST: '' });
    try {
      const external = Object.values(os.networkInterfaces())
        .flat()
        .filter((address) => address !== undefined && !address.internal && address.family === 'IPv4');
      for (const address of external) expect({ address: address!.address, accepts: await accepts(address!.address, port) }).toEqual({ address: address!.address, accepts: false });
      const info = JSON.parse(readFileSync(path.join(dataDir, 'local-stack.json'), 'utf8')) as { url: string };
      expect(running.url).toBe(`http://127.0.0.1:${port}`);
      expect(info.url).toBe(`http://127.0.0.1:${port}`);
    } finally {
      await stop(running);
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 120_000);

  it('HOST=::1 (IPv6 loopback) prints and records a URL that fetch and the CLI can use', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'cloudlite-host6-'));
    const running = await start(dataDir, port + 1, { HOST: '::1' });
    try {
      const info = JSON.parse(readFileSync(path.join(dataDir, 'local-stack.json'), 'utf8')) as { url: string };
      expect(info.url).toBe(`http://[::1]:${port + 1}`);
      expect((await fetch(`${info.url}/health`)).status).toBe(200);
    } finally {
      await stop(running);
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 120_000);

  it('a PORT that is not a number stops npm start with a message naming PORT', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'cloudlite-port-'));
    try {
      const failure = await start(dataDir, port + 2, { PORT: 'three-thousand' }).then(
        async (running) => {
          await stop(running);
          return 'started';
        },
        (error: Error) => error.message,
      );
      expect(failure).toMatch(/\bPORT\b/);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 120_000);
  it('an empty api-key file in DATA_DIR (an interrupted first start) gets a new key, not an error about API_KEYS, which was never set', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'cloudlite-emptykey-'));
    writeFileSync(path.join(dataDir, 'api-key'), '', { mode: 0o600 });
    try {
      const outcome = await start(dataDir, port + 3).then(
        async (running) => {
          await stop(running);
          return 'started';
        },
        (error: Error) => error.message,
      );
      expect(outcome).toBe('started');
      expect(readFileSync(path.join(dataDir, 'api-key'), 'utf8').trim()).toMatch(/^local-[0-9a-f]{32}$/);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 120_000);

  it('keeps the databases under DATA_DIR from other users of the machine, as it keeps the key (0600)', async () => {
    const dataDir = path.join(mkdtempSync(path.join(os.tmpdir(), 'cloudlite-perms-')), 'data');
    const running = await start(dataDir, port + 4);
    try {
      // The stored S3 objects are the SQLite files themselves: readable by others, they bypass every
      // key. A file is open to others when it is o+r and every folder from DATA_DIR down is o+x.
      const openToOthers = (file: string): boolean => {
        if ((statSync(file).mode & 0o004) === 0) return false;
        for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
          if ((statSync(dir).mode & 0o001) === 0) return false;
          if (dir === dataDir) return true;
        }
      };
      const readableByOthers = (readdirSync(dataDir, { recursive: true }) as string[])
        .map((entry) => path.join(dataDir, entry))
        .filter((file) => statSync(file).isFile() && file.endsWith('.bin') && openToOthers(file))
        .map((file) => path.relative(dataDir, file));
      expect(readableByOthers).toEqual([]);
    } finally {
      await stop(running);
      rmSync(path.dirname(dataDir), { recursive: true, force: true });
    }
  }, 120_000);
});
