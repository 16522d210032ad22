import { createClient, type Client } from '../../clients/typescript/src/index.ts';
import { startTestApi, uniqueDatabase, WRITE_KEY, type TestApi } from '../helpers/test-app';

/**
 * The client's staged import (a file over 4 MiB, or one the server answers 413): `{"upload": true}`,
 * the presigned POST, then `{"staged"}`. Review of this round's client changes.
 */
describe('the client imports large files through the staged upload (review, diff-edge)', () => {
  let api: TestApi;
  let client: Client;
  let file: Uint8Array;
  beforeAll(async () => {
    api = await startTestApi(); // maxBodyBytes 1 MiB: a 1.5 MB file goes staged after a 413
    client = createClient({ url: api.url, key: WRITE_KEY });
    const source = uniqueDatabase('staged-src');
    await client.execute('CREATE TABLE big (x BLOB); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1500) INSERT INTO big SELECT randomblob(1000) FROM n', undefined, { database: source });
    file = await client.exportDatabase(source);
    expect(file.byteLength).toBeGreaterThan(1_048_576);
  });
  afterAll(async () => {
    await api.close();
  });

  // docs/client.md / CallOptions.idempotencyKey: "a key of your own lets you retry after a crash";
  // README "Idempotent writes": a retry with the same key and the same request returns the first
  // attempt's answer. An inline import does (the server names it by the bytes' sha256). A staged
  // import is named by its staging key, and each call of importDatabase stages a NEW key: the
  // same call again, with the same key and the same file, is 422 IDEMPOTENCY_KEY_REUSED.
  it('the same importDatabase call again with the same idempotency key replays the first answer', async () => {
    const target = uniqueDatabase('staged-dst');
    const idempotencyKey = `import-${target}`;
    const first = await client.importDatabase(target, file, { idempotencyKey });
    // ...the caller crashed before it saw `first`, and sends the same import again:
    const again = await client.importDatabase(target, file, { idempotencyKey });
    expect(again).toMatchObject({ version: first.version, replayed: true });
  });
});
