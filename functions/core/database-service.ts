import { randomUUID } from 'node:crypto';
import { assertDatabaseName } from './database-name';
import {
  DatabaseNotFoundError,
  ForbiddenError,
  IdempotencyKeyReusedError,
  SqlError,
  StorageThrottledError,
  StorageUnavailableError,
  VersionGoneError,
  VersionReadOnlyError,
  WriteConflictError,
  WriteOutcomeUnknownError,
} from './errors';
import { decodeAnswer, encodeAnswer, fingerprintOf, INLINE_ANSWER_LIMIT, isInline } from './idempotency';
import { LeaseKeeper } from './lease-keeper';
import { silentLogger, type Logger } from './logger';
import {
  LeaseLostError,
  PreconditionFailedError,
  type DatabaseSource,
  type CurrentObject,
  type ExecutionLimits,
  type GetResult,
  type HeldLease,
  type IdempotencyRecord,
  type IdempotencyStore,
  type Lease,
  type LeaseLock,
  type MadeBy,
  type ObjectStore,
  type Program,
  type Publication,
  type PutCondition,
  type ReadOutcome,
  sameStoredVersion,
  type SqlEngine,
  type StatementResult,
  type StoredAnswer,
  type StoredVersion,
  type VersionRecord,
  type WriteStamp,
} from './ports';

import type { Role } from './principal';
export type { Role };
export type Consistency = 'strong' | 'eventual';

export interface SqlRequest {
  database: string;
  program: Program;
  consistency: Consistency;
  /** A retry with the same key replays the first answer instead of writing again. */
  idempotencyKey?: string;
  /** A read of a past state instead of the current one (never writes). */
  at?: PastState;
  /** Recorded with the version a write stores. */
  madeBy?: MadeBy;
  /**
   * What a keyed write means, for its idempotency fingerprint, when its program is not that: a
   * program holding values made afresh for each attempt (the uuids POST /flights generates)
   * would make a retry look like another request. Default: the program.
   */
  meaning?: Change['meaning'];
  /** Told when the request starts changing its database (see Change.onChanging). */
  onChanging?: () => void;
}

/** A past state of a database: a version id, or the newest version at or before a time. */
export type VersionSelector = { version: string } | { asOfMs: number };

/** What a read of the past names: a selector, or a version already resolved (the lifecycle reading one version twice). */
export type PastState = VersionSelector | { stored: StoredVersion };

/** Finds committed past versions (implemented by the lifecycle's version history). */
export interface PastVersions {
  /** The committed version the selector names; throws VersionNotFoundError when there is none. */
  resolve(database: string, selector: VersionSelector): Promise<StoredVersion>;
}

export interface Timings {
  lock_ms: number;
  load_ms: number;
  exec_ms: number;
  store_ms: number;
}

export interface SqlResponse {
  results: StatementResult[];
  meta: {
    database: string;
    /** S3 VersionId of the version the answer reflects (ETag when the bucket is unversioned). */
    version: string | null;
    wrote: boolean;
    /** Present (true) when this answer is the stored answer of an earlier attempt with the same key. */
    replayed?: true;
    /** Present (true) when the write was stored but its rows were too large to return. */
    rows_omitted?: true;
    duration_ms: number;
    timings: Timings;
  };
}

export interface DatabaseServiceOptions {
  /** Object key prefix; a database named `x` lives at `${keyPrefix}x.sqlite`. */
  keyPrefix: string;
  /** Object key prefix of stored answers too large to keep inline. */
  answerPrefix: string;
  /** An eventual read may use a warm copy confirmed current at most this long ago. */
  eventualMaxAgeMs: number;
  limits: ExecutionLimits;
  leaseRenewIntervalMs: number;
  leaseSafetyMarginMs: number;
}

export interface DatabaseServiceDeps {
  store: ObjectStore;
  lock: LeaseLock;
  idempotency: IdempotencyStore;
  engine: SqlEngine;
  /** Needed only for reads of past versions (`SqlRequest.at`). */
  pastVersions?: PastVersions;
  clock?: () => number;
  logger?: Logger;
  /** Told of what a request's answer does not show (for metrics); must not throw. */
  onEvent?: (event: ServiceEvent) => void;
}

/**
 * What happened inside a request that its answer does not show: a strong read whose version
 * record was unreadable (throttled or failed) and fell back to S3's latest object, or an answer
 * replayed for a repeated Idempotency-Key.
 */
export type ServiceEvent = { kind: 'read_fallback'; throttled: boolean } | { kind: 'replayed' };

/** A change to one database, as the write path runs it under the lease. */
export interface Change {
  database: string;
  /** What the request means, for its idempotency fingerprint: the same meaning, the same key use. */
  meaning: Program | { kind: string; [field: string]: unknown };
  idempotencyKey?: string;
  madeBy?: MadeBy;
  /** Runs on a deleted database too (a restore); every other change answers 404 there. */
  revivesDeleted?: true;
  /**
   * Told once the request starts changing the database, before its lease is taken: cut off
   * after this (the function's time running out), its outcome is unknown, where before it
   * nothing was changed.
   */
  onChanging?: () => void;
  /** Computes the new state from the base (the published version, fetched only when needed). */
  produce(base: DatabaseSource, timings: Timings): Promise<Produced>;
}

