import type { SqlRequest, SqlResponse } from '../core/database-service';
import type { Authenticator } from './auth';

/**
 * What the HTTP layer needs from the outside, declared here by its consumer (like rqlite's
 * `http/service.go` Store): the database service implements it, tests may pass a fake.
 */

/** Whatever the authenticator answers for a key; handed to the service without looking inside. */
export type Principal = ReturnType<Authenticator['authenticate']>;

export interface SqlService {
  /** Runs a request, taking the write path only when it writes (and the principal may). */
  execute(request: SqlRequest, principal: Principal): Promise<SqlResponse>;
}

export interface WritingService extends SqlService {
  /** Runs a request known to write straight on the write path. */
  write(request: Omit<SqlRequest, 'consistency'>): Promise<SqlResponse>;
}
