import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { createClient } from '../../clients/typescript/src/index.ts';
import { startTestApi, uniqueDatabase, WRITE_KEY, type TestApi } from '../helpers/test-app';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'cloudlite.cjs');

/**
 * Drives a command through a real pseudo-terminal (python3's pty module): types each line once
 * the previous one's prompt is back, then prints the whole transcript and exits with the
 * command's exit code.
 */
const PTY_DRIVER = `
import json, os, pty, select, sys, time
command, lines = json.loads(sys.argv[1]), json.loads(sys.argv[2])
pid, fd = pty.fork()
if pid == 0:
    os.execvp(command[0], command)
out = b''
def read_until(done, timeout):
    global out
    end = time.time() + timeout
    while time.time() < end:
        if select.select([fd], [], [], 0.1)[0]:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                return
            if not chunk:
                return
            out += chunk
            if done():
                return
prompts = lambda: out.count(b'cloudlite> ') + out.count(b'...> ')
read_until(lambda: prompts() >= 1, 60)
for line in lines:
    seen = prompts()
    os.write(fd, (line + '\\r').encode())
    if line != '.quit':
        read_until(lambda: prompts() > seen, 60)
read_until(lambda: False, 30)
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode('utf8', 'replace'))
sys.exit(os.waitstatus_to_exitcode(status))
`;