export type Produced = { kind: 'unchanged'; results: StatementResult[] } | Changed;

export interface Changed {
  kind: 'changed';
  results: StatementResult[];
  writeId: string;
  /** The stored version is a delete marker: the database is deleted from now on. */
  deletes?: true;
  /** Stores the new version under the fence condition, stamped with the write. */
  store(condition: PutCondition, stamp: WriteStamp): Promise<StoredVersion>;
  /** The outcome: stored as `version` (keep it warm), or not stored (drop it). */
  settle(version: StoredVersion | undefined): void;
}

/** What a read found current: a stored version (with how to fetch it) or no database at all. */
interface Current {
  version?: StoredVersion;
  fetch: () => Promise<Uint8Array>;
}

/** The state a write builds on: what the item publishes, and the stored version it fences on. */
interface Base {
  published?: VersionRecord;
  loaded?: StoredVersion;
  fetch: () => Promise<Uint8Array>;
}

type Stored = { kind: 'stored'; version: StoredVersion } | Unpublished;

/** A version stored in S3 (or a delete marker placed) that no record names yet. */
interface Unpublished {
  kind: 'unpublished';
  version: StoredVersion;
  stamp?: WriteStamp;
  deleted?: true;
}

/** How many unpublished versions a write adopts before it gives up with a conflict. */
const MAX_ADOPTIONS = 2;

/**
 * The database service: the read path and the locked, fenced, published write path.
 *
 * The current version of each database is its version record in DynamoDB (beside its lease). A
 * strong read reads that record (one GetItem) and answers from the warm copy when it is that
 * version, or fetches exactly that S3 version. Whether a request writes is decided by SQLite,
 * statement by statement; at the first write the request moves to the write path:
 *
 *   acquire lease (returns the record) -> run on the record's version (warm: no S3 GET)
 *   -> PUT fenced If-Match on that version's ETag -> publish: ONE conditional update that names
 *   the new version, records the idempotency key and releases the lease (the commit point).
 *
 * A PUT that landed but was never published (its writer crashed or lost the lease) is invisible
 * to readers; the next writer's fence fails on it, and that writer adopts it (publishes it) and
 * runs on top, so nothing a client may have been told "unknown" about is silently lost.
 */
export class DatabaseService {
  /** When each database's warm version was last confirmed current (for eventual reads). */
  private readonly confirmed = new Map<string, { version?: StoredVersion; atMs: number; order: number }>();
  /** Orders this container's checks and commits, which the clock cannot (two may share a millisecond). */
  private order = 0;
  private readonly clock: () => number;
  private readonly logger: Logger;

  constructor(
    private readonly options: DatabaseServiceOptions,
    private readonly deps: DatabaseServiceDeps,
  ) {
    this.clock = deps.clock ?? Date.now;
    this.logger = deps.logger ?? silentLogger;
  }

  /** Runs a request, taking the write path only when SQLite says it writes. */
  async execute(request: SqlRequest, role: Role): Promise<SqlResponse> {
    assertDatabaseName(request.database);
    const started = performance.now();
    const timings = emptyTimings();
    if (request.at) return this.readPast(request, request.at, started, timings);
    const writeNow = () => {
      if (role !== 'write') throw new ForbiddenError('this API key may only read, and the request writes');
      return this.runWrite(request, started, timings);
    };
    // A strong request whose first statement writes (judged on the warm copy, whatever its age)
    // goes straight to the write path: no freshness check it would not use. An eventual request
    // learns that from its read of the warm copy, which costs no request either.
    if (request.consistency === 'strong' && (await this.deps.engine.firstStatementWrites(request.database, request.program))) return writeNow();
    let read: Awaited<ReturnType<DatabaseService['read']>>;
    try {
      read = await this.read(request, timings);
    } catch (error) {
      const keyed = role === 'write' && request.idempotencyKey !== undefined && (error instanceof SqlError || error instanceof DatabaseNotFoundError);
      const replayed = keyed ? await this.recordedAnswer(request.database, request.idempotencyKey!, request.meaning ?? request.program, started, timings) : undefined;
      if (replayed) return replayed;
      throw error;
    }
    if (read.kind === 'writes') return writeNow();
    // With a key, a request that only reads because of today's state (DROP TABLE IF EXISTS of a
    // missing table) is recorded like a write that changed nothing, so its retry never applies later.
    if (read.stateDependent && request.idempotencyKey !== undefined && role === 'write') return writeNow();
    return this.respond(request.database, read.results, read.version ?? null, false, started, timings);
  }

