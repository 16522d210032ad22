import { ConfigError, loadConfig, parseApiKeys } from '../../functions/config';
import { Authenticator } from '../../functions/http/auth';

const minimal = { S3_BUCKET: 'b', LOCK_TABLE: 't', API_KEYS: 'write:abcdefgh' };

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const config = loadConfig(minimal);
    expect(config).toMatchObject({
      keyPrefix: 'databases/',
      lockWaitMs: 10_000,
      leaseMs: 45_000,
      eventualMaxAgeMs: 5_000,
      statementTimeoutMs: 10_000,
      flightsDatabase: 'main',
      limits: { maxBodyBytes: 4_194_304, maxStatements: 100, maxParams: 1_000, maxSqlLength: 100_000, maxResultBytes: 5_000_000 },
    });
    expect(config.apiKeys).toEqual([{ role: 'write', key: 'abcdefgh', expiresAtMs: undefined }]);
  });

  it('lets functions that do not authenticate start without API keys', () => {
    expect(loadConfig({ ...minimal, API_KEYS: undefined }).apiKeys).toEqual([]);
  });

  it('treats an empty variable as unset', () => {
    expect(loadConfig({ ...minimal, MAX_PARAMS: '', LOCK_WAIT_MS: '' })).toMatchObject({ lockWaitMs: 10_000, limits: { maxParams: 1_000 } });
  });

  it.each([
    ['no bucket', { ...minimal, S3_BUCKET: '' }, /S3_BUCKET/],
    ['a non-numeric timeout', { ...minimal, STATEMENT_TIMEOUT_MS: 'soon' }, /STATEMENT_TIMEOUT_MS/],
    ['a negative wait', { ...minimal, LOCK_WAIT_MS: '-1' }, /LOCK_WAIT_MS/],
    ['a bad endpoint', { ...minimal, S3_ENDPOINT: 'not a url' }, /S3_ENDPOINT/],
    ['a bad flights database', { ...minimal, FLIGHTS_DATABASE: '../x' }, /FLIGHTS_DATABASE/],
    ['a lease shorter than the function timeout', { ...minimal, LOCK_LEASE_MS: '20000', FUNCTION_TIMEOUT_MS: '29000' }, /LOCK_LEASE_MS must be longer than the function timeout/],
    ['a statement timeout longer than the function', { ...minimal, STATEMENT_TIMEOUT_MS: '30000', LOCK_LEASE_MS: '60000', FUNCTION_TIMEOUT_MS: '29000' }, /STATEMENT_TIMEOUT_MS must be shorter/],
    ['a lease that a statement could outlive', { ...minimal, LOCK_LEASE_MS: '12000' }, /LOCK_LEASE_MS must exceed STATEMENT_TIMEOUT_MS/],
  ])('refuses to start with %s', (_name, env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });
});

describe('parseApiKeys', () => {
  it('reads roles, keys and optional expiries', () => {
    expect(parseApiKeys('write:s3cret-key, read:public-key-1:2027-01-01')).toEqual([
      { role: 'write', key: 's3cret-key', expiresAtMs: undefined },
      { role: 'read', key: 'public-key-1', expiresAtMs: Date.parse('2027-01-01T00:00:00Z') },
    ]);
  });

  it.each(['admin:abcdefgh', 'write:short', 'writeabcdefgh', 'read:abcdefgh:tomorrow'])('refuses %s', (entry) => {
    expect(() => parseApiKeys(entry)).toThrow(ConfigError);
  });
});

describe('Authenticator', () => {
  it('refuses to start an endpoint that authenticates when no keys are configured', () => {
    expect(() => new Authenticator([])).toThrow(/API_KEYS must hold at least one/);
  });
});
