import { randomUUID } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { ResourceLimitError, StatementTimeoutError, StorageUnavailableError } from '../../core/errors';
import { sameStoredVersion, type EngineRequest, type Program, type ReadOutcome, type SqlEngine, type StoredVersion, type WriteOutcome } from '../../core/ports';
import { rebuildError, type JobOutcome, type WorkerJob, type WorkerReply, type WorkerSettings, type WorkerSource } from './worker-protocol';
import { ownedCopy, wasmPath, workerEntry } from './sqlite-files';

export interface SqlJsEngineOptions {
  /** A statement still running after this long is stopped and answered with STATEMENT_TIMEOUT. */
  statementTimeoutMs: number;
  /** SQLite's hard heap limit inside the worker. */
  sqliteHeapLimitBytes: number;
  /** V8 heap cap of the worker thread (rows being collected live there). */
  workerHeapLimitMb: number;
  /** Total size of warm database copies kept between requests. */
  warmCacheBytes: number;
}

/** A job before it reaches the worker: what to run, and on which database. */
type JobRequest =
  | { type: 'read' | 'write'; request: EngineRequest }
  | { type: 'classify'; database: string; program: Program };

interface QueuedJob {
  request: JobRequest;
  resolve: (outcome: JobOutcome) => void;
  reject: (error: Error) => void;
}

interface RunningJob {
  queued: QueuedJob;
  id: number;
  /** Set when the worker has taken the job: only the statement's own time counts. */
  timer?: NodeJS.Timeout;
  posted?: boolean;
  /**
   * Commits noticed while the worker runs this job: it applies them after the job, so they are
   * re-applied to the mirror after the job's own warm changes.
   */
  commitsSincePosted: [database: string, version: StoredVersion][];
}

/**
 * SqlEngine backed by sql.js in one worker thread. The engine is the single owner of the warm
 * copies: it mirrors exactly which stored version the worker holds for each database (the
 * worker reports every change in its replies; a restart clears the mirror), and fetches a
 * version's bytes only when a job needs one the worker does not hold. Jobs run one at a time, in
 * order, so the mirror cannot change between deciding what to send and the job running.
 *
 * The statement clock starts when the worker takes the job, so neither waiting behind another
 * request, nor a download, nor a fresh worker's start counts. On timeout or a worker crash the
 * worker is terminated (losing its warm copies) and the next job starts a fresh one.
 */
export class SqlJsEngine implements SqlEngine {
  private worker?: Worker;
  private workerReady?: Promise<Worker>;
  /** Which stored version the current worker holds warm, per database. */
  private readonly mirror = new Map<string, StoredVersion>();
  /** Writes the current worker holds until commitWrite/abandonWrite: write id -> database. */
  private readonly pendingWrites = new Map<string, string>();
  private readonly queue: QueuedJob[] = [];
  private running?: RunningJob;
  private nextJobId = 1;
  private closed = false;

  constructor(private readonly options: SqlJsEngineOptions) {}

  warmVersion(database: string): StoredVersion | undefined {
    const version = this.mirror.get(database);
    return version && { ...version };
  }

  async firstStatementWrites(database: string, program: Program): Promise<boolean | undefined> {
    if (!this.mirror.has(database)) return undefined;
    const outcome = await this.submit({ type: 'classify', database, program });
    return outcome.kind === 'classified' ? outcome.writes : undefined;
  }

  async read(request: EngineRequest): Promise<ReadOutcome> {
    const outcome = await this.submit({ type: 'read', request });
    if (outcome.kind === 'classified' || 'changed' in outcome) throw new Error('a read job answered like another kind of job');
    return outcome;
  }

  async write(request: EngineRequest): Promise<WriteOutcome> {
    const outcome = await this.submit({ type: 'write', request });
    if (outcome.kind !== 'done' || !('changed' in outcome)) throw new Error('a write job answered like another kind of job');
    if (outcome.changed) this.pendingWrites.set(outcome.writeId, request.database);
    return outcome;
  }