  /**
   * The first answer of a request made with `idempotencyKey`, if there was one: what its retry
   * answers. A retry that would now fail (the CREATE TABLE it repeats made the table; a later
   * write dropped the table it inserted into) never reaches the write path, where keys are
   * looked up; nor should a retried import redo its checks. The same key with another meaning
   * is IDEMPOTENCY_KEY_REUSED.
   */
  async replayIfAnswered(database: string, idempotencyKey: string, meaning: Change['meaning']): Promise<SqlResponse | undefined> {
    return this.recordedAnswer(database, idempotencyKey, meaning, performance.now(), emptyTimings());
  }

  private async recordedAnswer(database: string, idempotencyKey: string, meaning: Change['meaning'], started: number, timings: Timings): Promise<SqlResponse | undefined> {
    // Keys move from the database's item to their own, copied before they are removed: look in that order.
    const prior = (await this.deps.lock.recentKey(database, idempotencyKey)) ?? (await this.deps.idempotency.find(database, idempotencyKey));
    return prior && this.replay(database, prior, fingerprintOf(database, meaning), started, timings);
  }

  /** Runs a request known to write (migrations, bulk replaces) straight on the write path. */
  async write(request: Omit<SqlRequest, 'consistency'>): Promise<SqlResponse> {
    assertDatabaseName(request.database);
    return this.runWrite({ ...request, consistency: 'strong' }, performance.now(), emptyTimings());
  }

  /**
   * Runs any change to a database (SQL, restore, import, clone, delete) on the one write path:
   * lease, fenced store, publish with its idempotency record, release.
   */
  async change(change: Change): Promise<SqlResponse> {
    assertDatabaseName(change.database);
    return this.runChange(change, performance.now(), emptyTimings());
  }

  // -------------------------------------------------------------------------------------------
  // Reads

  /** A read of a committed past version: history is read-only, so a request that writes is refused. */
  private async readPast(request: SqlRequest, selector: PastState, started: number, timings: Timings): Promise<SqlResponse> {
    if (!this.deps.pastVersions && !('stored' in selector)) throw new Error('DatabaseService was built without pastVersions; it cannot read past versions');
    const { database } = request;
    const version = 'stored' in selector ? selector.stored : await this.timed(timings, 'load_ms', () => this.deps.pastVersions!.resolve(database, selector));
    const outcome = await this.runRead(request, { version, fetch: this.fetcher(database, version, timings) }, timings);
    if (outcome.kind === 'writes') {
      throw new VersionReadOnlyError('a past version can only be read; to write on it, restore it first (POST /databases/{name}/restore)');
    }
    return this.respond(database, outcome.results, versionName(version), false, started, timings);
  }

  private async read(
    request: SqlRequest,
    timings: Timings,
  ): Promise<{ kind: 'writes' } | { kind: 'done'; results: StatementResult[]; version?: string; stateDependent: boolean }> {
    const { database } = request;
    if (request.consistency === 'eventual') {
      const young = this.recentlyConfirmed(database);
      // Eventual applies only to requests that read whatever the version: anything that fails,
      // writes or depends on the copy's state is decided again on the current version.
      const outcome = young && (await this.runRead(request, { version: young, fetch: this.fetcher(database, young, timings) }, timings).catch(ignoreSqlError));
      if (outcome && outcome.kind === 'done' && !outcome.stateDependent) return { kind: 'done', results: outcome.results, version: versionName(young), stateDependent: false };
      // Which statements write does not depend on the copy's age; the write runs on the current version.
      if (outcome && outcome.kind === 'writes') return outcome;
    }
    const checkedAt = this.clock();
    const order = ++this.order;
    const early = this.readWarmCopy(request, timings);
    let current = await this.current(database, timings, early ? undefined : this.prefetchLatest(database));
    const outcome = await this.readCurrent(request, current, early, timings).catch(async (error: unknown) => {
      // The published version expired (restore window) under a version a writer stored but never
      // published: that one is all S3 holds, and the next writer adopts it.
      if (!(error instanceof VersionGoneError)) throw error;
      this.logger.warn('the published version is gone; reading the latest object instead', { database });
      current = await this.latestObject(database, timings);
      return this.runRead(request, current, timings);
    }).catch((error: unknown) => {
      // A read of a database that does not exist fails on its missing tables; the missing
      // database is the answer that helps. Any other error (a syntax error) is the answer.
      if (!current.version && error instanceof SqlError && MISSING_OBJECT.test(error.message)) throw new DatabaseNotFoundError(database);
      throw error;
    });
    if (outcome.kind === 'writes') return outcome;
    if (!current.version) throw new DatabaseNotFoundError(database);
    this.confirm(database, current.version, checkedAt, order);
    return { kind: 'done', results: outcome.results, version: versionName(current.version), stateDependent: outcome.stateDependent };
  }

