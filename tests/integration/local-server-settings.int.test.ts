import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
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
});