  commitWrite(writeId: string, version: StoredVersion): void {
    const database = this.pendingWrites.get(writeId);
    if (database === undefined) return; // the worker that made it is gone, and its copy with it
    this.pendingWrites.delete(writeId);
    this.mirror.set(database, { ...version });
    if (this.running?.posted) this.running.commitsSincePosted.push([database, { ...version }]);
    this.worker?.postMessage({ type: 'commit', writeId, version: { ...version } });
  }

  abandonWrite(writeId: string): void {
    if (!this.pendingWrites.delete(writeId)) return;
    this.worker?.postMessage({ type: 'abandon', writeId });
  }

  /**
   * Starts the worker (and its WASM compile) now instead of at the first job, so a cold start
   * overlaps it with loading the rest of the handler and with the first request's I/O. The
   * worker does not keep the process alive until a job needs it; a failed start is retried then.
   */
  prestart(): void {
    if (this.closed) return;
    this.startWorker().catch(() => undefined);
    this.worker?.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    const shuttingDown = () => new StorageUnavailableError('the engine is shutting down');
    for (const queued of this.queue.splice(0)) queued.reject(shuttingDown());
    const running = this.running?.queued;
    if (running) this.finish(running, () => running.reject(shuttingDown()));
    await this.stopWorker();
  }

  private submit(request: JobRequest): Promise<JobOutcome> {
    if (this.closed) return Promise.reject(new StorageUnavailableError('the engine is closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ request, resolve, reject });
      void this.pump();
    });
  }

  private async pump(): Promise<void> {
    if (this.running || this.queue.length === 0) return;
    const queued = this.queue.shift()!;
    const running: RunningJob = { queued, id: this.nextJobId++, commitsSincePosted: [] };
    this.running = running;
    try {
      const starting = this.startWorker();
      this.worker?.ref();
      let fetched: Uint8Array | undefined;
      // Download while a fresh worker compiles the WASM, so a cold start pays for the slower of
      // the two instead of both. (A bytes job decided now stays one once the worker is up: only
      // this job's reply changes the mirror.)
      if (this.jobFor(running.id, queued.request, undefined) === 'needs-bytes') {
        [fetched] = await Promise.all([this.fetchBytes(queued.request), starting]);
      }
      const worker = await starting;
      for (;;) {
        if (this.running !== running) return; // closed meanwhile
        // Decided and posted in one synchronous step: the mirror is exactly what the worker holds.
        const job = this.jobFor(running.id, queued.request, fetched);
        if (job === 'needs-bytes') {
          fetched = await this.fetchBytes(queued.request);
          continue;
        }
        if (!job) {
          this.finish(queued, () => queued.resolve({ kind: 'classified', writes: undefined }));
          return;
        }
        worker.ref();
        const transfer = job.type !== 'classify' && job.source.kind === 'bytes' ? [job.source.bytes.buffer as ArrayBuffer] : [];
        worker.postMessage(job, transfer);
        running.posted = true;
        return;
      }
    } catch (error) {
      this.finish(queued, () => queued.reject(error as Error));
    }
  }

  /**
   * The job to send: on the warm copy when the worker holds the version, else on `fetched` bytes
   * ('needs-bytes' until there are some); undefined for a classification with nothing warm.
   */
  private jobFor(id: number, request: JobRequest, fetched: Uint8Array | undefined): WorkerJob | 'needs-bytes' | undefined {
    if (request.type === 'classify') {
      const version = this.mirror.get(request.database);
      if (!version) return undefined;
      return { id, type: 'classify', database: request.database, program: request.program, source: { kind: 'warm', version } };
    }
    const { database, program, limits, source } = request.request;
    let workerSource: WorkerSource;
    if (source.kind === 'empty') {
      workerSource = { kind: 'empty' };
    } else {
      const held = this.mirror.get(database);
      if (held && sameStoredVersion(held, source.version)) workerSource = { kind: 'warm', version: held };
      else if (fetched) workerSource = { kind: 'bytes', version: { ...source.version }, bytes: fetched };
      else return 'needs-bytes';
    }
    return request.type === 'read'
      ? { id, type: 'read', database, program, limits, source: workerSource }
      : { id, type: 'write', database, program, limits, source: workerSource, writeId: randomUUID() };
  }

