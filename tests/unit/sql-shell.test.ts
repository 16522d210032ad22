import { PassThrough } from 'node:stream';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Client } from '../../clients/typescript/src/index.ts';
import { runShell } from '../../scripts/sql-shell';

/** A terminal for the shell: what is typed goes in as keypresses; readline puts it in raw mode. */
function fakeTerminal() {
  const input = Object.assign(new PassThrough(), { isTTY: true, setRawMode: () => undefined });
  const output = Object.assign(new PassThrough(), { isTTY: true, columns: 80 });
  output.resume();
  return { input, output };
}

/** A client whose query answers every statement with one empty result, recording the SQL. */
function recordingClient() {
  const ran: string[] = [];
  const client = {
    query: async (sql: string) => {
      ran.push(sql);
      return { columns: ['x'], rows: [[1]], changes: 0, lastInsertRowid: null, results: [{ columns: ['x'], rows: [[1]], changes: 0, lastInsertRowid: null }], meta: { rowsOmitted: false } };
    },
  } as unknown as Client;
  return { client, ran };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('the interactive shell (review)', () => {
  // docs/cli.md: "Ctrl-C drops a half-typed statement". A statement half-typed on its first line
  // (not yet entered) is not `pending` yet, so Ctrl-C there closed the whole shell: the session
  // ended and the next line typed went to the user's own shell. sqlite3 and psql drop the line
  // and stay.
  it('Ctrl-C on a half-typed first line drops that line and the shell goes on', async () => {
    const { input, output } = fakeTerminal();
    const { client, ran } = recordingClient();
    const historyFile = path.join(mkdtempSync(path.join(tmpdir(), 'cloudlite-shell-')), 'history');
    const shell = runShell({ client, database: 'd', mode: 'csv', input, output, errors: new PassThrough(), historyFile });
    await tick();
    input.write('SELECT * FR');
    await tick();
    input.write('\x03'); // Ctrl-C
    await tick();
    input.write('SELECT 42;\r');
    await tick();
    await tick();
    input.write('.quit\r');
    input.end();
    await shell;
    expect(ran).toEqual(['SELECT 42;']);
  });
});
