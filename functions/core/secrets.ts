import { SecretUnavailableError } from './errors';
import { silentLogger, type Logger } from './logger';

/** The parameter port: SSM Parameter Store on AWS (adapters/ssm-secrets.ts), a map in tests. */
export interface ParameterStore {
  /** The decrypted value, or undefined when no such parameter exists. */
  get(name: string): Promise<string | undefined>;
}

/** A secret as the code that checks it sees it: read it when needed, never hold it in config. */
export interface Secret<T> {
  value(): Promise<T>;
}

/** A value known at cold start (the local stack and tests set secrets as plain variables). */
export function fixedSecret<T>(value: T): Secret<T> {
  return { value: async () => value };
}

export interface ParameterSecretOptions {
  /** How long a fetched value is used before it is fetched again (a rotated secret takes effect within it). */
  maxAgeMs: number;
  /** After a failed fetch, how long the last good value is kept before the next attempt. */
  retryAfterFailureMs?: number;
  clock?: () => number;
  logger?: Logger;
}

/**
 * A secret read from the parameter store at run time and cached per container. This cache alone
 * decides when to fetch again, so the adapter must not cache as well. When a fetch fails (the
 * store throttles, the parameter was deleted, its value no longer parses), the last good value
 * stays in use and the next attempt waits `retryAfterFailureMs`; with no good value yet, callers
 * get SecretUnavailableError (503 with Retry-After). Values are never logged, only the name.
 */
export class ParameterSecret<T> implements Secret<T> {
  private last?: { value: T; freshUntil: number };
  private inFlight?: Promise<T>;
  private readonly clock: () => number;
  private readonly logger: Logger;

  constructor(
    private readonly store: ParameterStore,
    private readonly name: string,
    /** Turns the raw value (undefined: no such parameter) into what callers use; throws when it is unusable. */
    private readonly parse: (raw: string | undefined) => T,
    private readonly options: ParameterSecretOptions,
  ) {
    this.clock = options.clock ?? Date.now;
    this.logger = options.logger ?? silentLogger;
  }

  async value(): Promise<T> {
    if (this.last && this.clock() < this.last.freshUntil) return this.last.value;
    // Concurrent requests of one container (the local server) share one fetch.
    this.inFlight ??= this.fetch().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  private async fetch(): Promise<T> {
    try {
      const value = this.parse(await this.store.get(this.name));
      this.last = { value, freshUntil: this.clock() + this.options.maxAgeMs };
      return value;
    } catch (error) {
      const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      if (this.last) {
        this.last.freshUntil = this.clock() + (this.options.retryAfterFailureMs ?? 5_000);
        this.logger.warn('secret fetch failed; using the last good value', { parameter: this.name, error: reason });
        return this.last.value;
      }
      throw new SecretUnavailableError('the service cannot read its credentials right now; retry shortly', { cause: error });
    }
  }
}
