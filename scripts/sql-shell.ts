import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Client } from '../clients/typescript/src/index.ts';
import { leadingStatement } from '../functions/adapters/sqljs/sql-lexer';
import { endsWithCompleteStatement, formatResult, OUTPUT_MODES, type OutputMode } from './cli-format';

/**
 * `cloudlite shell`: an interactive SQL shell in the manner of the sqlite3 shell. Lines gather
 * until they end with a complete statement (`;`), which runs as one request; dot-commands work
 * at the start of a statement. History is kept between sessions in `CLOUDLITE_HISTORY`
 * (default ~/.cloudlite_history).
 */

export interface ShellOptions {
  client: Client;
  database: string | undefined;
  mode: OutputMode;
  input: NodeJS.ReadableStream & { isTTY?: boolean };
  output: NodeJS.WritableStream;
  errors: NodeJS.WritableStream;
  historyFile: string;
}

const HELP = `.help               this text
.tables             tables and views
.schema [table]     the CREATE statements (of one table and its indexes and triggers)
.mode table|json|csv how results print
.quit               leave (or Ctrl-D)
Statements end with ";" and may span lines; Ctrl-C drops a half-typed one.`;

const HISTORY_SIZE = 1000;

/** What the CLI says when a write was stored but its rows could not come back (an empty table would mislead). */
export const ROWS_OMITTED = 'note: the write was stored, but its rows were too large to return; read them back with a smaller query';

export function defaultHistoryFile(env: NodeJS.ProcessEnv = process.env): string {
  return env.CLOUDLITE_HISTORY ?? path.join(homedir(), '.cloudlite_history');
}

/** Runs until `.quit` or the end of the input; says how many statements and dot-commands failed (each was reported on `errors`). */
export async function runShell(options: ShellOptions): Promise<{ failures: number }> {
  const interactive = options.input.isTTY === true;
  const rl = createInterface({
    input: options.input,
    output: options.output,
    terminal: interactive,
    history: interactive ? loadHistory(options.historyFile) : [],
    historySize: HISTORY_SIZE,
  });
  rl.on('history', (history: string[]) => saveHistory(options.historyFile, history));
  let mode = options.mode;
  let pending = '';
  let failures = 0;
  const print = (text: string) => text !== '' && options.output.write(`${text}\n`);
  const prompt = () => {
    if (!interactive) return;
    rl.setPrompt(pending === '' ? 'cloudlite> ' : '      ...> ');
    rl.prompt();
  };
  rl.on('SIGINT', () => {
    // Ctrl-C on an empty prompt leaves; on a half-typed statement (lines entered, or the line being typed) drops it.
    if (pending === '' && rl.line === '') return rl.close();
    pending = '';
    rl.write(null, { ctrl: true, name: 'e' }); // to the end of the line being typed,
    rl.write(null, { ctrl: true, name: 'u' }); // and delete it
    options.output.write('\n');
    prompt();
  });

  const fail = (message: string) => {
    failures++;
    options.errors.write(`${message}\n`);
  };
  const run = async (sql: string, params?: Record<string, string | null>) => {
    try {
      const answer = await options.client.query(sql, params, { database: options.database });
      for (const result of answer.results) print(formatResult(result, mode));
      if (answer.meta.rowsOmitted) options.errors.write(`${ROWS_OMITTED}\n`);
    } catch (error) {
      fail(describeError(error));
    }
  };

  const dotCommand = async (line: string): Promise<'quit' | void> => {
    const [command, ...args] = line.trim().split(/\s+/);
    switch (command) {
      case '.quit':
      case '.exit':
        return 'quit';
      case '.help':
        return void print(HELP);
      case '.tables':
        return run("SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name");
      case '.schema':
        return run("SELECT sql || ';' AS sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND (:table IS NULL OR tbl_name = :table) ORDER BY tbl_name, type DESC, name", { table: args[0] ?? null });
      case '.mode':
        if (OUTPUT_MODES.includes(args[0] as OutputMode)) mode = args[0] as OutputMode;
        else fail(`usage: .mode ${OUTPUT_MODES.join('|')} (now ${mode})`);
        return;
      default:
        fail(`unknown command ${command}; .help lists them`);
    }
  };

  if (interactive) print(`cloudlite shell on ${options.database ?? 'the default database'}; .help for help, .quit to leave`);
  prompt();
  let quit = false;
  for await (const line of rl) {
    if (pending === '' && line.trim().startsWith('.')) {
      if ((await dotCommand(line)) === 'quit') {
        quit = true;
        break;
      }
    } else if (pending !== '' || line.trim() !== '') {
      pending += pending === '' ? line : `\n${line}`;
      if (endsWithCompleteStatement(pending)) {
        const sql = pending;
        pending = '';
        await run(sql);
      }
    }
    prompt();
  }
  rl.close();
  // The end of the input ends a last statement without its ";", as in the sqlite3 shell (comments alone are nothing to run).
  if (!quit && leadingStatement(pending) !== '') await run(pending);
  return { failures };
}

export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return `Error: ${String(error)}`;
  const { code, requestId } = error as { code?: string; requestId?: string };
  // Node's own errors start their message with their code (ENOENT: no such file ...).
  const named = code && !error.message.startsWith(`${code}:`) ? ` ${code}` : '';
  return `Error${named}: ${error.message}${requestId ? ` (request ${requestId})` : ''}`;
}

function loadHistory(file: string): string[] {
  if (!existsSync(file)) return [];
  // The file lists the oldest first, as shells do; readline wants the newest first.
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).slice(-HISTORY_SIZE).reverse();
}

function saveHistory(file: string, newestFirst: readonly string[]): void {
  try {
    writeFileSync(file, `${[...newestFirst].reverse().join('\n')}\n`, { mode: 0o600 });
  } catch {
    // A read-only home must not end the session; the history is a convenience.
  }
}
