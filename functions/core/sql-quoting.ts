/** SQL text built from names and values the statement cannot bind (schema objects, PRAGMA arguments). */

/** A name as a quoted SQL identifier: `"` doubled inside. */
export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** A text as a SQL string literal: `'` doubled inside. */
export function quoteLiteral(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}
