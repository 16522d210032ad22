import { SSMProvider } from '@aws-lambda-powertools/parameters/ssm';
import { SSMClient } from '@aws-sdk/client-ssm';
import type { Config } from '../config';
import type { ParameterStore } from '../core/secrets';

/**
 * SSM Parameter Store through Powertools' parameters utility: SecureString values decrypted,
 * a missing parameter answered as undefined. Every call fetches: when to fetch again is decided
 * by the one cache above this port (core/secrets.ts), which also keeps the last good value when
 * a fetch fails. Values are returned, never logged.
 */
export class SsmParameterStore implements ParameterStore {
  private readonly provider: SSMProvider;

  constructor(client: SSMClient) {
    this.provider = new SSMProvider({ awsSdkV3Client: client });
  }

  async get(name: string): Promise<string | undefined> {
    try {
      return await this.provider.get(name, { decrypt: true, forceFetch: true });
    } catch (error) {
      // Powertools wraps the SDK error; ParameterNotFound means "not configured", anything else fails.
      if (isParameterNotFound(error)) return undefined;
      throw error;
    }
  }
}

export function createSsmClient(config: Pick<Config, 'region' | 'dynamoDbRequestTimeoutMs'>): SSMClient {
  return new SSMClient({
    region: config.region,
    requestHandler: { requestTimeout: config.dynamoDbRequestTimeoutMs, connectionTimeout: 2_000, throwOnRequestTimeout: true },
    maxAttempts: 3,
  });
}

function isParameterNotFound(error: unknown): boolean {
  for (let current = error; current instanceof Error; current = current.cause) {
    if (current.name === 'ParameterNotFound') return true;
  }
  return false;
}
