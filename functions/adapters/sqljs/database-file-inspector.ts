import { Worker } from 'node:worker_threads';
import { CloudliteError, ResourceLimitError, ResultTooLargeError, StatementTimeoutError } from '../../core/errors';
import type { DatabaseFileInspector, Inspection } from '../../core/ports';
import { checkHeader } from './file-inspection';
import { ownedCopy, wasmPath, workerEntry } from './sqlite-files';
import { rebuildError, type SerializedError } from './worker-protocol';

export interface FileInspectorOptions {
  /** An inspection or a dump still running after this long is stopped (FILE_CHECK_TIMEOUT_MS). */
  timeoutMs: number;
  /** V8 heap cap of the thread that runs it. */
  heapLimitMb: number;
  /** SQLite's hard heap limit in that thread. */
  sqliteHeapLimitBytes: number;
  /** A SQL dump larger than this is refused (RESULT_TOO_LARGE): it is built in memory. */
  maxDumpBytes: number;
}

/** Sent to the file inspector's worker (file-inspector-worker.ts). */
export type FileJob = { op: 'inspect'; bytes: Uint8Array } | { op: 'dump'; bytes?: Uint8Array } | { op: 'build'; bytes?: Uint8Array; maxBytes: number };
export type FileJobReply = { ok: true; inspection: Inspection } | { ok: true; dump: Uint8Array } | { ok: false; error: SerializedError };
export interface FileWorkerSettings {
  wasmPath: string;
  sqliteHeapLimitBytes: number;
  maxDumpBytes: number;
}

/**
 * Judges database files from outside (imports) and writes SQL dumps (exports), each in a thread
 * of its own that lives for that one request (file-inspector-worker.ts): the file is not
 * trusted, and SQLite may compute as long as a CHECK constraint or a view makes it, so the work
 * is bounded in time and memory and never blocks the thread that answers requests. Starting a
 * thread costs some tens of ms, next to a file's upload.
 */
export class SqlJsFileInspector implements DatabaseFileInspector {
  constructor(private readonly options: FileInspectorOptions) {}

  /** Takes `bytes` (they move to the inspecting thread): use the inspection's `bytes` after it. */
  async inspect(bytes: Uint8Array): Promise<Inspection> {
    // Most files that are no database fail on their header: no thread for them.
    const header = checkHeader(bytes);
    if (header.kind === 'refused') return header;
    const reply = await this.run({ op: 'inspect', bytes: ownedCopy(bytes) }, 'checking the file');
    if (!('inspection' in reply)) throw new Error('the file inspector answered an inspection with a dump');
    return reply.inspection;
  }

  /** Takes `bytes` (they move to the dumping thread). */
  async dump(bytes: Uint8Array): Promise<Uint8Array> {
    const reply = await this.run({ op: 'dump', bytes: ownedCopy(bytes) }, 'writing the SQL dump');
    if (!('dump' in reply)) throw new Error('the file inspector answered a dump with an inspection');
    return reply.dump;
  }

  /** Takes `script` (it moves to the building thread): use the inspection's `bytes` after it. */
  async build(script: Uint8Array, maxBytes: number): Promise<Inspection> {
    const reply = await this.run({ op: 'build', bytes: ownedCopy(script), maxBytes }, 'running the SQL dump');
    if (!('inspection' in reply)) throw new Error('the file inspector answered a build with a dump');
    return reply.inspection;
  }

  /** Runs one job in a fresh thread, moving its bytes there, and ends the thread. */
  private run(job: FileJob, what: string): Promise<Extract<FileJobReply, { ok: true }>> {
    const settings: FileWorkerSettings = { wasmPath: wasmPath(), sqliteHeapLimitBytes: this.options.sqliteHeapLimitBytes, maxDumpBytes: this.options.maxDumpBytes };
    const worker = new Worker(workerEntry('file-inspector-worker'), {
      eval: true,
      workerData: settings,
      resourceLimits: { maxOldGenerationSizeMb: this.options.heapLimitMb },
    });
    worker.postMessage(job, [job.bytes!.buffer as ArrayBuffer]);
    let timer: NodeJS.Timeout | undefined;
    const outcome = new Promise<Extract<FileJobReply, { ok: true }>>((resolve, reject) => {
      timer = setTimeout(
        () => reject(new StatementTimeoutError(`${what} took longer than ${this.options.timeoutMs} ms and was stopped; nothing was changed`)),
        this.options.timeoutMs,
      );
      worker.once('message', (reply: FileJobReply) => (reply.ok ? resolve(reply) : reject(failure(what, reply.error))));
      worker.once('error', (error: NodeJS.ErrnoException) =>
        reject(error.code === 'ERR_WORKER_OUT_OF_MEMORY' ? new ResourceLimitError(`${what} needed more memory than allowed; nothing was changed`) : error),
      );
      worker.once('exit', (code) => reject(new Error(`the file inspector's thread exited with code ${code}`)));
    });
    // Whichever comes first decides; the thread is ended either way (a late exit settles nothing).
    return outcome.finally(() => {
      clearTimeout(timer);
      void worker.terminate();
    });
  }
}

/**
 * A domain error from the thread (the dump's size limit) keeps its code. Running out of memory
 * otherwise means the database is too large for SQL text in one request (a value longer than a
 * string may be, SQLite's memory cap): the file export still works. Anything else is unexpected.
 */
function failure(what: string, error: SerializedError): Error {
  const known = rebuildError(error);
  if (known instanceof CloudliteError) return known;
  if (/out of memory|Invalid string length|Invalid array length|too big/i.test(error.message)) {
    return new ResultTooLargeError(`${what} needed more memory than a request may use (${error.message}); export it with format=sqlite instead`);
  }
  return new Error(`${what} failed: ${error.name}: ${error.message}`);
}
