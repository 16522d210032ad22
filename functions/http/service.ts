import type { Role, SqlRequest, SqlResponse } from '../core/database-service';

/**
 * What the HTTP layer needs from the outside, declared here by its consumer (like rqlite's
 * `http/service.go` Store): the database service implements it, tests may pass a fake.
 */

export interface SqlService {
  /** Runs a request, taking the write path only when it writes (and the role allows it). */
  execute(request: SqlRequest, role: Role): Promise<SqlResponse>;
}

export interface WritingService extends SqlService {
  /** Runs a request known to write straight on the write path. */
  write(request: Omit<SqlRequest, 'consistency'>): Promise<SqlResponse>;
}
