import * as errors from '../../core/errors';
import type { ExecutionLimits, Program, ReadOutcome, StoredVersion, WriteOutcome } from '../../core/ports';

/** Messages between the SQL engine (main thread) and its worker thread. */

export interface WorkerSettings {
  wasmPath: string;
  sqliteHeapLimitBytes: number;
  /** Warm copies beyond this total size are closed, least recently used first. */
  warmCacheBytes: number;
}

/**
 * The database a job runs on. The main thread mirrors which version the worker holds warm, so
 * it sends the bytes exactly when the worker lacks that version. The worker lets go of `bytes`
 * as soon as sql.js has copied them (sql-worker.ts, releaseReceivedBytes).
 */
export type WorkerSource =
  | { kind: 'warm'; version: StoredVersion }
  | { kind: 'bytes'; version: StoredVersion; bytes: Uint8Array }
  | { kind: 'empty' };

interface JobBase {
  id: number;
  database: string;
  program: Program;
}

export type WorkerJob =
  | (JobBase & { type: 'read'; source: WorkerSource; limits: ExecutionLimits })
  | (JobBase & { type: 'write'; source: WorkerSource; limits: ExecutionLimits; writeId: string })
  | (JobBase & { type: 'classify'; source: Extract<WorkerSource, { kind: 'warm' }> });

export type WorkerNotice = { type: 'commit'; writeId: string; version: StoredVersion } | { type: 'abandon'; writeId: string };

export type WorkerMessage = WorkerJob | WorkerNotice;

export type JobOutcome = ReadOutcome | WriteOutcome | { kind: 'classified'; writes: boolean | undefined };

/** A change to the worker's warm copies: `version` undefined when the copy was closed. */
export interface WarmChange {
  database: string;
  version?: StoredVersion;
}

/** Errors cross the thread boundary as plain data and are rebuilt as domain errors. */
export interface SerializedError {
  name: string;
  message: string;
  statementIndex?: number;
}

export type WorkerReply =
  | { type: 'ready' }
  /** The worker has taken the job: its statement clock starts now. */
  | { type: 'started'; id: number }
  | ({ type: 'finished'; id: number; warmChanges: WarmChange[] } & ({ ok: true; outcome: JobOutcome } | { ok: false; error: SerializedError }));

export function serializeError(error: unknown): SerializedError {
  if (error instanceof Error) {
    const { statementIndex } = error as { statementIndex?: number };
    return { name: error.name, message: error.message, statementIndex };
  }
  return { name: 'Error', message: String(error) };
}

type DomainErrorClass = new (message: string, options?: errors.ErrorOptions) => errors.CloudliteError;

/**
 * Rebuilds any domain error from errors.ts by its class name, so a class added there keeps its
 * code across the thread boundary without being listed anywhere. Anything else is unexpected.
 */
export function rebuildError(serialized: SerializedError): Error {
  const candidate: unknown = (errors as Record<string, unknown>)[serialized.name];
  if (typeof candidate === 'function' && candidate.prototype instanceof errors.CloudliteError) {
    const error = new (candidate as DomainErrorClass)(serialized.message, { statementIndex: serialized.statementIndex });
    // A class whose constructor words its own message still carries the original one.
    return Object.assign(error, { message: serialized.message });
  }
  return new Error(`SQL engine: ${serialized.name}: ${serialized.message}`);
}
