import { createHash, timingSafeEqual } from 'node:crypto';
import { ConfigError, type ApiKey } from '../config';
import type { Role } from '../core/database-service';
import { UnauthorizedError } from '../core/errors';

/**
 * Bearer-key authentication. Keys are compared as SHA-256 digests with timingSafeEqual, and
 * every configured key is compared on every request, so neither the length nor the position of
 * a match leaks through timing.
 */
export class Authenticator {
  private readonly keys: { role: Role; digest: Buffer; expiresAtMs?: number }[];

  constructor(
    keys: ApiKey[],
    private readonly clock: () => number = Date.now,
  ) {
    // Built at cold start by each endpoint that authenticates: a stage without keys must not start.
    if (keys.length === 0) throw new ConfigError('invalid configuration: API_KEYS must hold at least one role:key pair for this endpoint');
    this.keys = keys.map((k) => ({ role: k.role, digest: digest(k.key), expiresAtMs: k.expiresAtMs }));
  }

  /** Returns the role of the bearer key in the Authorization header, or throws 401. */
  authenticate(authorization: string | undefined): Role {
    const match = /^Bearer[ ]+(\S+)\s*$/i.exec(authorization ?? '');
    if (!match) throw new UnauthorizedError('missing API key: send "Authorization: Bearer <key>"');
    const found = this.find(match[1]!);
    if (!found) throw new UnauthorizedError('invalid API key');
    if (found.expiresAtMs !== undefined && this.clock() >= found.expiresAtMs) throw new UnauthorizedError('API key expired');
    return found.role;
  }

  private find(candidate: string): { role: Role; expiresAtMs?: number } | undefined {
    const given = digest(candidate);
    let found: { role: Role; expiresAtMs?: number } | undefined;
    for (const key of this.keys) {
      if (timingSafeEqual(key.digest, given) && !found) found = key;
    }
    return found;
  }
}

/** Constant-time equality of two secrets of any length. */
export function secretsEqual(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}
