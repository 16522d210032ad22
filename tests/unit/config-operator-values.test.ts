import { ConfigError, loadConfig } from '../../functions/config';

/**
 * Values an operator actually types into serverless.yml, a .env file or a shell: README
 * "Configuration": "a bad value stops the function from starting with a message naming the
 * variable". Each case here was accepted at cold start and misbehaved later.
 */
const minimal = { S3_BUCKET: 'b', LOCK_TABLE: 't', API_KEYS: 'write:abcdefgh' };
/** What serverless.yml gives every deployed function. */
const deployed = { ...minimal, FUNCTION_TIMEOUT_MS: '29000', LOCK_LEASE_MS: '45000' };

const refused = (env: NodeJS.ProcessEnv, variable: string) => {
  expect(() => loadConfig(env)).toThrow(ConfigError);
  expect(() => loadConfig(env)).toThrow(new RegExp(variable));
};

describe('numbers as an operator writes them', () => {
  // config.ts: "An empty variable (`MAX_PARAMS=`) means use the default, not 0". A value of only
  // spaces (`MAX_PARAMS= ` in a .env file, `'  '` in YAML) became Number('  ') = 0 instead:
  // LOCK_WAIT_MS 0 turns every contended write into LOCK_TIMEOUT, MAX_PARAMS 0 refuses every
  // parameter, LEASE_SAFETY_MARGIN_MS 0 lets a writer upload with 1 ms of lease left.
  it.each(['LOCK_WAIT_MS', 'MAX_PARAMS', 'WARM_CACHE_MB', 'LEASE_SAFETY_MARGIN_MS', 'EVENTUAL_MAX_AGE_MS', 'KEY_CACHE_TTL_MS'])(
    'a %s of only spaces means its default, as an empty one does, not 0',
    (variable) => {
      expect(loadConfig({ ...minimal, [variable]: '  ' })).toEqual(loadConfig(minimal));
    },
  );
});

describe('settings checked against the function timeout', () => {
  // A writer waiting for the lock has already been marked as changing (database-service.ts,
  // runChange: onChanging() before lock.acquire), so when the function's deadline comes during
  // the wait the answer is 503 WRITE_OUTCOME_UNKNOWN without a write_id, not 503 LOCK_TIMEOUT,
  // though nothing was applied: a client without an idempotency key cannot safely retry.
  it.each(['29000', '30000', '60000'])('refuses a LOCK_WAIT_MS of %s with a 29 s function', (wait) => {
    refused({ ...deployed, LOCK_WAIT_MS: wait }, 'LOCK_WAIT_MS');
  });
});

describe('the lease and its renewals', () => {
  // app.ts renews every LOCK_LEASE_MS / 3, so between renewals a healthy lease has only 2/3 of
  // LOCK_LEASE_MS left. With a margin above that, LeaseKeeper.assertSafeToCommit refuses a
  // write (409 WRITE_CONFLICT, "about to expire") whenever it commits in the later part of a
  // renewal period, although every renewal succeeded: a retry fails the same way.
  it('refuses a LEASE_SAFETY_MARGIN_MS that a renewed lease can fall below between renewals', () => {
    refused({ ...minimal, LOCK_LEASE_MS: '45000', LEASE_SAFETY_MARGIN_MS: '35000', STATEMENT_TIMEOUT_MS: '5000' }, 'LEASE_SAFETY_MARGIN_MS');
  });
});

describe('the request body limit', () => {
  // config.ts: "4 MiB: even base64-encoded by API Gateway it stays under Lambda's 6 MB
  // invocation payload". Above about 4.5 MB a body the limit allows is refused by Lambda
  // itself (413 from API Gateway, not this API's PAYLOAD_TOO_LARGE with its JSON error).
  it.each(['6291456', '10000000'])('refuses a MAX_BODY_BYTES of %s, past what a Lambda invocation can carry', (bytes) => {
    refused({ ...minimal, MAX_BODY_BYTES: bytes }, 'MAX_BODY_BYTES');
  });
});

describe('key prefixes', () => {
  // infra/database-bucket.yml expires every object under the staging and export prefixes after
  // 1 day and under the idempotency prefix after 3 days (current versions included). A side
  // prefix that is empty or covers DB_KEY_PREFIX makes that rule expire the databases too.
  it.each([
    ['STAGING_KEY_PREFIX', ''],
    ['EXPORT_KEY_PREFIX', ''],
    ['IDEMPOTENCY_KEY_PREFIX', ''],
    ['STAGING_KEY_PREFIX', 'databases/'],
    ['EXPORT_KEY_PREFIX', 'data'],
  ])('refuses a %s of "%s", whose lifecycle rule would expire the databases', (variable, prefix) => {
    refused({ ...minimal, [variable]: prefix }, variable);
  });

  it('refuses a STAGING_KEY_PREFIX that databases live under: an import may then name another database\'s file as its upload', () => {
    // database-lifecycle.ts stagedKey: an import into database d takes any key under
    // `${STAGING_KEY_PREFIX}d/`. Everything nested under one folder (databases in
    // cloudlite/databases/, staging in cloudlite/) lets a key scoped to a database named
    // "databases" import cloudlite/databases/<another tenant>.sqlite into its own database.
    refused({ ...minimal, DB_KEY_PREFIX: 'cloudlite/databases/', STAGING_KEY_PREFIX: 'cloudlite/' }, 'STAGING_KEY_PREFIX');
  });

  it('refuses two side prefixes that overlap: stored answers would expire after 1 day, inside the 25-hour idempotency window', () => {
    refused({ ...minimal, IDEMPOTENCY_KEY_PREFIX: 'side/', EXPORT_KEY_PREFIX: 'side/' }, 'EXPORT_KEY_PREFIX|IDEMPOTENCY_KEY_PREFIX');
  });

  // Kept verbatim, ' databases/ ' names keys the roles (`databases/*`) do not grant: every
  // request fails with AccessDenied instead of the function refusing to start.
  it.each(['DB_KEY_PREFIX', 'STAGING_KEY_PREFIX'])('refuses a %s with surrounding spaces', (variable) => {
    refused({ ...minimal, [variable]: ' databases/ ' }, variable);
  });
});
