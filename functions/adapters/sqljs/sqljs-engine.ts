import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import * as errors from '../../core/errors';
import type { EngineRequest, ReadOutcome, SqlEngine, WriteOutcome } from '../../core/ports';
import type { JobOutcome, SerializedError, WorkerJob, WorkerMessage, WorkerReply, WorkerSettings } from './worker-protocol';

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

interface QueuedJob {
  job: WorkerJob;
  transfer: ArrayBuffer[];
  resolve: (outcome: JobOutcome) => void;
  reject: (error: Error) => void;
}

/**
 * SqlEngine backed by sql.js in one worker thread. Jobs run one at a time, in order; the timeout
 * clock runs only while a job is in the worker, so waiting behind another request never counts.
 * On timeout or a worker crash the worker is terminated (losing its warm copies, which callers
 * see as `cache_miss`) and the next job starts a fresh one.
 */
export class SqlJsEngine implements SqlEngine {
  private worker?: Worker;
  private workerReady?: Promise<Worker>;
  private readonly queue: QueuedJob[] = [];
  private running?: { queued: QueuedJob; timer: NodeJS.Timeout };
  private nextJobId = 1;
  private closed = false;

  constructor(private readonly options: SqlJsEngineOptions) {}

  async read(request: EngineRequest): Promise<ReadOutcome> {
    const outcome = await this.submit({ id: this.nextJobId++, type: 'read', request });
    if (outcome.kind === 'done' && 'changed' in outcome) throw new Error('a read job answered like a write');
    return outcome as ReadOutcome;
  }

  async write(request: EngineRequest): Promise<WriteOutcome> {
    const outcome = await this.submit({ id: this.nextJobId++, type: 'write', request, writeId: randomUUID() });
    if (outcome.kind === 'writes') throw new Error('a write job answered like a read');
    return outcome as WriteOutcome;
  }

  commitWrite(writeId: string, etag: string): void {
    this.notify({ type: 'commit', writeId, etag });
  }

  abandonWrite(writeId: string): void {
    this.notify({ type: 'abandon', writeId });
  }

  async close(): Promise<void> {
    this.closed = true;
    const shuttingDown = () => new errors.StorageUnavailableError('the engine is shutting down');
    for (const queued of this.queue.splice(0)) queued.reject(shuttingDown());
    const running = this.running?.queued;
    if (running) this.finish(running, () => running.reject(shuttingDown()));
    await this.stopWorker();
  }

  /** Notices go straight to the current worker: a restarted worker has no pending write to act on. */
  private notify(notice: WorkerMessage): void {
    this.worker?.postMessage(notice);
  }

  private submit(job: WorkerJob): Promise<JobOutcome> {
    if (this.closed) return Promise.reject(new errors.StorageUnavailableError('the engine is closed'));
    const transfer = job.request.source.kind === 'bytes' ? [ownBuffer(job.request.source)] : [];
    return new Promise((resolve, reject) => {
      this.queue.push({ job, transfer, resolve, reject });
      void this.pump();
    });
  }

  private async pump(): Promise<void> {
    if (this.running || this.queue.length === 0) return;
    const queued = this.queue.shift()!;
    const timer = setTimeout(() => this.timeOut(), this.options.statementTimeoutMs);
    this.running = { queued, timer };
    try {
      const worker = await this.startWorker();
      if (this.running?.queued !== queued) return; // timed out while the worker was starting
      worker.ref();
      worker.postMessage(queued.job, queued.transfer);
    } catch (error) {
      this.finish(queued, () => queued.reject(error as Error));
    }
  }

  private finish(queued: QueuedJob, settle: () => void): void {
    if (this.running?.queued !== queued) return;
    clearTimeout(this.running.timer);
    this.running = undefined;
    this.worker?.unref();
    settle();
    void this.pump();
  }

  private onReply(reply: WorkerReply): void {
    if ('type' in reply) return;
    const queued = this.running?.queued;
    if (!queued || queued.job.id !== reply.id) return;
    this.finish(queued, () => (reply.ok ? queued.resolve(reply.outcome) : queued.reject(rebuildError(reply.error))));
  }

