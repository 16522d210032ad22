import { BadRequestError } from './errors';
import type { BoundParams, SqlValue } from './ports';

/**
 * The lossless mapping between JSON and SQLite values, both directions:
 *   INTEGER within ±(2^53−1) <-> number; outside it <-> decimal string (bound as {"integer": "…"})
 *   REAL <-> number, TEXT <-> string, BLOB <-> {"base64": "…"}, NULL <-> null, boolean -> 1/0.
 * This is the server's half; the client's half (params out, cells back) is in
 * clients/typescript/src/codec.ts, and tests/unit/value-codec.test.ts checks the two invert each other.
 */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const DECIMAL_INTEGER = /^-?(0|[1-9][0-9]*)$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Turns one JSON parameter into the value SQLite binds; `where` names it in errors. */
export function decodeParam(value: unknown, where: string): SqlValue {
  if (value === null) return null;
  switch (typeof value) {
    case 'boolean':
      return value ? 1 : 0;
    case 'number':
      return value;
    case 'string':
      return value;
    case 'object':
      return decodeTaggedParam(value as object, where);
    default:
      throw new BadRequestError(`${where}: unsupported parameter value`);
  }
}

function decodeTaggedParam(value: object, where: string): SqlValue {
  const keys = Object.keys(value);
  const tagged = value as Record<string, unknown>;
  if (keys.length === 1 && keys[0] === 'integer') return decodeBigInteger(tagged.integer, where);
  if (keys.length === 1 && keys[0] === 'base64') return decodeBase64(tagged.base64, where);
  throw new BadRequestError(
    `${where}: a parameter must be null, a boolean, a number, a string, {"integer": "<decimal>"} or {"base64": "<data>"}`,
  );
}

function decodeBigInteger(value: unknown, where: string): bigint {
  if (typeof value !== 'string' || !DECIMAL_INTEGER.test(value)) {
    throw new BadRequestError(`${where}: "integer" must be a decimal string such as "9007199254740993"`);
  }
  const integer = BigInt(value);
  if (integer < INT64_MIN || integer > INT64_MAX) {
    throw new BadRequestError(`${where}: integer is outside SQLite's 64-bit range`);
  }
  return integer;
}

function decodeBase64(value: unknown, where: string): Uint8Array {
  if (typeof value !== 'string' || !BASE64.test(value)) {
    throw new BadRequestError(`${where}: "base64" must be standard padded base64`);
  }
  return new Uint8Array(Buffer.from(value, 'base64'));
}

/**
 * Decodes positional (`?`, `?NNN`) or named (`:name`, `@name`, `$name`) parameters. Names are
 * kept as given: the engine matches a bare `name` to whichever prefix the statement uses.
 */
export function decodeParams(params: unknown, where: string): BoundParams {
  if (Array.isArray(params)) return params.map((value, i) => decodeParam(value, `${where}[${i}]`));
  const named: Record<string, SqlValue> = {};
  for (const [name, value] of Object.entries(params as Record<string, unknown>)) {
    named[name] = decodeParam(value, `${where}.${name}`);
  }
  return named;
}

/** Turns a value SQLite returned into JSON without losing information. */
export function encodeValue(value: SqlValue): JsonValue {
  if (value === null || typeof value === 'string') return value;
  if (typeof value === 'bigint') {
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(value)
      : value.toString();
  }
  if (typeof value === 'number') {
    // SQLite can hold ±Infinity (e.g. 1e999); JSON cannot, so it travels as a string.
    return Number.isFinite(value) ? value : String(value);
  }
  return { base64: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') };
}

/**
 * A bound value back in its JSON form (the inverse of decodeParam): what an idempotency
 * fingerprint hashes, so the same request means the same key use however it was sent.
 */
export function encodeParam(value: SqlValue): JsonValue {
  if (typeof value === 'bigint') return { integer: value.toString() };
  if (value instanceof Uint8Array) return { base64: Buffer.from(value).toString('base64') };
  return value;
}
