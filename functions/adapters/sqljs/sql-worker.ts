import { parentPort, workerData } from 'node:worker_threads';
import initSqlJs, { type Database, type SqlJsStatic } from 'sql.js';
import type { DatabaseSource, EngineRequest } from '../../core/ports';
import { WritesDetected, openDatabase, configureConnection, runReadOnly, runReadWrite } from './sql-runner';
import type { JobOutcome, SerializedError, WorkerMessage, WorkerReply, WorkerSettings } from './worker-protocol';

/**
 * The worker thread that owns sql.js. sql.js runs synchronously, so a runaway statement can only
 * be stopped by terminating the thread that runs it; the main thread does that on timeout and
 * starts a fresh worker. This thread keeps the warm copies: one open database per name, tagged
 * with the stored version (ETag) it came from.
 */

interface WarmCopy {
  etag: string;
  db: Database;
  /** File size: what the copy costs in memory. */
  bytes: number;
}

/** Warm copies in least-recently-used order (a Map iterates in insertion order). */
const warm = new Map<string, WarmCopy>();
/** Written and committed here, but not yet known to be stored: never served to readers. */
const pendingWrites = new Map<string, { database: string; db: Database; bytes: number }>();
let settings: WorkerSettings;

function replaceWarm(database: string, copy: WarmCopy): void {
  const previous = warm.get(database);
  if (previous && previous.db !== copy.db) previous.db.close();
  warm.delete(database);
  warm.set(database, copy);
  evictBeyondBudget(database);
}

/** Keeps the warm copies within budget by closing the least recently used ones (never `keep`). */
function evictBeyondBudget(keep: string): void {
  let total = [...warm.values()].reduce((sum, copy) => sum + copy.bytes, 0);
  for (const [database, copy] of warm) {
    if (total <= settings.warmCacheBytes) break;
    if (database === keep) continue;
    copy.db.close();
    warm.delete(database);
    total -= copy.bytes;
  }
}

function touch(database: string, copy: WarmCopy): void {
  warm.delete(database);
  warm.set(database, copy);
}

/** Opens the source; `undefined` means the warm copy of that version is gone. */
function acquire(SQL: SqlJsStatic, database: string, source: DatabaseSource): { db: Database; fromWarm: boolean } | undefined {
  if (source.kind === 'empty') return { db: openDatabase(SQL), fromWarm: false };
  if (source.kind === 'bytes') {
    const db = openDatabase(SQL, source.bytes);
    replaceWarm(database, { etag: source.etag, db, bytes: source.bytes.byteLength });
    return { db, fromWarm: true };
  }
  const copy = warm.get(database);
  if (!copy || copy.etag !== source.etag) return undefined;
  touch(database, copy);
  return { db: copy.db, fromWarm: true };
}

function read(SQL: SqlJsStatic, request: EngineRequest): JobOutcome {
  const opened = acquire(SQL, request.database, request.source);
  if (!opened) return { kind: 'cache_miss' };
  try {
    return { kind: 'done', results: runReadOnly(opened.db, request.program, request.limits) };
  } catch (error) {
    if (error instanceof WritesDetected) return { kind: 'writes' };
    throw error;
  } finally {
    if (!opened.fromWarm) opened.db.close();
  }
}

function write(SQL: SqlJsStatic, request: EngineRequest, writeId: string): JobOutcome {
  const opened = acquire(SQL, request.database, request.source);
  if (!opened) return { kind: 'cache_miss' };
  let keepOpen = opened.fromWarm;
  try {
    const { results, changed } = runReadWrite(opened.db, request.program, request.limits);
    if (!changed) return { kind: 'done', results, changed: false };
    // From here the copy holds data that may never be stored: take it out of the warm slot so
    // no reader sees it until the main thread reports the upload succeeded.
    if (opened.fromWarm) warm.delete(request.database);
    const bytes = opened.db.export();
    configureConnection(opened.db); // export() reopened the file with default settings
    pendingWrites.set(writeId, { database: request.database, db: opened.db, bytes: bytes.byteLength });
    keepOpen = true;
    return { kind: 'done', results, changed: true, writeId, bytes };
  } finally {
    if (!keepOpen) opened.db.close();
  }
}

function handleNotice(message: WorkerMessage): boolean {
  if (message.type !== 'commit' && message.type !== 'abandon') return false;
  const pending = pendingWrites.get(message.writeId);
  if (!pending) return true;
  pendingWrites.delete(message.writeId);
  if (message.type === 'commit') replaceWarm(pending.database, { etag: message.etag, db: pending.db, bytes: pending.bytes });
  else pending.db.close();
  return true;
}

function serializeError(error: unknown): SerializedError {
  if (error instanceof Error) {
    const { statementIndex } = error as { statementIndex?: number };
    return { name: error.name, message: error.message, statementIndex };
  }
  return { name: 'Error', message: String(error) };
}

async function main(): Promise<void> {
  settings = workerData as WorkerSettings;
  const SQL = await initSqlJs({ locateFile: () => settings.wasmPath });
  // hard_heap_limit is process-wide in SQLite: it caps every allocation the engine makes, so a
  // zeroblob/randomblob/group_concat bomb fails with "out of memory" instead of growing the heap.
  const scratch = new SQL.Database();
  scratch.run(`PRAGMA hard_heap_limit = ${Math.floor(settings.sqliteHeapLimitBytes)}`);
  scratch.close();

  const port = parentPort!;
  port.on('message', (message: WorkerMessage) => {
    if (handleNotice(message)) return;
    if (message.type !== 'read' && message.type !== 'write') return;
    let reply: WorkerReply;
    const transfer: ArrayBuffer[] = [];
    try {
      const outcome = message.type === 'read' ? read(SQL, message.request) : write(SQL, message.request, message.writeId);
      if (outcome.kind === 'done' && 'bytes' in outcome) transfer.push(outcome.bytes.buffer as ArrayBuffer);
      reply = { id: message.id, ok: true, outcome };
    } catch (error) {
      reply = { id: message.id, ok: false, error: serializeError(error) };
    }
    port.postMessage(reply, transfer);
  });
  port.postMessage({ type: 'ready' } satisfies WorkerReply);
}

void main();
