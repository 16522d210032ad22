import { createHash } from 'node:crypto';
import { ForbiddenError, StorageUnavailableError, UnauthorizedError } from '../../functions/core/errors';
import type { KeyStore, StoredKey } from '../../functions/core/principal';
import { fixedSecret } from '../../functions/core/secrets';
import { parseApiKeys } from '../../functions/config';
import { Authenticator, digestKeys } from '../../functions/http/auth';

const hex = (key: string) => createHash('sha256').update(key).digest('hex');
const bearer = (key: string) => `Bearer ${key}`;

/** A key table as small as the question: a map, and a count of lookups. */
function fakeKeyStore(keys: Record<string, StoredKey> = {}) {
  const lookups: string[] = [];
  const store: KeyStore & { keys: Record<string, StoredKey>; lookups: string[] } = {
    keys,
    lookups,
    find: async (sha256Hex) => {
      lookups.push(sha256Hex);
      return store.keys[sha256Hex];
    },
  };
  return store;
}

function authenticator(apiKeys: string, options: { keyStore?: KeyStore; clock?: () => number; password?: string; keyCacheTtlMs?: number } = {}) {
  return new Authenticator({
    apiKeys: fixedSecret(digestKeys(parseApiKeys(apiKeys))),
    keyStore: options.keyStore,
    flightsPassword: fixedSecret(options.password),
    keyCacheTtlMs: options.keyCacheTtlMs ?? 60_000,
    clock: options.clock,
  });
}

describe('Authenticator with API_KEYS', () => {
  const NOW = Date.parse('2026-06-01T00:00:00Z');
  const clock = () => NOW;

  it.each([
    ['an exact name', 'write@tenant-42:k-tenant-42', 'k-tenant-42', 'tenant-42', 'tenant-43'],
    ['a glob', 'write@tenant-42-*:k-tenant-glob', 'k-tenant-glob', 'tenant-42-a', 'tenant-42'],
    ['no pattern (all databases)', 'write:k-all-databases', 'k-all-databases', 'anything', undefined],
    ['*', 'write@*:k-star-databases', 'k-star-databases', 'anything', undefined],
    ['a digest', `write@tenant-42:sha256:${hex('k-digested-key')}`, 'k-digested-key', 'tenant-42', 'other'],
  ])('a key with %s reaches what it names and nothing else', async (_name, entry, key, inside, outside) => {
    const principal = await authenticator(entry, { clock }).authenticate(bearer(key));

    expect(() => principal.authorize('write', inside)).not.toThrow();
    if (outside) expect(() => principal.authorize('read', outside)).toThrow(ForbiddenError);
    expect(principal.keyId).toBe(`key:${hex(key).slice(0, 8)}`);
  });

  it('refuses an expired key with 401, and accepts it until then', async () => {
    const entry = 'write:k-expiring-key:2026-06-01T00:00:00Z';
    await expect(authenticator(entry, { clock: () => NOW }).authenticate(bearer('k-expiring-key'))).rejects.toThrow('API key expired');
    await expect(authenticator(entry, { clock: () => NOW - 1 }).authenticate(bearer('k-expiring-key'))).resolves.toMatchObject({ role: 'write' });
  });

  it('gives a key listed twice the union of its scopes, minus the expired entries', async () => {
    const entries = 'write@acme-*:k-twice-listed,read@shared:k-twice-listed,write@globex:k-twice-listed:2020-01-01';
    const principal = await authenticator(entries, { clock }).authenticate(bearer('k-twice-listed'));

    expect(() => principal.authorize('write', 'acme-1')).not.toThrow();
    expect(() => principal.authorize('read', 'shared')).not.toThrow();
    expect(() => principal.authorize('write', 'shared')).toThrow(ForbiddenError);
    expect(() => principal.authorize('read', 'globex')).toThrow(ForbiddenError);
  });

  it.each([
    ['no header', undefined, 'missing API key'],
    ['another scheme', 'Basic abc', 'missing API key'],
    ['an unknown key', 'Bearer not-a-known-key', 'invalid API key'],
    ['a key that differs by one character', 'Bearer k-all-databaseZ', 'invalid API key'],
  ])('refuses %s with 401', async (_name, header, message) => {
    await expect(authenticator('write:k-all-databases').authenticate(header)).rejects.toThrow(UnauthorizedError);
    await expect(authenticator('write:k-all-databases').authenticate(header)).rejects.toThrow(message);
  });

  it('does not look a key of API_KEYS up in the key table', async () => {
    const keyStore = fakeKeyStore();
    await authenticator('write:k-all-databases', { keyStore }).authenticate(bearer('k-all-databases'));
    expect(keyStore.lookups).toEqual([]);
  });
});