describe('the cloudlite CLI against the local stack', () => {
  let api: TestApi;
  let database: string;
  let home: string;
  const cli = (args: string[], env: NodeJS.ProcessEnv = {}, cwd = ROOT) =>
    run(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, CLOUDLITE_URL: api.url, CLOUDLITE_KEY: WRITE_KEY, ...env } });

  beforeAll(async () => {
    api = await startTestApi();
    database = uniqueDatabase('cli');
    home = mkdtempSync(path.join(tmpdir(), 'cloudlite-cli-'));
    await createClient({ url: api.url, key: WRITE_KEY, database }).execute(
      "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, data BLOB); INSERT INTO items (name, data) VALUES ('pen', x'00ff'), ('ink, \"blue\"', NULL)",
    );
  });
  afterAll(async () => {
    await api.close();
  });

  it('sql --json prints rows as objects, exact values as the API sends them', async () => {
    const { stdout } = await cli(['sql', 'SELECT id, name, data, 9223372036854775807 AS big FROM items ORDER BY id', '--db', database, '--json']);
    expect(JSON.parse(stdout)).toEqual([
      { id: 1, name: 'pen', data: { base64: 'AP8=' }, big: '9223372036854775807' },
      { id: 2, name: 'ink, "blue"', data: null, big: '9223372036854775807' },
    ]);
  });

  it('sql --csv quotes what needs quoting', async () => {
    const { stdout } = await cli(['sql', 'SELECT id, name FROM items ORDER BY id', '--db', database, '--csv']);
    expect(stdout).toBe('id,name\r\n1,pen\r\n2,"ink, ""blue"""\n');
  });

  it('sql prints an aligned table by default, blobs as X\'hex\' and NULL as NULL', async () => {
    const { stdout } = await cli(['sql', 'SELECT id, name, data FROM items ORDER BY id', '--db', database]);
    const lines = stdout.trimEnd().split('\n');
    expect(lines.at(-1)).toBe('(2 rows)');
    const table = lines.slice(0, -1);
    expect(new Set(table.map((line) => line.length)).size).toBe(1); // every line as wide as the others
    expect(stdout).toContain("X'00FF'");
    expect(stdout).toMatch(/│ 2\s+│ ink, "blue"\s+│ NULL\s+│/);
  });

  it('sql --file runs a script as one transaction', async () => {
    const script = path.join(home, 'script.sql');
    writeFileSync(script, "-- a comment; with a semicolon\nINSERT INTO items (name) VALUES ('paper');\nSELECT count(*) AS n FROM items;\n");
    const { stdout } = await cli(['sql', '--file', script, '--db', database, '--json']);
    expect(JSON.parse(stdout)).toEqual([{ n: 3 }]);
  });

  it('a failing statement exits 1 with the error code on stderr', async () => {
    const failure = cli(['sql', 'SELECT * FROM nope', '--db', database]);
    await expect(failure).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining('Error SQL_ERROR: no such table: nope') });
  });

  it("without --key, --url or their variables it uses the running local stack's key and URL, from any directory", async () => {
    // What npm start leaves in its data directory (DATA_DIR here, the repository's .data by default).
    const data = mkdtempSync(path.join(tmpdir(), 'cloudlite-data-'));
    writeFileSync(path.join(data, 'api-key'), `${WRITE_KEY}\n`);
    writeFileSync(path.join(data, 'local-stack.json'), JSON.stringify({ url: api.url, dynamoDbEndpoint: 'http://127.0.0.1:1', keyTable: 'unused' }));
    const elsewhere = mkdtempSync(path.join(tmpdir(), 'cloudlite-cwd-'));
    const { stdout } = await cli(['sql', 'SELECT 1 AS one', '--db', database, '--json'], { CLOUDLITE_KEY: '', CLOUDLITE_URL: '', DATA_DIR: data }, elsewhere);
    expect(JSON.parse(stdout)).toEqual([{ one: 1 }]);
    await expect(cli(['sql', 'SELECT 1', '--key', 'wrong-key-123'], { DATA_DIR: data }, elsewhere)).rejects.toMatchObject({ stderr: expect.stringContaining('UNAUTHORIZED') });
    // Without a key anywhere, it says where it looked; that is a usage error (exit 2).
    const empty = mkdtempSync(path.join(tmpdir(), 'cloudlite-empty-'));
    await expect(cli(['sql', 'SELECT 1'], { CLOUDLITE_KEY: '', API_KEY: '', DATA_DIR: empty }, elsewhere)).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining(`no API key`) });
    // The local stack's key is never sent to another host: there it needs a key of its own.
    await expect(cli(['sql', 'SELECT 1', '--url', 'https://api.example.invalid'], { CLOUDLITE_KEY: '', API_KEY: '', DATA_DIR: data }, elsewhere)).rejects.toMatchObject({
      code: 2,
      stderr: 'no API key for https://api.example.invalid: pass --key <key>, set CLOUDLITE_KEY\n',
    });
  });

  it('a script piped into the shell runs its last statement without ";", and exits 1 when a statement failed', async () => {
    const shell = (script: string) =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
        const child = execFile(process.execPath, [BIN, 'shell', '--db', database, '--json'], { cwd: ROOT, env: { ...process.env, CLOUDLITE_URL: api.url, CLOUDLITE_KEY: WRITE_KEY } }, (error, stdout, stderr) =>
          error && typeof error.code !== 'number' ? reject(error) : resolve({ code: error ? (error.code as number) : 0, stdout, stderr }),
        );
        child.stdin!.end(script);
      });
    const ok = await shell("SELECT 'first' AS a;\nSELECT 'last' AS b");
    expect([ok.code, ok.stdout.trim().split('\n').map((line) => JSON.parse(line))]).toEqual([0, [[{ a: 'first' }], [{ b: 'last' }]]]);
    // A script ending in comments has nothing left to run (as in sqlite3).
    const commented = await shell("SELECT 'only' AS a;\n-- the end\n/* really */\n");
    expect([commented.code, commented.stderr]).toEqual([0, '']);
    // A dot-command that fails counts as sqlite3 counts it.
    expect((await shell('.bogus\nSELECT 1 AS one;\n')).code).toBe(1);
    // A trigger whose body holds CASE ... END; is one statement, ended by the trigger's own END.
    const trigger = await shell(
      "CREATE TABLE IF NOT EXISTS q(id INTEGER PRIMARY KEY, state TEXT);\nCREATE TRIGGER IF NOT EXISTS q_done AFTER INSERT ON q BEGIN\n  UPDATE q SET state = CASE WHEN new.id > 0 THEN 'done' ELSE state END;\n  DELETE FROM q WHERE state = 'gone';\nEND;\n",
    );
    expect([trigger.code, trigger.stderr]).toEqual([0, '']);
    const failed = await shell('SELECT * FROM nope;\nSELECT 1 AS after;\n');
    expect(failed).toMatchObject({ code: 1, stderr: expect.stringContaining('Error SQL_ERROR: no such table: nope') });
    expect(JSON.parse(failed.stdout.trim())).toEqual([{ after: 1 }]); // the rest still ran, as in sqlite3
  });

  it("npm run keys finds the running local stack's key table without --table or --endpoint", async () => {
    const data = mkdtempSync(path.join(tmpdir(), 'cloudlite-data-'));
    writeFileSync(path.join(data, 'local-stack.json'), JSON.stringify({ url: api.url, dynamoDbEndpoint: process.env.DYNAMODB_ENDPOINT, keyTable: process.env.KEY_TABLE }));
    const keys = (args: string[], env: NodeJS.ProcessEnv) =>
      run(process.execPath, [path.join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'), path.join(ROOT, 'scripts', 'keys.ts'), ...args], {
        cwd: ROOT,
        env: { ...process.env, KEY_TABLE: '', DYNAMODB_ENDPOINT: '', ...env },
      });
    const created = await keys(['create', '--role', 'read', '--databases', `${database}*`, '--label', 'cli-test'], { DATA_DIR: data });
    const id = /^created (key:[0-9a-f]{8})/.exec(created.stdout)![1]!;
    expect((await keys(['list'], { DATA_DIR: data })).stdout).toContain(`${id}  read   ${database}*`);
    await keys(['revoke', id], { DATA_DIR: data });
    // Nothing running and nothing named: a usage error saying what to pass.
    const nowhere = mkdtempSync(path.join(tmpdir(), 'cloudlite-empty-'));
    await expect(keys(['list'], { DATA_DIR: nowhere })).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining('no key table: pass --table') });
  });

  it('npm run keys refuses an option given twice (the last would silently win: `--databases acme-* --databases *` made a key on every database)', async () => {
    const data = mkdtempSync(path.join(tmpdir(), 'cloudlite-data-'));
    writeFileSync(path.join(data, 'local-stack.json'), JSON.stringify({ url: api.url, dynamoDbEndpoint: process.env.DYNAMODB_ENDPOINT, keyTable: process.env.KEY_TABLE }));
    const keys = (args: string[]) =>
      run(process.execPath, [path.join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'), path.join(ROOT, 'scripts', 'keys.ts'), ...args], {
        cwd: ROOT,
        env: { ...process.env, KEY_TABLE: '', DYNAMODB_ENDPOINT: '', DATA_DIR: data },
      });
    const label = `twice-${uniqueDatabase('k')}`;
    for (const args of [
      ['--databases', `${database}*`, '--databases', '*'],
      ['--databases', `${database}*`, '--role', 'write'],
    ]) {
      await expect(keys(['create', '--role', 'read', ...args, '--label', label])).rejects.toMatchObject({ code: 2, stderr: expect.stringMatching(/--(databases|role) is given more than once/) });
    }
    // A stray word is refused too: `--databases acme-* globex-*` did not make a key for both.
    await expect(keys(['create', '--role', 'read', '--databases', `${database}*`, 'extra-*', '--label', label])).rejects.toMatchObject({ code: 2 });
    expect((await keys(['list'])).stdout).not.toContain(label);
  });

  it('npm run keys refuses an expiry without a time zone: it was read in the local one (12:00 in Los Angeles became 20:00Z)', async () => {
    const data = mkdtempSync(path.join(tmpdir(), 'cloudlite-data-'));
    writeFileSync(path.join(data, 'local-stack.json'), JSON.stringify({ url: api.url, dynamoDbEndpoint: process.env.DYNAMODB_ENDPOINT, keyTable: process.env.KEY_TABLE }));
    const keys = (args: string[]) =>
      run(process.execPath, [path.join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'), path.join(ROOT, 'scripts', 'keys.ts'), ...args], {
        cwd: ROOT,
        env: { ...process.env, KEY_TABLE: '', DYNAMODB_ENDPOINT: '', DATA_DIR: data, TZ: 'America/Los_Angeles' },
      });
    const label = `tz-${uniqueDatabase('k')}`;
    // API_KEYS takes a date or a UTC date-time (…Z); the key table's expiry must mean the same everywhere.
    await expect(keys(['create', '--role', 'read', '--databases', `${database}*`, '--expires', '2099-01-01T12:00:00', '--label', label])).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining('--expires'),
    });
    expect((await keys(['list'])).stdout).not.toContain(label);
    // A date, or a date-time that names its zone, means one instant wherever the script runs.
    const created = await keys(['create', '--role', 'read', '--databases', `${database}*`, '--expires', '2099-01-01T12:00:00Z', '--label', label]);
    const id = /^created (key:[0-9a-f]{8})/.exec(created.stdout)![1]!;
    expect((await keys(['list'])).stdout).toContain('expires 2099-01-01T12:00:00.000Z');
    await keys(['revoke', id]);
  });

  it('a write whose rows were too large to return says so, instead of printing an empty result as all', async () => {
    const { stdout, stderr } = await cli(['sql', `CREATE TABLE big(x); INSERT INTO big VALUES (1) RETURNING replace(hex(zeroblob(1200000)), '0', '"') AS quotes`, '--db', uniqueDatabase('omitted')]);
    expect(stdout).toContain('(0 rows)');
    expect(stderr).toBe('note: the write was stored, but its rows were too large to return; read them back with a smaller query\n');
  });

  it.each([
    ['a URL that is not http(s)', ['databases', '--url', 'ftp://localhost:3991'], 'the URL must be http(s)'],
    ['a URL without its scheme', ['databases', '--url', 'localhost:3991'], 'the URL must be http(s)'],
    ['a page of no rows', ['databases', '--limit', '0'], '--limit must be a whole number from 1'],
  ])('%s is a usage error (exit 2) that says so', async (_name, args, message) => {
    await expect(cli(args)).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining(message) });
  });

  it('a missing file is a usage error that names it, said once', async () => {
    await expect(cli(['import', database, '/nonexistent/backup.sqlite'])).rejects.toMatchObject({
      code: 2,
      stderr: "cannot read /nonexistent/backup.sqlite: ENOENT: no such file or directory, open '/nonexistent/backup.sqlite'\n",
    });
  });

  it('the shell runs a multi-line statement, .tables, .mode json and .quit in a real terminal, and keeps history', async () => {
    const shellDb = uniqueDatabase('shell');
    const history = path.join(home, 'history');
    const lines = [
      'CREATE TABLE pets (id INTEGER PRIMARY KEY,',
      '  name TEXT);',
      "INSERT INTO pets (name) VALUES ('rex'), ('tom');",
      '.tables',
      '.mode json',
      'SELECT name FROM pets ORDER BY id;',
      '.quit',
    ];
    const { stdout } = await run('python3', ['-c', PTY_DRIVER, JSON.stringify([process.execPath, BIN, 'shell', '--db', shellDb]), JSON.stringify(lines)], {
      env: { ...process.env, CLOUDLITE_URL: api.url, CLOUDLITE_KEY: WRITE_KEY, CLOUDLITE_HISTORY: history, TERM: 'xterm' },
    });
    expect(stdout).toContain('...> '); // the first line left the statement open
    expect(stdout).toMatch(/│ pets\s*│/); // .tables, printed as a table
    expect(stdout).toContain('[{"name":"rex"},{"name":"tom"}]'); // after .mode json
    const rows = await createClient({ url: api.url, key: WRITE_KEY, database: shellDb }).query('SELECT count(*) FROM pets');
    expect(rows.rows).toEqual([[2]]);
    expect(readFileSync(history, 'utf8').split('\n')).toEqual(expect.arrayContaining(['  name TEXT);', '.mode json']));
  });

  it('databases, versions, export, import and restore work against the lifecycle endpoints', async () => {
    const source = uniqueDatabase('cli-life');
    await cli(['sql', "CREATE TABLE notes(body TEXT); INSERT INTO notes VALUES ('hello'), ('world')", '--db', source]);
    const listed = JSON.parse((await cli(['databases', '--json'])).stdout) as { name: string }[] | { databases: { name: string }[] };
    expect((Array.isArray(listed) ? listed : listed.databases).map((d) => d.name)).toContain(source);

    const file = path.join(home, 'backup.sqlite');
    await cli(['export', source, '--out', file]);
    expect(readFileSync(file).subarray(0, 15).toString('latin1')).toBe('SQLite format 3');
    const copy = uniqueDatabase('cli-copy');
    await cli(['import', copy, file]);
    expect(JSON.parse((await cli(['sql', 'SELECT count(*) AS n FROM notes', '--db', copy, '--json'])).stdout)).toEqual([{ n: 2 }]);
    // A SQL dump goes back in the same way: the file says which it is.
    const dump = path.join(home, 'backup.sql');
    await cli(['export', source, '--format', 'sql', '--out', dump]);
    const fromDump = uniqueDatabase('cli-dump');
    await cli(['import', fromDump, dump]);
    expect(JSON.parse((await cli(['sql', 'SELECT body FROM notes ORDER BY body', '--db', fromDump, '--json'])).stdout)).toEqual([{ body: 'hello' }, { body: 'world' }]);

    // A listing with more pages says on stderr how to ask for the next one; stdout stays the data.
    await cli(['sql', "INSERT INTO notes VALUES ('again')", '--db', source]);
    const firstPage = await cli(['versions', source, '--limit', '1', '--json']);
    const [newest] = JSON.parse(firstPage.stdout) as { version: string }[];
    expect(firstPage.stderr).toBe(`more: npx cloudlite versions ${source} --limit 1 --json --before ${newest!.version}\n`);
    expect(JSON.parse(firstPage.stdout)[0]).toMatchObject({ current: true, deleted: false }); // the API's booleans, not strings
    const databasesPage = await cli(['databases', '--limit', '1', '--json', '--url', api.url]);
    expect(databasesPage.stderr).toMatch(new RegExp(`^more: npx cloudlite databases --url ${api.url} --limit 1 --json --cursor [a-z0-9_-]+\n$`));

    const versions = JSON.parse((await cli(['versions', source, '--json'])).stdout) as { version: string }[] | { versions: { version: string }[] };
    const first = (Array.isArray(versions) ? versions : versions.versions).at(-1)!.version;
    await cli(['sql', 'DELETE FROM notes', '--db', source]);
    await cli(['restore', source, '--version', first]);
    expect(JSON.parse((await cli(['sql', 'SELECT count(*) AS n FROM notes', '--db', source, '--json'])).stdout)).toEqual([{ n: 2 }]);
  });

  it('databases --deleted says which databases are deleted (the API answers "deleted": true for them)', async () => {
    const live = uniqueDatabase('cli-live');
    const gone = uniqueDatabase('cli-gone');
    const client = createClient({ url: api.url, key: WRITE_KEY });
    await client.execute('CREATE TABLE t(a)', [], { database: live });
    await client.execute('CREATE TABLE t(a)', [], { database: gone });
    await client.deleteDatabase(gone);
    const listed = JSON.parse((await cli(['databases', '--deleted', '--limit', '1000', '--json'])).stdout) as { name: string; deleted?: unknown }[];
    expect(listed.find((d) => d.name === gone)).toMatchObject({ name: gone, deleted: true });
    expect(listed.find((d) => d.name === live)?.deleted ?? false).toBe(false);
    // The table shows it too: a deleted database must not look like an empty live one.
    const table = (await cli(['databases', '--deleted', '--limit', '1000'])).stdout;
    expect(table.split('\n')[1]).toMatch(/\bdeleted\b/);
  });
});
