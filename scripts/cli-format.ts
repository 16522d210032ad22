import Table from 'cli-table3';
import { bytesToBase64, objectKeys, type SqlValue, type StatementResult } from '../clients/typescript/src/index.ts';
import { skipLiteralOrComment } from '../functions/adapters/sqljs/sql-lexer';

/** How the CLI and the shell print results. */
export type OutputMode = 'table' | 'json' | 'csv';
export const OUTPUT_MODES: readonly OutputMode[] = ['table', 'json', 'csv'];

/**
 * One statement's result as text. Statements that return no columns print nothing in json and
 * csv (so the output stays machine-readable) and a change count in table mode.
 */
export function formatResult(result: StatementResult<SqlValue[]>, mode: OutputMode): string {
  if (result.columns.length === 0) return mode === 'table' ? `(${result.changes} row${result.changes === 1 ? '' : 's'} changed)` : '';
  switch (mode) {
    case 'table': {
      // No colours: the output is often piped or compared in tests.
      const table = new Table({ head: result.columns.map(visible), style: { head: [], border: [] } });
      for (const row of result.rows) table.push(row.map((value) => visible(displayText(value))));
      return `${table.toString()}\n(${result.rows.length} row${result.rows.length === 1 ? '' : 's'})`;
    }
    case 'json': {
      const keys = objectKeys(result.columns);
      return JSON.stringify(result.rows.map((row) => Object.fromEntries(keys.map((key, i) => [key, jsonValue(row[i] ?? null)]))));
    }
    case 'csv':
      return [result.columns.map(csvField), ...result.rows.map((row) => row.map(csvCell))].map((cells) => cells.join(',')).join('\r\n');
  }
}

/** A cell as the sqlite3 shell shows it: NULL, numbers and text as they are, blobs as X'hex'. */
function displayText(value: SqlValue): string {
  if (value === null) return 'NULL';
  if (value instanceof Uint8Array) return `X'${Array.from(value, (byte) => byte.toString(16).padStart(2, '0')).join('').toUpperCase()}'`;
  return String(value);
}

/** A cell in csv as sqlite3 writes it: NULL an empty field, apart from the text 'NULL' and from the empty text `""`. */
function csvCell(value: SqlValue): string {
  return value === null ? '' : csvField(displayText(value));
}

/**
 * Text for a terminal: control characters (C0 but tab and newline, DEL, C1) shown as `\xHH`, so
 * a value cannot send escape sequences to the terminal or overprint a cell with a carriage
 * return (the sqlite3 shell escapes them too).
 */
function visible(text: string): string {
  return text.replace(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** The API's own JSON for a value: 64-bit integers as decimal strings, blobs as {"base64"}. */
function jsonValue(value: SqlValue): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Uint8Array) return { base64: bytesToBase64(value) };
  return value;
}

/** Quoted when it must be, and when empty (an empty field is NULL: csvCell). */
function csvField(text: string): string {
  return text === '' || /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

const TRIGGER_START = /^CREATE (?:TEMP |TEMPORARY )?TRIGGER\b/;

/**
 * Whether the text typed so far ends with a complete statement: its last `;` is outside quotes,
 * brackets and comments, and, for `CREATE TRIGGER`, comes after the body's `END`, whose inner
 * statements end in `;` too. Only comments and white space may follow. (The sqlite3 shell asks
 * sqlite3_complete() the same question.)
 */
export function endsWithCompleteStatement(sql: string): boolean {
  let complete = false;
  let words: string[] = [];
  let i = 0;
  while (i < sql.length) {
    const c = sql[i]!;
    const skipped = skipLiteralOrComment(sql, i);
    if (skipped !== i) {
      if (!isClosed(sql, i, skipped)) return false;
      if (c !== '-' && c !== '/') complete = false; // a literal, not a comment
      i = skipped;
    } else if (/[A-Za-z_]/.test(c)) {
      const word = /^[A-Za-z_0-9$]+/.exec(sql.slice(i))![0];
      words.push(word.toUpperCase());
      complete = false;
      i += word.length;
    } else if (c === ';') {
      const inTriggerBody = TRIGGER_START.test(words.join(' ')) && !endsTriggerBody(words);
      if (inTriggerBody) words.push(';');
      else {
        complete = true;
        words = [];
      }
      i += 1;
    } else {
      if (!/\s/.test(c)) {
        complete = false;
        words.push(c);
      }
      i += 1;
    }
  }
  return complete;
}

/**
 * Whether the words end with the END of a trigger's body: an END right after the `;` of the
 * body's last statement, as sqlite3_complete() reads it (a CASE's END, or a column named end,
 * follows something else).
 */
function endsTriggerBody(words: readonly string[]): boolean {
  return words.at(-1) === 'END' && words.at(-2) === ';';
}

/** Whether the literal or comment from `start` to `end` was closed before the text ran out. */
function isClosed(sql: string, start: number, end: number): boolean {
  if (end < sql.length) return true;
  const opener = sql[start]!;
  if (opener === '-') return true; // a line comment ends with the text
  if (opener === '/') return end - start >= 4 && sql.endsWith('*/');
  if (opener === '[') return sql.endsWith(']');
  // Inside a quoted literal a quote is doubled, so a closed one holds an even number of them.
  return sql.slice(start, end).split(opener).length % 2 === 1;
}
