import type { VersionSelector } from '../core/database-service';
import { BadRequestError } from '../core/errors';

/**
 * Rules shared by the request parsers: names suggested for unknown fields, the idempotency key,
 * and ISO-8601 times. Pure.
 */

/**
 * `unknown field "sql"; did you mean "sql_statement"?`, or the allowed names when none is near.
 * Near means: the same name once case, `-` and `_` are ignored; one containing the other
 * (`sql` -> `sql_statement`, the closest length wins); or at most a third of the letters
 * (at least 2) edited (`databse` -> `database`). Ties go to the first known name.
 */
export function unknownName(kind: string, name: string, known: readonly string[]): string {
  // A name of megabytes (a body may hold one) is nobody's typo: not compared letter by letter
  // (seconds of work), and not echoed whole into the answer and the log.
  const long = name.length > LONGEST_NAME_COMPARED;
  const near = long ? undefined : nearestName(name, known);
  const shown = long ? `${name.slice(0, LONGEST_NAME_COMPARED)}…` : name;
  return near ? `unknown ${kind} "${shown}"; did you mean "${near}"?` : `unknown ${kind} "${shown}"; allowed: ${known.join(', ')}`;
}

const LONGEST_NAME_COMPARED = 64;

function nearestName(name: string, known: readonly string[]): string | undefined {
  const fold = (value: string) => value.toLowerCase().replace(/[-_\s]/g, '');
  const given = fold(name);
  if (given.length === 0) return undefined;
  let best: { name: string; score: number } | undefined;
  for (const candidate of known) {
    const folded = fold(candidate);
    let score: number;
    if (folded === given) score = 0;
    else if (folded.includes(given) || given.includes(folded)) score = 1 + Math.abs(folded.length - given.length) / 1000;
    else {
      const distance = editDistance(given, folded);
      if (distance > Math.max(2, Math.floor(given.length / 3))) continue;
      score = 2 + distance;
    }
    if (!best || score < best.score) best = { name: candidate, score };
  }
  return best?.name;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}

/**
 * 1 to 128 printable ASCII characters, like the keys clients generate (UUIDs). Spaces only
 * inside: a key travels in HTTP headers (and S3 object metadata), which drop them at the ends,
 * so "k " in a JSON body would be recorded as "k" and its retry not recognised.
 */
const IDEMPOTENCY_KEY = /^[\x21-\x7e](?:[\x20-\x7e]{0,126}[\x21-\x7e])?$/;

/** The Idempotency-Key header, checked; undefined when the request sends none. */
export function idempotencyKeyHeader(headers: Record<string, string | undefined>): string | undefined {
  const header = headers['idempotency-key'];
  return header === undefined ? undefined : checkIdempotencyKey(header, 'the Idempotency-Key header');
}

export function checkIdempotencyKey(value: string, where: string): string {
  if (!IDEMPOTENCY_KEY.test(value)) throw new BadRequestError(`${where} must be 1 to 128 printable ASCII characters, without spaces at either end`);
  return value;
}

const ISO_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2}))?$/;

/**
 * An ISO-8601 date (`2025-01-31`, UTC midnight) or date-time with its zone (`Z` or `+05:30`);
 * a time without a zone is refused, because the server's zone is nobody's business.
 */
export function parseIsoTime(value: string, field: string): Date {
  const match = ISO_TIME.exec(value);
  const refuse = () => new BadRequestError(`"${field}" must be an ISO-8601 time such as 2025-01-31T12:00:00Z (or a date, 2025-01-31); got "${value.slice(0, 40)}"`);
  if (!match) throw refuse();
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const [hour, minute, second] = [Number(match[4] ?? 0), Number(match[5] ?? 0), Number(match[6] ?? 0)];
  const calendar = new Date(0);
  calendar.setUTCFullYear(year, month - 1, day); // unlike Date.UTC, keeps years 0000-0099 as written
  const realDate = calendar.getUTCFullYear() === year && calendar.getUTCMonth() === month - 1 && calendar.getUTCDate() === day;
  if (!realDate || hour > 23 || minute > 59 || second > 59) throw refuse();
  const time = new Date(match[4] === undefined ? `${match[1]}-${match[2]}-${match[3]}T00:00:00Z` : value);
  if (Number.isNaN(time.getTime())) throw refuse();
  return time;
}

const MAX_VERSION_LENGTH = 1024;

/**
 * A past state of a database, as `version` (an id from `meta.version` or `/versions`) or `as_of`
 * (an ISO-8601 time), at most one of them; `required` where a request needs one (a restore).
 */
export function pastVersionOf(version: unknown, asOf: unknown, required: boolean): VersionSelector | undefined {
  if (version !== undefined && asOf !== undefined) throw new BadRequestError('send "version" or "as_of", not both');
  if (version !== undefined) {
    if (typeof version !== 'string' || !/^[\x21-\x7e]+$/.test(version) || version.length > MAX_VERSION_LENGTH) {
      throw new BadRequestError('"version" must be a version id as "meta.version" or GET /databases/{name}/versions reports it');
    }
    return { version };
  }
  if (asOf !== undefined) {
    if (typeof asOf !== 'string') throw new BadRequestError('"as_of" must be an ISO-8601 date-time, e.g. 2026-11-30T12:00:00Z');
    return { asOfMs: parseIsoTime(asOf, 'as_of').getTime() };
  }
  if (required) throw new BadRequestError('send "version" (from /versions) or "as_of" (an ISO-8601 time)');
  return undefined;
}
