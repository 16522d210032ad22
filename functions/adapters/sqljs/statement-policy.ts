/**
 * Which statements cloudlite refuses. The runner asks twice: before preparing, on the statement's
 * leading text with comments dropped (SQLite applies some PRAGMAs while preparing, so a refusal
 * afterwards would come too late), and after, on SQLite's own normalized form of it.
 *
 * Refused:
 * - ATTACH / DETACH: they would open files on the function's filesystem.
 * - VACUUM INTO: writes a copy of the database to a file.
 * - Transaction control (BEGIN, COMMIT, END, ROLLBACK, SAVEPOINT, RELEASE): every request is
 *   already exactly one transaction, and the store's atomicity depends on it.
 * - Every PRAGMA not in the allow list below: many change the connection (which is reused by
 *   later requests) or can corrupt the file (writable_schema, journal_mode, page_size...).
 * load_extension is not compiled into sql.js, so SQLite itself refuses it.
 */

/** Pragmas that only report; they may take an argument such as a table name. */
const QUERY_PRAGMAS = new Set([
  'table_info',
  'table_xinfo',
  'table_list',
  'index_list',
  'index_info',
  'index_xinfo',
  'foreign_key_list',
  'foreign_key_check',
  'integrity_check',
  'quick_check',
  'collation_list',
  'function_list',
  'module_list',
  'pragma_list',
  'compile_options',
]);

/** Pragmas that may be read but never set. */
const READ_ONLY_PRAGMAS = new Set([
  'page_count',
  'page_size',
  'freelist_count',
  'schema_version',
  'encoding',
  'data_version',
  'foreign_keys',
]);

/** Pragmas that may be read and set: they live in the file or end with the transaction. */
const SETTABLE_PRAGMAS = new Set(['user_version', 'application_id', 'defer_foreign_keys', 'optimize']);

export const ALLOWED_PRAGMAS = [...QUERY_PRAGMAS, ...READ_ONLY_PRAGMAS, ...SETTABLE_PRAGMAS].sort();

const TRANSACTION_CONTROL = new Set(['BEGIN', 'COMMIT', 'END', 'ROLLBACK', 'SAVEPOINT', 'RELEASE']);

const EXPLAIN = /^\s*EXPLAIN(\s+QUERY\s+PLAN)?\b\s*/i;

/** Returns why the statement is refused, or undefined when it may run. */
export function refusalReason(statementText: string): string | undefined {
  // EXPLAIN prepares (and so applies) what it explains: judge the explained statement.
  const sql = statementText.replace(EXPLAIN, '');
  if (sql.trim() === '') return 'the statement could not be inspected';
  const fileAccess = fileAccessRefusal(sql);
  if (fileAccess) return fileAccess;
  const first = firstWord(sql);
  if (TRANSACTION_CONTROL.has(first)) {
    return `${first} is not allowed: each request already runs as one transaction`;
  }
  if (first === 'PRAGMA') return pragmaRefusal(sql);
  return undefined;
}

/**
 * Why a statement that reaches files other than its database is refused (ATTACH, DETACH, VACUUM
 * INTO), or undefined. A SQL dump being imported may run anything else, but not these: each
 * file they make lives in memory that no limit bounds.
 */
export function fileAccessRefusal(statementText: string): string | undefined {
  const sql = statementText.replace(EXPLAIN, '');
  const first = firstWord(sql);
  if (first === 'ATTACH' || first === 'DETACH') return `${first} is not allowed: a database cannot reach other files`;
  if (first === 'VACUUM' && words(sql).includes('INTO')) return 'VACUUM INTO is not allowed: it writes a file';
  return undefined;
}

/** A quote needs no space before it either (`VACUUM"main"INTO'x'` is VACUUM main INTO 'x'). */
function words(sql: string): string[] {
  return sql.trim().split(/[\s;(=?'"`[\]]+/).map((word) => word.toUpperCase());
}

function firstWord(sql: string): string {
  return words(sql)[0] ?? '';
}

function pragmaRefusal(sql: string): string | undefined {
  const match = /^\s*PRAGMA\s+(?:([A-Za-z_][A-Za-z0-9_]*)\s*\.\s*)?([A-Za-z_][A-Za-z0-9_]*)\s*(.*)$/is.exec(sql);
  const schema = (match?.[1] ?? 'main').toLowerCase();
  const name = (match?.[2] ?? '').toLowerCase();
  const rest = (match?.[3] ?? '').replace(/;\s*$/, '').trim();
  // TEMP's header lives on the connection, which a warm copy keeps between requests.
  if (SETTABLE_PRAGMAS.has(name) && rest !== '' && schema !== 'main') return `PRAGMA ${name} may be set only on main`;
  if (QUERY_PRAGMAS.has(name) || SETTABLE_PRAGMAS.has(name)) return undefined;
  if (READ_ONLY_PRAGMAS.has(name)) {
    return rest === '' ? undefined : `PRAGMA ${name} may be read but not set`;
  }
  return `PRAGMA ${name || '(unknown)'} is not allowed; allowed pragmas: ${ALLOWED_PRAGMAS.join(', ')}`;
}