  /**
   * Starts the read on the warm copy while the version record is being read, so a strong read
   * waits for the slower of the two rather than for both. Its answer counts only if the record
   * names that copy's version (readCurrent). If the copy is replaced before the engine reaches the
   * job, the job fails instead of fetching. On a stale copy the early run is wasted work: a cost
   * paid once per version this container has not seen, in a service whose reads mostly find
   * their copy current.
   */
  private readWarmCopy(request: SqlRequest, timings: Timings): EarlyRead | undefined {
    const version = this.deps.engine.warmVersion(request.database);
    if (!version) return undefined;
    const outcome = this.runRead(request, { version, fetch: () => Promise.reject(new WarmCopyReplaced()) }, timings);
    outcome.catch(() => undefined); // unused when the record names another version; readCurrent sees it otherwise
    return { version, outcome };
  }

  /**
   * With no warm copy a strong read needs the file as well as the record, and the latest object
   * is almost always the version the record names: it is fetched alongside the record's GetItem,
   * so a cold read waits for the slower of the two rather than for both (on S3, a round trip of
   * tens of ms). Only the version the record names is ever used (fetcher): any other, such as a
   * write stored but not yet published, is dropped and that exact version fetched instead.
   */
  private prefetchLatest(database: string): Promise<GetResult> {
    const latest = this.deps.store.get(this.keyOf(database));
    latest.catch(() => undefined); // a failed prefetch only means fetching the version itself
    return latest;
  }

  /** The read on the current version: the early one when it ran on that version, else a run now. */
  private async readCurrent(request: SqlRequest, current: Current, early: EarlyRead | undefined, timings: Timings): Promise<ReadOutcome> {
    if (early && current.version && sameStoredVersion(early.version, current.version)) {
      const outcome = await early.outcome.catch((error: unknown) => {
        if (error instanceof WarmCopyReplaced) return undefined;
        throw error;
      });
      if (outcome) return outcome;
    } else if (early && current.version) {
      // Which statement writes does not depend on the copy's age (as on the eventual path): an
      // early run on a stale copy that reached a write sends the request to the write path
      // without running its reads once more on the current version. STATEMENT_TIMEOUT_MS bounds
      // each run, so a third one could take the request past the function's deadline.
      const outcome = await early.outcome.catch(() => undefined);
      if (outcome?.kind === 'writes') return outcome;
    }
    return this.runRead(request, current, timings);
  }

  private runRead(request: SqlRequest, current: Current, timings: Timings) {
    return this.timed(timings, 'exec_ms', () =>
      this.deps.engine.read({ database: request.database, source: sourceOf(current), program: request.program, limits: this.options.limits }),
    );
  }

  /**
   * Records that `version` was current at `atMs`. A read that checked before a write of this
   * container committed may finish after it: its older news must not replace the newer.
   */
  private confirm(database: string, version: StoredVersion | undefined, atMs: number, order: number): void {
    const known = this.confirmed.get(database);
    if (!known || known.order < order) this.confirmed.set(database, { version, atMs, order });
  }

  /** The warm version, if it was confirmed current within the eventual window. */
  private recentlyConfirmed(database: string): StoredVersion | undefined {
    const confirmed = this.confirmed.get(database);
    const warm = this.deps.engine.warmVersion(database);
    // A read of history may have made an old version warm whose bytes (and ETag) a restore made current again.
    if (!confirmed?.version || !warm || !sameStoredVersion(warm, confirmed.version)) return undefined;
    return this.clock() - confirmed.atMs <= this.options.eventualMaxAgeMs ? warm : undefined;
  }

  /**
   * The current version: the published record (one consistent GetItem). A database written
   * before records existed has none: its latest S3 object is current (one conditional GET). So is
   * it when DynamoDB throttles or fails, so a read spike on one item degrades to S3 instead of
   * failing (at the price of possibly seeing a version stored but not yet published).
   */
  private async current(database: string, timings: Timings, prefetched?: Promise<GetResult>): Promise<Current> {
    let record: VersionRecord | undefined;
    try {
      record = await this.timed(timings, 'load_ms', () => this.deps.lock.published(database));
    } catch (error) {
      if (!(error instanceof StorageUnavailableError)) throw error;
      const throttled = error instanceof StorageThrottledError;
      this.logger.warn('version record unreadable; reading the latest object instead', { database, throttled });
      this.deps.onEvent?.({ kind: 'read_fallback', throttled });
    }
    if (record?.deleted) {
      if (!(await this.deletionExpired(database))) throw new DatabaseNotFoundError(database, true);
      return { fetch: async () => new Uint8Array() };
    }
    if (record) return { version: record.version, fetch: this.fetcher(database, record.version, timings, prefetched) };
    return this.latestObject(database, timings, prefetched);
  }

