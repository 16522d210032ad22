import { assertDatabaseName } from './database-name';
import { DatabaseNotFoundError, ForbiddenError, SqlError, StorageUnavailableError, WriteConflictError } from './errors';
import { LeaseKeeper } from './lease-keeper';
import { silentLogger, type Logger } from './logger';
import {
  PreconditionFailedError,
  type DatabaseSource,
  type EngineRequest,
  type ExecutionLimits,
  type LeaseLock,
  type ObjectStore,
  type Program,
  type ReadOutcome,
  type WriteOutcome,
  type SqlEngine,
  type StatementResult,
  type StoredVersion,
} from './ports';

export type Role = 'read' | 'write';
export type Consistency = 'strong' | 'eventual';

export interface SqlRequest {
  database: string;
  program: Program;
  consistency: Consistency;
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
    duration_ms: number;
    timings: Timings;
  };
}

export interface DatabaseServiceOptions {
  /** Object key prefix; a database named `x` lives at `${keyPrefix}x.sqlite`. */
  keyPrefix: string;
  /** An eventual read may use a warm copy validated at most this long ago. */
  eventualMaxAgeMs: number;
  limits: ExecutionLimits;
  leaseRenewIntervalMs: number;
  leaseSafetyMarginMs: number;
}

export interface DatabaseServiceDeps {
  store: ObjectStore;
  lock: LeaseLock;
  engine: SqlEngine;
  clock?: () => number;
  logger?: Logger;
}

interface WarmVersion extends StoredVersion {
  /** When S3 last confirmed this was the current version (the time the check was sent). */
  validatedAt: number;
}

interface Loaded {
  source: DatabaseSource;
  version?: StoredVersion;
  checkedAt: number;
}

/**
 * The database service: the read path and the locked, fenced write path.
 *
 * Reads never take the lock. They run on the warm copy after one conditional GET (or none, for
 * an eventual read of a young enough copy). Whether a request writes is decided by SQLite: the
 * program first runs read-only, and only if SQLite refuses does it take the write path.
 *
 * Writes: lease -> load latest -> run in one transaction -> upload only if changed, fenced with
 * If-Match on the ETag loaded (or If-None-Match: * on create) -> release. A failed fence means
 * another writer committed since we loaded; nothing is applied and the caller may retry.
 */
