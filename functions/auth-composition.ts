import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createDynamoDbClient } from './adapters/aws-clients';
import { DynamoDbKeyTable } from './adapters/dynamodb-key-table';
import { ConfigError, parseApiKeys, type Config } from './config';
import type { Logger } from './core/logger';
import { fixedSecret, ParameterSecret, type ParameterStore, type Secret } from './core/secrets';
import { Authenticator, digestKeys, type DigestedKey } from './http/auth';

export interface AuthOverrides {
  dynamoDbClient?: DynamoDBDocumentClient;
  parameters?: ParameterStore;
  clock?: () => number;
}

/**
 * The authenticator of an endpoint that checks keys, from config: API_KEYS and the flights
 * password as plain values or as SSM parameters read at run time, and the key table when one
 * is configured. An endpoint with no source of keys at all refuses to start.
 */
/** The part of config that authentication reads. */
export type AuthConfig = Pick<
  Config,
  | 'apiKeys'
  | 'apiKeysParameter'
  | 'flightsPassword'
  | 'flightsPasswordParameter'
  | 'keyTable'
  | 'keyCacheTtlMs'
  | 'secretCacheTtlMs'
  | 'region'
  | 'dynamoDbEndpoint'
  | 'dynamoDbRequestTimeoutMs'
>;

export function createAuthenticator(config: AuthConfig, logger: Logger, overrides: AuthOverrides = {}): Authenticator {
  if (config.apiKeys.length === 0 && !config.apiKeysParameter && !config.keyTable) {
    throw new ConfigError('invalid configuration: this endpoint authenticates: set API_KEYS, API_KEYS_PARAMETER or KEY_TABLE');
  }
  let parameters = overrides.parameters;
  const fromParameter = <T>(name: string, parse: (raw: string | undefined) => T): Secret<T> => {
    parameters ??= ssmOnFirstUse(config);
    return new ParameterSecret(parameters, name, parse, { maxAgeMs: config.secretCacheTtlMs, clock: overrides.clock, logger });
  };
  const apiKeys: Secret<readonly DigestedKey[]> = config.apiKeysParameter
    ? fromParameter(config.apiKeysParameter, (raw) => {
        if (raw === undefined) throw new ConfigError(`the SSM parameter ${config.apiKeysParameter} (API_KEYS_PARAMETER) does not exist`);
        return digestKeys(parseApiKeys(raw));
      })
    : fixedSecret(digestKeys(config.apiKeys));
  const flightsPassword = config.flightsPasswordParameter
    ? fromParameter(config.flightsPasswordParameter, (raw) => raw?.trim() || undefined)
    : fixedSecret(config.flightsPassword);
  const keyStore = config.keyTable ? new DynamoDbKeyTable(overrides.dynamoDbClient ?? createDynamoDbClient(config), config.keyTable) : undefined;
  return new Authenticator({ apiKeys, flightsPassword, keyStore, keyCacheTtlMs: config.keyCacheTtlMs, clock: overrides.clock });
}

/**
 * SSM Parameter Store, loaded on first use: a stage whose keys come from API_KEYS never loads the
 * SSM client, and one that reads SSM loads it with its first secret.
 */
function ssmOnFirstUse(config: AuthConfig): ParameterStore {
  let store: Promise<ParameterStore> | undefined;
  return {
    get: async (name) => {
      store ??= import('./adapters/ssm-secrets').then(({ SsmParameterStore, createSsmClient }) => new SsmParameterStore(createSsmClient(config)));
      return (await store).get(name);
    },
  };
}