  private async latestObject(database: string, timings: Timings, prefetched?: Promise<GetResult>): Promise<Current> {
    const warm = this.deps.engine.warmVersion(database);
    const got = await this.timed(timings, 'load_ms', () => prefetched ?? this.deps.store.get(this.keyOf(database), { ifNoneMatch: warm?.etag }));
    if (got.kind === 'found') return { version: got.version, fetch: async () => got.body };
    if (got.kind === 'not_modified' && warm) return { version: warm, fetch: this.fetcher(database, warm, timings) };
    return { fetch: async () => new Uint8Array() };
  }

  /** Exactly `version`'s bytes: those of the prefetched latest object if it is that version. */
  private fetcher(database: string, version: StoredVersion, timings: Timings, prefetched?: Promise<GetResult>): () => Promise<Uint8Array> {
    return () =>
      this.timed(timings, 'load_ms', async () => {
        const latest = await prefetched?.catch(() => undefined);
        if (latest?.kind === 'found' && sameStoredVersion(latest.version, version)) return latest.body;
        return this.deps.store.getVersion(this.keyOf(database), version);
      });
  }

  // -------------------------------------------------------------------------------------------
  // Writes

  private runWrite(request: SqlRequest, started: number, timings: Timings): Promise<SqlResponse> {
    const { database, program } = request;
    return this.runChange(
      {
        database,
        meaning: request.meaning ?? program,
        idempotencyKey: request.idempotencyKey,
        onChanging: request.onChanging,
        madeBy: request.madeBy,
        produce: async (source) => {
          const outcome = await this.timed(timings, 'exec_ms', () => this.deps.engine.write({ database, source, program, limits: this.options.limits }));
          if (!outcome.changed) return { kind: 'unchanged', results: outcome.results };
          const { engine } = this.deps;
          return {
            kind: 'changed',
            results: outcome.results,
            writeId: outcome.writeId,
            store: (condition, stamp) => this.deps.store.put(this.keyOf(database), outcome.bytes, condition, stamp),
            settle: (version) => (version ? engine.commitWrite(outcome.writeId, version) : engine.abandonWrite(outcome.writeId)),
          };
        },
      },
      started,
      timings,
    );
  }

  private async runChange(change: Change, started: number, timings: Timings): Promise<SqlResponse> {
    const { database, idempotencyKey } = change;
    change.onChanging?.();
    const held = await this.timed(timings, 'lock_ms', () => this.deps.lock.acquire(database));
    const keeper = new LeaseKeeper(
      this.deps.lock,
      held.lease,
      { renewIntervalMs: this.options.leaseRenewIntervalMs, safetyMarginMs: this.options.leaseSafetyMarginMs },
      this.clock,
      this.logger,
    );
    let leaseSettled = false;
    try {
      const fingerprint = idempotencyKey === undefined ? undefined : fingerprintOf(database, change.meaning);
      if (idempotencyKey !== undefined) {
        const prior = held.recentKeys.find((r) => r.key === idempotencyKey) ?? (await this.deps.idempotency.find(database, idempotencyKey));
        if (prior) return await this.replay(database, prior, fingerprint!, started, timings);
      }
      const forgetKeys = await this.copyRecentKeys(database, held);
      // Without a record, whatever S3 holds (a version no one published, or a database written
      // before records existed) is published first, so nothing stored is lost or applied twice.
      const latest = held.published ? undefined : await this.unpublishedLatest(database);
      const first = latest ? await this.adoptFor(change, fingerprint, keeper.current, undefined, latest, forgetKeys.splice(0), started, timings) : undefined;
      if (first?.kind === 'replayed') return first.response;
      let base = await this.baseOf(database, first?.record ?? held.published, change, timings);
      for (let adoptions = 0; ; adoptions++) {
        let produced: Produced;
        try {
          produced = await change.produce(sourceOf({ version: base.loaded, fetch: base.fetch }), timings);
        } catch (error) {
          // The published version expired (restore window) under a version a writer stored but
          // never published: no fence can fail on it now, so adopt what S3 holds, as the fence would.
          const gone = error instanceof VersionGoneError && base.loaded && adoptions < MAX_ADOPTIONS ? await this.deps.store.head(this.keyOf(database)) : undefined;
          if (!gone || gone.etag === base.loaded!.etag) throw error;
          const adopted = await this.adoptFor(change, fingerprint, keeper.current, base.published, await this.unpublished(database, gone, base.loaded), forgetKeys.splice(0), started, timings);
          if (adopted.kind === 'replayed') return adopted.response;
          base = await this.baseOf(database, adopted.record, change, timings);
          continue;
        }
        if (produced.kind === 'unchanged') {
          const version = base.loaded ? versionName(base.loaded) : null;
          const key = await this.keyRecord(change, fingerprint, produced.results, version, false, randomUUID());
          await this.publishOrUnknown(keeper.current, { base: base.published, key, forgetKeys });
          leaseSettled = true;
          return this.respond(database, produced.results, version, false, started, timings);
        }
        const { writeId } = produced;
        let stored: Stored;
        let key: IdempotencyRecord | undefined;
        try {
          keeper.assertSafeToCommit();
          key = await this.keyRecord(change, fingerprint, produced.results, null, true, writeId);
          const stamp: WriteStamp = {
            writeId,
            ...(change.madeBy && { madeBy: change.madeBy }),
            ...(key && { idempotency: { key: key.key, fingerprint: key.fingerprint, answer: key.answer } }),
          };
          stored = await this.timed(timings, 'store_ms', () => this.storeFenced(database, produced, base.loaded, stamp));
        } catch (error) {
          produced.settle(undefined);
          throw error;
        }
        if (stored.kind === 'unpublished') {
          produced.settle(undefined);
          if (adoptions >= MAX_ADOPTIONS) throw new WriteConflictError('the database kept changing under this write; nothing was applied, retry');
          const adopted = await this.adoptFor(change, fingerprint, keeper.current, base.published, stored, forgetKeys.splice(0), started, timings);
          if (adopted.kind === 'replayed') return adopted.response;
          base = await this.baseOf(database, adopted.record, change, timings);
          continue;
        }
        const next: VersionRecord = { version: stored.version, writeId, ...(produced.deletes && { deleted: true as const }) };
        if (key) key.version = versionName(stored.version);
        try {
          await this.publishOrUnknown(keeper.current, { base: base.published, next, key, forgetKeys });
        } catch (error) {
          produced.settle(undefined);
          throw error;
        }
        leaseSettled = true;
        produced.settle(stored.version);
        // A deletion is news too: no older confirmation may bring the database back.
        this.confirm(database, next.deleted ? undefined : stored.version, this.clock(), ++this.order);
        return this.respond(database, produced.results, versionName(stored.version), true, started, timings);
      }
    } finally {
      keeper.stop();
      if (!leaseSettled) {
        await this.deps.lock.release(keeper.current).catch((error: unknown) => {
          // The lease expires on its own; a failed release only delays the next writer.
          this.logger.warn('lease release failed', { database, error: String(error) });
        });
      }
    }
  }

