import { ConfigError, loadConfig, parseApiKeys } from '../../functions/config';
import { createAuthenticator } from '../../functions/auth-composition';
import { silentLogger } from '../../functions/core/logger';

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
      fileCheckTimeoutMs: 15_000,
      flightsDatabase: 'main',
      limits: { maxBodyBytes: 4_194_304, maxStatements: 100, maxParams: 1_000, maxSqlLength: 100_000, maxResultBytes: 5_000_000 },
    });
    expect(config.apiKeys).toEqual([{ role: 'write', databases: '*', key: 'abcdefgh', expiresAtMs: undefined }]);
    expect(config).toMatchObject({ keyCacheTtlMs: 60_000, secretCacheTtlMs: 300_000, keyTable: undefined, apiKeysParameter: undefined });
  });

  it('lets functions that do not authenticate start without API keys', () => {
    expect(loadConfig({ ...minimal, API_KEYS: undefined }).apiKeys).toEqual([]);
  });

  it('treats an empty variable as unset', () => {
    expect(loadConfig({ ...minimal, MAX_PARAMS: '', LOCK_WAIT_MS: '' })).toMatchObject({ lockWaitMs: 10_000, limits: { maxParams: 1_000 } });
  });

  it.each([
    ['outside Lambda: off, so the local server and tests write no metric lines', {}, { sink: 'off', stage: 'local' }],
    ['inside Lambda: embedded metric format', { AWS_LAMBDA_FUNCTION_NAME: 'cloudlite-prod-sql', STAGE: 'prod' }, { sink: 'emf', stage: 'prod' }],
    ['inside Lambda, turned off', { AWS_LAMBDA_FUNCTION_NAME: 'cloudlite-prod-sql', METRICS: 'off' }, { sink: 'off', stage: 'local' }],
    ['outside Lambda, turned on', { METRICS: 'emf', STAGE: 'dev' }, { sink: 'emf', stage: 'dev' }],
    ['an empty METRICS as unset', { AWS_LAMBDA_FUNCTION_NAME: 'f', METRICS: '' }, { sink: 'emf', stage: 'local' }],
  ])('counts metrics %s', (_name, env, metrics) => {
    expect(loadConfig({ ...minimal, ...env }).metrics).toEqual(metrics);
  });

  it.each([
    ['an unknown metrics sink', { ...minimal, METRICS: 'stdout' }, /METRICS/],
    ['no bucket', { ...minimal, S3_BUCKET: '' }, /S3_BUCKET/],
    ['a non-numeric timeout', { ...minimal, STATEMENT_TIMEOUT_MS: 'soon' }, /STATEMENT_TIMEOUT_MS/],
    ['a negative wait', { ...minimal, LOCK_WAIT_MS: '-1' }, /LOCK_WAIT_MS/],
    ['a bad endpoint', { ...minimal, S3_ENDPOINT: 'not a url' }, /S3_ENDPOINT/],
    ['a bad flights database', { ...minimal, FLIGHTS_DATABASE: '../x' }, /FLIGHTS_DATABASE/],
    ['a lease shorter than the function timeout', { ...minimal, LOCK_LEASE_MS: '20000', FUNCTION_TIMEOUT_MS: '29000' }, /LOCK_LEASE_MS must be longer than the function timeout/],
    ['a statement timeout longer than the function', { ...minimal, STATEMENT_TIMEOUT_MS: '30000', LOCK_LEASE_MS: '60000', FUNCTION_TIMEOUT_MS: '29000' }, /STATEMENT_TIMEOUT_MS must be shorter/],
    ['file checks longer than the function', { ...minimal, FILE_CHECK_TIMEOUT_MS: '29000', FUNCTION_TIMEOUT_MS: '29000' }, /FILE_CHECK_TIMEOUT_MS must be shorter/],
    ['a lease that a statement could outlive', { ...minimal, LOCK_LEASE_MS: '12000' }, /LOCK_LEASE_MS must exceed STATEMENT_TIMEOUT_MS/],
    ['API keys both plain and from SSM', { ...minimal, API_KEYS_PARAMETER: '/cloudlite/prod/api-keys' }, /API_KEYS or API_KEYS_PARAMETER, not both/],
    ['a flights password both plain and from SSM', { ...minimal, FLIGHTS_PASSWORD: 'pw-123456', FLIGHTS_PASSWORD_PARAMETER: '/p' }, /FLIGHTS_PASSWORD or FLIGHTS_PASSWORD_PARAMETER/],
    ['a negative key cache time', { ...minimal, KEY_CACHE_TTL_MS: '-5' }, /KEY_CACHE_TTL_MS/],
  ])('refuses to start with %s', (_name, env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });
});

