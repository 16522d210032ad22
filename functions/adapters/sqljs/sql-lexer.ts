/**
 * A small SQL lexer for literals, identifiers and comments: enough to find a statement's
 * parameters and its leading words without preparing it. It decides nothing about what a
 * statement does, which stays SQLite's job; it only lets us refuse before SQLite acts, and
 * put an exact integer where SQLite would otherwise bind a parameter.
 */

/** One parameter as it appears in the text: `?`, `?NNN`, `:name`, `@name` or `$name`. */
export interface ParameterToken {
  start: number;
  end: number;
  /** The slot SQLite gives it (sqlite3_bind_parameter_index), counted the way SQLite counts. */
  slot: number;
  /** The prefixed name of a named parameter; undefined for `?` and `?NNN`. */
  name?: string;
  /** A bare `?`, whose slot depends on the parameters before it. */
  anonymous: boolean;
}

export interface DeclaredParameters {
  /** Number of parameter slots, as sqlite3_bind_parameter_count would report. */
  slots: number;
  /** Named parameters with their prefix (`:a`, `@a`, `$a`). */
  names: Set<string>;
}

/** Characters of an identifier or a named parameter; `$` continues an identifier (`a$b` is one word). */
const WORD_CHAR = /[A-Za-z0-9_$\u0080-\uffff]/;
/** SQLite's IdChar: a parameter's name continues over `$` too (`:a$b` is one parameter). */
const NAME_CHAR = WORD_CHAR;

/**
 * Finds every parameter a single statement declares, numbered as SQLite numbers them: `?` takes
 * the slot after the highest so far, `?NNN` takes NNN, a name takes a new slot on first use.
 */
export function parameterTokens(sql: string): ParameterToken[] {
  const tokens: ParameterToken[] = [];
  const slotOfName = new Map<string, number>();
  let highest = 0;
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
      const anonymous = j === i + 1;
      const slot = anonymous ? highest + 1 : Number(sql.slice(i + 1, j));
      highest = Math.max(highest, slot);
      tokens.push({ start: i, end: j, slot, anonymous });
      i = j;
    } else if ((c === ':' || c === '@' || c === '$' || c === '#') && NAME_CHAR.test(sql[i + 1] ?? '')) {
      const j = endOfTclName(sql, i + 1);
      const name = sql.slice(i, j);
      let slot = slotOfName.get(name);
      if (slot === undefined) {
        slot = ++highest;
        slotOfName.set(name, slot);
      }
      tokens.push({ start: i, end: j, slot, name, anonymous: false });
      i = j;
    } else if (WORD_CHAR.test(c)) {
      while (i < sql.length && WORD_CHAR.test(sql[i]!)) i++;
    } else {
      i += 1;
    }
  }
  return tokens;
}

/**
 * The parameters a single statement declares, so a request with too many, too few or misnamed
 * parameters is refused instead of silently binding NULL (sql.js ignores unknown names and
 * leaves missing ones unbound, and it does not export sqlite3_bind_parameter_count).
 */
export function declaredParameters(sql: string): DeclaredParameters {
  const tokens = parameterTokens(sql);
  return {
    slots: tokens.reduce((highest, token) => Math.max(highest, token.slot), 0),
    names: new Set(tokens.flatMap((token) => (token.name ? [token.name] : []))),
  };
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

/**
 * The end of a parameter's name as SQLite's tokenizer reads it, for every prefix (`:`, `@`, `$`,
 * `#`): identifier characters, TCL's `::` (`$a::b`), and a `(...)` suffix that ends at the first
 * `)` before any white space (`@x(1)`).
 */
function endOfTclName(sql: string, from: number): number {
  let j = from;
  for (;;) {
    if (NAME_CHAR.test(sql[j] ?? '')) j++;
    else if (sql.startsWith('::', j)) j += 2;
    else break;
  }
  if (sql[j] === '(') {
    let k = j + 1;
    while (k < sql.length && !/\s/.test(sql[k]!) && sql[k] !== ')') k++;
    return sql[k] === ')' ? k + 1 : k;
  }
  return j;
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