  /** What the write builds on: the published version, or nothing for a new (or deleted) database. */
  private async baseOf(database: string, record: VersionRecord | undefined, change: Change, timings: Timings): Promise<Base> {
    if (record?.deleted) {
      if (!change.revivesDeleted && !(await this.deletionExpired(database))) throw new DatabaseNotFoundError(database, true);
      // A deleted database's delete marker has no bytes: a restore stores on top as on a new key.
      return { published: record, fetch: async () => new Uint8Array() };
    }
    if (record) return { published: record, loaded: record.version, fetch: this.fetcher(database, record.version, timings) };
    return { fetch: async () => new Uint8Array() };
  }

  /**
   * Whether a deleted database's restore window has passed: S3's lifecycle rules removed its
   * versions, then the lone delete marker. Nothing is left to restore, and the name is free
   * again (as it is for a database deleted by hand). Asked only of deleted databases.
   */
  private async deletionExpired(database: string): Promise<boolean> {
    // When S3 cannot say, the record's word stands: deleted.
    return (await this.deps.store.head(this.keyOf(database)).catch(() => 'unknown' as const)) === undefined;
  }

  private markerStampKey(database: string, deleted: StoredVersion): string {
    return `${this.options.answerPrefix}${database}/delete-of-${versionName(deleted)}.json`;
  }

  private async markerStamp(database: string, deleted: StoredVersion): Promise<WriteStamp | undefined> {
    const blob = await this.deps.store.getBlob(this.markerStampKey(database, deleted));
    return blob && (JSON.parse(Buffer.from(blob).toString('utf8')) as WriteStamp);
  }

  /** What S3 holds under a database without a record, as something to adopt (or nothing). */
  private async unpublishedLatest(database: string): Promise<Unpublished | undefined> {
    const current = await this.deps.store.head(this.keyOf(database));
    // A delete adopts what S3 holds before it places its marker, so every marker this service
    // places has a record beneath it. One over a database without a record was placed by hand,
    // as databases were deleted before version records: then as now, the database does not exist
    // (reads say "a write creates it"), and its versions stay restorable.
    if (!current || current.deleted) return undefined;
    return this.unpublished(database, current, undefined);
  }

  /**
   * The current object as a version to adopt, with its stamp: a delete marker's is the one
   * beside it, named after the version it deleted (`loaded`, the version the write built on).
   */
  private async unpublished(database: string, current: CurrentObject, loaded: StoredVersion | undefined): Promise<Unpublished> {
    const stamp = current.deleted && !current.stamp && loaded ? await this.markerStamp(database, loaded) : current.stamp;
    return { kind: 'unpublished', version: { etag: current.etag, versionId: current.versionId }, stamp, ...(current.deleted && { deleted: true }) };
  }