  private async fetchBytes(request: JobRequest): Promise<Uint8Array> {
    if (request.type === 'classify' || request.request.source.kind !== 'stored') throw new Error('only a stored version has bytes to fetch');
    return ownedCopy(await request.request.source.fetch());
  }

  private finish(queued: QueuedJob, settle: () => void): void {
    if (this.running?.queued !== queued) return;
    clearTimeout(this.running.timer);
    this.running = undefined;
    this.worker?.unref();
    settle();
    void this.pump();
  }

  private onReply(worker: Worker, reply: WorkerReply): void {
    if (worker !== this.worker || reply.type === 'ready') return;
    const running = this.running;
    if (!running || running.id !== reply.id) return;
    if (reply.type === 'started') {
      running.timer = setTimeout(() => this.timeOut(running), this.options.statementTimeoutMs);
      return;
    }
    for (const change of reply.warmChanges) {
      if (change.version) this.mirror.set(change.database, change.version);
      else this.mirror.delete(change.database);
    }
    for (const [database, version] of running.commitsSincePosted) this.mirror.set(database, version);
    const { queued } = running;
    this.finish(queued, () => (reply.ok ? queued.resolve(reply.outcome) : queued.reject(rebuildError(reply.error))));
  }

  private timeOut(running: RunningJob): void {
    if (this.running !== running) return;
    void this.stopWorker();
    this.finish(running.queued, () =>
      running.queued.reject(
        new StatementTimeoutError(`the statement ran longer than ${this.options.statementTimeoutMs} ms and was stopped; nothing was changed`),
      ),
    );
  }

  /** The worker died under a job (out of memory, crash): fail that job only. */
  private onWorkerDeath(worker: Worker, cause: Error): void {
    if (this.worker !== worker) return;
    this.forgetWorker();
    const queued = this.running?.queued;
    if (!queued) return;
    const error =
      (cause as NodeJS.ErrnoException).code === 'ERR_WORKER_OUT_OF_MEMORY'
        ? new ResourceLimitError('the statement needed more memory than the engine allows')
        : new StorageUnavailableError('the SQL engine stopped unexpectedly; retry', { cause });
    this.finish(queued, () => queued.reject(error));
  }

  private startWorker(): Promise<Worker> {
    if (this.workerReady) return this.workerReady;
    const settings: WorkerSettings = {
      wasmPath: wasmPath(),
      sqliteHeapLimitBytes: this.options.sqliteHeapLimitBytes,
      warmCacheBytes: this.options.warmCacheBytes,
    };
    const worker = new Worker(workerEntry('sql-worker'), {
      eval: true,
      workerData: settings,
      resourceLimits: { maxOldGenerationSizeMb: this.options.workerHeapLimitMb },
    });
    this.worker = worker;
    worker.on('message', (reply: WorkerReply) => this.onReply(worker, reply));
    worker.on('error', (error) => this.onWorkerDeath(worker, error));
    worker.on('exit', (code) => this.onWorkerDeath(worker, new Error(`SQL worker exited with code ${code}`)));
    this.workerReady = new Promise((resolve, reject) => {
      const onReady = (reply: WorkerReply) => {
        if (reply.type === 'ready') {
          worker.off('message', onReady);
          resolve(worker);
        }
      };
      worker.on('message', onReady);
      worker.once('error', reject);
      worker.once('exit', () => reject(new StorageUnavailableError('the SQL engine failed to start')));
    });
    return this.workerReady;
  }

  /** A new worker holds nothing: neither warm copies nor pending writes. */
  private forgetWorker(): void {
    this.worker = undefined;
    this.workerReady = undefined;
    this.mirror.clear();
    this.pendingWrites.clear();
  }

  private async stopWorker(): Promise<void> {
    const worker = this.worker;
    this.forgetWorker();
    if (worker) await worker.terminate();
  }
}
