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

/** The same stored version: both ids, since a restore stores an old version's bytes (and ETag) again. */
export function sameStoredVersion(a: StoredVersion, b: StoredVersion): boolean {
  return a.etag === b.etag && a.versionId === b.versionId;
}

/** What a write records with the object it stores, so its outcome can be resolved from S3 alone. */
export interface WriteStamp {
  writeId: string;
  /** Who made the version: the API key's id (never the key) and the request id. */
  madeBy?: MadeBy;
  /** The idempotency key and request fingerprint of a keyed write, and its answer (or where it is). */
  idempotency?: { key: string; fingerprint: string; answer: StoredAnswer };
}

/** What `head` finds current under a key. */
export type CurrentObject = StoredVersion & { stamp?: WriteStamp; deleted?: true };

export type GetResult =
  | { kind: 'found'; body: Uint8Array; version: StoredVersion }
  | { kind: 'not_modified' }
  | { kind: 'not_found' };

/** `ifMatch` fences an update to the version we loaded; `create` fences a first write. */
export type PutCondition = { ifMatch: string } | { create: true };

export interface ObjectStore {
  /** Reads the current version; with `ifNoneMatch`, answers not_modified when it is still current. */
  get(key: string, options?: { ifNoneMatch?: string }): Promise<GetResult>;
  /** Reads exactly that stored version. */
  getVersion(key: string, version: StoredVersion): Promise<Uint8Array>;
  /**
   * Stores a new version only if the condition holds. Throws `PreconditionFailedError` when S3
   * definitely refused it (412), `StorageUnavailableError` when the outcome is unknown or the
   * store failed (timeouts, 5xx, a 409 for a conditional write still in flight).
   */
  put(key: string, body: Uint8Array, condition: PutCondition, stamp: WriteStamp): Promise<StoredVersion>;
  /**
   * The current version and the stamp it was stored with; `deleted` when it is a delete marker;
   * undefined when the key has no version at all.
   */
  head(key: string): Promise<CurrentObject | undefined>;
  /** Small side objects (stored answers of keyed writes). */
  putBlob(key: string, body: Uint8Array): Promise<void>;
  getBlob(key: string): Promise<Uint8Array | undefined>;
}

/** One stored version of an object, as a version listing shows it. */
export interface ObjectVersion extends StoredVersion {
  versionId: string;
  lastModifiedMs: number;
  sizeBytes: number;
  /** A delete marker: the object was deleted at this point of its history. */
  deleteMarker: boolean;
}

/** A page of results and the cursor of the next page, absent on the last one. */
export interface Page<T> {
  items: T[];
  next?: string;
}

/** An object under a prefix as a listing shows it: its current version, or its delete marker. */
export interface ListedObject {
  key: string;
  sizeBytes: number;
  lastModifiedMs: number;
  deleted: boolean;
}

/** A presigned request a client sends to the store directly, so large bodies skip the function. */
export interface PresignedRequest {
  url: string;
  /** Form fields to send with a presigned POST upload (absent for a GET). */
  fields?: Record<string, string>;
  expiresAtMs: number;
}

/**
 * The lifecycle's view of the store: version history, listings, server-side copies, delete
 * markers and presigned transfers. Kept apart from `ObjectStore` so the read and write paths
 * depend only on what they use.
 */
export interface ObjectArchive {
  /** Versions of exactly `key`, newest first, starting after `before` (a version id). */
  listVersions(key: string, page: { limit: number; before?: string }): Promise<Page<ObjectVersion>>;
  /** The stamp a stored version was written with (undefined for delete markers and unstamped versions). */
  stampOf(key: string, version: StoredVersion): Promise<WriteStamp | undefined>;
  /** Objects under `prefix` in key order after `cursor` (a key); delete-marked ones only with `includeDeleted`. */
  listObjects(prefix: string, page: { limit: number; cursor?: string; includeDeleted: boolean }): Promise<Page<ListedObject>>;
  /** Server-side copy of one version to `to`, fenced like `put`, stamped with its own write (never the source's metadata). */
  copy(from: { key: string; version: StoredVersion }, to: string, condition: PutCondition, stamp: WriteStamp): Promise<StoredVersion>;
  /**
   * Places a delete marker on `key` only while its current version has ETag `ifMatch` (else
   * `PreconditionFailedError`); the returned version names the marker.
   */
  markDeleted(key: string, ifMatch: string): Promise<StoredVersion>;
  /** Size in bytes of a stored object (a staged upload), or undefined when it is missing. */
  sizeOf(key: string): Promise<number | undefined>;
  /** A GET of exactly `version` (or the current object), served as an attachment named `downloadName`. */
  presignGet(key: string, version: StoredVersion | undefined, expiresInSeconds: number, downloadName: string): Promise<PresignedRequest>;
  /** A POST upload to `key` that the store refuses above `maxBytes`. */
  presignUpload(key: string, maxBytes: number, expiresInSeconds: number): Promise<PresignedRequest>;
}

/** Who made a version, recorded with it. */
export interface MadeBy {
  keyId?: string;
  requestId?: string;
}

/** Thrown by `ObjectStore.put` when the fence condition failed: another upload got there first. */
export class PreconditionFailedError extends Error {
  override readonly name = 'PreconditionFailedError';
}

