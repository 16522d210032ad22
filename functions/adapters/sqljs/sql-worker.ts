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
}

const warm = new Map<string, WarmCopy>();
/** Written and committed here, but not yet known to be stored: never served to readers. */
const pendingWrites = new Map<string, { database: string; db: Database }>();

function replaceWarm(database: string, copy: WarmCopy): void {
  const previous = warm.get(database);
  if (previous && previous.db !== copy.db) previous.db.close();
  warm.set(database, copy);
}

/** Opens the source; `undefined` means the warm copy of that version is gone. */
function acquire(SQL: SqlJsStatic, database: string, source: DatabaseSource): { db: Database; fromWarm: boolean } | undefined {
  if (source.kind === 'empty') return { db: openDatabase(SQL), fromWarm: false };
  if (source.kind === 'bytes') {
    const db = openDatabase(SQL, source.bytes);
    replaceWarm(database, { etag: source.etag, db });
    return { db, fromWarm: true };
  }
  const copy = warm.get(database);
  return copy && copy.etag === source.etag ? { db: copy.db, fromWarm: true } : undefined;
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
    pendingWrites.set(writeId, { database: request.database, db: opened.db });
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
  if (message.type === 'commit') replaceWarm(pending.database, { etag: message.etag, db: pending.db });
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
  const settings = workerData as WorkerSettings;
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
