import { DATABASE_NAME_PATTERN } from './database-name';
import { ForbiddenError } from './errors';

/**
 * Who is calling, and which databases they may read or write. Endpoints ask the principal before
 * they send any request to S3 or DynamoDB, so a key out of scope learns nothing, not even
 * whether the database exists.
 */

export type Role = 'read' | 'write';

export interface Principal {
  /** A stable id for logs and version metadata: never the key. e.g. 'key:3f2a9c1e' (first 8 hex of the sha256) */
  readonly keyId: string;
  readonly role: Role;
  /** Throws ForbiddenError (the same body whether or not the database exists) unless the key may do `need` on `database`. */
  authorize(need: Role, database: string): void;
  /** The database patterns of its grants: every database it may see matches one (GET /databases lists only those). */
  readonly patterns: readonly string[];
}

/** One right of a key: a role on the databases a pattern matches. */
export interface Grant {
  role: Role;
  /** A database name or a glob whose `*` matches any run of characters (`acme-*`, `*`). */
  databases: string;
}

/** A key as the key table keeps it (keyed by the SHA-256 of the key). */
export interface StoredKey extends Grant {
  /** Epoch ms from which the key is refused; absent = no expiry. */
  expiresAtMs?: number;
  label?: string;
  createdAtMs?: number;
}

/**
 * A key from configuration (API_KEYS): a grant for a key given in plain text or as its SHA-256
 * digest (so the plain text never has to live in configuration).
 */
export type ApiKey = Grant & {
  /** Epoch ms from which the key is refused; absent = no expiry. */
  expiresAtMs?: number;
} & ({ key: string } | { sha256: string });

/** The port the key table implements. */
export interface KeyStore {
  find(sha256Hex: string): Promise<StoredKey | undefined>;
}

/** Database names are `[a-z0-9][a-z0-9_-]*`; a pattern may put `*` anywhere. */
export const DATABASE_PATTERN = /^[a-z0-9_*-]{1,63}$/;

export function isDatabasePattern(value: string): boolean {
  return DATABASE_PATTERN.test(value);
}

/** The short id logs and version metadata show for a key: never enough to use it. */
export function keyIdOf(sha256Hex: string): string {
  return `key:${sha256Hex.slice(0, 8)}`;
}

/**
 * Whether `database` is one of the databases `pattern` names. Only database names are: the name
 * comes straight from the request (a path, a clone's "to") and may be megabytes long.
 */
export function matchesDatabase(pattern: string, database: string): boolean {
  if (!isDatabasePattern(pattern) || !DATABASE_NAME_PATTERN.test(database)) return false;
  return globMatches(pattern, database);
}

/**
 * `*` matches any run of characters. One pass that, on a mismatch, only moves the last star on
 * by one character: at most pattern × name steps, where a regular expression (`^.*-.*-z$`)
 * backtracks through every way of placing its stars.
 */
function globMatches(pattern: string, name: string): boolean {
  let p = 0;
  let n = 0;
  let star = -1;
  let resume = 0;
  while (n < name.length) {
    if (pattern[p] === '*') {
      star = p++;
      resume = n;
    } else if (p < pattern.length && pattern[p] === name[n]) {
      p++;
      n++;
    } else if (star >= 0) {
      p = star + 1;
      n = ++resume;
    } else {
      return false;
    }
  }
  while (pattern[p] === '*') p++;
  return p === pattern.length;
}

/** A principal holding the union of its grants; `write` implies `read`. */
export class GrantedPrincipal implements Principal {
  readonly role: Role;

  constructor(
    readonly keyId: string,
    private readonly grants: readonly Grant[],
  ) {
    this.role = grants.some((grant) => grant.role === 'write') ? 'write' : 'read';
    this.patterns = grants.map((grant) => grant.databases);
  }

  readonly patterns: readonly string[];

  authorize(need: Role, database: string): void {
    if (!this.may(need, database)) throw new ForbiddenError(`this API key may not ${need} the database "${database}"`);
  }

  private may(need: Role, database: string): boolean {
    return this.grants.some((grant) => (need === 'read' || grant.role === 'write') && matchesDatabase(grant.databases, database));
  }
}

/**
 * The role to hand the database service for one database, once `authorize('read', database)`
 * passed: a key that writes `acme-*` but only reads `shared` runs a request on `shared` as a
 * reader, so the service refuses it if it turns out to write.
 */
export function roleOn(principal: Principal, database: string): Role {
  try {
    principal.authorize('write', database);
    return 'write';
  } catch (error) {
    if (error instanceof ForbiddenError) return 'read';
    throw error;
  }
}
