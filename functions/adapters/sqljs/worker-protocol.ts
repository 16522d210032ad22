import type { EngineRequest, ReadOutcome, StatementResult } from '../../core/ports';

/** Messages between the SQL engine (main thread) and its worker thread. */

export interface WorkerSettings {
  wasmPath: string;
  sqliteHeapLimitBytes: number;
  /** Warm copies beyond this total size are closed, least recently used first. */
  warmCacheBytes: number;
}

export type WorkerJob =
  | { id: number; type: 'read'; request: EngineRequest }
  | { id: number; type: 'write'; request: EngineRequest; writeId: string };

export type WorkerNotice = { type: 'commit'; writeId: string; etag: string } | { type: 'abandon'; writeId: string };

export type WorkerMessage = WorkerJob | WorkerNotice;

export type JobOutcome =
  | ReadOutcome
  | { kind: 'done'; results: StatementResult[]; changed: false }
  | { kind: 'done'; results: StatementResult[]; changed: true; writeId: string; bytes: Uint8Array };

/** Errors cross the thread boundary as plain data and are rebuilt as domain errors. */
export interface SerializedError {
  name: string;
  message: string;
  statementIndex?: number;
}

export type WorkerReply = { id: number; ok: true; outcome: JobOutcome } | { id: number; ok: false; error: SerializedError } | { type: 'ready' };
