import { ConfigError, loadConfig } from '../../functions/config';

/**
 * Review (config validation, 5136879): README "Configuration" says no side prefix may be the start
 * of DB_KEY_PREFIX "(its rule would expire what lives there)", and the commit refuses "key
 * prefixes that would let a lifecycle rule expire databases". A side prefix that *starts with*
 * DB_KEY_PREFIX and continues with characters a database name may start with is still accepted:
 * with STAGING_KEY_PREFIX `databases/s`, infra/database-bucket.yml's staging rule (Prefix
 * `databases/s`, ExpirationInDays 1, NoncurrentDays 1) covers `databases/sales.sqlite`, so S3
 * expires every database whose name starts with "s" a day after its last write, and its
 * restore window shrinks to a day.
 */
const minimal = { S3_BUCKET: 'b', LOCK_TABLE: 't', API_KEYS: 'write:abcdefgh' };

describe('a side prefix under DB_KEY_PREFIX that database keys fall under', () => {
  it.each([
    ['STAGING_KEY_PREFIX', 'databases/s'],
    ['EXPORT_KEY_PREFIX', 'databases/exp'],
    ['IDEMPOTENCY_KEY_PREFIX', 'databases/i'],
  ])('refuses a %s of "%s" (database keys such as databases/<name>.sqlite start with it)', (variable, prefix) => {
    const env = { ...minimal, [variable]: prefix };
    // The database a lifecycle rule on this prefix would expire: its key starts with the prefix.
    const victim = `databases/${prefix.slice('databases/'.length)}ales.sqlite`;
    expect(victim.startsWith(prefix)).toBe(true);

    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(new RegExp(variable));
  });

  it('still takes a side prefix nested under DB_KEY_PREFIX as a folder (no database key holds a "/" after the prefix)', () => {
    expect(() => loadConfig({ ...minimal, STAGING_KEY_PREFIX: 'databases/staging/' })).not.toThrow();
  });
});
