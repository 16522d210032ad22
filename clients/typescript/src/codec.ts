/**
 * The value codec, client side: what a parameter becomes on the wire, and what a result cell
 * becomes again. The server's contract (README "Values"):
 *
 *   INTEGER within ±(2^53−1)  <-> number
 *   INTEGER outside it        <-> decimal string ("9223372036854775807"); bound as {"integer": "…"}
 *   REAL <-> number, TEXT <-> string, BLOB <-> {"base64": "…"}, NULL <-> null, boolean -> 1/0
 *
 * A result cell `"9223372036854775807"` is therefore either a big INTEGER or TEXT that happens to
 * hold digits: the wire does not say which. The client never guesses by default (strings stay
 * strings); a caller who knows which columns hold 64-bit integers names them (`bigIntColumns`,
 * read as BigInt throughout), or says `'auto'` to read every integral decimal string beyond
 * ±(2^53−1) as a BigInt (right unless a TEXT column holds such digit strings).
 */

export type SqlValue = null | number | bigint | string | Uint8Array;
/** What a parameter may be: a value, or a boolean (bound as 1/0). */
export type ParamValue = SqlValue | boolean;
/** Positional (`?`, `?NNN`) or named (`:name`, `@name`, `$name`, prefix optional) parameters. */
export type Params = readonly ParamValue[] | { readonly [name: string]: ParamValue };

export type WireValue = null | boolean | number | string | { integer: string } | { base64: string };

/** Which result columns hold 64-bit integers: their names, or `'auto'` (see the header). */
export type BigIntColumns = readonly string[] | 'auto';

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const DECIMAL_INTEGER = /^-?(0|[1-9][0-9]*)$/;

/** One parameter as the server expects it; throws a TypeError for what JSON cannot carry exactly. */
export function encodeParam(value: ParamValue, where = 'parameter'): WireValue {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`${where}: ${value} cannot be sent (JSON has no NaN or Infinity)`);
    return value;
  }
  if (typeof value === 'bigint') {
    if (value < INT64_MIN || value > INT64_MAX) throw new TypeError(`${where}: ${value} is outside SQLite's 64-bit integer range`);
    return { integer: value.toString() };
  }
  if (value instanceof Uint8Array) return { base64: bytesToBase64(value) };
  throw new TypeError(`${where}: unsupported parameter type ${describeType(value)}; use null, a number, a bigint, a string, a boolean or a Uint8Array`);
}

export function encodeParams(params: Params): WireValue[] | Record<string, WireValue> {
  if (isPositional(params)) return params.map((value, i) => encodeParam(value, `params[${i}]`));
  return Object.fromEntries(Object.entries(params).map(([name, value]) => [name, encodeParam(value, `params.${name}`)]));
}

function isPositional(params: Params): params is readonly ParamValue[] {
  return Array.isArray(params);
}

/**
 * How one column's cells are read: `'plain'` as sent; `'bigint'` (a column named in
 * `bigIntColumns`) every integer as a BigInt, whether it travelled as a number or a string, so
 * the column has one type; `'auto'` only the strings the server sends for an INTEGER beyond
 * ±(2^53−1).
 */
export type CellMode = 'plain' | 'bigint' | 'auto';

/** One result cell back into a value. A `{"base64"}` object is always a BLOB: no other value is an object. */
export function decodeCell(cell: unknown, mode: CellMode): SqlValue {
  if (cell !== null && typeof cell === 'object' && 'base64' in cell) return base64ToBytes(String(cell.base64));
  if (mode === 'bigint' && typeof cell === 'number' && Number.isInteger(cell)) return BigInt(cell);
  if (mode !== 'plain' && typeof cell === 'string' && DECIMAL_INTEGER.test(cell)) {
    const integer = BigInt(cell);
    const inInt64 = integer >= INT64_MIN && integer <= INT64_MAX;
    const beyondSafe = integer > BigInt(Number.MAX_SAFE_INTEGER) || integer < BigInt(Number.MIN_SAFE_INTEGER);
    if (inInt64 && (mode === 'bigint' || beyondSafe)) return integer;
  }
  return cell as SqlValue;
}

/** `last_insert_rowid` is always an integer, so a string there is unambiguously a big one. */
export function decodeRowid(value: unknown): number | bigint | null {
  if (typeof value === 'string' && DECIMAL_INTEGER.test(value)) return BigInt(value);
  return typeof value === 'number' ? value : null;
}

/**
 * Keys for rows as objects, the same rule as the server's `?rows=objects`: each column's own
 * name, except that a name seen before gets the first free suffix `:1`, `:2`, ... that is not
 * itself a column name (`SELECT a.id, b.id` -> `id`, `id:1`), so no value is ever overwritten.
 */
export function objectKeys(columns: readonly string[]): string[] {
  const reserved = new Set(columns);
  const used = new Set<string>();
  // The suffix to try first for each name: every one below it is taken, so a thousand columns
  // of one name cost a thousand tries, not half a million.
  const nextSuffix = new Map<string, number>();
  return columns.map((name) => {
    let key = name;
    let n = nextSuffix.get(name) ?? 1;
    while (used.has(key)) {
      key = `${name}:${n}`;
      if (reserved.has(key)) key = name; // a column's own name: try the next suffix
      n++;
    }
    if (key !== name) nextSuffix.set(name, n);
    used.add(key);
    return key;
  });
}

/** Decodes a result's rows: arrays (as the server sends by default) or objects keyed by `objectKeys`. */
export function decodeRows(columns: readonly string[], rows: readonly unknown[], shape: 'arrays' | 'objects', bigIntColumns: BigIntColumns | undefined): unknown[] {
  const keys = objectKeys(columns);
  const modes = columns.map((column): CellMode => (bigIntColumns === 'auto' ? 'auto' : bigIntColumns?.includes(column) ? 'bigint' : 'plain'));
  return rows.map((row) => {
    // A server asked for objects already keyed them; read them back in column order.
    const cells = Array.isArray(row) ? row : keys.map((key) => (row as Record<string, unknown>)[key]);
    const values = cells.map((cell, i) => decodeCell(cell, modes[i] ?? 'plain'));
    return shape === 'arrays' ? values : Object.fromEntries(keys.map((key, i) => [key, values[i]]));
  });
}

/** Standard padded base64 without Buffer, so the package runs in browsers too. */
export function bytesToBase64(bytes: Uint8Array): string {
  let binary = '';
  const CHUNK = 0x8000; // String.fromCharCode takes its arguments on the stack
  for (let i = 0; i < bytes.length; i += CHUNK) binary += String.fromCharCode(...bytes.subarray(i, i + CHUNK));
  return btoa(binary);
}

export function base64ToBytes(base64: string): Uint8Array {
  const binary = atob(base64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function describeType(value: unknown): string {
  return value === undefined ? 'undefined' : typeof value === 'object' ? ((value as object).constructor?.name ?? 'object') : typeof value;
}
