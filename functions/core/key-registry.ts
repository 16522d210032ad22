import { createHash, randomBytes } from 'node:crypto';
import { BadRequestError } from './errors';
import { isDatabasePattern, keyIdOf, type KeyStore, type Role, type StoredKey } from './principal';

/** What managing the key table needs beyond authenticating against it (scripts/keys.ts). */
export interface KeyRegistry extends KeyStore {
  /** Stores a new key; refuses to replace one with the same digest. */
  create(sha256Hex: string, key: StoredKey): Promise<void>;
  list(): Promise<ListedKey[]>;
  /** Deletes the key; false when there was none. */
  remove(sha256Hex: string): Promise<boolean>;
}

export interface ListedKey extends StoredKey {
  sha256Hex: string;
}

export interface NewKey {
  role: Role;
  databases: string;
  label?: string;
  expiresAtMs?: number;
}

/**
 * Makes a key (256 random bits, so its SHA-256 needs no salt or slow hash), stores only its
 * digest, and returns the key: the only time anyone sees it.
 */
export async function createKey(registry: KeyRegistry, request: NewKey, now: number): Promise<{ key: string; keyId: string; stored: StoredKey }> {
  if (!isDatabasePattern(request.databases)) throw new BadRequestError('databases must be a database name or a glob of a-z, 0-9, _, - and * (e.g. acme-*)');
  if (request.expiresAtMs !== undefined && !(request.expiresAtMs > now)) throw new BadRequestError('the expiry must be in the future');
  const key = `cl_${randomBytes(32).toString('base64url')}`;
  const sha256Hex = createHash('sha256').update(key, 'utf8').digest('hex');
  const stored: StoredKey = { ...request, createdAtMs: now };
  await registry.create(sha256Hex, stored);
  return { key, keyId: keyIdOf(sha256Hex), stored };
}

/** Revokes the one key whose id (`key:3f2a9c1e`) or full digest is given. */
export async function revokeKey(registry: KeyRegistry, idOrDigest: string): Promise<ListedKey> {
  const prefix = idOrDigest.replace(/^key:/, '').toLowerCase();
  if (!/^[0-9a-f]{8,64}$/.test(prefix)) throw new BadRequestError('give a key id (key:<8 hex digits>) or a key digest');
  const matches = (await registry.list()).filter((key) => key.sha256Hex.startsWith(prefix));
  if (matches.length === 0) throw new BadRequestError(`no key ${idOrDigest} in the key table`);
  if (matches.length > 1) throw new BadRequestError(`${matches.length} keys start with ${prefix}; give the full digest (from list)`);
  await registry.remove(matches[0]!.sha256Hex);
  return matches[0]!;
}