  /**
   * Adopts an unpublished version before running on top of it. If it was stored by an earlier
   * attempt of this very request (same key, same meaning), the request is applied: replay it.
   * The same key with another meaning is refused, after the version is kept.
   */
  private async adoptFor(
    change: Change,
    fingerprint: string | undefined,
    lease: Lease,
    published: VersionRecord | undefined,
    unpublished: Unpublished,
    forgetKeys: string[],
    started: number,
    timings: Timings,
  ): Promise<{ kind: 'replayed'; response: SqlResponse } | { kind: 'adopted'; record: VersionRecord }> {
    const stamped = unpublished.stamp?.idempotency;
    const ours = change.idempotencyKey !== undefined && stamped?.key === change.idempotencyKey;
    let adopted: Awaited<ReturnType<DatabaseService['adopt']>>;
    try {
      adopted = await this.adopt(change.database, lease, published, unpublished, forgetKeys);
    } catch (error) {
      // Our own earlier attempt is stored; if it cannot be published now, it still may be later.
      if (ours && stamped?.fingerprint === fingerprint) throw new WriteOutcomeUnknownError(unpublished.stamp!.writeId, { cause: error });
      throw error;
    }
    if (ours && adopted.key) return { kind: 'replayed', response: await this.replay(change.database, adopted.key, fingerprint!, started, timings) };
    return { kind: 'adopted', record: adopted.record };
  }

  /**
   * Uploads fenced on the version we built on. When the upload fails, the current object says
   * what happened: our own write id means it landed (a retried PUT refused by its own first
   * attempt); another unpublished version on a definite 412 means a writer stored without
   * publishing; anything else is an unknown outcome, because an attempt may still be in flight.
   */
  private async storeFenced(database: string, produced: Changed, loaded: StoredVersion | undefined, stamp: WriteStamp): Promise<Stored> {
    const key = this.keyOf(database);
    if (produced.deletes && loaded) {
      // A delete marker carries no metadata: its stamp goes beside it, named after the version it
      // deletes, so whoever adopts the marker knows which write (and key) it was. An earlier
      // attempt's marker may stand there unpublished, its stamp naming that attempt: it is
      // adopted, never overwritten, so that attempt's retry still finds its answer.
      const current = await this.deps.store.head(key);
      if (current && current.etag !== loaded.etag) return this.unpublished(database, current, loaded);
      await this.deps.store.putBlob(this.markerStampKey(database, loaded), Buffer.from(JSON.stringify(stamp)));
    }
    try {
      return { kind: 'stored', version: await produced.store(loaded ? { ifMatch: loaded.etag } : { create: true }, stamp) };
    } catch (error) {
      let current: Awaited<ReturnType<ObjectStore['head']>>;
      try {
        current = await this.deps.store.head(key);
      } catch {
        throw new WriteOutcomeUnknownError(stamp.writeId, { cause: error });
      }
      const found = current && (await this.unpublished(database, current, loaded));
      if (found?.stamp?.writeId === stamp.writeId) {
        this.logger.warn('upload reported a failure but landed', { database, writeId: stamp.writeId, error: String(error) });
        return { kind: 'stored', version: found.version };
      }
      if (error instanceof PreconditionFailedError) {
        if (found && found.version.etag !== loaded?.etag) return found;
        throw new WriteConflictError('another writer changed the database since it was loaded; nothing was applied, retry', { cause: error });
      }
      throw new WriteOutcomeUnknownError(stamp.writeId, { cause: error });
    }
  }

  /** Publishes a version another writer stored but never published, keeping our lease. */
  private async adopt(
    database: string,
    lease: Lease,
    published: VersionRecord | undefined,
    unpublished: Unpublished,
    forgetKeys: string[],
  ): Promise<{ record: VersionRecord; key?: IdempotencyRecord }> {
    const record: VersionRecord = {
      version: unpublished.version,
      writeId: unpublished.stamp?.writeId ?? `adopted-${unpublished.version.versionId ?? unpublished.version.etag}`,
      ...(unpublished.deleted && { deleted: true }),
    };
    const stamped = unpublished.stamp?.idempotency;
    const key: IdempotencyRecord | undefined = stamped && {
      key: stamped.key,
      fingerprint: stamped.fingerprint,
      answer: stamped.answer,
      version: versionName(unpublished.version),
      wrote: true,
      committedAtMs: this.clock(),
    };
    this.logger.warn('adopting a stored but unpublished version', { database, writeId: record.writeId });
    await this.deps.lock.publish(lease, { base: published, next: record, key, forgetKeys, keepLease: true }).catch(lostLeaseIsConflict);
    return { record, key };
  }

  /**
   * The commit point. When the publishing update fails or its reply is lost, the record itself
   * says whether it names our version (published, perhaps by a writer that adopted it); if it
   * does not, the bytes may still be adopted later, so the outcome is unknown. A write that
   * stored nothing committed only its key, if any: the item says whether that key is there.
   */
  private async publishOrUnknown(lease: Lease, publication: Publication): Promise<void> {
    const { next, key } = publication;
    try {
      await this.deps.lock.publish(lease, publication);
    } catch (error) {
      if (!next) {
        if (key && (await this.deps.lock.recentKey(lease.name, key.key).catch(() => undefined))?.fingerprint === key.fingerprint) return;
        return lostLeaseIsConflict(error); // nothing was stored: nothing applied
      }
      const record = await this.deps.lock.published(lease.name).catch(() => undefined);
      if (record?.writeId === next.writeId) return;
      throw new WriteOutcomeUnknownError(next.writeId, { cause: error });
    }
  }