  private timeOut(): void {
    const queued = this.running?.queued;
    if (!queued) return;
    void this.stopWorker();
    this.finish(queued, () =>
      queued.reject(
        new errors.StatementTimeoutError(`the statement ran longer than ${this.options.statementTimeoutMs} ms and was stopped; nothing was changed`),
      ),
    );
  }

  /** The worker died under a job (out of memory, crash): fail that job only. */
  private onWorkerDeath(worker: Worker, cause: Error): void {
    if (this.worker !== worker) return;
    this.worker = undefined;
    this.workerReady = undefined;
    const queued = this.running?.queued;
    if (!queued) return;
    const error =
      (cause as NodeJS.ErrnoException).code === 'ERR_WORKER_OUT_OF_MEMORY'
        ? new errors.ResourceLimitError('the statement needed more memory than the engine allows')
        : new errors.StorageUnavailableError('the SQL engine stopped unexpectedly; retry', { cause });
    this.finish(queued, () => queued.reject(error));
  }

  private startWorker(): Promise<Worker> {
    if (this.workerReady) return this.workerReady;
    const entry = workerEntry();
    const settings: WorkerSettings = {
      wasmPath: wasmPath(),
      sqliteHeapLimitBytes: this.options.sqliteHeapLimitBytes,
      warmCacheBytes: this.options.warmCacheBytes,
    };
    const worker = new Worker(entry.code, {
      eval: true,
      workerData: settings,
      resourceLimits: { maxOldGenerationSizeMb: this.options.workerHeapLimitMb },
    });
    this.worker = worker;
    worker.on('message', (reply: WorkerReply) => this.onReply(reply));
    worker.on('error', (error) => this.onWorkerDeath(worker, error));
    worker.on('exit', (code) => this.onWorkerDeath(worker, new Error(`SQL worker exited with code ${code}`)));
    this.workerReady = new Promise((resolve, reject) => {
      const onReady = (reply: WorkerReply) => {
        if ('type' in reply && reply.type === 'ready') {
          worker.off('message', onReady);
          resolve(worker);
        }
      };
      worker.on('message', onReady);
      worker.once('error', reject);
      worker.once('exit', () => reject(new errors.StorageUnavailableError('the SQL engine failed to start')));
    });
    return this.workerReady;
  }

  private async stopWorker(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    this.workerReady = undefined;
    if (worker) await worker.terminate();
  }
}

/** Transfers move the memory to the worker; only a buffer the bytes own entirely may be moved. */
function ownBuffer(source: { bytes: Uint8Array }): ArrayBuffer {
  const { bytes } = source;
  if (bytes.byteOffset !== 0 || bytes.byteLength !== bytes.buffer.byteLength || !(bytes.buffer instanceof ArrayBuffer)) {
    source.bytes = bytes.slice();
  }
  return source.bytes.buffer as ArrayBuffer;
}

const KNOWN_ERRORS: Record<string, new (message: string, options?: errors.ErrorOptions) => Error> = {
  BadRequestError: errors.BadRequestError,
  SqlError: errors.SqlError,
  StatementNotAllowedError: errors.StatementNotAllowedError,
  ResultTooLargeError: errors.ResultTooLargeError,
  ResourceLimitError: errors.ResourceLimitError,
  CorruptDatabaseError: errors.CorruptDatabaseError,
};

function rebuildError(serialized: SerializedError): Error {
  const ErrorClass = KNOWN_ERRORS[serialized.name];
  if (ErrorClass) return new ErrorClass(serialized.message, { statementIndex: serialized.statementIndex });
  return new Error(`SQL engine: ${serialized.name}: ${serialized.message}`);
}

/**
 * The bundle ships `sql-worker.js` beside the handler; from source (tests, `npm start`) the
 * TypeScript file is loaded through tsx's require hook.
 */
function workerEntry(): { code: string } {
  const bundled = path.join(__dirname, 'sql-worker.js');
  if (existsSync(bundled)) return { code: `require(${JSON.stringify(bundled)});` };
  const source = path.join(__dirname, 'sql-worker.ts');
  return { code: `require('tsx/cjs/api').register(); require(${JSON.stringify(source)});` };
}

function wasmPath(): string {
  const bundled = path.join(__dirname, 'sql-wasm.wasm');
  return existsSync(bundled) ? bundled : require.resolve('sql.js/dist/sql-wasm.wasm');
}