describe('parseApiKeys', () => {
  const digest = 'ab'.repeat(32);
  it.each([
    ['a key for all databases', 'write:s3cret-key', [{ role: 'write', databases: '*', key: 's3cret-key', expiresAtMs: undefined }]],
    ['an expiry', 'read:public-key-1:2027-01-01', [{ role: 'read', databases: '*', key: 'public-key-1', expiresAtMs: Date.parse('2027-01-01T00:00:00Z') }]],
    ['an exact database', 'read@acme-reports:k2-secret', [{ role: 'read', databases: 'acme-reports', key: 'k2-secret', expiresAtMs: undefined }]],
    ['a glob', 'write@acme-*:k1-secret', [{ role: 'write', databases: 'acme-*', key: 'k1-secret', expiresAtMs: undefined }]],
    ['a digest', `write@t-1:sha256:${digest}`, [{ role: 'write', databases: 't-1', sha256: digest, expiresAtMs: undefined }]],
    ['an upper-case digest with an expiry', `read:sha256:${digest.toUpperCase()}:2030-01-01T12:00:00Z`, [{ role: 'read', databases: '*', sha256: digest, expiresAtMs: Date.parse('2030-01-01T12:00:00Z') }]],
    [
      'a list with spaces',
      'write@acme-*:k1-secret, read@acme-reports:k2-secret,write:admin-key',
      [
        { role: 'write', databases: 'acme-*', key: 'k1-secret', expiresAtMs: undefined },
        { role: 'read', databases: 'acme-reports', key: 'k2-secret', expiresAtMs: undefined },
        { role: 'write', databases: '*', key: 'admin-key', expiresAtMs: undefined },
      ],
    ],
  ])('reads %s', (_name, value, expected) => {
    expect(parseApiKeys(value)).toEqual(expected);
  });

  it.each([
    'admin:abcdefgh',
    'write:short',
    'writeabcdefgh',
    'read:abcdefgh:tomorrow',
    'read@:abcdefgh',
    'read@ACME:abcdefgh',
    'read@acme/x:abcdefgh',
    'write:sha256:abc',
    `write:sha256:${'g'.repeat(64)}`,
  ])('refuses %s', (entry) => {
    expect(() => parseApiKeys(entry)).toThrow(ConfigError);
  });

  it('never repeats a key in its error message', () => {
    expect(() => parseApiKeys('write:good-key-1,owner:my-secret-key')).toThrow(/API_KEYS entry 2/);
    expect(() => parseApiKeys('write:good-key-1,owner:my-secret-key')).not.toThrow(/my-secret-key/);
  });
});

describe('createAuthenticator', () => {
  it('refuses to start an endpoint that authenticates when no source of keys is configured', () => {
    expect(() => createAuthenticator(loadConfig({ ...minimal, API_KEYS: undefined }), silentLogger)).toThrow(/set API_KEYS, API_KEYS_PARAMETER or KEY_TABLE/);
  });

  it.each([
    ['API_KEYS', { API_KEYS: 'write:abcdefgh' }],
    ['API_KEYS_PARAMETER', { API_KEYS: undefined, API_KEYS_PARAMETER: '/cloudlite/x/api-keys' }],
    ['KEY_TABLE', { API_KEYS: undefined, KEY_TABLE: 'keys' }],
  ])('starts with %s alone', (_name, env) => {
    expect(() => createAuthenticator(loadConfig({ ...minimal, ...env }), silentLogger)).not.toThrow();
  });
});
