import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { applyMigrationsInProcess } from '../../scripts/migrate';
import { start, stop, type Running } from '../helpers/npm-start';
import { postJson, startTestApi, testConfig, WRITE_KEY, type TestApi } from '../helpers/test-app';

/**
 * The flights migration and the flights routes on a flights database that was
 * deleted (DELETE /databases/{name}), which docs/lifecycle.md says "answers 404 to reads,
 * writes, imports and clones into its name until restored".
 */

const ONE_FLIGHT = [{ date: '2024-01-01', origin: 'Delhi', destination: 'Mumbai', airline: 'Indigo', price_inr: 4500 }];

describe('a deleted flights database', () => {
  let api: TestApi;
  let database: string;
  beforeAll(async () => {
    const config = testConfig();
    database = config.flightsDatabase;
    api = await startTestApi(config);
    await applyMigrationsInProcess(api.app, database);
    expect((await postJson(api.url, ONE_FLIGHT, WRITE_KEY, '/flights')).status).toBe(200);
    const deleted = await fetch(`${api.url}/databases/${database}?confirm=${database}`, { method: 'DELETE', headers: { authorization: `Bearer ${WRITE_KEY}` } });
    expect(deleted.status).toBe(200);
  });
  afterAll(async () => {
    await api.close();
  });

  it('POST /flights with a write key answers 404 DATABASE_NOT_FOUND "restore it", not 503 NOT_READY "apply the migrations" (which cannot help)', async () => {
    const answer = await postJson(api.url, ONE_FLIGHT, WRITE_KEY, '/flights');
    // Migrating a deleted database fails ("was deleted; restore it"), so "apply the migrations,
    // retry later" sends the operator (and the client's retries) the wrong way.
    expect(answer.body.error.code).toBe('DATABASE_NOT_FOUND');
    expect(answer.status).toBe(404);
    expect(answer.body.error.message).toContain('restore');
  });
});

describe('npm start after its flights database was deleted', () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'cloudlite-start-deleted-'));
  const port = 20000 + Math.floor(Math.random() * 20000);
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('still starts, so the database can be restored as the error says (POST /databases/main/restore)', async () => {
    const first = await start(dataDir, port);
    let second: Running | undefined;
    let deletedVersion: string;
    try {
      const key = readFileSync(path.join(dataDir, 'api-key'), 'utf8').trim();
      const deleted = await fetch(`${first.url}/databases/main?confirm=main`, { method: 'DELETE', headers: { authorization: `Bearer ${key}` } });
      expect(deleted.status).toBe(200);
      deletedVersion = ((await deleted.json()) as { deleted_version: string }).deleted_version;
    } finally {
      await stop(first);
    }
    try {
      // Today: "cloudlite failed to start: DatabaseNotFoundError: database "main" was deleted;
      // restore it (POST /databases/main/restore)", exit 1: the restore it asks for needs the server.
      second = await start(dataDir, port);
      const key = readFileSync(path.join(dataDir, 'api-key'), 'utf8').trim();
      const restored = await fetch(`${second.url}/databases/main/restore`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ version: deletedVersion }),
      });
      expect(restored.status).toBe(200);
      expect((await fetch(`${second.url}/flights?limit=1`)).status).toBe(200);
    } finally {
      if (second) await stop(second);
    }
  }, 120_000);
});