// ---------------------------------------------------------------------------------------------
// Version record, lease and idempotency records (one DynamoDB item per database)

/** The published (current) state of a database: what every strong read answers from. */
export interface VersionRecord {
  version: StoredVersion;
  writeId: string;
  /** The database was deleted: `version` names its delete marker. */
  deleted?: true;
}

/** The first answer of a keyed write, inline when small or as a side object in the store. */
export type StoredAnswer = { inline: string } | { blobKey: string };

/** What a write with an `Idempotency-Key` committed, kept so a retry gets the same answer. */
export interface IdempotencyRecord {
  key: string;
  /** SHA-256 of what the request means (database, statements, params). */
  fingerprint: string;
  /** The version the write published (or that was current, for a write that changed nothing). */
  version: string | null;
  wrote: boolean;
  answer: StoredAnswer;
  committedAtMs: number;
}

export interface Lease {
  readonly name: string;
  readonly owner: string;
  /** Epoch milliseconds after which others may take the lease. */
  readonly expiresAtMs: number;
}

/** A lease together with what the database's item held when it was taken (read in the same request). */
export interface HeldLease {
  lease: Lease;
  published?: VersionRecord;
  /** Idempotency records committed on the item and not yet copied to their own items. */
  recentKeys: IdempotencyRecord[];
}

export interface Publication {
  /** The record the commit replaces: the update applies only while the item still names it. */
  base?: VersionRecord;
  /** The new record; absent when the write changed nothing. */
  next?: VersionRecord;
  /** The idempotency record of this write, committed atomically with the version. */
  key?: IdempotencyRecord;
  /** Recent keys already copied to their own items: dropped from the database's item. */
  forgetKeys?: string[];
  /** Keep the lease (adopting an unpublished version before running our own write on it). */
  keepLease?: boolean;
}

export interface LeaseLock {
  /** Waits (with backoff) until the lease is free, up to the wait budget; throws LockTimeoutError. */
  acquire(name: string): Promise<HeldLease>;
  /** Extends a lease we still own; throws LeaseLostError when someone else holds it now. */
  renew(lease: Lease): Promise<Lease>;
  /**
   * The commit point: in one conditional update (we own the lease AND the item still names
   * `base`), publishes `next`, records `key` and releases the lease. Throws LeaseLostError when
   * the condition failed, StorageUnavailableError when the outcome is unknown.
   */
  publish(lease: Lease, publication: Publication): Promise<void>;
  /** Releases the lease only if we still own it, publishing nothing. */
  release(lease: Lease): Promise<void>;
  /** The published record, read consistently; undefined for a database never written since records exist. */
  published(name: string): Promise<VersionRecord | undefined>;
  /** A key recorded on the database's item by a recent write (not yet moved to its own item), read consistently. */
  recentKey(name: string, key: string): Promise<IdempotencyRecord | undefined>;
}

export interface IdempotencyStore {
  /** The record of `key` on `database`, from its own item. */
  find(database: string, key: string): Promise<IdempotencyRecord | undefined>;
  /** Copies a record to its own item, kept at least `retentionMs`. Idempotent. */
  save(database: string, record: IdempotencyRecord): Promise<void>;
}

export class LeaseLostError extends Error {
  override readonly name = 'LeaseLostError';
}

// ---------------------------------------------------------------------------------------------
// SQL engine

/** Where a request's database comes from: a stored version (the engine fetches its bytes only
 *  when it does not hold that version warm), or nothing yet (a first write). */
export type DatabaseSource =
  | { kind: 'stored'; version: StoredVersion; fetch: () => Promise<Uint8Array> }
  | { kind: 'empty' };

export interface ExecutionLimits {
  maxStatements: number;
  maxResultBytes: number;
  maxDatabaseBytes: number;
}

export interface EngineRequest {
  database: string;
  source: DatabaseSource;
  program: Program;
  limits: ExecutionLimits;
}

export type ReadOutcome =
  /** `stateDependent`: some statement reads only because of what the copy holds today (DROP TABLE
   *  IF EXISTS of a missing table, CREATE ... IF NOT EXISTS of an existing one, ...): on another
   *  version it could write. */
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

// ---------------------------------------------------------------------------------------------
// Database files from outside (imports)

/** What an uploaded database file holds, judged without trusting it. */
export type Inspection =
  | { kind: 'valid'; bytes: Uint8Array; convertedFromWal: boolean; tables: number }
  | { kind: 'refused'; reason: string };

export interface DatabaseFileInspector {
  /**
   * Checks a file as a database this service could serve: header, integrity, journal mode,
   * schema. It may take `bytes` (move them elsewhere): use the valid inspection's `bytes`.
   */
  inspect(bytes: Uint8Array): Promise<Inspection>;
  /** The UTF-8 SQL text that rebuilds the database exactly (schema, rows, indexes, triggers, views, user_version). It may take `bytes`. */
  dump(bytes: Uint8Array): Promise<Uint8Array>;
  /**
   * Runs a SQL script (a dump: this service's, or sqlite3's `.dump`) on an empty database, as
   * sqlite3 would, and judges the database it makes as `inspect` judges a file; one larger than
   * `maxBytes` is refused. It may take `script`.
   */
  build(script: Uint8Array, maxBytes: number): Promise<Inspection>;
}
