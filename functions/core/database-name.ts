import { BadRequestError } from './errors';

export const DATABASE_NAME_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;

export const DEFAULT_DATABASE = 'main';

/** Database names become object keys and lock keys, so only a safe, short alphabet is allowed. */
export function assertDatabaseName(name: string): void {
  if (!DATABASE_NAME_PATTERN.test(name)) {
    throw new BadRequestError(
      'database must match ^[a-z0-9][a-z0-9_-]{0,62}$ (lower-case letters, digits, "_" and "-", at most 63 characters)',
    );
  }
}
