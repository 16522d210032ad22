import { SecretUnavailableError } from '../../functions/core/errors';
import type { Logger } from '../../functions/core/logger';
import { ParameterSecret, type ParameterStore } from '../../functions/core/secrets';

/** The parameter port in memory, with a fault hook as a plain field. */
interface FakeParameters extends ParameterStore {
  values: Record<string, string>;
  fetches: number;
  fail?: Error;
}

function fakeParameters(values: Record<string, string>): FakeParameters {
  const fake: FakeParameters = {
    values,
    fetches: 0,
    get: async (name) => {
      fake.fetches++;
      if (fake.fail) throw fake.fail;
      return fake.values[name];
    },
  };
  return fake;
}

function recordingLogger() {
  const lines: string[] = [];
  const log = (message: string, fields?: object) => lines.push(`${message} ${JSON.stringify(fields ?? {})}`);
  return { lines, logger: { debug: log, info: log, warn: log, error: log } satisfies Logger };
}

describe('ParameterSecret', () => {
  const NAME = '/cloudlite/test/api-keys';
  const required = (raw: string | undefined) => {
    if (raw === undefined) throw new Error('missing');
    return raw;
  };

  it('fetches once per max age', async () => {
    let now = 0;
    const parameters = fakeParameters({ [NAME]: 'v1' });
    const secret = new ParameterSecret(parameters, NAME, required, { maxAgeMs: 1_000, clock: () => now });

    expect(await secret.value()).toBe('v1');
    parameters.values[NAME] = 'v2';
    now = 999;
    expect(await secret.value()).toBe('v1');
    now = 1_000;
    expect(await secret.value()).toBe('v2');
    expect(parameters.fetches).toBe(2);
  });

  it('shares one fetch between concurrent callers', async () => {
    const parameters = fakeParameters({ [NAME]: 'v1' });
    const secret = new ParameterSecret(parameters, NAME, required, { maxAgeMs: 1_000 });

    expect(await Promise.all([secret.value(), secret.value(), secret.value()])).toEqual(['v1', 'v1', 'v1']);
    expect(parameters.fetches).toBe(1);
  });

  it('keeps the last good value when a fetch fails, retries after the failure pause, and never logs the value', async () => {
    let now = 0;
    const parameters = fakeParameters({ [NAME]: 'the-secret-value' });
    const { lines, logger } = recordingLogger();
    const secret = new ParameterSecret(parameters, NAME, required, { maxAgeMs: 1_000, retryAfterFailureMs: 200, clock: () => now, logger });
    await secret.value();

    parameters.fail = Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
    now = 1_000;
    expect(await secret.value()).toBe('the-secret-value');
    now = 1_199;
    expect(await secret.value()).toBe('the-secret-value');
    expect(parameters.fetches).toBe(2);

    parameters.fail = undefined;
    parameters.values[NAME] = 'rotated';
    now = 1_200;
    expect(await secret.value()).toBe('rotated');
    expect(lines).toEqual([expect.stringContaining(NAME)]);
    expect(lines.join('\n')).not.toContain('the-secret-value');
  });

  it('counts a value that does not parse as a failed fetch', async () => {
    let now = 0;
    const parameters = fakeParameters({ [NAME]: 'good' });
    const parse = (raw: string | undefined) => {
      if (raw !== 'good') throw new Error('unusable value');
      return raw;
    };
    const secret = new ParameterSecret(parameters, NAME, parse, { maxAgeMs: 1_000, clock: () => now });
    await secret.value();
    parameters.values[NAME] = 'garbage';
    now = 1_000;
    expect(await secret.value()).toBe('good');
  });

  it('with no good value yet, answers SecretUnavailableError (503, Retry-After) and tries again on the next call', async () => {
    const parameters = fakeParameters({});
    parameters.fail = new Error('connect ECONNREFUSED');
    const secret = new ParameterSecret(parameters, NAME, required, { maxAgeMs: 1_000 });

    const failure = await secret.value().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(SecretUnavailableError);
    expect(failure).toMatchObject({ code: 'SERVICE_UNAVAILABLE', retryAfterSeconds: 5 });

    parameters.fail = undefined;
    parameters.values[NAME] = 'v1';
    expect(await secret.value()).toBe('v1');
  });
});
