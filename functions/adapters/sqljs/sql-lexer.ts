/**
 * A small SQL lexer for literals, identifiers and comments: enough to find a statement's
 * parameters and its leading words without preparing it. It decides nothing about what a
 * statement does, which stays SQLite's job; it only lets us refuse before SQLite acts.
 */

export interface DeclaredParameters {
  /** Number of parameter slots, as sqlite3_bind_parameter_count would report. */
  slots: number;
  /** Named parameters with their prefix (`:a`, `@a`, `$a`). */
  names: Set<string>;
}

const NAME_CHAR = /[A-Za-z0-9_\u0080-\uffff]/;

/**
 * Finds the parameters a single statement declares, so a request with too many, too few or
 * misnamed parameters is refused instead of silently binding NULL (sql.js ignores unknown names
 * and leaves missing ones unbound, and it does not export sqlite3_bind_parameter_count).
 */
export function declaredParameters(sql: string): DeclaredParameters {
  const names = new Set<string>();
  let slots = 0;
  let i = 0;
  while (i < sql.length) {
    const skipped = skipLiteralOrComment(sql, i);
    if (skipped !== i) {
      i = skipped;
      continue;
    }
    const c = sql[i]!;
    if (c === '?') {
      let j = i + 1;
      while (j < sql.length && /[0-9]/.test(sql[j]!)) j++;
      slots = j > i + 1 ? Math.max(slots, Number(sql.slice(i + 1, j))) : slots + 1;
      i = j;
    } else if ((c === ':' || c === '@' || c === '$') && NAME_CHAR.test(sql[i + 1] ?? '')) {
      let j = i + 1;
      while (j < sql.length && NAME_CHAR.test(sql[j]!)) j++;
      const name = sql.slice(i, j);
      if (!names.has(name)) {
        slots += 1;
        names.add(name);
      }
      i = j;
    } else {
      i += 1;
    }
  }
  return { slots, names };
}

/**
 * The first statement of `sql` with comments dropped and white space collapsed, up to its `;`.
 * SQLite applies some PRAGMAs while *preparing* a statement, so the policy must see this before
 * the statement is prepared. Empty when only white space, comments and `;` remain.
 */
export function leadingStatement(sql: string): string {
  let text = '';
  let i = 0;
  while (i < sql.length) {
    const c = sql[i]!;
    if (c === ';') {
      if (text.trim() !== '') break;
      i += 1;
      continue;
    }
    const skipped = skipLiteralOrComment(sql, i);
    if (skipped !== i) {
      const isComment = c === '-' || c === '/';
      text += isComment ? ' ' : sql.slice(i, skipped);
      i = skipped;
      continue;
    }
    text += c;
    i += 1;
  }
  return text.replace(/\s+/g, ' ').trim();
}

/** Returns the index just past a quoted literal, identifier or comment starting at `i`, else `i`. */
export function skipLiteralOrComment(sql: string, i: number): number {
  const c = sql[i];
  if (c === "'" || c === '"' || c === '`') return skipQuoted(sql, i, c);
  if (c === '[') {
    const end = sql.indexOf(']', i + 1);
    return end < 0 ? sql.length : end + 1;
  }
  if (c === '-' && sql[i + 1] === '-') {
    const end = sql.indexOf('\n', i + 2);
    return end < 0 ? sql.length : end + 1;
  }
  if (c === '/' && sql[i + 1] === '*') {
    const end = sql.indexOf('*/', i + 2);
    return end < 0 ? sql.length : end + 2;
  }
  return i;
}

function skipQuoted(sql: string, start: number, quote: string): number {
  let i = start + 1;
  while (i < sql.length) {
    if (sql[i] === quote) {
      if (sql[i + 1] === quote) i += 2; // a doubled quote escapes itself
      else return i + 1;
    } else {
      i += 1;
    }
  }
  return sql.length;
}