export class DatabaseService {
  private readonly warm = new Map<string, WarmVersion>();
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
    const read = await this.tryRead(request, timings);
    if (read.kind === 'writes') {
      if (role !== 'write') throw new ForbiddenError('this API key may only read, and the request writes');
      return this.runWrite(request, started, timings);
    }
    if (!read.version) throw new DatabaseNotFoundError(request.database);
    return this.respond(request.database, read.results, read.version, false, started, timings);
  }

  /** Runs a request known to write (migrations, bulk replaces) straight on the write path. */
  async write(request: Omit<SqlRequest, 'consistency'>): Promise<SqlResponse> {
    assertDatabaseName(request.database);
    return this.runWrite({ ...request, consistency: 'strong' }, performance.now(), emptyTimings());
  }

  private async tryRead(
    request: SqlRequest,
    timings: Timings,
  ): Promise<{ kind: 'writes' } | { kind: 'done'; results: StatementResult[]; version?: StoredVersion }> {
    const { loaded, outcome } = await this.onCurrentCopy(request.database, request.consistency, timings, (source) =>
      this.deps.engine.read(this.engineRequest(request, source)).catch((error: unknown) => {
        // A read of a database that does not exist fails on its missing tables; the missing
        // database is the answer that helps.
        if (source.kind === 'empty' && error instanceof SqlError) throw new DatabaseNotFoundError(request.database);
        throw error;
      }),
    );
    if (outcome.kind === 'writes') return outcome;
    return { kind: 'done', results: outcome.results, version: loaded.version };
  }

  /**
   * Loads the database (revalidating the warm copy) and runs `run` on it. If the engine dropped
   * the validated copy before the job ran (a write replaced it) and the store has moved on,
   * loads again once.
   */
  private async onCurrentCopy<T extends ReadOutcome | WriteOutcome>(
    database: string,
    consistency: Consistency,
    timings: Timings,
    run: (source: DatabaseSource) => Promise<T>,
  ): Promise<{ loaded: Loaded; outcome: T }> {
    for (let attempt = 0; ; attempt++) {
      const loaded = await this.load(database, consistency, timings);
      try {
        const outcome = await this.timed(timings, 'exec_ms', () => run(loaded.source));
        this.remember(database, loaded);
        return { loaded, outcome };
      } catch (error) {
        if (!(error instanceof VersionMovedOnError) || attempt > 0) throw error;
      }
    }
  }

  private async runWrite(request: SqlRequest, started: number, timings: Timings): Promise<SqlResponse> {
    const { database } = request;
    const lease = await this.timed(timings, 'lock_ms', () => this.deps.lock.acquire(database));
    const keeper = new LeaseKeeper(
      this.deps.lock,
      lease,
      { renewIntervalMs: this.options.leaseRenewIntervalMs, safetyMarginMs: this.options.leaseSafetyMarginMs },
      this.clock,
      this.logger,
    );
    try {
      const { loaded, outcome } = await this.onCurrentCopy(database, 'strong', timings, (source) =>
        this.deps.engine.write(this.engineRequest(request, source)),
      );
      if (!outcome.changed) return this.respond(database, outcome.results, loaded.version, false, started, timings);

      let stored: StoredVersion;
      try {
        keeper.assertSafeToCommit();
        stored = await this.timed(timings, 'store_ms', () => this.storeFenced(database, outcome.bytes, loaded.version, outcome.writeId));
      } catch (error) {
        this.deps.engine.abandonWrite(outcome.writeId);
        this.forget(database);
        throw error;
      }
      this.deps.engine.commitWrite(outcome.writeId, stored);
      this.warm.set(database, { ...stored, validatedAt: this.clock() });
      return this.respond(database, outcome.results, stored, true, started, timings);
    } finally {
      keeper.stop();
      await this.deps.lock.release(keeper.current).catch((error: unknown) => {
        // The lease expires on its own; a failed release only delays the next writer.
        this.logger.warn('lease release failed', { database, error: String(error) });
      });
    }
  }

  /**
   * Uploads fenced on the version we loaded. When the upload fails we ask the store which write
   * the current version came from before answering: a timed-out upload may have landed, and the
   * SDK's retry of a conditional PUT that did land is refused by its own fence.
   */
  private async storeFenced(database: string, bytes: Uint8Array, loaded: StoredVersion | undefined, writeId: string): Promise<StoredVersion> {
    const key = this.keyOf(database);
    try {
      return await this.deps.store.put(key, bytes, loaded ? { ifMatch: loaded.etag } : { create: true }, writeId);
    } catch (error) {
      let current: Awaited<ReturnType<ObjectStore['head']>>;
      try {
        current = await this.deps.store.head(key);
      } catch {
        throw new StorageUnavailableError('the store failed while storing the write and could not say whether it was stored; read before retrying', {
          cause: error,
        });
      }
      if (current?.writeId === writeId) {
        this.logger.warn('upload reported a failure but landed; answering success', { database, writeId, error: String(error) });
        return { etag: current.etag, versionId: current.versionId };
      }
      if (error instanceof PreconditionFailedError) {
        throw new WriteConflictError('another writer changed the database since it was loaded; nothing was applied, retry', { cause: error });
      }
      throw error;
    }
  }

  private async load(database: string, consistency: Consistency, timings: Timings): Promise<Loaded> {
    const key = this.keyOf(database);
    const held = this.deps.engine.warmVersion(database);
    const remembered = this.warm.get(database);
    const warm = remembered && held?.etag === remembered.etag ? remembered : undefined;
    const checkedAt = this.clock();
    if (warm && consistency === 'eventual' && checkedAt - warm.validatedAt <= this.options.eventualMaxAgeMs) {
      return { source: this.storedSource(key, warm), version: warm, checkedAt: warm.validatedAt };
    }
    const got = await this.timed(timings, 'load_ms', () => this.deps.store.get(key, { ifNoneMatch: warm?.etag }));
    if (got.kind === 'not_modified' && warm) return { source: this.storedSource(key, warm), version: warm, checkedAt };
    if (got.kind === 'found') {
      return { source: { kind: 'stored', version: got.version, fetch: async () => got.body }, version: got.version, checkedAt };
    }
    if (got.kind === 'not_modified') throw new StorageUnavailableError('the store answered "not modified" to an unconditional read');
    this.forget(database);
    return { source: { kind: 'empty' }, checkedAt };
  }

  /** A version the engine holds warm; should it lose the copy meanwhile, it fetches that same version. */
  private storedSource(key: string, version: StoredVersion): DatabaseSource {
    return {
      kind: 'stored',
      version,
      fetch: async () => {
        const got = await this.deps.store.get(key);
        if (got.kind !== 'found' || got.version.etag !== version.etag) throw new VersionMovedOnError('the database changed while it was being loaded; retry');
        return got.body;
      },
    };
  }

  /** Records that the engine now holds the loaded version, confirmed current at `checkedAt`. */
  private remember(database: string, loaded: Loaded): void {
    if (!loaded.version) return;
    // A read validated before a write committed here must not re-label the newer copy as older.
    const newer = this.warm.get(database);
    if (newer && newer.validatedAt > loaded.checkedAt) return;
    this.warm.set(database, { ...loaded.version, validatedAt: loaded.checkedAt });
  }

  private forget(database: string): void {
    this.warm.delete(database);
  }

  private engineRequest(request: SqlRequest, source: DatabaseSource): EngineRequest {
    return { database: request.database, source, program: request.program, limits: this.options.limits };
  }

  private keyOf(database: string): string {
    return `${this.options.keyPrefix}${database}.sqlite`;
  }

  private async timed<T>(timings: Timings, phase: keyof Timings, run: () => Promise<T>): Promise<T> {
    const start = performance.now();
    try {
      return await run();
    } finally {
      const elapsed = performance.now() - start;
      timings[phase] = round(timings[phase] + elapsed);
      this.logger.debug('phase', { phase, ms: round(elapsed) });
    }
  }

  private respond(
    database: string,
    results: StatementResult[],
    version: StoredVersion | undefined,
    wrote: boolean,
    started: number,
    timings: Timings,
  ): SqlResponse {
    return {
      results,
      meta: {
        database,
        version: version ? (version.versionId ?? version.etag) : null,
        wrote,
        duration_ms: round(performance.now() - started),
        timings,
      },
    };
  }
}

/** The version a read validated is no longer the stored one, and the engine no longer holds it. */
class VersionMovedOnError extends StorageUnavailableError {}

function emptyTimings(): Timings {
  return { lock_ms: 0, load_ms: 0, exec_ms: 0, store_ms: 0 };
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
