/**
 * The interfaces the core needs from the outside world. Adapters implement them; the core
 * never imports an SDK, sql.js or middy.
 */

/** A value as SQLite stores it. Integers travel as bigint when they come out of the engine. */
export type SqlValue = null | number | bigint | string | Uint8Array;
export type BoundParams = SqlValue[] | { [name: string]: SqlValue };

export interface StatementInput {
  sql: string;
  params?: BoundParams;
}

/**
 * What to run: a script (SQL text holding one or more statements, split by SQLite's own
 * parser) or a batch of single statements, each with its own parameters.
 */
export type Program =
  | { kind: 'script'; sql: string; params?: BoundParams }
  | { kind: 'batch'; statements: StatementInput[] };

export interface StatementResult {
  columns: string[];
  rows: SqlValue[][];
  changes: number;
  lastInsertRowid: number | bigint | null;
}

// ---------------------------------------------------------------------------------------------
// Object store

export interface StoredVersion {
  etag: string;
  /** S3 VersionId; absent when the bucket is not versioned. */
  versionId?: string;
}

export type GetResult =
  | { kind: 'found'; body: Uint8Array; version: StoredVersion }
  | { kind: 'not_modified' }
  | { kind: 'not_found' };

/** `ifMatch` fences an update to the version we loaded; `create` fences a first write. */
export type PutCondition = { ifMatch: string } | { create: true };

export interface ObjectStore {
  /** Reads the current version; with `ifNoneMatch`, answers not_modified when it is still current. */
  get(key: string, options?: { ifNoneMatch?: string }): Promise<GetResult>;
  /**
   * Stores a new version only if the condition holds. Throws `PreconditionFailedError` when it
   * does not, `StorageUnavailableError` when the outcome is unknown or the store failed.
   * `writeId` is recorded with the object so an ambiguous outcome can be resolved by `head`.
   */
  put(key: string, body: Uint8Array, condition: PutCondition, writeId: string): Promise<StoredVersion>;
  /** Current version and the write id it was stored with, or undefined when there is none. */
  head(key: string): Promise<(StoredVersion & { writeId?: string }) | undefined>;
}

/** Thrown by `ObjectStore.put` when the fence condition failed: another writer got there first. */
export class PreconditionFailedError extends Error {
  override readonly name = 'PreconditionFailedError';
}

// ---------------------------------------------------------------------------------------------
// Lease lock

export interface Lease {
  readonly name: string;
  readonly owner: string;
  /** Epoch milliseconds after which others may take the lease. */
  readonly expiresAtMs: number;
}

export interface LeaseLock {
  /** Waits (with backoff) until the lease is free, up to the wait budget; throws LockTimeoutError. */
  acquire(name: string): Promise<Lease>;
  /** Extends a lease we still own; throws LeaseLostError when someone else holds it now. */
  renew(lease: Lease): Promise<Lease>;
  /** Deletes the lease only if we still own it. Never deletes another owner's lease. */
  release(lease: Lease): Promise<void>;
}

export class LeaseLostError extends Error {
  override readonly name = 'LeaseLostError';
}

// ---------------------------------------------------------------------------------------------
// SQL engine

/** Where a request's database comes from: a stored version (the engine fetches its bytes only when it
 *  does not hold that version warm), or nothing yet (a first write). */
export type DatabaseSource =
  | { kind: 'stored'; version: StoredVersion; fetch: () => Promise<Uint8Array> }
  | { kind: 'empty' };
export interface ExecutionLimits { maxStatements: number; maxResultBytes: number; maxDatabaseBytes: number }
export interface EngineRequest { database: string; source: DatabaseSource; program: Program; limits: ExecutionLimits }
export type ReadOutcome =
  /** `stateDependent`: some statement reads only because of what the copy holds today (DROP TABLE IF EXISTS
   *  of a missing table, CREATE ... IF NOT EXISTS of an existing one, ...): on another version it could write. */
  | { kind: 'done'; results: StatementResult[]; stateDependent: boolean }
  /** Statement `statementIndex` writes; it was not executed, and nothing the earlier ones did is kept. */
  | { kind: 'writes'; statementIndex: number };
export type WriteOutcome =
  | { kind: 'done'; results: StatementResult[]; changed: false }
  /** Committed in the engine but not yet stored: `commitWrite` or `abandonWrite` must follow. */
  | { kind: 'done'; results: StatementResult[]; changed: true; writeId: string; bytes: Uint8Array };
export interface SqlEngine {
  /** The stored version the engine holds warm for this database, if any (exact, synchronous). */
  warmVersion(database: string): StoredVersion | undefined;
  /** Whether the program's first statement writes, judged on the warm copy without running it;
   *  undefined when there is no warm copy or it cannot tell (e.g. the statement fails to prepare). */
  firstStatementWrites(database: string, program: Program): Promise<boolean | undefined>;
  read(request: EngineRequest): Promise<ReadOutcome>;
  write(request: EngineRequest): Promise<WriteOutcome>;
  commitWrite(writeId: string, version: StoredVersion): void;
  abandonWrite(writeId: string): void;
  close(): Promise<void>;
}
