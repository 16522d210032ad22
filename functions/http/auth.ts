import { createHash, timingSafeEqual } from 'node:crypto';
import { UnauthorizedError } from '../core/errors';
import { GrantedPrincipal, keyIdOf, type ApiKey, type Grant, type KeyStore, type Principal, type StoredKey } from '../core/principal';
import type { Secret } from '../core/secrets';

/** A configured key ready for comparison: its digest, never its text. */
export interface DigestedKey {
  readonly grant: Grant;
  readonly digest: Buffer;
  readonly expiresAtMs?: number;
}

/** Digests the keys of API_KEYS once, when their value is read (cold start, or each SSM refresh). */
export function digestKeys(keys: readonly ApiKey[]): DigestedKey[] {
  return keys.map((k) => ({
    grant: { role: k.role, databases: k.databases },
    digest: 'sha256' in k ? Buffer.from(k.sha256, 'hex') : sha256(k.key),
    expiresAtMs: k.expiresAtMs,
  }));
}

export interface AuthenticatorDeps {
  /** API_KEYS, digested: a plain variable or an SSM parameter. */
  apiKeys: Secret<readonly DigestedKey[]>;
  /** The key table, for keys not in API_KEYS. */
  keyStore?: KeyStore;
  /** The flights password (undefined when not configured). */
  flightsPassword?: Secret<string | undefined>;
  /** How long a key table answer is reused; misses are reused for at most NEGATIVE_CACHE_MS. */
  keyCacheTtlMs: number;
  clock?: () => number;
}

/** A key that was just created is found at most this long after a container looked it up and missed. */
const NEGATIVE_CACHE_MS = 5_000;
/** Bounds the memory a flood of distinct invalid keys can take. */
const MAX_CACHED_KEYS = 10_000;

/**
 * Bearer-key authentication: API_KEYS first, then the key table. API_KEYS are compared as
 * SHA-256 digests with timingSafeEqual, every configured key on every request, so neither the
 * length nor the position of a match leaks through timing; a key listed twice gets the union of
 * its entries. The key table is looked up by the key's digest (what leaks through timing is at
 * most a prefix of a hash), and its answers are cached per container for `keyCacheTtlMs`.
 */
export class Authenticator {
  private readonly clock: () => number;
  private readonly keyCache = new Map<string, { key?: StoredKey; until: number }>();

  constructor(private readonly deps: AuthenticatorDeps) {
    this.clock = deps.clock ?? Date.now;
  }

  /** The principal of the bearer key in the Authorization header; 401 without a valid key. */
  async authenticate(authorization: string | undefined): Promise<Principal> {
    const digest = sha256(bearerKey(authorization));
    const hex = digest.toString('hex');
    const configured = this.configuredMatches(digest, await this.deps.apiKeys.value());
    const candidates = configured.length > 0 ? configured : await this.fromKeyTable(hex);
    if (candidates.length === 0) throw new UnauthorizedError('invalid API key');
    const now = this.clock();
    const live = candidates.filter((candidate) => candidate.expiresAtMs === undefined || now < candidate.expiresAtMs);
    if (live.length === 0) throw new UnauthorizedError('API key expired');
    return new GrantedPrincipal(keyIdOf(hex), live.map((candidate) => candidate.grant));
  }

  /**
   * The flights password (`POST /flights?password=`) as a principal that may write only the
   * given database; only the flights route asks for it. Compared in constant time.
   */
  async passwordPrincipal(given: string, database: string): Promise<Principal> {
    const password = await this.deps.flightsPassword?.value();
    if (password === undefined) throw new UnauthorizedError('password authentication is not configured; use "Authorization: Bearer <write key>"');
    if (!secretsEqual(given, password)) throw new UnauthorizedError('invalid password');
    return new GrantedPrincipal('password:flights', [{ role: 'write', databases: database }]);
  }

  private configuredMatches(digest: Buffer, keys: readonly DigestedKey[]): DigestedKey[] {
    const found: DigestedKey[] = [];
    for (const key of keys) {
      if (timingSafeEqual(key.digest, digest)) found.push(key);
    }
    return found;
  }

  private async fromKeyTable(hex: string): Promise<{ grant: Grant; expiresAtMs?: number }[]> {
    if (!this.deps.keyStore) return [];
    const now = this.clock();
    let cached = this.keyCache.get(hex);
    if (!cached || now >= cached.until) {
      const key = await this.deps.keyStore.find(hex);
      cached = { key, until: now + (key ? this.deps.keyCacheTtlMs : Math.min(this.deps.keyCacheTtlMs, NEGATIVE_CACHE_MS)) };
      this.keyCache.delete(hex);
      if (this.keyCache.size >= MAX_CACHED_KEYS) this.keyCache.delete(this.keyCache.keys().next().value!);
      this.keyCache.set(hex, cached);
    }
    const key = cached.key;
    return key ? [{ grant: { role: key.role, databases: key.databases }, expiresAtMs: key.expiresAtMs }] : [];
  }
}

function bearerKey(authorization: string | undefined): string {
  const match = /^Bearer[ ]+(\S+)\s*$/i.exec(authorization ?? '');
  if (!match) throw new UnauthorizedError('missing API key: send "Authorization: Bearer <key>"');
  return match[1]!;
}

/** Constant-time equality of two secrets of any length. */
export function secretsEqual(a: string, b: string): boolean {
  return timingSafeEqual(sha256(a), sha256(b));
}

export function sha256(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}