  /** Copies the item's recent keys to their own items, so this commit may drop them from it. */
  private async copyRecentKeys(database: string, held: HeldLease): Promise<string[]> {
    const copied = await Promise.all(
      held.recentKeys.map((record) =>
        this.deps.idempotency.save(database, record).then(
          () => record.key,
          () => undefined,
        ),
      ),
    );
    return copied.filter((key): key is string => key !== undefined);
  }

  private async keyRecord(
    request: Pick<Change, 'database' | 'idempotencyKey'>,
    fingerprint: string | undefined,
    results: StatementResult[],
    version: string | null,
    wrote: boolean,
    writeId: string,
  ): Promise<IdempotencyRecord | undefined> {
    if (request.idempotencyKey === undefined || fingerprint === undefined) return undefined;
    const encoded = encodeAnswer(results);
    let answer: StoredAnswer = { inline: encoded };
    if (encoded.length > INLINE_ANSWER_LIMIT) {
      // Stored before the database object, so whoever publishes this write can replay it.
      const blobKey = `${this.options.answerPrefix}${request.database}/${writeId}`;
      await this.deps.store.putBlob(blobKey, Buffer.from(encoded, 'base64'));
      answer = { blobKey };
    }
    return { key: request.idempotencyKey, fingerprint, version, wrote, answer, committedAtMs: this.clock() };
  }

  private async replay(database: string, record: IdempotencyRecord, fingerprint: string, started: number, timings: Timings): Promise<SqlResponse> {
    if (record.fingerprint !== fingerprint) {
      throw new IdempotencyKeyReusedError('this Idempotency-Key was already used for a different request; use a new key for a new request');
    }
    const blob = isInline(record.answer) ? undefined : await this.deps.store.getBlob(record.answer.blobKey);
    if (!isInline(record.answer) && blob === undefined) {
      // Kept past its window: the key's answer is gone, and its write must not run again.
      throw new IdempotencyKeyReusedError('this Idempotency-Key was used more than a day ago and its answer is no longer kept; use a new key');
    }
    const encoded = isInline(record.answer) ? record.answer.inline : Buffer.from(blob!).toString('base64');
    const response = this.respond(database, decodeAnswer(encoded), record.version, record.wrote, started, timings);
    response.meta.replayed = true;
    this.deps.onEvent?.({ kind: 'replayed' });
    return response;
  }

  // -------------------------------------------------------------------------------------------

  private keyOf(database: string): string {
    return `${this.options.keyPrefix}${database}.sqlite`;
  }

  private async timed<T>(timings: Timings, phase: keyof Timings, run: () => Promise<T>): Promise<T> {
    const start = performance.now();
    try {
      return await run();
    } finally {
      const elapsed = performance.now() - start;
      // In the answer (meta.timings) and in its access line, which names the request.
      timings[phase] = round(timings[phase] + elapsed);
    }
  }

  private respond(database: string, results: StatementResult[], version: string | null, wrote: boolean, started: number, timings: Timings): SqlResponse {
    return { results, meta: { database, version, wrote, duration_ms: round(performance.now() - started), timings } };
  }
}

function sourceOf(current: { version?: StoredVersion; fetch: () => Promise<Uint8Array> }): DatabaseSource {
  return current.version ? { kind: 'stored', version: current.version, fetch: current.fetch } : { kind: 'empty' };
}

/** SQLite's message for a name the schema does not hold, as every name is in a database that does not exist. */
const MISSING_OBJECT = /\bno such (?:table|view|index|trigger)\b/;

function versionName(version: StoredVersion): string {
  return version.versionId ?? version.etag;
}

/** A read started on the warm copy before the current version was known. */
interface EarlyRead {
  version: StoredVersion;
  outcome: Promise<ReadOutcome>;
}

/** The early read's copy was replaced before it ran: it runs again on the current version. */
class WarmCopyReplaced extends Error {}

/** Before anything of ours is stored, a lost lease only means we must start over. */
function lostLeaseIsConflict(error: unknown): never {
  if (error instanceof LeaseLostError) {
    throw new WriteConflictError('the write lock was taken over before this write could commit; nothing was applied, retry', { cause: error });
  }
  throw error;
}

function ignoreSqlError(error: unknown): undefined {
  if (error instanceof SqlError) return undefined;
  throw error;
}

function emptyTimings(): Timings {
  return { lock_ms: 0, load_ms: 0, exec_ms: 0, store_ms: 0 };
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
