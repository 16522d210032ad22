/**
 * Finds the parameters a single SQL statement declares, so a request with too many, too few or
 * misnamed parameters is refused instead of silently binding NULL (sql.js ignores unknown names
 * and leaves missing ones unbound, and it does not export sqlite3_bind_parameter_count).
 * This is a lexer for literals, identifiers and comments only: it decides nothing about what the
 * statement does, which stays SQLite's job.
 */
export interface DeclaredParameters {
  /** Number of parameter slots, as sqlite3_bind_parameter_count would report. */
  slots: number;
  /** Named parameters with their prefix (`:a`, `@a`, `$a`). */
  names: Set<string>;
}

const NAME_CHAR = /[A-Za-z0-9_\u0080-\uffff]/;

export function declaredParameters(sql: string): DeclaredParameters {
  const names = new Set<string>();
  const slotOfName = new Map<string, number>();
  let slots = 0;
  let i = 0;
  while (i < sql.length) {
    const c = sql[i]!;
    if (c === "'" || c === '"' || c === '`') {
      i = skipQuoted(sql, i, c);
    } else if (c === '[') {
      const end = sql.indexOf(']', i + 1);
      i = end < 0 ? sql.length : end + 1;
    } else if (c === '-' && sql[i + 1] === '-') {
      const end = sql.indexOf('\n', i + 2);
      i = end < 0 ? sql.length : end + 1;
    } else if (c === '/' && sql[i + 1] === '*') {
      const end = sql.indexOf('*/', i + 2);
      i = end < 0 ? sql.length : end + 2;
    } else if (c === '?') {
      let j = i + 1;
      while (j < sql.length && /[0-9]/.test(sql[j]!)) j++;
      slots = j > i + 1 ? Math.max(slots, Number(sql.slice(i + 1, j))) : slots + 1;
      i = j;
    } else if ((c === ':' || c === '@' || c === '$') && NAME_CHAR.test(sql[i + 1] ?? '')) {
      let j = i + 1;
      while (j < sql.length && NAME_CHAR.test(sql[j]!)) j++;
      const name = sql.slice(i, j);
      if (!slotOfName.has(name)) {
        slots += 1;
        slotOfName.set(name, slots);
        names.add(name);
      }
      i = j;
    } else {
      i += 1;
    }
  }
  return { slots, names };
}

function skipQuoted(sql: string, start: number, quote: string): number {
  let i = start + 1;
  while (i < sql.length) {
    if (sql[i] === quote) {
      if (sql[i + 1] === quote) i += 2; // doubled quote escapes itself
      else return i + 1;
    } else {
      i += 1;
    }
  }
  return sql.length;
}