describe('Authenticator with the key table', () => {
  const tenantKey = 'cl_tenant-key-for-acme';
  const stored: StoredKey = { role: 'write', databases: 'acme-*', label: 'acme' };

  it('finds a key by its digest and scopes it', async () => {
    const keyStore = fakeKeyStore({ [hex(tenantKey)]: stored });
    const principal = await authenticator('write:operator-key', { keyStore }).authenticate(bearer(tenantKey));

    expect(keyStore.lookups).toEqual([hex(tenantKey)]);
    expect(() => principal.authorize('write', 'acme-1')).not.toThrow();
    expect(() => principal.authorize('read', 'globex-1')).toThrow(ForbiddenError);
  });

  it('reuses an answer for KEY_CACHE_TTL_MS, so a revoked key stops working within it and not before', async () => {
    let now = 1_000_000;
    const keyStore = fakeKeyStore({ [hex(tenantKey)]: stored });
    const auth = authenticator('write:operator-key', { keyStore, clock: () => now, keyCacheTtlMs: 60_000 });
    await auth.authenticate(bearer(tenantKey));

    delete keyStore.keys[hex(tenantKey)]; // revoked
    now += 59_999;
    await expect(auth.authenticate(bearer(tenantKey))).resolves.toMatchObject({ role: 'write' });
    now += 1;
    await expect(auth.authenticate(bearer(tenantKey))).rejects.toThrow('invalid API key');
    expect(keyStore.lookups).toHaveLength(2);
  });

  it('remembers a miss only briefly, so a new key works within seconds', async () => {
    let now = 1_000_000;
    const keyStore = fakeKeyStore();
    const auth = authenticator('write:operator-key', { keyStore, clock: () => now, keyCacheTtlMs: 60_000 });
    await expect(auth.authenticate(bearer(tenantKey))).rejects.toThrow('invalid API key');
    await expect(auth.authenticate(bearer(tenantKey))).rejects.toThrow('invalid API key');
    expect(keyStore.lookups).toHaveLength(1);

    keyStore.keys[hex(tenantKey)] = stored; // created
    now += 5_000;
    await expect(auth.authenticate(bearer(tenantKey))).resolves.toMatchObject({ role: 'write' });
    expect(keyStore.lookups).toHaveLength(2);
  });

  it('refuses a stored key after its expiry even while it is cached', async () => {
    let now = 1_000_000;
    const keyStore = fakeKeyStore({ [hex(tenantKey)]: { ...stored, expiresAtMs: now + 10 } });
    const auth = authenticator('write:operator-key', { keyStore, clock: () => now });
    await auth.authenticate(bearer(tenantKey));
    now += 10;
    await expect(auth.authenticate(bearer(tenantKey))).rejects.toThrow('API key expired');
    expect(keyStore.lookups).toHaveLength(1);
  });

  it('lets a key table failure through as the store reported it', async () => {
    const failing: KeyStore = { find: async () => Promise.reject(new StorageUnavailableError('the key table could not be read; retry')) };
    await expect(authenticator('write:operator-key', { keyStore: failing }).authenticate(bearer(tenantKey))).rejects.toThrow(StorageUnavailableError);
  });
});

describe('Authenticator.passwordPrincipal', () => {
  it('maps the flights password to a principal that may write the flights database and nothing else', async () => {
    const principal = await authenticator('write:operator-key', { password: 'flights-pass' }).passwordPrincipal('flights-pass', 'flights');

    expect(() => principal.authorize('write', 'flights')).not.toThrow();
    expect(() => principal.authorize('read', 'main')).toThrow(ForbiddenError);
    expect(principal.keyId).toBe('password:flights');
  });

  it.each([
    ['a wrong password', 'flights-pass', 'nope', 'invalid password'],
    ['no configured password', undefined, 'flights-pass', 'password authentication is not configured'],
  ])('refuses %s with 401', async (_name, configured, given, message) => {
    await expect(authenticator('write:operator-key', { password: configured }).passwordPrincipal(given, 'flights')).rejects.toThrow(message);
  });
});
